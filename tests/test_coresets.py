"""Coreset selectors: exact budgets, determinism, and that each beats random at its own objective."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.selection.coresets import facility_location, k_center_greedy, kmeans_diversity
from core.foundation.errors import Cancelled


@pytest.fixture(scope="module")
def clustered():
    """600 rows in 6 clusters of very different sizes, labels = cluster halves."""
    rng = np.random.default_rng(0)
    sizes = [300, 150, 80, 40, 20, 10]
    centres = rng.normal(scale=8.0, size=(6, 5))
    cluster = np.repeat(np.arange(6), sizes)
    X = centres[cluster] + rng.normal(size=(len(cluster), 5))
    return X.astype(np.float32), cluster


def _select(method, X, y, budget, seed=0, **kwargs):
    if method is kmeans_diversity:
        return method(X, y, budget, seed=seed, **kwargs)
    return method(X, budget, seed=seed, **kwargs)


def _covering_radius(X, chosen):
    distances = np.linalg.norm(X[:, None] - X[chosen][None], axis=2)
    return distances.min(axis=1).max()


def _facility_value(X, chosen):
    distances = np.linalg.norm(X[:, None] - X[chosen][None], axis=2)
    return np.exp(-distances.min(axis=1) ** 2).sum()


@pytest.mark.parametrize("method", [k_center_greedy, kmeans_diversity, facility_location])
@pytest.mark.parametrize("budget", [0, 1, 37, 600, 900])
def test_budget_unique_in_range_and_deterministic(clustered, method, budget):
    X, y = clustered
    chosen = _select(method, X, y, budget)
    assert chosen.dtype == np.int64 and len(chosen) == min(budget, len(X))
    assert len(np.unique(chosen)) == len(chosen)
    assert ((chosen >= 0) & (chosen < len(X))).all()
    np.testing.assert_array_equal(chosen, _select(method, X, y, budget))


@pytest.mark.parametrize("method", [k_center_greedy, kmeans_diversity])
def test_seed_matters(clustered, method):
    # (facility location's greedy is deterministic; its seed only breaks exact ties)
    X, y = clustered
    assert not np.array_equal(np.sort(_select(method, X, y, 60, seed=0)), np.sort(_select(method, X, y, 60, seed=1)))


def test_k_center_covers_better_than_random(clustered):
    X, _ = clustered
    rng = np.random.default_rng(1)
    ours = _covering_radius(X, k_center_greedy(X, 30))
    random_radius = min(_covering_radius(X, rng.choice(len(X), 30, replace=False)) for _ in range(5))
    assert ours < random_radius
    # Every cluster, even the 10-row one, gets a centre.
    assert len(np.unique(clustered[1][k_center_greedy(X, 30)])) == 6


def test_k_center_with_exact_duplicates_never_repeats():
    X = np.repeat(np.eye(3, dtype=np.float32), 4, axis=0)  # 3 distinct points, 4 copies each
    chosen = k_center_greedy(X, 12)
    assert len(np.unique(chosen)) == 12
    assert len({tuple(X[i]) for i in chosen[:3]}) == 3  # the three distinct points come first


def test_facility_location_with_exact_duplicates_fills_the_budget():
    # 20 distinct points, 3 copies each: once every row is covered (one copy of each point) the rest of the
    # budget is drawn at random, never a row twice, the same draw for the same seed.
    X = np.repeat(np.random.default_rng(0).normal(size=(20, 3)), 3, axis=0).astype(np.float32)
    chosen = facility_location(X, 40, seed=0)
    assert len(chosen) == 40 and len(np.unique(chosen)) == 40
    assert len({tuple(X[i]) for i in chosen[:20]}) == 20  # every distinct point before any second copy
    assert np.array_equal(chosen, facility_location(X, 40, seed=0))


def test_kmeans_diversity_keeps_class_shares(clustered):
    X, cluster = clustered
    y = (cluster >= 2).astype(int)  # 450 / 150 rows
    chosen = kmeans_diversity(X, y, 120, seed=0)
    assert np.bincount(y[chosen]).tolist() == [90, 30]
    # Within class 1 (clusters 2..5 of sizes 80/40/20/10) every cluster is represented.
    assert set(cluster[chosen]) == set(range(6))
    assert len(kmeans_diversity(X, None, 50)) == 50


def test_facility_location_beats_random_and_covers_small_clusters(clustered):
    X, cluster = clustered
    rng = np.random.default_rng(2)
    chosen = facility_location(X, 30, seed=0)
    best_random = max(_facility_value(X, rng.choice(len(X), 30, replace=False)) for _ in range(5))
    assert _facility_value(X, chosen) > best_random
    assert len(np.unique(cluster[chosen])) >= 5


@pytest.mark.slow
def test_facility_location_scales_without_quadratic_memory():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20000, 8)).astype(np.float32)
    seen = []
    chosen = facility_location(X, 2000, seed=0, progress=lambda d, t, m: seen.append(d / t))
    assert len(np.unique(chosen)) == 2000
    assert seen[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("method", [k_center_greedy, kmeans_diversity, facility_location])
def test_cancel(clustered, method):
    X, y = clustered
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        _select(method, X, y, 50, cancel=stop)
