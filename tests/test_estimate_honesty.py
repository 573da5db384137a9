"""Estimates users decide by: leak-free on labels without signal, faithful to the target model.

- Pure noise: every strategy's leak-free estimate, and auto's nested estimate, sit at chance.
- Fold f's labels never reach fold f's training rows (permute them: fold f's mask is unchanged).
- Fidelity: the live estimate ranks subsets like the exact model trained on them does on a
  held-out test split the workbench never saw.
"""

from __future__ import annotations

import numpy as np
import pytest

import core
from core.data.dataset import Dataset
from core.evaluation import LiveEvaluator, estimate_selection, fold_masks, fold_scores, selection_estimate
from core.foundation.folds import stratified_folds
from core.search.auto import auto_select

NOISE_SCORERS = ["label_noise", "el2n", "margin", "knn_shapley", "knn_density", "prototypicality"]
NOISE_STRATEGIES = ["random", "drop-flagged:label_noise", "label_noise", "label_noise:high", "ccs:label_noise",
                    "el2n", "el2n:low", "ccs:el2n", "margin:low", "knn_shapley", "knn_shapley:low",
                    "prototypicality", "knn_density"]


@pytest.fixture(scope="module")
def noise():
    """8,000 rows whose binary labels carry no signal: every honest estimate is 50% +- 0.6."""
    rng = np.random.default_rng(0)
    n = 8000
    ds = Dataset.from_arrays(rng.normal(size=(n, 8)), np.repeat([0, 1], n // 2)[rng.permutation(n)])
    scores = core.compute_scores(ds, NOISE_SCORERS, seed=0)
    evaluator = LiveEvaluator(ds, folds=5, seed=0)
    return ds, scores, evaluator, fold_scores(ds, NOISE_SCORERS, folds=5, seed=0)


def _select(ds, scores, strategy, keep):
    return core.select(ds, scores, strategy, keep=None if strategy.startswith("drop-flagged") else keep, seed=0)


@pytest.mark.slow
def test_every_strategy_is_at_chance_on_pure_noise(noise):
    ds, scores, ev, fs = noise
    leaky, free = [], []
    for strategy in NOISE_STRATEGIES:
        sel = _select(ds, scores, strategy, 0.5)
        block = estimate_selection(ds, sel, scores=scores, evaluator=ev, fold_scores=fs)
        assert block["leak_free"] is True and block["model"] == ev.model_description
        assert abs(block["selection"]["accuracy"] - 0.5) <= 0.015, strategy
        free.append(block["selection"]["accuracy"])
        leaky.append(estimate_selection(ds, sel, scores=scores, evaluator=ev)["selection"]["accuracy"])
    # the same estimates with all-rows scores see the test labels and stray further from chance
    assert np.mean(np.abs(np.subtract(leaky, 0.5))) > 1.5 * np.mean(np.abs(np.subtract(free, 0.5)))


@pytest.mark.slow
def test_auto_nested_estimate_is_at_chance_on_pure_noise(noise):
    ds, scores, ev, fs = noise
    sel = auto_select(ds, scores, 0.5, seed=0, evaluator=ev, fold_scores=fs)
    honest = sel.details["honest_estimate"]
    assert honest["leak_free"] is True and not honest["optimistic"]
    assert abs(honest["accuracy"] - 0.5) <= 0.015
    block = estimate_selection(ds, sel, scores=scores, evaluator=ev, fold_scores=fs)
    assert block["selection"]["accuracy"] == pytest.approx(honest["accuracy"]) and block["leak_free"] is True


def test_fold_labels_never_reach_their_own_training_rows():
    """Permute fold f's labels: fold f's training mask stays the same, the other folds' change."""
    ds = core.load_sample("known_answer")
    names = ["label_noise", "el2n", "knn_density"]
    folds = stratified_folds(ds.y, 5, 0)
    f = 2
    y = ds.y.copy()
    inside = np.flatnonzero(folds == f)
    y[inside] = np.random.default_rng(1).permutation(y[inside])
    permuted = Dataset.from_arrays(ds.X, ds.classes[y], ids=ds.ids, classes=ds.classes)
    for strategy, keep in (("ccs:el2n", 0.3), ("drop-flagged:label_noise", None), ("label_noise", 0.5)):
        masks = [fold_masks(data, strategy, fold_scores=fold_scores(data, names, fold_of_row=folds), keep=keep)[0]
                 for data in (ds, permuted)]
        assert np.array_equal(masks[0][f], masks[1][f]), strategy
        assert not np.array_equal(masks[0][(f + 1) % 5], masks[1][(f + 1) % 5])  # labels do matter elsewhere
        leaky = [fold_masks(data, strategy, scores=core.compute_scores(data, names, seed=0), fold_of_row=folds,
                            keep=keep)[0] for data in (ds, permuted)]
        assert not np.array_equal(leaky[0][f], leaky[1][f])  # all-rows scores would have leaked them


@pytest.mark.slow
def test_live_estimate_ranks_strategies_like_the_exact_model_on_a_held_out_split():
    from scipy.stats import spearmanr
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    whole = core.load_sample("known_answer")
    split = stratified_folds(whole.y, 3, 11)
    work, test = whole.take(np.flatnonzero(split != 0)), whole.take(np.flatnonzero(split == 0))
    names = ["label_noise", "el2n", "margin", "knn_shapley", "knn_density", "prototypicality", "outlier"]
    scores = core.compute_scores(work, names, seed=0)
    fs = fold_scores(work, names, folds=5, seed=0)
    ev = LiveEvaluator(work, folds=5, seed=0)
    strategies = ["random", "el2n", "el2n:low", "ccs:el2n", "margin", "label_noise", "label_noise:high",
                  "ccs:label_noise", "knn_shapley", "knn_shapley:low", "knn_density", "knn_density:low",
                  "prototypicality", "outlier:high", "drop-flagged:label_noise"]
    live, held_out = [], []
    for strategy in strategies:
        sel = _select(work, scores, strategy, 0.3)
        est, leak_free, _ = selection_estimate(work, sel, scores=scores, evaluator=ev, fold_scores=fs)
        assert leak_free
        live.append(est.accuracy)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        held_out.append(model.fit(work.X[sel.mask], work.y[sel.mask]).score(test.X, test.y))
    assert spearmanr(live, held_out).statistic >= 0.8
