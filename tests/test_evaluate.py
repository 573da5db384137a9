"""The live evaluator: what it trains on, what it reports, how fast, and how well it ranks subsets."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core.data.dataset import Dataset
from core.foundation.errors import Cancelled, ConfigError
from core.evaluation.live import LiveEvaluator, evaluate_exact, make_folds


@pytest.fixture(scope="module")
def blobs4():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2, 3], [150, 120, 80, 50])
    X = rng.normal(size=(len(y), 10)) * rng.uniform(0.5, 2, 10) + 4 * np.eye(10)[y] * rng.uniform(0.5, 2, 10) + 100
    return Dataset.from_arrays(X, np.array(["w", "x", "y", "z"])[y])


def reference_fold_accuracies(ds, mask, fold_of_row, alpha=1.0):
    """Explicit scikit-learn model per fold, trained on exactly the kept training rows."""
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    out = []
    for f in range(fold_of_row.max() + 1):
        train, test = (fold_of_row != f) & mask, fold_of_row == f
        scaler = StandardScaler().fit(ds.X[train])
        targets = np.eye(ds.n_classes)[ds.y[train]]
        model = Ridge(alpha=alpha).fit(scaler.transform(ds.X[train]), targets)
        logits = model.predict(scaler.transform(ds.X[test]))
        logits[:, np.bincount(ds.y[train], minlength=ds.n_classes) == 0] = -np.inf
        out.append(np.mean(logits.argmax(axis=1) == ds.y[test]))
    return np.array(out)


def test_matches_a_model_trained_on_kept_training_rows_only(blobs4):
    ev = LiveEvaluator(blobs4, folds=5, seed=0)
    rng = np.random.default_rng(1)
    for keep in (0.2, 0.6, 1.0):
        mask = rng.random(blobs4.n_samples) < keep
        expected = reference_fold_accuracies(blobs4, mask, ev.fold_of_row_)
        assert np.allclose(ev.estimate(mask).fold_accuracies, expected)


def test_incremental_updates_equal_a_fresh_computation(blobs4):
    walked = LiveEvaluator(blobs4, seed=3)
    rng = np.random.default_rng(2)
    score = rng.random(blobs4.n_samples)
    for keep in np.linspace(0.9, 0.1, 25):  # a slider dragged down: every step reuses the last
        walked.estimate(score >= np.quantile(score, 1 - keep))
    for keep in (0.1, 0.37, 0.62):
        mask = score >= np.quantile(score, 1 - keep)
        fresh = LiveEvaluator(blobs4, seed=3).estimate(mask)
        assert np.allclose(walked.estimate(mask).fold_accuracies, fresh.fold_accuracies)


def test_never_trains_on_held_out_rows_planted_duplicates():
    """Pure-noise rows, each planted twice. A model that interpolates its training rows gets a
    held-out row right only if its twin was trained on, so a kept row whose twin was dropped must
    be at chance level; if the evaluator trained on held-out rows it would be near 100%."""
    rng = np.random.default_rng(0)
    n_unique, d = 200, 600
    X = rng.normal(size=(n_unique, d))
    y = rng.integers(0, 2, n_unique)
    ds = Dataset.from_arrays(np.vstack([X, X]), np.concatenate([y, y]))
    ev = LiveEvaluator(ds, folds=5, seed=0, alpha=1e-4)
    fold = ev.fold_of_row_
    twin = np.concatenate([np.arange(n_unique, 2 * n_unique), np.arange(n_unique)])
    apart = fold != fold[twin]  # the twin sits in another fold

    all_kept = ev.predictions(np.ones(2 * n_unique, dtype=bool))
    assert np.mean(all_kept[apart] == ds.y[apart]) > 0.95  # the test can see leakage when it exists

    first_only = np.arange(2 * n_unique) < n_unique
    pred = ev.predictions(first_only)
    kept_alone = first_only & apart  # kept, but its only copy in the training folds was dropped
    assert np.mean(pred[kept_alone] == ds.y[kept_alone]) < 0.65
    dropped_twin_kept = ~first_only & apart
    assert np.mean(pred[dropped_twin_kept] == ds.y[dropped_twin_kept]) > 0.95


def test_class_missing_from_training_folds_does_not_crash(blobs4):
    ev = LiveEvaluator(blobs4)
    mask = blobs4.y != 3
    est = ev.estimate(mask)
    assert est.per_class["z"] == 0.0 and est.accuracy > 0.5
    assert (ev.predictions(mask) != 3).all()
    only_one_class = blobs4.y == 0
    assert ev.estimate(only_one_class).per_class["w"] == 1.0
    empty = ev.estimate(np.zeros(blobs4.n_samples, dtype=bool))
    assert empty.n_kept == 0 and 0 <= empty.accuracy <= 1


def test_estimate_fields_full_and_random_references(blobs4):
    ev = LiveEvaluator(blobs4, folds=4, seed=1)
    mask = np.random.default_rng(0).random(blobs4.n_samples) < 0.5
    est = ev.estimate(mask)
    assert len(est.fold_accuracies) == 4 and est.n_kept == mask.sum() and est.n_input == blobs4.n_samples
    assert set(est.per_class) == {"w", "x", "y", "z"} and est.std >= 0
    assert "ridge" in est.model and est.budget
    assert ev.estimate(mask) is est  # cached by mask
    assert ev.full().n_kept == blobs4.n_samples
    rand = ev.random(int(mask.sum()), repeats=3)
    assert rand.repeats == 3 and len(rand.repeat_accuracies) == 3 and rand.n_kept == mask.sum()
    assert ev.random(int(mask.sum()), repeats=3).accuracy == rand.accuracy
    assert all(m.sum() == mask.sum() for m in ev.random_masks(int(mask.sum()), 3))
    comparison = ev.compare(mask, repeats=3)
    assert set(comparison) >= {"selection", "full", "random", "vs_random", "vs_full", "model", "summary"}
    assert "random subsets" in comparison["summary"]


def test_folds_are_fixed_and_stratified(blobs4):
    a = LiveEvaluator(blobs4, folds=5, seed=7).fold_of_row_
    assert np.array_equal(a, LiveEvaluator(blobs4, folds=5, seed=7, model="logreg").fold_of_row_)
    assert np.array_equal(a, make_folds(blobs4.y, 5, 7))
    for c in range(4):
        counts = np.bincount(a[blobs4.y == c], minlength=5)
        assert counts.max() - counts.min() <= 1


def test_bad_inputs_raise_config_error(blobs4):
    ev = LiveEvaluator(blobs4)
    with pytest.raises(ConfigError, match="rows"):
        ev.estimate(np.ones(3, dtype=bool))
    with pytest.raises(ConfigError, match="model"):
        LiveEvaluator(blobs4, model="svm")
    with pytest.raises(ConfigError, match="folds"):
        LiveEvaluator(blobs4, folds=1).full()


def test_fast_estimate_ranks_subsets_like_logistic_regression():
    """On bundled data, subsets of very different quality rank the same for both models."""
    from scipy.stats import spearmanr

    from core.data.samples import load_sample

    ds = load_sample("known_answer")
    n, rng = ds.n_samples, np.random.default_rng(0)
    flipped = ds.frame["is_flipped"].to_numpy(bool)
    centre = np.stack([ds.X[ds.y == c].mean(axis=0) for c in range(ds.n_classes)])
    typical_first = np.argsort(np.linalg.norm(ds.X - centre[ds.y], axis=1))

    def first(order, keep):
        mask = np.zeros(n, dtype=bool)
        mask[order[: int(keep * n)]] = True
        return mask

    masks = [np.ones(n, dtype=bool), ~flipped, first(rng.permutation(n), 0.1), first(rng.permutation(n), 0.01),
             first(typical_first[::-1], 0.1), first(typical_first[::-1], 0.3), flipped | first(rng.permutation(n), 0.1),
             (ds.y != 0) | first(rng.permutation(n), 0.02)]
    ev = LiveEvaluator(ds, folds=5, seed=0)
    fast = [ev.estimate(m).accuracy for m in masks]
    exact = [evaluate_exact(ds, m, "logreg", folds=5, seed=0).accuracy for m in masks]
    assert spearmanr(fast, exact).statistic >= 0.8


@pytest.mark.parametrize("model", ["hgb", "mlp"])
def test_exact_models_run_with_progress_and_same_folds(blobs4, model):
    calls = []
    mask = blobs4.y != 3
    est = evaluate_exact(blobs4, mask, model=model, folds=3, seed=0, progress=lambda *a: calls.append(a))
    assert calls[-1][0] == calls[-1][1] == 3 and len(est.fold_accuracies) == 3
    assert 0.5 < est.accuracy <= 1 and est.per_class["z"] == 0.0 and est.budget


def test_exact_model_can_be_cancelled(blobs4):
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        evaluate_exact(blobs4, np.ones(blobs4.n_samples, dtype=bool), "logreg", cancel=stop)


def test_faster_than_naive_ridge_cross_validation():
    """A small version of benchmarks/live.py: slider moves against plain scikit-learn CV."""
    from sklearn.linear_model import RidgeClassifier

    rng = np.random.default_rng(0)
    n, d = 20000, 64
    y = rng.integers(0, 10, n)
    X = rng.normal(size=(10, d))[y] + 2 * rng.normal(size=(n, d))
    ds = Dataset.from_arrays(X, y)
    ev = LiveEvaluator(ds)
    ev.full()
    score = rng.random(n)
    fold = ev.fold_of_row_
    fast, naive = [], []
    for keep in np.linspace(0.3, 0.5, 7):
        mask = score >= np.quantile(score, 1 - keep)
        start = time.perf_counter()
        ev.estimate(mask)
        fast.append(time.perf_counter() - start)
        start = time.perf_counter()
        for f in range(5):
            train, test = (fold != f) & mask, fold == f
            RidgeClassifier().fit(X[train], y[train]).score(X[test], y[test])
        naive.append(time.perf_counter() - start)
    assert np.median(fast) < 0.5 * np.median(naive)
