"""Wide data: pixel tables recognised as images, features reduced by default, the choice recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import core
from core.data import featurizers
from core.foundation.errors import ConfigError


def _pixel_table(n_rows=2000, side=28, n_classes=10, seed=0) -> pd.DataFrame:
    """MNIST-like: each class is a blurred stroke at its own place, plus noise; ints 0..255."""
    rng = np.random.default_rng(seed)
    y = rng.integers(n_classes, size=n_rows)
    grid = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1).astype(np.float32)
    rows, cols = np.divmod(np.arange(n_classes), 5)
    centres = np.stack([7.0 + 14.0 * rows, 4.0 + 5.0 * cols], axis=1)  # 2 x 5 places, 5+ px apart
    jitter = rng.normal(0, 1.0, size=(n_rows, 2))
    where = centres[y] + jitter
    distance = np.linalg.norm(grid[None] - where[:, None, None, :], axis=-1)
    images = 255 * np.exp(-(distance / 3.5) ** 2) + rng.normal(0, 12, size=(n_rows, side, side))
    pixels = np.clip(np.round(images), 0, 255).astype(np.int64).reshape(n_rows, -1)
    frame = pd.DataFrame(pixels, columns=[f"p{i}" for i in range(side * side)])
    frame.insert(0, "label", [f"digit{c}" for c in y])
    return frame


@pytest.fixture(scope="module")
def pixel_frame():
    return _pixel_table()


@pytest.fixture(scope="module")
def pixel_ds(pixel_frame):
    return core.load_dataset(pixel_frame, label="label")


def test_pixel_table_is_recognised_as_images(pixel_frame, pixel_ds):
    assert pixel_ds.kind == "image"
    assert pixel_ds.images is not None and pixel_ds.images.shape == (2000, 28, 28)
    assert 0.0 <= pixel_ds.images.min() and pixel_ds.images.max() <= 1.0
    first = pixel_frame.iloc[0, 1:].to_numpy(dtype=np.float32).reshape(28, 28) / 255.0
    np.testing.assert_allclose(pixel_ds.images[0], first, atol=1e-6)


def test_wide_features_reduced_by_default_with_explained_variance(pixel_ds):
    assert pixel_ds.n_features == featurizers.AUTO_DIM
    reduction = pixel_ds.feature_reduction
    assert reduction["method"] == "pca" and reduction["output_dim"] == featurizers.AUTO_DIM
    assert reduction["input_dim"] > featurizers.WIDE_FEATURES
    assert 0.8 < reduction["explained_variance"] <= 1.0
    assert any("explain" in w and "PCA" in w for w in pixel_ds.warnings)
    # the original pixel columns are what an export writes
    assert [c for c in pixel_ds.frame.columns if c != "label"] == [f"p{i}" for i in range(784)]


def test_reduced_features_separate_the_classes_as_well_as_all_pixels(pixel_frame, pixel_ds):
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    full = core.load_dataset(pixel_frame, label="label", max_dim=None)
    reduced = cross_val_score(KNeighborsClassifier(5), pixel_ds.X, pixel_ds.y, cv=3).mean()
    every_pixel = cross_val_score(KNeighborsClassifier(5), full.X, full.y, cv=3).mean()
    assert reduced > 0.9 and reduced > every_pixel - 0.02


def test_fingerprint_stable_and_follows_the_choice(pixel_frame, pixel_ds):
    again = core.load_dataset(pixel_frame.copy(), label="label")
    assert again.fingerprint == pixel_ds.fingerprint
    np.testing.assert_array_equal(again.X, pixel_ds.X)
    kept = core.load_dataset(pixel_frame, label="label", max_dim=None)
    assert kept.feature_reduction is None and kept.n_features == 16 * 16
    assert kept.fingerprint != pixel_ds.fingerprint
    narrow = core.load_dataset(pixel_frame, label="label", max_dim=32)
    assert narrow.n_features == 32 and narrow.feature_reduction["output_dim"] == 32
    assert narrow.feature_reduction["explained_variance"] < pixel_ds.feature_reduction["explained_variance"]


def test_wide_tabular_reduced_narrow_left_alone():
    rng = np.random.default_rng(1)
    latent = rng.normal(size=(300, 5))
    wide = pd.DataFrame(latent @ rng.normal(size=(5, 250)) + 0.1 * rng.normal(size=(300, 250)) - 3.0,
                        columns=[f"f{i}" for i in range(250)])
    wide["label"] = np.where(latent[:, 0] > 0, "a", "b")
    ds = core.load_dataset(wide)
    assert ds.kind == "tabular" and ds.n_features == featurizers.AUTO_DIM
    assert ds.feature_reduction["explained_variance"] > 0.95  # five latent factors carry it
    narrow = core.load_dataset(wide[[f"f{i}" for i in range(40)] + ["label"]])
    assert narrow.feature_reduction is None and narrow.n_features == 40
    assert core.load_dataset(wide, max_dim=0).n_features == 250


def test_rank_deficient_features_keep_no_rounding_noise_components():
    """Wide features of rank 20 reduce to 20 components, not to AUTO_DIM: the rest would be float32
    rounding noise, which a standardising model (scikit-learn's StandardScaler) blows up to full weight."""
    rng = np.random.default_rng(2)
    latent = rng.normal(size=(400, 20))
    wide = pd.DataFrame(latent @ rng.normal(size=(20, 300)), columns=[f"f{i}" for i in range(300)])
    wide["label"] = np.where(latent[:, 0] > 0, "a", "b")
    ds = core.load_dataset(wide)
    assert ds.n_features == 20 and ds.feature_reduction["explained_variance"] > 0.999
    assert any("rounding noise" in w for w in ds.warnings)
    full_rank = pd.DataFrame(rng.normal(size=(400, 300)), columns=[f"f{i}" for i in range(300)])
    full_rank["label"] = wide["label"]
    assert core.load_dataset(full_rank).n_features == featurizers.AUTO_DIM


@pytest.mark.parametrize("columns, values, expected", [
    (64, lambda rng, n, d: rng.integers(0, 17, size=(n, d)), (8, 8)),  # scikit-learn digits' range
    (100, lambda rng, n, d: rng.uniform(0, 1, size=(n, d)), (10, 10)),
    (63, lambda rng, n, d: rng.integers(0, 256, size=(n, d)), None),  # not a square
    (81, lambda rng, n, d: rng.normal(size=(n, d)), None),  # negative values: not pixels
    (81, lambda rng, n, d: rng.integers(0, 1000, size=(n, d)), None),  # beyond 255
    (49, lambda rng, n, d: rng.integers(0, 256, size=(n, d)), None),  # too few columns for an image
])
def test_pixel_table_detection(columns, values, expected):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(values(rng, 50, columns), columns=[f"c{i}" for i in range(columns)])
    images = featurizers.pixel_images(frame, list(frame.columns))
    assert (images is None) if expected is None else images.shape == (50, *expected)


@pytest.mark.parametrize("bad", [-1, 2.5, "all", True])
def test_bad_max_dim_is_a_user_error(bad):
    with pytest.raises(ConfigError, match="max_dim"):
        featurizers.resolve_max_dim(bad, 300)
