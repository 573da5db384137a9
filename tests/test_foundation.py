"""Foundation primitives: the one fold maker, seed streams, thread limits, standardiser, MLP loop."""

from __future__ import annotations

import numpy as np
import pytest

from core.foundation.errors import ConfigError
from core.foundation.folds import fold_splits, stratified_folds
from core.foundation.linear import standardiser
from core.foundation.mlp import TrainingHook, predict_logits, train_proxy
from core.foundation.seeds import derive_seed, rng, torch_generator
from core.foundation.threads import single_threaded


def _labels(counts, seed=0):
    y = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(y)


# ----------------------------------------------------------------------------- folds


def test_stratified_folds_keep_class_shares_in_every_fold():
    y = _labels([300, 120, 45])
    fold_of_row = stratified_folds(y, 5, seed=3)
    assert fold_of_row.shape == y.shape and set(np.unique(fold_of_row)) == set(range(5))
    for c, total in enumerate(np.bincount(y)):
        per_fold = np.bincount(fold_of_row[y == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1, (c, per_fold)
        assert per_fold.sum() == total


def test_stratified_folds_deterministic_per_seed_and_equal_to_sklearn():
    from sklearn.model_selection import StratifiedKFold

    y = _labels([80, 50, 30], seed=1)
    a, b = stratified_folds(y, 4, seed=11), stratified_folds(y, 4, seed=11)
    np.testing.assert_array_equal(a, b)
    assert (stratified_folds(y, 4, seed=12) != a).mean() > 0.3
    expected = np.zeros(len(y), dtype=np.int64)
    for fold, (_, test) in enumerate(StratifiedKFold(4, shuffle=True, random_state=11).split(y, y)):
        expected[test] = fold
    np.testing.assert_array_equal(a, expected)


def test_fold_splits_partition_rows():
    fold_of_row = stratified_folds(_labels([40, 40]), 4, seed=0)
    splits = fold_splits(fold_of_row)
    assert len(splits) == 4
    tests = np.concatenate([test for _, test in splits])
    assert np.array_equal(np.sort(tests), np.arange(80))
    for train, test in splits:
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 80


@pytest.mark.parametrize("folds", [1, 0, 2.5, True, 81])
def test_stratified_folds_rejects_bad_fold_counts(folds):
    with pytest.raises(ConfigError, match="folds"):
        stratified_folds(_labels([40, 40]), folds, seed=0)


def test_tiny_classes_are_allowed_and_simply_miss_folds():
    y = _labels([50, 2])
    fold_of_row = stratified_folds(y, 5, seed=0)
    assert len(np.unique(fold_of_row[y == 1])) == 2


# ----------------------------------------------------------------------------- seeds


def test_rng_reproducible_and_matches_numpy_default():
    np.testing.assert_array_equal(rng(5, "oof", 2).normal(size=20), rng(5, "oof", 2).normal(size=20))
    np.testing.assert_array_equal(rng(5).integers(1000, size=20), np.random.default_rng(5).integers(1000, size=20))
    spawned = np.random.SeedSequence(5, spawn_key=(3,))
    np.testing.assert_array_equal(rng(5, 3).random(5), np.random.default_rng(spawned).random(5))


def test_rng_streams_are_independent():
    keys = [(0,), (1,), (0, 0), (0, 1), (1, 0), (1, 0, 0), (0, "decoy"), (0, "oof", 1)]
    draws = {key: rng(*key).normal(size=5000) for key in keys}
    keys = list(draws)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert abs(np.corrcoef(draws[a], draws[b])[0, 1]) < 0.06, (a, b)
    # the classic collision of "seed + stream" does not happen
    assert not np.array_equal(rng(0, 1).random(3), rng(1, 0).random(3))


def test_derive_seed_range_identity_and_stability():
    assert derive_seed(7) == 7
    values = {derive_seed(7, run) for run in range(50)}
    assert len(values) == 50 and all(0 <= v < 2**32 for v in values)
    assert derive_seed(3, "decoy") == derive_seed(3, "decoy") != derive_seed(3, "other")
    assert derive_seed(0, 1) == int(np.random.SeedSequence(0, spawn_key=(1,)).generate_state(1)[0])


@pytest.mark.parametrize("bad", [-1, 1.5, "x", None])
def test_bad_seeds_raise_a_user_error(bad):
    with pytest.raises(ConfigError, match="seed"):
        rng(bad)
    with pytest.raises(ConfigError, match="seed"):
        rng(0, "stream", bad) if not isinstance(bad, str) else derive_seed(bad, 1)


def test_torch_generator_reproducible_per_stream():
    import torch

    a = torch.rand(8, generator=torch_generator(4, "init"))
    b = torch.rand(8, generator=torch_generator(4, "init"))
    c = torch.rand(8, generator=torch_generator(4, "other"))
    assert torch.equal(a, b) and not torch.equal(a, c)


# ----------------------------------------------------------------------------- threads and scaling


def test_single_threaded_scans_again_for_libraries_imported_after_its_first_use(monkeypatch):
    # a scan made once per process missed faiss's and SciPy's OpenBLAS when they were imported after
    # the first limit (the app probes its speed first): they then ran on every core inside the limit
    import sys
    import types

    from core.foundation import threads

    first = threads._threadpool_controller()
    assert threads._threadpool_controller() is first  # nothing imported since: the scan is reused
    monkeypatch.setitem(sys.modules, "workbench_test_newly_imported", types.ModuleType("newly_imported"))
    assert threads._threadpool_controller() is not first


def test_single_threaded_limits_then_restores():
    import torch
    from threadpoolctl import threadpool_info

    before_torch = torch.get_num_threads()
    before_blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    with single_threaded("torch"):
        assert torch.get_num_threads() == 1
    with single_threaded("blas"):
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    assert torch.get_num_threads() == before_torch
    assert [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"] == before_blas
    with pytest.raises(ValueError):
        single_threaded("gpu")


def test_standardiser_centres_scales_and_spares_constant_columns():
    X = np.random.default_rng(0).normal(3.0, 4.0, size=(500, 3))
    X[:, 1] = 7.0
    mean, scale = standardiser(X)
    Z = (X - mean) / scale
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(Z.std(axis=0), [1.0, 0.0, 1.0], atol=1e-9)
    assert scale[1] == 1.0


# ----------------------------------------------------------------------------- the one MLP loop


@pytest.fixture(scope="module")
def blobs_xy():
    generator = np.random.default_rng(2)
    y = np.repeat(np.arange(3), 120)
    X = generator.normal(size=(len(y), 5)) + 2.5 * np.eye(3, 5)[y] * 2
    return X.astype(np.float32), y


def _weights(model):
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def test_mlp_loop_deterministic_per_seed(blobs_xy):
    X, y = blobs_xy
    a = train_proxy(X, y, 3, hidden=16, epochs=3, batch_size=64, seed=9)
    b = train_proxy(X, y, 3, hidden=16, epochs=3, batch_size=64, seed=9)
    c = train_proxy(X, y, 3, hidden=16, epochs=3, batch_size=64, seed=10)
    np.testing.assert_array_equal(_weights(a), _weights(b))
    assert not np.allclose(_weights(a), _weights(c))


def test_mlp_loop_learns_separable_classes(blobs_xy):
    X, y = blobs_xy
    model = train_proxy(X, y, 3, hidden=32, epochs=30, batch_size=32, seed=0)
    assert (predict_logits(model, X).argmax(axis=1) == y).mean() > 0.95


class _Counter(TrainingHook):
    wants_batches = True

    def __init__(self):
        self.batches, self.epochs = 0, 0

    def after_batch(self, state):
        self.batches += 1

    def after_epoch(self, state):
        self.epochs += 1


@pytest.mark.parametrize("steps, rows, epochs", [(7, 360, 2), (12, 50, 12), (1, 360, 1)])
def test_mlp_loop_fixed_steps_budget(blobs_xy, steps, rows, epochs):
    X, y = blobs_xy
    counter = _Counter()
    train_proxy(X[:rows], y[:rows], 3, hidden=8, steps=steps, batch_size=64, seed=0, hooks=[counter])
    assert counter.batches == steps
    assert counter.epochs == epochs


def test_foundation_import_is_light():
    import subprocess
    import sys

    code = ("import sys, core.foundation as f; "
            "assert all(hasattr(f, name) for name in f.__all__); "
            "print(sorted(m for m in ('torch', 'sklearn', 'umap', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- neighbour graphs


@pytest.fixture(scope="module")
def clustered():
    generator = np.random.default_rng(4)
    centres = generator.normal(scale=4.0, size=(20, 16))
    X = centres[generator.integers(20, size=6000)] + generator.normal(size=(6000, 16))
    return X.astype(np.float32)


def test_approximate_graph_recall_and_shape(clustered):
    from core.foundation.neighbors import approximate_knn_graph, knn_graph, neighbor_recall

    exact = knn_graph(clustered, 15, device="cpu")
    approx = approximate_knn_graph(clustered, 15, seed=0)
    assert approx.method == "approximate" and exact.method == "exact"
    assert approx.indices.shape == (6000, 15)
    assert not (approx.indices == np.arange(6000)[:, None]).any()  # never its own neighbour
    assert (np.diff(approx.distances, axis=1) >= -1e-4).all()  # nearest first
    # distances are the true distances of the neighbours found
    true = np.linalg.norm(clustered[approx.indices[:50]] - clustered[:50, None], axis=2)
    np.testing.assert_allclose(approx.distances[:50], true, rtol=1e-3, atol=1e-3)
    recall = np.mean([len(np.intersect1d(a, e)) / 10 for a, e in zip(approx.indices[:, :10], exact.indices[:, :10])])
    assert recall > 0.95
    assert abs(neighbor_recall(clustered, approx, k=10, queries=600, seed=1) - recall) < 0.03
    assert neighbor_recall(clustered, exact, k=10, queries=200) == 1.0


@pytest.mark.parametrize("search", ["hnsw", "ivf"])
def test_approximate_graph_deterministic_per_seed(clustered, search):
    from core.foundation.neighbors import approximate_knn_graph

    # the HNSW graph is built by faiss on every core: its links must not depend on thread timing
    a = approximate_knn_graph(clustered, 10, seed=3, search=search)
    b = approximate_knn_graph(clustered, 10, seed=3, search=search)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert (a.width, a.probes) == (b.width, b.probes)


def test_approximate_graph_fills_rows_whose_cells_are_short(clustered):
    from core.foundation.neighbors import approximate_knn_graph, knn_graph

    X = clustered[:800]
    # 20 cells and one probe: many rows see fewer than k + 1 candidates and are searched exactly.
    approx = approximate_knn_graph(X, 60, clusters=20, probes=1, seed=0, search="ivf")
    assert approx.indices.shape == (800, 60) and (approx.indices >= 0).all()
    assert not (approx.indices == np.arange(800)[:, None]).any()
    exact = knn_graph(X, 60, device="cpu")
    assert np.mean(approx.distances[:, -1] >= exact.distances[:, -1] - 1e-4) == 1.0


def test_the_preconditioner_of_wide_data_is_the_same_map_without_a_features_by_features_matrix():
    # more columns than rows: the low-rank form must apply exactly the P of the d x d covariance
    from core.foundation.linear import Preconditioner

    generator = np.random.default_rng(4)
    X = (generator.normal(size=(40, 6)) @ generator.normal(size=(6, 200)) + 0.1 * generator.normal(size=(40, 200)))
    ridge, k = 0.05, 3
    wide = Preconditioner(X.astype(np.float32), ridge)
    assert wide.low_rank is not None and wide.P is None
    rows = X.astype(np.float32)
    centred = (rows - rows.mean(axis=0, dtype=np.float64).astype(np.float32)).astype(np.float64)
    values, vectors = np.linalg.eigh(centred.T @ centred / len(X))
    values = np.maximum(values, 0.0) + ridge
    P, P_inv = (vectors * values ** -0.5) @ vectors.T, (vectors * values ** 0.5) @ vectors.T
    flat = generator.normal(size=200 * k + k)
    block, tail = flat[: 200 * k].reshape(200, k), flat[200 * k:]
    for got, matrix in ((wide.weights(flat), P), (wide.coordinates(flat), P_inv), (wide.gradient(flat), P),
                        (wide.original_gradient(flat), P_inv)):
        np.testing.assert_allclose(got[: 200 * k].reshape(200, k), matrix @ block, rtol=1e-6, atol=1e-8)
        np.testing.assert_array_equal(got[200 * k:], tail)  # intercepts untouched
    np.testing.assert_allclose(wide.coordinates(wide.weights(flat)), flat, rtol=1e-6, atol=1e-8)
