"""Fold-wise scores from shared work: as honest as scoring each fold's rows alone, and close to it.

``core.evaluation.fold_scores`` no longer scores the rows outside each evaluator fold from
scratch: neighbours come from the all-rows graph with the fold's rows removed, and out-of-fold
probabilities from models fitted without the fold and one other. These tests hold it to what
the per-fold computation promised:

- no leak: fold ``f``'s scores do not move when fold ``f``'s labels change (and do move when
  another fold's labels change, so the check can fail);
- on labels without signal the leak-free estimate of label-using strategies sits at chance;
- the scores rank rows as the per-fold computation (``compute_scores`` on the rows outside the
  fold) ranks them;
- the graph read off the all-rows graph is the graph searched on the kept rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import core
from core.data.dataset import Dataset
from core.evaluation import LiveEvaluator, estimate_selection, fold_scores
from core.foundation.folds import stratified_folds
from core.foundation.neighbors import headroom, knn_graph, without_rows

LABELLED = ["label_noise", "knn_shapley"]


def _mixture(n: int = 3000, d: int = 16, classes: int = 5, flip: float = 0.1, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, (classes, d))
    y = rng.integers(0, classes, n)
    X = centres[y] + rng.normal(0, 2.0, (n, d))
    y = np.where(rng.random(n) < flip, rng.integers(0, classes, n), y)
    return Dataset.from_arrays(X.astype(np.float32), y)


@pytest.fixture(scope="module")
def mixture():
    return _mixture()


def _relabelled(ds: Dataset, rows: np.ndarray, seed: int) -> Dataset:
    """``ds`` with the labels of ``rows`` redrawn at random (features and ids unchanged)."""
    y = ds.y.copy()
    y[rows] = np.random.default_rng(seed).integers(0, ds.n_classes, len(rows))
    return Dataset.from_arrays(ds.X, ds.classes[y], ids=ds.ids, classes=ds.classes)


def test_a_folds_labels_never_reach_its_own_scores(mixture):
    folds = stratified_folds(mixture.y, 5, 0)
    f = 3
    changed = _relabelled(mixture, np.flatnonzero(folds == f), seed=1)
    before = fold_scores(mixture, LABELLED + ["el2n"], fold_of_row=folds, cache=False)
    after = fold_scores(changed, LABELLED + ["el2n"], fold_of_row=folds, cache=False)
    pd.testing.assert_frame_equal(before.frames[f], after.frames[f], check_exact=True)
    for g in (g for g in range(5) if g != f):  # every other fold read fold f's labels
        for name in LABELLED + ["el2n"]:
            assert not np.array_equal(before.frames[g][name], after.frames[g][name]), (g, name)


def test_a_no_leak_with_fewer_folds_than_the_pairs_need(mixture):
    """Two evaluator folds: each fold's rows are scored on their own (the pairwise fits need three)."""
    folds = stratified_folds(mixture.y, 2, 0)
    changed = _relabelled(mixture, np.flatnonzero(folds == 0), seed=2)
    before, after = (fold_scores(ds, LABELLED, fold_of_row=folds, cache=False) for ds in (mixture, changed))
    pd.testing.assert_frame_equal(before.frames[0], after.frames[0], check_exact=True)
    assert not np.array_equal(before.frames[1]["label_noise"], after.frames[1]["label_noise"])


@pytest.fixture(scope="module")
def noise():
    """8,000 rows whose binary labels carry no signal (as in test_estimate_honesty)."""
    rng = np.random.default_rng(0)
    n = 8000
    ds = Dataset.from_arrays(rng.normal(size=(n, 8)), np.repeat([0, 1], n // 2)[rng.permutation(n)])
    return ds, core.compute_scores(ds, LABELLED, seed=0), LiveEvaluator(ds, folds=5, seed=0)


@pytest.mark.parametrize("strategy", ["ccs:label_noise", "knn_shapley"])
def test_b_leak_free_estimate_is_at_chance_on_labels_without_signal(noise, strategy):
    """Every one of the 8,000 rows is predicted once, so at chance the accuracy has a spread of
    sqrt(0.25 / 8000) = 0.0056: 0.018 is 3.2 of them. With all-rows scores the selection has
    seen the held-out labels and the same estimate strays further."""
    ds, scores, ev = noise
    fs = fold_scores(ds, LABELLED, fold_of_row=ev.fold_of_row_, cache=False)
    sel = core.select(ds, scores, strategy, keep=0.3, seed=0)
    free = estimate_selection(ds, sel, scores=scores, evaluator=ev, fold_scores=fs)
    assert free["leak_free"] is True
    assert abs(free["selection"]["accuracy"] - 0.5) <= 0.018
    leaky = estimate_selection(ds, sel, scores=scores, evaluator=ev)
    assert leaky["leak_free"] is False
    assert abs(leaky["selection"]["accuracy"] - 0.5) > abs(free["selection"]["accuracy"] - 0.5)


def test_c_scores_rank_rows_like_scoring_each_folds_rows_alone(mixture):
    folds = stratified_folds(mixture.y, 5, 0)
    fs = fold_scores(mixture, LABELLED, fold_of_row=folds, cache=False)
    for f in range(5):
        alone = core.compute_scores(mixture.take(np.flatnonzero(folds != f)), LABELLED, seed=0, cache=False)
        assert list(fs.frames[f].index) == list(alone.index)
        assert spearmanr(fs.frames[f]["label_noise"], alone["label_noise"]).statistic > 0.95
        assert np.mean(fs.frames[f]["label_noise_flag"] == alone["label_noise_flag"]) > 0.97
        # an exact graph with the fold's rows removed is the graph of the other rows: same values
        np.testing.assert_allclose(fs.frames[f]["knn_shapley"], alone["knn_shapley"], rtol=1e-9, atol=1e-9)


def test_graph_without_rows_is_the_graph_of_the_kept_rows():
    X = np.random.default_rng(3).normal(size=(1500, 6)).astype(np.float32)
    dropped = np.random.default_rng(4).random(1500) < 0.25
    kept = np.flatnonzero(~dropped)
    truth = knn_graph(X[kept], 20, device="cpu")
    for listed in (headroom(20, 4), 20):  # with headroom, and without (most rows then searched exactly)
        graph = without_rows(knn_graph(X, listed, device="cpu"), X, dropped, 20)
        assert graph.indices.shape == (len(kept), 20)
        np.testing.assert_array_equal(graph.indices, truth.indices)
        np.testing.assert_allclose(graph.distances, truth.distances, rtol=1e-5)


def test_headroom_leaves_k_neighbours_for_nearly_every_row():
    rng = np.random.default_rng(5)
    for k, folds in ((30, 5), (10, 5), (30, 3), (30, 10)):
        listed = headroom(k, folds)
        remaining = rng.binomial(listed, 1 - 1 / folds, size=200_000)
        assert np.mean(remaining < k) < 1e-3, (k, folds)


def test_cached_fold_scores_are_reused_and_equal(mixture, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    folds = stratified_folds(mixture.y, 5, 0)
    first = fold_scores(mixture, LABELLED, fold_of_row=folds)
    calls = []
    monkeypatch.setattr("core.evaluation.foldwise.compute_scores", lambda *a, **k: calls.append(1))
    second = fold_scores(mixture, LABELLED, fold_of_row=folds)
    assert not calls
    for a, b in zip(first.frames, second.frames):
        pd.testing.assert_frame_equal(a, b)


def test_pairwise_fits_on_a_sample_still_predict_every_row_without_the_folds_labels(mixture):
    from core.scorers.oof import pairwise_out_of_fold

    folds = stratified_folds(mixture.y, 5, 0)
    changed = _relabelled(mixture, np.flatnonzero(folds == 1), seed=3)
    before, after = (pairwise_out_of_fold(ds.X, ds.y, ds.n_classes, folds, fit_rows=600, seed=0)
                     for ds in (mixture, changed))
    for f in range(5):
        assert before[f].probabilities.shape == (np.sum(folds != f), mixture.n_classes)
        np.testing.assert_allclose(before[f].probabilities.sum(axis=1), 1.0)
    np.testing.assert_array_equal(before[1].probabilities, after[1].probabilities)
    assert not np.array_equal(before[0].probabilities, after[0].probabilities)
    some = pairwise_out_of_fold(mixture.X, mixture.y, mixture.n_classes, folds, outer=[2], seed=0)
    full = pairwise_out_of_fold(mixture.X, mixture.y, mixture.n_classes, folds, seed=0)
    assert list(some) == [2]
    np.testing.assert_allclose(some[2].probabilities, full[2].probabilities)
