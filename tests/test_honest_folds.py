"""Duplicate-aware folds: copies stay on one side of every fold, and the estimate stops counting memory.

The planted set: 10 overlapping gaussian classes; 30 % of the rows get two near copies (a small
jitter), as in a table of images with augmented twins. A separate test set is drawn fresh from
the same classes, with no copies of the working rows.
"""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from core.data.dataset import Dataset
from core.evaluation import LiveEvaluator, make_folds
from core.evaluation.groups import copy_groups, near_copy_groups
from core.foundation.folds import stratified_folds


def planted(n_base=1200, n_test=6000, d=16, classes=10, share=0.3, seed=0):
    """(work Dataset with near copies, test X, test y, group id of each work row's original)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, d)) * 1.1

    def draw(n):
        y = rng.integers(0, classes, n)
        return centres[y] + rng.normal(size=(n, d)), y

    X, y = draw(n_base)
    copied = rng.choice(n_base, int(share * n_base), replace=False)
    copies = np.repeat(copied, 2)
    Xc = X[copies] + 0.01 * rng.normal(size=(len(copies), d))
    origin = np.concatenate([np.arange(n_base), copies])
    order = rng.permutation(len(origin))
    work = Dataset.from_arrays(np.vstack([X, Xc])[order], np.concatenate([y, y[copies]])[order])
    Xt, yt = draw(n_test)
    return work, Xt, yt, origin[order]


def one_nn_cv(ds, fold_of_row) -> float:
    accs = []
    for f in range(int(fold_of_row.max()) + 1):
        train, test = fold_of_row != f, fold_of_row == f
        model = KNeighborsClassifier(1).fit(ds.X[train], ds.y[train])
        accs.append(np.mean(model.predict(ds.X[test]) == ds.y[test]))
    return float(np.mean(accs))


@pytest.fixture(scope="module")
def copies():
    return planted()


def test_the_copy_groups_are_found_without_labels(copies):
    ds, _, _, origin = copies
    groups = copy_groups(ds, cache=False)
    # every planted copy shares its original's group, and unrelated rows are not merged
    assert all(len(np.unique(groups[origin == o])) == 1 for o in np.unique(origin))
    assert len(np.unique(groups)) >= 0.97 * len(np.unique(origin))
    shuffled = Dataset.from_arrays(ds.X, np.random.default_rng(1).permutation(ds.y))
    assert np.array_equal(copy_groups(shuffled, cache=False), groups)  # labels play no part


def test_grouped_folds_keep_groups_whole_and_stay_stratified(copies):
    ds, _, _, origin = copies
    ev = LiveEvaluator(ds, folds=5, seed=3)
    fold = ev.fold_of_row_
    for o in np.unique(origin):
        assert len(np.unique(fold[origin == o])) == 1
    for c in range(ds.n_classes):
        counts = np.bincount(fold[ds.y == c], minlength=5)
        assert counts.min() >= 0.7 * counts.mean()
    info = ev.fold_info_
    assert info["grouped"] and info["groups"] == len(np.unique(origin[np.bincount(origin)[origin] > 1]))
    assert "one side" in info["rule"]
    plain = LiveEvaluator(ds, folds=5, seed=3, group_copies=False).fold_of_row_
    assert np.array_equal(plain, make_folds(ds.y, 5, 3))
    assert np.mean([len(np.unique(plain[origin == o])) > 1 for o in np.unique(origin)]) > 0.1


def test_without_copies_the_folds_are_the_plain_ones():
    rng = np.random.default_rng(0)
    ds = Dataset.from_arrays(rng.normal(size=(300, 5)), rng.integers(0, 3, 300))
    ev = LiveEvaluator(ds, folds=5, seed=2)
    assert np.array_equal(ev.fold_of_row_, stratified_folds(ds.y, 5, 2))
    assert ev.fold_info_["groups"] == 0 and ev.plain_folds() is ev


def test_grouped_one_nn_estimate_matches_unseen_data_and_plain_does_not():
    """Mean over three planted sets (one set's gap spreads about 1.5 points: its CV and test draws)."""
    grouped_gaps, plain_gaps = [], []
    for data_seed in range(3):
        ds, Xt, yt, _ = planted(seed=data_seed)
        unseen = float(np.mean(KNeighborsClassifier(1).fit(ds.X, ds.y).predict(Xt) == yt))
        grouped_gaps.append(np.mean([one_nn_cv(ds, LiveEvaluator(ds, folds=5, seed=s).fold_of_row_)
                                     for s in range(3)]) - unseen)
        plain_gaps.append(np.mean([one_nn_cv(ds, LiveEvaluator(ds, folds=5, seed=s, group_copies=False).fold_of_row_)
                                   for s in range(3)]) - unseen)
    assert abs(np.mean(grouped_gaps)) < 0.01, grouped_gaps
    assert np.mean(plain_gaps) > 0.03 and min(plain_gaps) > 0.02, plain_gaps


def test_the_block_says_when_grouping_moved_the_full_figure(copies):
    ds, _, _, _ = copies
    ev = LiveEvaluator(ds, folds=5, seed=0, model="knn")
    block = ev.compare(np.ones(ds.n_samples, dtype=bool), repeats=2)
    assert block["fold_rule"]["groups"] > 0
    grouping = block["grouping"]
    assert grouping["full_plain"] > grouping["full_grouped"] and grouping["material"]
    assert "moved the full-data figure" in block["summary"]


def test_groups_follow_the_duplicate_rule_on_exact_copies_and_far_rows():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [5.0, 5.0]])
    groups = near_copy_groups(X)
    assert groups[0] == groups[1] and len(np.unique(groups)) == 5


# ------------------------------------------------------------------------------ worst class


def test_the_block_shows_the_worst_class_and_warns_when_a_class_paid():
    import core

    rng = np.random.default_rng(4)
    centres = np.array([[0.0, 0.0], [2.5, 0.0], [0.0, 2.5], [2.5, 2.5]])
    y = rng.integers(0, 4, 1600)
    ds = Dataset.from_arrays(centres[y] + rng.normal(size=(1600, 2)), y)
    ev = LiveEvaluator(ds, folds=5, seed=0)
    starve = np.ones(ds.n_samples, dtype=bool)
    starve[np.flatnonzero(y == 3)[8:]] = False  # class 3 keeps 8 rows
    block = ev.compare(starve, repeats=3)
    worst = block["worst_class"]
    assert worst["selection"]["class"] == "3" and worst["below_random"]
    assert worst["selection"]["accuracy"] < worst["random"]["accuracy"] - 0.1
    assert block["thinned_most"][0]["class"] == "3" and block["thinned_most"][0]["kept_share"] < 0.05
    rows = {r["class"]: r for r in block["classes"]}
    assert rows["3"]["recall"] == block["selection"]["per_class"]["3"] and rows["0"]["kept_share"] == 1.0
    assert "Worst class: 3" in block["summary"] and "thinned most: 3" in block["summary"]
    warning = core.estimate_warning(block)
    assert warning and "worst class (3" in warning
    fair = ev.compare(np.random.default_rng(0).random(ds.n_samples) < 0.8, repeats=3)
    assert not fair["worst_class"]["below_random"] and core.estimate_warning(fair) is None
    lo, hi = block["selection"]["interval"]
    assert lo <= block["selection"]["accuracy"] <= hi and "Nadeau-Bengio" in block["interval_method"]


def test_autos_nested_block_has_a_worst_class():
    import core

    ds = core.load_sample("known_answer")
    scores = core.compute_scores(ds, ["el2n"], seed=0)
    ev = LiveEvaluator(ds, folds=3, seed=0)
    sel = core.auto_select(ds, scores, 0.3, evaluator=ev, candidates=["el2n", "ccs:el2n"])
    honest = sel.details["honest_estimate"]
    assert len(honest["class_accuracies"]) == 3 and len(honest["class_accuracies"][0]) == ds.n_classes
    block = core.estimate(ds, sel, scores=scores, evaluator=ev)
    assert block["selection"]["worst_class"] is not None and block["worst_class"]["random"]["class"]
    assert block["selection"]["accuracy"] == pytest.approx(honest["accuracy"])
