"""core.export in process: kept rows, manifests, atomic writes and exact re-application."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.foundation.errors import ConfigError, ManifestError
from core.outputs.manifest import (apply_manifest, kept_frame, load_for_manifest, manifest_document, read_manifest,
                                   write_selection)
from core.outputs.files import to_jsonable, write_table
from core.data.loading import load_dataset
from core import select

REQUIRED = ("kept_ids", "n_input", "n_kept", "strategy", "data_fingerprint", "seed", "version", "estimate")


def _frame(n_per_class: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = np.repeat(["cat", "dog", "eel"], n_per_class)
    frame = pd.DataFrame({
        "b_second": rng.normal(size=labels.size),
        "name": [f"row{i:02d}" for i in range(labels.size)],
        "animal": labels,
        "a_first": rng.normal(size=labels.size) + np.repeat([0.0, 2.0, 4.0], n_per_class),
        "colour": rng.choice(["red", "blue"], size=labels.size),
    })
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture
def csv_dataset(tmp_path):
    path = tmp_path / "animals.csv"
    _frame().to_csv(path, index=False)
    return load_dataset(path, label="animal", id="name"), path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_keeps_original_columns_and_row_order(csv_dataset, tmp_path, suffix):
    ds, path = csv_dataset
    sel = select(ds, None, strategy="random", keep=0.5, seed=3)
    out = tmp_path / "sub" / f"kept{suffix}"
    document = write_selection(ds, sel, out, manifest=tmp_path / "m.json")
    kept = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    original = pd.read_csv(path)
    assert list(kept.columns) == list(original.columns)
    pd.testing.assert_frame_equal(kept, original[sel.mask].reset_index(drop=True))
    assert document["kept_ids"] == list(original.loc[sel.mask, "name"])
    on_disk = json.loads((tmp_path / "m.json").read_text())
    assert on_disk == document
    assert not list(tmp_path.rglob("*.tmp"))


def test_manifest_holds_the_contract_fields_as_plain_json(csv_dataset):
    ds, _ = csv_dataset
    sel = select(ds, None, strategy="random", keep=0.25, seed=0)
    comparison = {"selection": {"accuracy": np.float64(0.9), "fold_accuracies": np.array([0.9, np.nan])},
                  "random": {"accuracy": 0.8}, "full": {"accuracy": float("inf")}}
    manifest = manifest_document(ds, sel, comparison, [{"name": "el2n", "params": {"epochs": np.int64(3)}}])
    for key in REQUIRED:
        assert key in manifest
    text = json.dumps(manifest, allow_nan=False)  # standard JSON: NaN and inf become null
    assert json.loads(text) == manifest
    assert manifest["estimate"]["selection"]["fold_accuracies"] == [0.9, None]
    assert manifest["estimate"]["full"]["accuracy"] is None
    assert manifest["scorers"][0]["params"] == {"epochs": 3}
    assert manifest["version"]["workbench"] and manifest["version"]["manifest_schema"] == 1
    assert manifest["created"].endswith("Z")
    assert manifest["data"]["load_options"]["label"] == "animal"
    assert manifest["n_kept"] == len(manifest["kept_ids"]) == 6 and manifest["n_input"] == 24


def test_integer_and_string_ids_keep_their_types(csv_dataset):
    ds, _ = csv_dataset
    by_name = manifest_document(ds, select(ds, None, "random", keep=0.5, seed=0))
    assert all(isinstance(i, str) for i in by_name["kept_ids"])
    arrays = load_dataset(_frame(), label="animal", features=["a_first", "b_second"])
    by_row = manifest_document(arrays, select(arrays, None, "random", keep=0.5, seed=0))
    assert all(type(i) is int for i in by_row["kept_ids"])


def test_include_scores_appends_columns_and_renames_clashes(csv_dataset):
    ds, _ = csv_dataset
    sel = select(ds, None, "random", keep=0.5, seed=1)
    scores = pd.DataFrame({"el2n": np.arange(ds.n_samples, dtype=float), "colour": 1.0},
                          index=pd.Index(ds.ids, name="id"))
    frame = kept_frame(ds, sel, scores, include_scores=True)
    assert list(frame.columns) == list(ds.frame.columns) + ["el2n", "colour_score"]
    assert frame["el2n"].tolist() == np.flatnonzero(sel.mask).astype(float).tolist()


def test_apply_reproduces_the_selection_exactly(csv_dataset, tmp_path):
    ds, path = csv_dataset
    sel = select(ds, None, "random", keep=0.5, seed=7)
    write_selection(ds, sel, tmp_path / "kept.csv", manifest=tmp_path / "m.json")
    manifest = read_manifest(tmp_path / "m.json")
    again = apply_manifest(manifest, path)  # a path is loaded with the manifest's options
    assert list(again.kept_ids) == list(sel.kept_ids)
    assert np.array_equal(again.mask, sel.mask)
    assert again.details["fingerprint_matches"] and not again.details["forced"]


def test_apply_refuses_changed_data_and_force_keeps_ids_in_manifest_order(csv_dataset, tmp_path):
    ds, path = csv_dataset
    sel = select(ds, None, "random", keep=0.5, seed=7)
    manifest = manifest_document(ds, sel)
    changed = pd.read_csv(path)
    changed = changed[changed["name"] != manifest["kept_ids"][1]].iloc[::-1]
    changed_path = tmp_path / "changed.csv"
    changed.to_csv(changed_path, index=False)
    with pytest.raises(ManifestError, match="23 rows instead of 24"):
        apply_manifest(manifest, changed_path)
    forced = apply_manifest(manifest, changed_path, force=True)
    expected = [i for i in manifest["kept_ids"] if i != manifest["kept_ids"][1]]
    assert list(forced.kept_ids) == expected
    assert forced.details["missing_ids"] == [manifest["kept_ids"][1]] and forced.details["forced"]
    new_ds = load_for_manifest(manifest, changed_path)
    assert kept_frame(new_ds, forced)["name"].tolist() == expected  # manifest order, not file order
    unrelated = changed.assign(name=[f"other{i}" for i in range(len(changed))])
    unrelated.to_csv(changed_path, index=False)
    with pytest.raises(ManifestError, match="None of the manifest"):
        apply_manifest(manifest, changed_path, force=True)


def test_apply_explains_featurization_changes(csv_dataset):
    ds, path = csv_dataset
    manifest = manifest_document(ds, select(ds, None, "random", keep=0.5, seed=0))
    manifest["data_fingerprint"] = "0" * 64
    with pytest.raises(ManifestError, match="featurized differently"):
        apply_manifest(manifest, path)


def test_read_manifest_rejects_other_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ManifestError, match="not a workbench manifest"):
        read_manifest(bad)
    bad.write_text("{oops")
    with pytest.raises(ManifestError, match="not valid JSON"):
        read_manifest(bad)


def test_writes_are_atomic_and_extensions_checked(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("previous contents\n")

    class Exploding(pd.DataFrame):
        def to_csv(self, path, **kwargs):
            with open(path, "w") as handle:
                handle.write("half a fi")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_table(Exploding({"a": [1]}), target)
    assert target.read_text() == "previous contents\n"
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(ConfigError, match=".csv or .parquet"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.xlsx")


def test_to_jsonable_converts_numpy_and_nonfinite():
    value = {"a": np.int64(3), "b": np.array([1.5, np.nan]), "c": (np.bool_(True), None), 4: float("-inf")}
    assert to_jsonable(value) == {"a": 3, "b": [1.5, None], "c": [True, None], "4": None}


def _image_folder(root):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, level in (("dark", 40), ("light", 200)):
        (root / label).mkdir(parents=True)
        for i in range(6):
            pixels = np.clip(rng.normal(level, 20, size=(8, 8)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


@pytest.mark.parametrize("kind", ["parquet", "npz", "images", "text"])
def test_load_for_manifest_reproduces_the_fingerprint(kind, tmp_path):
    rng = np.random.default_rng(0)
    options = {}
    if kind == "parquet":
        path = tmp_path / "d.parquet"
        _frame().to_parquet(path, index=False)
        options = {"label": "animal", "id": "name"}
    elif kind == "npz":
        path = tmp_path / "d.npz"
        np.savez(path, X=rng.normal(size=(20, 3)), y=np.repeat([0, 1], 10))
    elif kind == "images":
        path = _image_folder(tmp_path / "imgs")
    else:
        path = tmp_path / "t.csv"
        words = ["good", "bad", "fine", "awful", "great", "poor", "ok", "nice"]
        texts = [" ".join(rng.choice(words, size=12)) + f" review number {i}" for i in range(20)]
        pd.DataFrame({"review": texts, "label": np.repeat(["neg", "pos"], 10)}).to_csv(path, index=False)
        options = {"text": "review", "text_method": "tfidf"}
    ds = load_dataset(path, **options)
    manifest = manifest_document(ds, select(ds, None, "random", keep=0.5, seed=0))
    again = load_for_manifest(json.loads(json.dumps(manifest)), path)
    assert again.fingerprint == ds.fingerprint
    assert list(apply_manifest(manifest, again).kept_ids) == manifest["kept_ids"]


def test_kept_rows_parquet_can_not_hold_refuses_with_one_clear_error_and_csv_still_works(tmp_path):
    import io

    import core
    from core.foundation.errors import DataFileError

    frame = pd.DataFrame({"a": np.arange(40.0), "note": [1, "x"] * 20, "label": ["p", "q"] * 20})  # a mixed column
    ds = load_dataset(frame, label="label")
    sel = select(ds, None, "random", keep=0.5)
    with pytest.raises(DataFileError, match=r"the kept rows as Parquet .*column note.*Choose CSV instead"):
        core.rows_bytes(ds, sel, "parquet")  # what the Export page's download serves (it shows this message)
    with pytest.raises(DataFileError, match=r"kept\.parquet as Parquet .*column note.*Write a \.csv instead"):
        write_table(frame, tmp_path / "kept.parquet")
    assert not (tmp_path / "kept.parquet").exists()
    back = pd.read_csv(io.BytesIO(core.rows_bytes(ds, sel, "csv")), dtype=str)
    assert sorted(set(back["note"])) == ["1", "x"] and len(back) == 20
