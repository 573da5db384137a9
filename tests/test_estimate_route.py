"""One route to an estimate: ``core.estimate`` -> ``core.evaluation.estimate_selection``, whose first step
is ``selection_figure`` (``selection_estimate``, its older name) and whose bare-mask form is
``LiveEvaluator.compare``. The three give the same figures where they overlap."""

from __future__ import annotations

import pytest

import core
from core.evaluation import LiveEvaluator, estimate_selection, selection_estimate, selection_figure


@pytest.fixture(scope="module")
def known():
    frame = core.make_known_answer(n_rows=600, n_features=8, seed=2)
    ds = core.load_dataset(frame[["id", "label"] + [c for c in frame.columns if c.startswith("f")]],
                           label="label", id="id")
    scores = core.compute_scores(ds, ["knn_density"], seed=0)
    return ds, scores


def test_the_older_name_is_the_same_function():
    assert selection_estimate is selection_figure


def test_the_block_starts_from_the_selection_figure(known):
    ds, scores = known
    ev = LiveEvaluator(ds, folds=3, seed=0)
    sel = core.select(ds, scores, "knn_density", keep=0.5, seed=0)
    figure, leak_free, method = selection_figure(ds, sel, scores=scores, evaluator=ev)
    block = estimate_selection(ds, sel, scores=scores, evaluator=ev, repeats=2)
    assert block["selection"]["accuracy"] == pytest.approx(figure.accuracy)
    assert block["leak_free"] == leak_free and block["method"] == method
    assert core.estimate(ds, sel, scores=scores, evaluator=ev)["selection"]["accuracy"] == pytest.approx(figure.accuracy)


def test_compare_is_the_bare_mask_form_of_the_same_block(known):
    ds, scores = known
    ev = LiveEvaluator(ds, folds=3, seed=0)
    sel = core.select(ds, scores, "random", keep=0.4, seed=1)  # label-free: one mask serves every fold
    block = estimate_selection(ds, sel, scores=scores, evaluator=ev, repeats=3)
    bare = ev.compare(sel.mask, repeats=3)
    for part in ("selection", "full", "random"):
        assert bare[part]["accuracy"] == pytest.approx(block[part]["accuracy"])
    assert block["leak_free"] is True and bare["leak_free"] is None  # no recipe: whether labels chose it is unknown
