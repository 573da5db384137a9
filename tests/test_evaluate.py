"""The live evaluator: what it trains on, what it reports, how fast, and how well it ranks subsets."""

from __future__ import annotations

import threading

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


def test_ridge_first_figure_matches_ridge_trained_on_kept_training_rows_only(blobs4):
    ev = LiveEvaluator(blobs4, folds=5, seed=0, model="ridge")
    rng = np.random.default_rng(1)
    for keep in (0.2, 0.6, 1.0):
        mask = rng.random(blobs4.n_samples) < keep
        expected = reference_fold_accuracies(blobs4, mask, ev.fold_of_row_)
        assert np.allclose(ev.estimate(mask).fold_accuracies, expected)


def test_incremental_updates_equal_a_fresh_computation(blobs4):
    walked = LiveEvaluator(blobs4, seed=3, model="ridge")
    rng = np.random.default_rng(2)
    score = rng.random(blobs4.n_samples)
    for keep in np.linspace(0.9, 0.1, 25):  # a slider dragged down: every step reuses the last
        walked.estimate(score >= np.quantile(score, 1 - keep))
    for keep in (0.1, 0.37, 0.62):
        mask = score >= np.quantile(score, 1 - keep)
        fresh = LiveEvaluator(blobs4, seed=3, model="ridge").estimate(mask)
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
    twin = np.concatenate([np.arange(n_unique, 2 * n_unique), np.arange(n_unique)])
    grouped = LiveEvaluator(ds, folds=5, seed=0, model="ridge", alpha=1e-4).fold_of_row_
    assert np.array_equal(grouped, grouped[twin])  # by default a row and its copy share a fold
    ev = LiveEvaluator(ds, folds=5, seed=0, model="ridge", alpha=1e-4, group_copies=False)  # copies may be apart
    fold = ev.fold_of_row_
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
    assert "logistic regression" in est.model and est.budget
    assert ev.estimate(mask) == est  # the per-fold results are cached by mask
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


@pytest.mark.slow
def test_live_estimate_ranks_subsets_like_logistic_regression():
    """On bundled data, subsets of very different quality rank the same for both models."""
    from scipy.stats import spearmanr

    from core.data.samples import load_sample

    ds = load_sample("known_answer")
    n, rng = ds.n_samples, np.random.default_rng(0)
    flipped = ds.frame["is_flipped"].eq("True").to_numpy()  # non-feature columns hold the file's text
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


@pytest.mark.slow
def test_live_logistic_equals_scikit_learn_on_the_same_kept_rows():
    """The warm-started engine along a slider walk equals a fresh scikit-learn fit within 0.5 points."""
    from core.data.samples import load_sample

    ds = load_sample("known_answer")
    ev = LiveEvaluator(ds, folds=5, seed=0)
    score = np.random.default_rng(3).random(ds.n_samples) + 0.5 * (ds.y == 0)
    for keep in (0.5, 0.45, 0.4, 0.1):  # each estimate warm-starts from the previous one
        mask = score >= np.quantile(score, 1 - keep)
        live = ev.estimate(mask)
        exact = evaluate_exact(ds, mask, "logreg", folds=5, seed=0)
        assert abs(live.accuracy - exact.accuracy) <= 0.005
        assert np.max(np.abs(np.subtract(live.fold_accuracies, exact.fold_accuracies))) <= 0.01


def test_knn_engine_equals_a_fresh_neighbour_classifier(blobs4):
    from sklearn.neighbors import KNeighborsClassifier

    ev = LiveEvaluator(blobs4, folds=5, seed=0, model="knn")
    X = (blobs4.X - blobs4.X.mean(axis=0)) / blobs4.X.std(axis=0)
    fold = ev.fold_of_row_
    for keep in (0.05, 0.3, 1.0):  # 0.05 leaves most neighbour lists short: the exact fallback
        mask = np.random.default_rng(4).random(blobs4.n_samples) < keep
        expected = []
        for f in range(5):
            train, test = mask & (fold != f), fold == f
            model = KNeighborsClassifier(n_neighbors=min(5, train.sum())).fit(X[train], blobs4.y[train])
            expected.append(np.mean(model.predict(X[test]) == blobs4.y[test]))
        assert np.allclose(ev.estimate(mask).fold_accuracies, expected)


def test_each_fold_trains_on_its_own_mask(blobs4):
    ev = LiveEvaluator(blobs4, folds=4, seed=0)
    fold = ev.fold_of_row_
    good = np.ones(blobs4.n_samples, dtype=bool)
    bad = blobs4.y == 0  # one class only: the model predicts it everywhere
    masks = np.stack([good, bad, good, bad])
    est = ev.estimate_folds(masks)
    assert est.fold_accuracies[0] == ev.estimate(good).fold_accuracies[0]
    assert est.fold_accuracies[1] == pytest.approx(np.mean(blobs4.y[fold == 1] == 0))
    with pytest.raises(ConfigError, match="shape"):
        ev.estimate_folds(masks[:2])


def test_first_paint_is_the_ridge_and_says_so(blobs4):
    ev = LiveEvaluator(blobs4, folds=5, seed=0)
    mask = blobs4.y != 3
    first = ev.first_paint(mask)
    assert "ridge" in first.model and "first figure" in first.note
    assert first.accuracy == LiveEvaluator(blobs4, folds=5, seed=0, model="ridge").estimate(mask).accuracy
