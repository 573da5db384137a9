"""Hostile and unlucky inputs (issue 12), as data-driven tables: a new case is one line.

Each refused input goes through the CLI (``core.cli.main(argv)`` in-process) and the library, and must
give exit code 2 with one ``workbench: error:`` line naming the cause, no traceback, no output or
temporary file, and the input's bytes unchanged. Round trips check that the exported text of every
non-feature column equals the input's, cell for cell. The disk cache, the manifest schema and the
``workbench app`` process are covered the same way.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
from cli_runner import digest, run_main
from streamlit_server import free_port, wait_healthy

import core
from core.foundation import cache
from core.foundation.errors import ManifestError, WorkbenchError

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------------- helpers
def assert_refused(result, words: str, out: Path, warnings_too: bool = False) -> None:
    """Exit 2, one error line naming ``words`` (after the data's own warnings with ``warnings_too``), no output."""
    lines = [line for line in result.stderr.splitlines() if line.strip()
             and not (warnings_too and line.startswith("workbench: warning: "))]
    assert result.returncode == 2, f"exit {result.returncode}\nstderr: {result.stderr}"
    assert len(lines) == 1 and lines[0].startswith("workbench: error: "), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert words.lower() in lines[0].lower(), lines[0]
    assert not out.exists(), f"{out} was written"
    if out.parent.exists():
        assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "a temporary file was left"


def csv_text(rows: list, header: str = "id,x,label,note") -> str:
    return header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)


def plain_rows(n: int = 24, note=lambda i: "ok", ids=lambda i: i, labels=("a", "b")) -> list:
    rng = np.random.default_rng(0)
    return [[ids(i), f"{rng.normal() + 3 * (i % 2):.3f}", labels[i % 2], note(i)] for i in range(n)]


def png_bytes(level: int = 100, size=(8, 8)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full(size[::-1], level, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _zip_with_images(path: Path, extra=None, method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, level in (("cat", 40), ("dog", 200)):
            for i in range(6):
                archive.writestr(f"pets/{name}/{i}.png", png_bytes(level + i))
        for member, data in (extra or {}).items():
            archive.writestr(member, data)
    return path


def _patch_headers(path: Path, central: Callable[[bytearray, int], None], local=None) -> Path:
    data = bytearray(path.read_bytes())
    for signature, patch in ((b"PK\x01\x02", central), (b"PK\x03\x04", local)):
        start = data.find(signature)
        while patch is not None and start >= 0:
            patch(data, start)
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------------------------ input makers
def zip_bomb(tmp: Path) -> Path:
    return _zip_with_images(tmp / "bomb.zip", {"pets/cat/huge.png": b"\0" * (8 << 20)})


def forged_size_zip(tmp: Path) -> Path:
    """A member that claims 100 bytes but inflates to 600 kB: only the check while extracting sees it."""
    path = _zip_with_images(tmp / "forged.zip", {"pets/cat/liar.png": b"\0" * 600_000})
    with zipfile.ZipFile(path) as archive:
        names = [info.filename for info in archive.infolist()]
    target = names.index("pets/cat/liar.png")

    def central(data, start, seen=[0]):  # noqa: B006 - counts central headers in order
        if seen[0] == target:
            struct.pack_into("<I", data, start + 24, 100)
        seen[0] += 1

    return _patch_headers(path, central)


def encrypted_zip(tmp: Path) -> Path:
    def flag(offset):
        return lambda data, start: data.__setitem__(start + offset, data[start + offset] | 1)

    return _patch_headers(_zip_with_images(tmp / "locked.zip"), flag(8), flag(6))


def deflate64_zip(tmp: Path) -> Path:
    return _patch_headers(_zip_with_images(tmp / "windows.zip"), lambda data, start: struct.pack_into("<H", data, start + 10, 9))


def traversal_zip(tmp: Path) -> Path:
    return _zip_with_images(tmp / "escape.zip", {"../../evil.png": png_bytes()})


def _png_bomb_bytes(side: int = 20000) -> bytes:
    """A real 20000x20000 grey PNG of zeros (~400 kB on disk, 400 MB decoded), compressed row by row."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor, row, parts = zlib.compressobj(9), b"\0" * (side + 1), []
    for _ in range(side):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def png_bomb(tmp: Path) -> Path:
    folder = tmp / "bomb_images"
    for name in ("cat", "dog"):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            (folder / name / f"{i}.png").write_bytes(png_bytes(50 * i))
    (folder / "cat" / "huge.png").write_bytes(_png_bomb_bytes())
    return folder


def npz_of(**arrays):
    def make(tmp: Path) -> Path:
        np.savez(tmp / "arrays.npz", **arrays)
        return tmp / "arrays.npz"

    return make


def write(name: str, text: str, encoding: str = "utf-8"):
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(text.encode(encoding))
        return tmp / name

    return make


def fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "stream.csv")
    return tmp / "stream.csv"


def ragged_vectors(tmp: Path) -> Path:
    vectors = [np.ones(4 if i else 3, dtype=np.float32) for i in range(20)]
    pd.DataFrame({"embedding": vectors, "label": ["a", "b"] * 10}).to_parquet(tmp / "ragged.parquet")
    return tmp / "ragged.parquet"


CYRILLIC = csv_text(plain_rows(note=lambda i: "кошка собака"))
LATIN = csv_text(plain_rows(note=lambda i: "café crème"))


@dataclass
class Refused:
    name: str
    make: Callable[[Path], Path]
    words: str
    options: dict = field(default_factory=dict)  # load_dataset keyword -> value (also passed to the CLI)


REFUSED = [
    Refused("zip bomb (ratio)", zip_bomb, "zip bomb"),
    Refused("zip member larger than its header", forged_size_zip, "does not match its header"),
    Refused("encrypted zip", encrypted_zip, "encrypted"),
    Refused("Deflate64 zip", deflate64_zip, "Deflate64"),
    Refused("zip path traversal", traversal_zip, "unsafe path"),
    Refused("PNG decompression bomb", png_bomb, "megapixel"),
    Refused("0-d NPZ arrays", npz_of(X=np.array(1.0), y=np.array(2)), "0-d"),
    Refused("pickled NPZ", npz_of(X=np.array([[object()]] * 4, dtype=object), y=np.arange(4)), "NPZ"),
    Refused("not UTF-8, not Western", write("cyrillic.csv", CYRILLIC, "cp1251"), "--encoding"),
    Refused("wrong --encoding", write("latin.csv", LATIN, "latin-1"), "--encoding", {"encoding": "utf-8"}),
    Refused("unknown --encoding", write("plain.csv", LATIN), "unknown encoding", {"encoding": "klingon-8"}),
    Refused("UTF-16 without a BOM", write("wide.csv", LATIN, "utf-16-le"), "utf-16"),
    Refused("--encoding utf-16 on a UTF-8 file", write("plain.csv", LATIN), "utf-16-le", {"encoding": "utf-16"}),
    Refused("--encoding naming no text codec", write("plain.csv", LATIN), "not a text encoding", {"encoding": "rot13"}),
    Refused("a FIFO", fifo, "pipe"),
    Refused("/dev/zero", lambda tmp: Path("/dev/zero"), "device"),
    Refused("ragged vector column", ragged_vectors, "different lengths"),
    Refused("a row with more fields than the header", write("ragged.csv", csv_text(plain_rows()) + "1,2,a,ok,extra\n"),
            "line 26 has 5 fields; the header has 4"),
    Refused("blank id", write("ids.csv", csv_text(plain_rows(ids=lambda i: "" if i == 3 else f"r{i}"))), "missing",
            {"id": "id"}),
]


def _cli_options(options: dict) -> list:
    return [item for key, value in options.items() for item in (f"--{key}", value)]


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_refused_through_the_library(case, tmp_path):
    path = case.make(tmp_path)
    before = digest(path)
    with pytest.raises(WorkbenchError, match=None) as caught:
        core.load_dataset(path, label="label", min_rows_per_class=2, **case.options)
    assert case.words.lower() in str(caught.value).lower()
    assert digest(path) == before


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_refused_through_the_cli(case, tmp_path):
    path = case.make(tmp_path)
    before = digest(path)
    out = tmp_path / "out" / "scores.csv"
    result = run_main("score", path, "--label", "label", "--scorers", "knn_density", "--folds", "2",
                     *_cli_options(case.options), "--out", out)
    assert_refused(result, case.words, out)
    assert digest(path) == before


# ------------------------------------------------------------------------- accepted as given
def mac_zip(tmp: Path) -> Path:
    clutter = {f"__MACOSX/pets/{n}/._{i}.png": b"\0\5\26\7junk" for n in ("cat", "dog") for i in range(6)}
    clutter.update({"pets/cat/._0.png": b"junk", "pets/.DS_Store": b"junk", "__MACOSX/._pets": b"junk"})
    return _zip_with_images(tmp / "finder.zip", clutter)


def parquet_id_index(tmp: Path) -> Path:
    frame = pd.DataFrame({"x": np.r_[np.zeros(10), np.ones(10)], "label": ["a"] * 10 + ["b"] * 10},
                         index=pd.Index([f"{i:03d}" for i in range(20)], name="sample_id"))
    frame.to_parquet(tmp / "indexed.parquet")
    return tmp / "indexed.parquet"


def list_embeddings(tmp: Path) -> Path:
    rng = np.random.default_rng(0)
    vectors = [(rng.normal(size=16) + 4 * (i % 2)).astype(np.float32) for i in range(40)]
    pd.DataFrame({"embedding": vectors, "label": ["a", "b"] * 20}).to_parquet(tmp / "hf.parquet")
    return tmp / "hf.parquet"


def padded_label_header(tmp: Path) -> Path:
    """'label ' and 'label': two headers that only a trailing blank tells apart."""
    rows = [[i, f"{(i % 2) * 2 + 0.1 * (i % 5):.2f}", "yes" if i % 2 else "no", "ab"[i % 2]] for i in range(24)]
    return write("padded.csv", csv_text(rows, "id,reading,label ,label"))(tmp)


def semicolons_and_decimal_commas(tmp: Path) -> Path:
    """What a French or German spreadsheet saves: ';' between fields, ',' before the decimals, '.' grouping
    thousands (loyer: 1.250,00)."""
    rng = np.random.default_rng(7)
    lines = ["poids;taille;loyer;label"]
    for i in range(30):
        weight, height = rng.normal(60 + 15 * (i % 2), 3), rng.normal(1.6, 0.05)
        rent = f"{1000 + 37 * i:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
        lines.append(f"{weight:.1f};{height:.2f}".replace(".", ",") + f";{rent};{'grand' if i % 2 else 'petit'}")
    return write("mesures.csv", "\n".join(lines) + "\n")(tmp)


def float64_list_column(tmp: Path) -> Path:
    """A Parquet list<double> column (what pandas writes for float64 arrays), beside a plain column."""
    rng = np.random.default_rng(3)
    vectors = [rng.normal(size=8) + 3 * (i % 2) for i in range(30)]
    frame = pd.DataFrame({"doc": [f"d{i}" for i in range(30)], "vec": vectors, "label": ["u", "v"] * 15})
    frame.to_parquet(tmp / "vectors.parquet")
    return tmp / "vectors.parquet"


def _exports_every_row(ds, options=None) -> bool:
    """A whole-data selection exports (manifest included) and reads back with the same number of rows."""
    import tempfile

    sel = core.select(ds, None, strategy="random", keep=1.0, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "kept.parquet"
        core.export(ds, sel, out, manifest=Path(folder) / "m.json")
        return len(pd.read_parquet(out)) == ds.n_samples


@dataclass
class Accepted:
    name: str
    make: Callable[[Path], Path]
    check: Callable  # check(ds) -> bool
    warning: str = ""  # words of a warning the user must see (library and CLI)
    options: dict = field(default_factory=dict)


ACCEPTED = [
    Accepted("macOS Finder zip", mac_zip, lambda ds: ds.n_samples == 12 and list(ds.classes) == ["cat", "dog"]),
    Accepted("Latin-1 CSV", write("latin.csv", LATIN, "latin-1"),
             lambda ds: set(ds.frame["note"]) == {"café crème"}, "Windows-1252"),
    Accepted("UTF-16 CSV with BOM", write("utf16.csv", LATIN, "utf-16"),
             lambda ds: list(ds.frame.columns) == ["id", "x", "label", "note"]),
    Accepted("UTF-8 CSV with BOM", write("bom.csv", LATIN, "utf-8-sig"),
             lambda ds: list(ds.frame.columns)[0] == "id"),
    Accepted("cp1251 with --encoding", write("cyr.csv", CYRILLIC, "cp1251"),
             lambda ds: set(ds.frame["note"]) == {"кошка собака"}, options={"encoding": "cp1251"}),
    Accepted("duplicate column names", write("dup.csv", csv_text(plain_rows(), "id,x,label,x")),
             lambda ds: list(ds.frame.columns) == ["id", "x", "label", "x.1"], "duplicate column"),
    Accepted("Parquet with the id as index", parquet_id_index,
             lambda ds: list(ds.ids[:2]) == ["000", "001"], options={"id": "sample_id"}),
    Accepted("list<float> embedding column", list_embeddings, lambda ds: ds.X.shape == (40, 16)),
    Accepted("a class called None", write("none.csv", csv_text(plain_rows(labels=("None", "b")))),
             lambda ds: list(ds.classes) == ["None", "b"]),
    Accepted("headers equal once blanks are trimmed", padded_label_header,
             lambda ds: list(ds.frame.columns) == ["id", "reading", "label", "label.1"]
             and set(ds.classes) == {"no", "yes"}, "duplicate column"),
    Accepted("';' separator and decimal commas", semicolons_and_decimal_commas,
             lambda ds: ds.X.shape == (30, 3) and abs(float(ds.frame["taille"].mean()) - 1.6) < 0.1
             and float(ds.frame["loyer"].iloc[-1]) == 1000 + 37 * 29, "decimal comma"),
    Accepted("list<double> vectors exported as given", float64_list_column,
             lambda ds: ds.X.shape == (30, 8) and _exports_every_row(ds)),  # doc: id-like, dropped
]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.name for c in ACCEPTED])
def test_accepted_through_the_library_and_the_cli(case, tmp_path):
    path = case.make(tmp_path)
    before = digest(path)
    ds = core.load_dataset(path, label="label", min_rows_per_class=2, **case.options)
    assert case.check(ds), ds.frame.head()
    assert not case.warning or any(case.warning.lower() in w.lower() for w in ds.warnings), ds.warnings
    out = tmp_path / "scores.csv"
    result = run_main("score", path, "--label", "label", "--scorers", "knn_density", "--folds", "2",
                     *_cli_options(case.options), "--out", out)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert not case.warning or case.warning.lower() in result.stderr.lower(), result.stderr
    assert out.is_file() and digest(path) == before


# ------------------------------------------------------------------------ bytes that survive
TRICKY_NOTES = ["NA", "null", "None", "n/a", "", " padded ", "=SUM(A1:A2)", "-2+3", "@cmd", "a, with comma",
                'say "hi"', "line\nbreak", "café", "😀 emoji", "007", "1e5", "TRUE", "nan"]


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value


@dataclass
class RoundTrip:
    name: str
    rows: list
    encoding: str = "utf-8"
    options: tuple = ()  # extra CLI options


ROUND_TRIPS = [
    RoundTrip("zero-padded ids and NA-like notes",
              plain_rows(36, note=lambda i: _quoted(TRICKY_NOTES[i % len(TRICKY_NOTES)]), ids=lambda i: f"{i:03d}")),
    RoundTrip("a class called None", plain_rows(24, labels=("None", "NA"), ids=lambda i: f"00{i}")),
    RoundTrip("Latin-1 bytes", plain_rows(24, note=lambda i: "Müller" if i % 3 else "Ærø"), "latin-1"),
    RoundTrip("formula cells, formula-safe off", plain_rows(24, note=lambda i: "=1+1" if i % 2 else "+x")),
    RoundTrip("NA-like country codes in a categorical feature",  # NA is Namibia; every spelling comes back
              plain_rows(28, note=lambda i: ["NA", "null", "None", "n/a", "", "NZ", "nan"][i % 7]),
              options=("--features", "x,note")),
]


def _cells(path: Path, encoding: str) -> dict:
    """{id: {column: exact text}} read with the csv module (no type inference)."""
    import csv

    with open(path, newline="", encoding=encoding) as handle:
        rows = list(csv.DictReader(handle))
    return {row["id"]: row for row in rows}


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=[c.name for c in ROUND_TRIPS])
def test_non_feature_text_survives_select_and_apply(case, tmp_path):
    data = tmp_path / "data.csv"
    data.write_bytes(csv_text(case.rows).encode(case.encoding))
    before = digest(data)
    kept, manifest, applied = tmp_path / "kept.csv", tmp_path / "m.json", tmp_path / "applied.csv"
    common = ("--label", "label", "--id", "id", "--features", "x", "--folds", "2", *case.options)
    result = run_main("select", data, *common, "--strategy", "random", "--keep", "1.0", "--out", kept,
                     "--manifest", manifest)
    assert result.returncode == 0, result.stderr
    assert run_main("apply", manifest, data, "--out", applied).returncode == 0
    original = _cells(data, case.encoding)
    for output in (kept, applied):
        exported = _cells(output, "utf-8")
        assert set(exported) == set(original)
        for row_id, row in original.items():
            assert {c: exported[row_id][c] for c in ("id", "label", "note")} == \
                   {c: row[c] for c in ("id", "label", "note")}, row_id
    assert set(json.loads(manifest.read_text())["kept_ids"]) == set(original)  # "007" stays "007"
    assert digest(data) == before


def test_formula_cells_warn_in_plain_csv_and_are_escaped_on_request(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text(csv_text(plain_rows(20, note=lambda i: "=HYPERLINK(x)" if i % 2 else "-1.5")))
    plain, safe = tmp_path / "plain.csv", tmp_path / "safe.csv"
    args = ("--label", "label", "--id", "id", "--features", "x", "--folds", "2", "--strategy", "random",
            "--keep", "1.0")
    result = run_main("select", data, *args, "--out", plain, "--manifest", tmp_path / "a.json")
    assert result.returncode == 0 and "--formula-safe" in result.stderr and "formulas" in result.stderr
    result = run_main("select", data, *args, "--out", safe, "--manifest", tmp_path / "b.json", "--formula-safe")
    assert result.returncode == 0 and "formula" not in result.stderr, result.stderr
    notes = {row["note"] for row in _cells(safe, "utf-8").values()}
    assert notes == {"'=HYPERLINK(x)", "-1.5"}  # numbers are left alone


# ------------------------------------------------------------------------ junk in a --scores file
def _scores_with_junk(data: Path, out: Path, share: float) -> Path:
    """The scores of ``data`` with every cell of the 'el2n' column whose row number falls in ``share`` made text."""
    result = run_main("score", data, "--label", "label", "--id", "id", "--scorers", "el2n", "--folds", "2", "--out", out)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    junk = np.arange(len(frame)) % 6 < round(share * 6)
    frame.loc[junk, "el2n"] = np.where(np.arange(junk.sum()) % 2, "n.a.", "see notes")
    frame.loc[~junk, "el2n"] = np.where(np.arange((~junk).sum()) % 5 == 0, "NA", frame.loc[~junk, "el2n"])
    frame.to_csv(out, index=False)
    return out


SCORES_JUNK = [  # (name, share of the column that is text, words on stderr, refused)
    ("a third of a score column is text", 2 / 6, "are not numbers", False),
    ("most of a score column is text", 4 / 6, "mostly not numbers", True),
]


@pytest.mark.parametrize("name, share, words, refused", SCORES_JUNK, ids=[c[0] for c in SCORES_JUNK])
def test_junk_in_a_scores_file_is_counted_or_refused(name, share, words, refused, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text(csv_text(plain_rows(36, ids=lambda i: f"s{i:02d}")))
    scores = _scores_with_junk(data, tmp_path / "scores.csv", share)
    before = digest(scores)
    out = tmp_path / "out" / "kept.csv"
    result = run_main("select", data, "--label", "label", "--id", "id", "--features", "x", "--scores", scores,
                     "--strategy", "el2n", "--keep", "0.5", "--folds", "2", "--out", out,
                     "--manifest", tmp_path / "out" / "m.json")
    if refused:
        assert_refused(result, words, out)
    else:
        assert result.returncode == 0, result.stderr
        junk = int(round(share * 6)) * 6  # 36 rows: 'share' of every 6 rows
        warning = [line for line in result.stderr.splitlines() if words in line]
        assert len(warning) == 1 and f"{junk} of " in warning[0] and "'el2n'" in warning[0], result.stderr
        assert out.is_file()
    assert digest(scores) == before


# --------------------------------------------------------------------------- the manifest
def _tamper(change: Callable[[dict], None]):
    def make(manifest: dict) -> str:
        document = json.loads(json.dumps(manifest))
        change(document)
        return json.dumps(document)

    return make


def _repeat_first(document: dict) -> None:
    document["kept_ids"][1] = document["kept_ids"][0]


MANIFESTS = [  # (name, text from the good manifest, words of the refusal)
    ("unknown load option", _tamper(lambda d: d["data"]["load_options"].update(evil=1)), "unknown load option"),
    ("wrong option type", _tamper(lambda d: d["data"]["load_options"].update(image_size="big")), "image_size"),
    ("wrong field type", _tamper(lambda d: d.update(n_kept="3")), "n_kept"),
    ("ids of objects", _tamper(lambda d: d["kept_ids"].__setitem__(0, {"$ne": 1})), "kept_ids"),
    ("n_kept mismatch", _tamper(lambda d: d.update(n_kept=d["n_kept"] + 1)), "n_kept"),
    ("deep nesting", lambda m: "[" * 200_000 + "]" * 200_000, "not valid JSON"),
    ("nested options", _tamper(lambda d: d["params"].update(x=json.loads("[" * 60 + "]" * 60))), "nested"),
    ("not an object", lambda m: "[1, 2, 3]", "not a workbench manifest"),
    ("ids missing from the data", _tamper(lambda d: d["kept_ids"].__setitem__(0, "no-such-id")), "not in the data"),
    ("duplicated ids", _tamper(_repeat_first), "more than once"),
]


@pytest.fixture(scope="module")
def selected(tmp_path_factory):
    folder = tmp_path_factory.mktemp("manifest")
    data = folder / "data.csv"
    data.write_text(csv_text(plain_rows(24, ids=lambda i: f"r{i:02d}")))
    result = run_main("select", data, "--label", "label", "--id", "id", "--strategy", "random", "--keep", "0.5",
                     "--folds", "2", "--out", folder / "kept.csv", "--manifest", folder / "m.json")
    assert result.returncode == 0, result.stderr
    return data, json.loads((folder / "m.json").read_text())


@pytest.mark.parametrize("name, make, words", MANIFESTS, ids=[m[0] for m in MANIFESTS])
def test_tampered_manifests_are_refused(name, make, words, selected, tmp_path):
    data, manifest = selected
    path = tmp_path / "tampered.json"
    path.write_text(make(manifest))
    before = digest(data), digest(path)
    out = tmp_path / "out" / "applied.csv"
    assert_refused(run_main("apply", path, data, "--out", out), words, out)
    with pytest.raises(ManifestError):
        core.apply_manifest(path, data)
    assert (digest(data), digest(path)) == before


def test_force_says_exactly_which_ids_were_skipped(selected, tmp_path):
    data, manifest = selected
    document = json.loads(_tamper(lambda d: d["kept_ids"].__setitem__(0, "no-such-id"))(manifest))
    path = tmp_path / "m.json"
    path.write_text(json.dumps(document))
    result = run_main("apply", path, data, "--out", tmp_path / "a.csv", "--force")
    assert result.returncode == 0, result.stderr
    assert "skipped 1 manifest id(s) not in the data: ['no-such-id']" in result.stderr
    assert len(pd.read_csv(tmp_path / "a.csv")) == document["n_kept"] - 1


# ------------------------------------------------------------------- the error contract, more
def test_seed_out_of_range_is_refused_before_loading(tmp_path):
    out = tmp_path / "scores.csv"
    started = time.monotonic()
    result = run_main("score", "/dev/zero", "--seed", str(2**32), "--out", out)  # DATA is never read
    assert_refused(result, "--seed must be between 0 and 4294967295", out)
    assert time.monotonic() - started < 60


def test_a_full_disk_is_exit_2_with_no_partial_file(tmp_path, monkeypatch, capsys):
    import errno

    from core.cli import main

    data = tmp_path / "data.csv"
    data.write_text(csv_text(plain_rows()))

    def full(self, path, *args, **kwargs):
        Path(path).write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    out = tmp_path / "out" / "scores.csv"
    assert main(["score", str(data), "--label", "label", "--scorers", "knn_density", "--folds", "2",
                 "--out", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("workbench: warning:")]
    assert len(err) == 1 and err[0].startswith("workbench: error: ") and "disk is full" in err[0], err
    assert not out.exists() and not list(out.parent.iterdir())


# ------------------------------------------------- the contract, cases a review pass found (2026-12-07)
def _small_csv(tmp: Path) -> Path:
    data = tmp / "data.csv"
    data.write_text(csv_text(plain_rows(40)))
    return data


def test_outputs_get_the_permissions_a_plain_write_would(tmp_path):
    # the write-then-rename made every output 0600 (mkstemp's mode), hiding results from the group
    from core.outputs.files import staging_folder

    data, out = _small_csv(tmp_path), tmp_path / "scores.csv"
    previous = os.umask(0o022)
    try:
        assert run_main("score", data, "--label", "label", "--scorers", "knn_density", "--folds", "2",
                        "--out", out).returncode == 0
        assert out.stat().st_mode & 0o777 == 0o644
        out.chmod(0o664)  # a file replaced keeps its own mode
        assert run_main("score", data, "--label", "label", "--scorers", "knn_density", "--folds", "2",
                        "--out", out).returncode == 0
        assert out.stat().st_mode & 0o777 == 0o664
        assert staging_folder(tmp_path / "kept").stat().st_mode & 0o777 == 0o755  # partitioned outputs
    finally:
        os.umask(previous)


def test_an_output_folder_that_holds_no_files_is_exit_2(tmp_path):
    result = run_main("score", _small_csv(tmp_path), "--label", "label", "--scorers", "knn_density", "--folds", "2",
                      "--out", "/proc/scores.csv")
    assert_refused(result, "cannot write into /proc", tmp_path / "never.csv", warnings_too=True)


def test_a_column_cut_listing_numbers_is_refused(tmp_path):
    cut, out = tmp_path / "cut.json", tmp_path / "out" / "kept.csv"
    cut.write_text(json.dumps({"kept": [1]}))
    result = run_main("select", _small_csv(tmp_path), "--label", "label", "--columns", cut, "--strategy", "random",
                      "--keep", "0.5", "--out", out, "--manifest", tmp_path / "out" / "m.json")
    assert_refused(result, "not a column cut", out, warnings_too=True)


@pytest.mark.parametrize("model, params, words", [
    ("os:system", {"command": "touch {ran}"}, "not a scikit-learn estimator class"),
    ("sklearn.linear_model:LogisticRegression", {"C": -1}, "'C' parameter"),
    ("sklearn.neighbors:KNeighborsClassifier", {"n_neighbors": 500}, "could not be trained"),
])
def test_an_own_target_model_is_checked_before_it_runs(tmp_path, model, params, words):
    ran, out = tmp_path / "ran", tmp_path / "out" / "kept.csv"
    text = json.dumps(params).replace("{ran}", str(ran))
    result = run_main("select", _small_csv(tmp_path), "--label", "label", "--strategy", "random", "--keep", "0.5",
                      "--eval-model", model, "--eval-params", text, "--out", out,
                      "--manifest", tmp_path / "out" / "m.json")
    assert_refused(result, words, out, warnings_too=True)
    assert not ran.exists(), "a callable that is no estimator class was called"


def _partitions(folder: Path, drop_from_second=None) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(2):
        frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"]).assign(label=[0, 1, 2] * 20)
        frame.drop(columns=[drop_from_second] if i and drop_from_second else []).to_parquet(
            folder / f"part-{i}.parquet", index=False)
    return folder


def test_partitions_with_other_columns_are_refused(tmp_path):
    data = _partitions(tmp_path / "data", drop_from_second="c")
    result = run_main("score", data, "--scorers", "knn_density", "--workers", "0", "--out", tmp_path / "scores")
    assert_refused(result, "every partition needs the same columns", tmp_path / "scores")


@pytest.mark.parametrize("inside", ["data/scores", "data/deeper/scores"])
def test_partitioned_outputs_inside_the_data_folder_are_refused(tmp_path, inside):
    data = _partitions(tmp_path / "data")
    before = digest(data)
    for source in (data, f"{data}/*.parquet"):
        result = run_main("score", source, "--scorers", "knn_density", "--workers", "0", "--out", tmp_path / inside)
        assert_refused(result, "inside the data folder", tmp_path / inside)
    assert digest(data) == before


def test_a_partitioned_manifest_on_a_csv_and_a_bad_cluster_address_are_refused(tmp_path):
    data = _partitions(tmp_path / "data")
    assert run_main("score", data, "--scorers", "knn_density", "--workers", "0", "--out",
                    tmp_path / "scores").returncode == 0
    assert run_main("select", data, "--scores", tmp_path / "scores", "--strategy", "knn_density", "--keep", "0.5",
                    "--workers", "0", "--out", tmp_path / "kept", "--manifest", tmp_path / "m.json").returncode == 0
    result = run_main("apply", tmp_path / "m.json", _small_csv(tmp_path), "--workers", "0", "--out", tmp_path / "again")
    assert_refused(result, "DATA must be the folder", tmp_path / "again")
    result = run_main("score", data, "--scorers", "knn_density", "--cluster", "not an address", "--out",
                      tmp_path / "other")
    assert_refused(result, "check --cluster", tmp_path / "other")


@pytest.mark.parametrize("strategy, words", [
    ("ccs:knn_density:beta=0.1:beta=0.2", "given twice"),
    ("d2:knn_density:gamma=inf", "finite number"),
    ("d2:knn_density:gamma=1e308", "at most 100"),
])
def test_a_strategy_option_given_twice_or_not_finite_is_refused(tmp_path, strategy, words):
    out = tmp_path / "out" / "kept.csv"
    result = run_main("select", _small_csv(tmp_path), "--label", "label", "--strategy", strategy, "--keep", "0.5",
                      "--out", out, "--manifest", tmp_path / "out" / "m.json")
    assert_refused(result, words, out, warnings_too=True)


def test_misread_inputs_get_the_advice_that_fits(tmp_path):
    data, out = _small_csv(tmp_path), tmp_path / "out" / "scores.csv"
    # a measurement given as the label: not "merge these classes"
    result = run_main("score", data, "--label", "x", "--scorers", "knn_density", "--out", out)
    assert_refused(result, "not a class label", out, warnings_too=True)
    # a comma file named .tsv reads as one column
    tsv = tmp_path / "data.tsv"
    tsv.write_bytes(data.read_bytes())
    assert_refused(run_main("score", tsv, "--label", "label", "--out", out), "separator", out, warnings_too=True)
    result = run_main("score", data, "--label", "label", "--scorers", "all,bogus", "--out", out)
    assert_refused(result, "'all' stands alone", out, warnings_too=True)
    result = run_main("columns", data, "--label", "label", "--points", "-1", "--out", out)
    assert_refused(result, "--points must be between 0 and 100", out, warnings_too=True)
    # a scores column with no values at all would rank every row the same
    scores = tmp_path / "scores.csv"
    pd.DataFrame({"id": range(40), "knn_density": [""] * 40}).to_csv(scores, index=False)
    result = run_main("select", data, "--label", "label", "--id", "id", "--scores", scores, "--strategy",
                      "knn_density", "--keep", "0.5", "--out", out, "--manifest", tmp_path / "out" / "m.json")
    assert_refused(result, "holds no values", out, warnings_too=True)


def test_scores_of_other_labels_are_refused(tmp_path):
    data, scores, out = _small_csv(tmp_path), tmp_path / "scores.csv", tmp_path / "out" / "kept.csv"
    assert run_main("score", data, "--label", "label", "--id", "id", "--scorers", "el2n", "--folds", "2",
                    "--out", scores).returncode == 0
    select = ("select", data, "--label", "label", "--id", "id", "--scores", scores, "--strategy", "el2n", "--keep",
              "0.5", "--folds", "2", "--out", out, "--manifest", tmp_path / "out" / "m.json")
    assert run_main(*select).returncode == 0  # its own scores are taken
    out.unlink()
    (tmp_path / "out" / "m.json").unlink()
    frame = pd.read_csv(scores, dtype=str, keep_default_na=False)
    frame["label"] = frame["label"].map({"a": "b", "b": "a"})  # the same ids, scored on other labels
    frame.to_csv(scores, index=False)
    assert_refused(run_main(*select), "another label than in the data", out, warnings_too=True)


@pytest.mark.parametrize("when", ["while importing", "once the workers run"])
def test_ctrl_c_on_a_local_cluster_is_one_line_and_leaves_nothing(tmp_path, when):
    # Dask's shutdown part-way printed 13-31 lines of worker errors and tracebacks, and an interrupt while the
    # library loaded printed importlib's traceback
    import psutil

    data, out, scratch = _partitions(tmp_path / "data"), tmp_path / "scores", tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "core.cli", "score", str(data), "--workers", "2", "-q",
                                "--scorers", "knn_density", "--out", str(out)], cwd=Path(__file__).parent.parent,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(scratch)})
    try:
        parent = psutil.Process(process.pid)
        if when == "while importing":
            time.sleep(0.5)  # inside the library's imports (about a second)
        else:
            deadline = time.monotonic() + 120
            while not any("spawn_main" in " ".join(c.cmdline()) for c in _children(parent)):
                assert process.poll() is None and time.monotonic() < deadline, "no worker started"
                time.sleep(0.05)
        children = _children(parent)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    if process.returncode == 130:
        assert lines == ["workbench: interrupted; no output was written."], err
        assert not out.exists()
    else:  # the interrupt came once the scores were in place: the run finished
        assert process.returncode == 0 and not lines and (out / "part-00000.parquet").exists(), err
    _, alive = psutil.wait_procs(children, timeout=60)
    assert not alive, f"left running: {[c.pid for c in alive]}"
    assert not list(scratch.glob("workbench-dask-*")), "the cluster's scratch folder outlived the interrupted run"


def _children(parent):
    import psutil

    try:
        return parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


# ------------------------------------------------------------------------------ the disk cache
@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_entries_are_checksummed_data_never_pickle(blobs, own_cache):
    first = core.compute_scores(blobs, ["el2n", "knn_density", "duplicate"], seed=0)
    files = [p for p in own_cache.rglob("*") if p.is_file()]
    assert files and all(p.name.endswith((".npz", ".parquet", ".json", ".sha256")) for p in files)
    for path in files:
        assert b"pickle" not in path.read_bytes()[:200] and not path.read_bytes().startswith(b"\x80")
    # flip one byte in every scores entry: each fails its checksum and is recomputed, never returned
    for path in (own_cache / "scores").glob("*.npz"):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    again = core.compute_scores(blobs, ["el2n", "knn_density", "duplicate"], seed=0)
    pd.testing.assert_frame_equal(first, again)
    assert all(cache._read_entry(own_cache / "scores", p.name[:-4]) for p in (own_cache / "scores").glob("*.npz"))


def test_a_foreign_entry_with_a_valid_checksum_cannot_run_code(own_cache):
    from core.scorers import ScoreResult

    assert cache.save("scores", "k", ScoreResult(np.arange(3.0)))
    payload = io.BytesIO()
    np.savez(payload, scores=np.array([object()], dtype=object), allow_pickle=True)
    meta = json.loads((own_cache / "scores" / "k.npz.sha256").read_text())["meta"]
    (own_cache / "scores" / "k.npz").write_bytes(payload.getvalue())
    (own_cache / "scores" / "k.npz.sha256").write_text(json.dumps(
        {"version": cache.FORMAT_VERSION, "sha256": cache._digest(payload.getvalue(), meta), "meta": meta}))
    assert cache.load("scores", "k", cls=ScoreResult) is None  # verified, but pickled: refused


@pytest.mark.parametrize("kind", ["a file", "a folder inside a file"])
def test_an_unusable_cache_folder_degrades_to_no_cache_with_one_warning(kind, tmp_path, blobs):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    folder = blocker if kind == "a file" else blocker / "cache"
    data = tmp_path / "data.csv"
    data.write_text(csv_text(plain_rows()))
    result = run_main("score", data, "--label", "label", "--scorers", "knn_density,el2n", "--folds", "2",
                     "--out", tmp_path / "s.csv", env={"WORKBENCH_CACHE_DIR": str(folder)})
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "cache folder" in line]
    assert len(warnings) == 1 and warnings[0].startswith("workbench: warning: ") and "WORKBENCH_CACHE_DIR" in warnings[0]
    assert blocker.read_text() == "not a folder"


# ----------------------------------------------------------------------- processes and parents
def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _processes_mentioning(text: str) -> list:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in command:
                found.append((int(entry.name), command))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list processes")
def test_workbench_app_leaves_no_server_after_sigterm(tmp_path):
    port = free_port()
    marker = f"--server.port={port}"
    process = subprocess.Popen([sys.executable, "-m", "core.cli", "app", "--server.headless", "true", marker,
                                "--browser.gatherUsageStats", "false"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(port, process)
        assert [pid for pid, _ in _processes_mentioning(marker)] == [process.pid]  # exec'd: no child server
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _listening(port), "a server is still listening after `workbench app` was terminated"
        assert _processes_mentioning(marker) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_an_unreadable_class_folder_is_an_error_not_a_missing_class(tmp_path, monkeypatch):
    from core.data import readers

    folder = tmp_path / "pets"
    for name in ("cat", "dog", "eel"):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            (folder / name / f"{i}.png").write_bytes(png_bytes(40 * i))
    real_access = os.access
    # as root every folder is readable, so the refusal of the operating system is simulated
    monkeypatch.setattr(readers.os, "access", lambda path, mode: Path(path).name != "eel" and real_access(path, mode))
    with pytest.raises(WorkbenchError, match="eel.*cannot be read"):
        core.load_dataset(folder, min_rows_per_class=2)
    if os.geteuid() != 0:  # a real unreadable folder, where the operating system enforces it
        monkeypatch.undo()
        (folder / "eel").chmod(0)
        try:
            with pytest.raises(WorkbenchError, match="cannot be read"):
                core.load_dataset(folder, min_rows_per_class=2)
        finally:
            (folder / "eel").chmod(0o755)


def test_scoring_partitions_says_how_the_neighbours_were_found(tmp_path):
    result = run_main("score", _partitions(tmp_path / "data"), "--scorers", "knn_density", "--workers", "0",
                      "--out", tmp_path / "scores")
    assert result.returncode == 0, result.stderr
    assert "(neighbours: approximate, cluster-probe, recall@10 1.0 on sampled rows)" in result.stdout


def test_score_search_chooses_the_neighbour_method_and_refuses_unknown_ones(tmp_path):
    data = _partitions(tmp_path / "data")
    result = run_main("score", data, "--scorers", "knn_density", "--workers", "0", "--search", "nndescent",
                      "--out", tmp_path / "scores")
    assert result.returncode == 0 and "(neighbours: approximate, nn-descent, recall@10" in result.stdout, result.stderr
    assert_refused(run_main("score", data, "--scorers", "knn_density", "--workers", "0", "--search", "hnsw",
                            "--out", tmp_path / "other"), "choose one of auto, nndescent, ivf", tmp_path / "other")
    assert_refused(run_main("score", _small_csv(tmp_path), "--label", "label", "--search", "annoy",
                            "--out", tmp_path / "s.csv"), "choose one of auto, ivf, hnsw", tmp_path / "s.csv")
