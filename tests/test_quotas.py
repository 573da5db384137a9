"""Class quotas as a modifier of any strategy: ``<strategy>:quota=proportional|equal|drop``."""

import numpy as np
import pandas as pd
import pytest

import core
from core.data.dataset import Dataset
from core.foundation.errors import ConfigError
from core.selection import format_strategy, parse_strategy
from core.selection.quotas import _weighted_quotas, class_quotas


@pytest.fixture(scope="module")
def data():
    """Three classes of 400, 200 and 100 rows; class 2 overlaps class 0 (hard), class 1 is far away (easy)."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [400, 200, 100])
    centres = np.array([[0.0, 0.0], [6.0, 6.0], [0.8, 0.8]])
    ds = Dataset.from_arrays(centres[y] + rng.normal(size=(700, 2)), y)
    scores = pd.DataFrame({"el2n": rng.random(700) + (y == 0)}, index=pd.Index(ds.ids, name="id"))
    return ds, scores


def test_the_grammar_parses_the_quota_once_for_any_kind(data):
    spec = parse_strategy("ccs:el2n:beta=0.2:quota=equal")
    assert spec.quota == "equal" and spec.kind == "ccs" and spec.option["beta"] == 0.2
    assert format_strategy(spec) == "ccs:el2n:beta=0.2:quota=equal"
    assert parse_strategy("el2n:quota=drop").quota == "drop" and parse_strategy("random:quota=equal").kind == "random"
    assert parse_strategy(format_strategy("kcenter:quota=proportional")).quota == "proportional"
    for bad in ("ccs:el2n:quota=most", "el2n:quota=equal:quota=drop", "drop-flagged:quota=equal", "auto:quota=drop"):
        with pytest.raises(ConfigError, match="quota"):
            parse_strategy(bad)


def test_quotas_set_each_class_and_the_strategy_orders_within(data):
    ds, scores = data
    plain = core.select(ds, scores, "el2n:low", keep=0.3)  # the low end: classes 1 and 2 only
    assert plain.mask[ds.y == 0].sum() == 0
    equal = core.select(ds, scores, "el2n:low:quota=equal", keep=0.3)
    assert equal.n_kept == 210 and np.bincount(ds.y[equal.mask]).tolist() == [70, 70, 70]
    within = scores["el2n"].to_numpy()
    for c in range(3):  # the kept rows of a class are its lowest el2n
        rows = ds.y == c
        assert within[equal.mask & rows].max() <= np.sort(within[rows])[69]
    prop = core.select(ds, scores, "ccs:el2n:quota=proportional", keep=0.3)
    assert np.bincount(ds.y[prop.mask]).tolist() == [120, 60, 30]
    assert prop.params["quota"] == "proportional" and prop.params["class_quotas"] == {"0": 120, "1": 60, "2": 30}


def test_drop_quotas_follow_held_out_error_and_never_exceed_a_class(data):
    ds, _ = data
    quotas, details = class_quotas("drop", ds, 210, seed=0)
    recall = details["held_out_recall"]
    assert recall["1"] > 0.95 and recall["2"] < recall["0"]  # the far class is easy, the overlapping one hard
    assert quotas.sum() == 210 and quotas[2] == 100 and quotas[1] <= quotas[0]  # the hard class kept whole
    assert _weighted_quotas(np.array([5, 100, 100]), np.array([10.0, 1.0, 1.0]), 50).tolist() == [5, 23, 22]


@pytest.mark.parametrize("strategy", ["el2n:low:quota=drop", "random:quota=drop"])
def test_drop_quotas_inside_the_folds_never_read_the_held_out_labels(data, strategy):
    from core.evaluation import fold_masks
    from core.foundation.folds import stratified_folds

    ds, scores = data
    folds = stratified_folds(ds.y, 5, 0)
    relabelled = ds.y.copy()
    held = folds == 0
    relabelled[held] = np.random.default_rng(3).permutation(relabelled[held])
    changed = Dataset.from_arrays(ds.X, relabelled)
    first, _ = fold_masks(ds, strategy, scores=scores, fold_of_row=folds, keep=0.3)
    second, _ = fold_masks(changed, strategy, scores=scores, fold_of_row=folds, keep=0.3)
    assert np.array_equal(first[0], second[0])  # fold 0 chose without fold 0's labels
    assert not np.array_equal(first[1], second[1])  # fold 1's quotas do read fold 0's labels (control)


def test_random_with_quotas_is_estimated_on_each_folds_training_rows(data):
    """Plain random's one all-rows mask serves every fold; random with quotas must not take that route (its
    quotas read the classes): each fold keeps the quota of its own training rows, and the figure says
    it is a per-fold selection, not a label-free one."""
    from core.evaluation import LiveEvaluator, fold_masks
    from core.evaluation.comparison import LABEL_FREE_METHOD, selection_figure
    from core.selection.algorithms import proportional_quotas

    ds, _ = data
    evaluator = LiveEvaluator(ds, folds=5, seed=0)
    folds = evaluator.fold_of_row_
    masks, leak_free = fold_masks(ds, "random:quota=proportional", fold_of_row=folds, keep=0.3, seed=1)
    assert leak_free
    for f in range(5):
        train = folds != f
        expected = proportional_quotas(np.bincount(ds.y[train], minlength=3), int(round(0.3 * train.sum())))
        assert np.bincount(ds.y[masks[f]], minlength=3).tolist() == list(expected)
        assert not masks[f][~train].any()
    selection = core.select(ds, None, "random:quota=proportional", keep=0.3, seed=1)
    _, leak_free, method = selection_figure(ds, selection, scores=None, evaluator=evaluator)
    assert leak_free and method != LABEL_FREE_METHOD
    plain = core.select(ds, None, "random", keep=0.3, seed=1)
    assert selection_figure(ds, plain, scores=None, evaluator=evaluator)[2] == LABEL_FREE_METHOD


@pytest.mark.parametrize("strategy", ["random:quota=equal", "ccs:el2n:quota=equal"])
def test_each_class_draws_its_own_rows_not_the_same_positions(strategy):
    """Random draws rank rows by a hash of seed and position; run per class with one seed, every class kept the
    rows at the same positions of its own rows, so on data stored in order (by writer, source, time) every class
    came from the same stretch (digits at keep 0.1: a quota variant read 1.6 points below random)."""
    y = np.repeat([0, 1, 2, 3], 200)
    ds = Dataset.from_arrays(np.random.default_rng(1).normal(size=(800, 3)), y)
    scores = pd.DataFrame({"el2n": np.tile(np.linspace(0, 1, 200), 4)}, index=pd.Index(ds.ids, name="id"))
    for seed in range(3):
        mask = core.select(ds, scores, strategy, keep=0.1, seed=seed).mask
        positions = [frozenset(np.flatnonzero(mask[y == c]).tolist()) for c in range(4)]
        assert all(len(p) == 20 for p in positions)
        assert len(set(positions)) == 4  # four different draws, not one draw repeated per class


def test_a_quota_needs_a_keep_fraction(data):
    ds, scores = data
    with pytest.raises(ConfigError, match="keep"):
        core.select(ds, scores, "el2n:quota=equal", threshold=0.5)


def test_auto_considers_quota_variants(data):
    from core.search.pool import default_candidates

    _, scores = data
    candidates = default_candidates(scores.columns, scores)
    assert {"random:quota=drop", "ccs:el2n:quota=proportional", "ccs:el2n:quota=drop"} <= set(candidates)
    for text in candidates:
        parse_strategy(text)  # every candidate is a valid strategy
