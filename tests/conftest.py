"""Shared fixtures: an isolated on-disk cache for every test session, and small data sets."""

from __future__ import annotations

import os

import numpy as np
import pytest

from core.foundation import process_folder

# Every test run gets its own cache folder so results never leak between runs or into ~/.cache; it is
# removed when the run ends (every run left one behind).
os.environ["WORKBENCH_CACHE_DIR"] = str(process_folder("workbench-test-cache-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def blobs():
    """A small, well-separated three-class Dataset built from arrays."""
    from sklearn.datasets import make_blobs

    from core.data.dataset import Dataset

    X, y = make_blobs(n_samples=300, centers=3, n_features=8, random_state=0)
    return Dataset.from_arrays(X, y)
