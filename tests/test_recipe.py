"""The typed recipe: parsed once where it enters, carried through selection, fold masks and the estimate."""

from __future__ import annotations

import numpy as np
import pytest

import core
from core.evaluation import LiveEvaluator, fold_masks
from core.selection import Recipe, grammar


@pytest.fixture(scope="module")
def data():
    ds = core.load_sample("known_answer")
    scores = core.compute_scores(ds, ["el2n", "knn_density"], seed=0)
    return ds, scores


def test_recipe_equals_text_path(data):
    ds, scores = data
    recipe = Recipe.of("ccs:el2n:beta=0.1", keep=0.3, seed=2, score_columns=scores.columns)
    assert recipe.text == "ccs:el2n"  # canonical: the default beta is left out
    by_recipe = core.select(ds, scores, recipe)
    by_text = core.select(ds, scores, "ccs:el2n", keep=0.3, seed=2)
    assert np.array_equal(by_recipe.mask, by_text.mask)
    assert by_recipe.recipe is recipe
    assert by_recipe.resolved_recipe is recipe


def test_key_is_value_equality():
    a = Recipe.of("ccs:el2n", keep=0.3)
    b = Recipe.of("ccs:el2n:beta=0.1", keep=0.3)
    assert a == b and a.key == b.key and hash(a) == hash(b)
    assert a.with_budget(keep=0.4).key != a.key
    assert a.with_forced(["x"]).key != a.key


def test_budget_rules_come_from_the_grammar():
    with pytest.raises(core.WorkbenchError, match="needs a keep fraction"):
        Recipe.of("ccs:el2n")
    with pytest.raises(core.WorkbenchError, match="threshold applies only"):
        Recipe.of("ccs:el2n", threshold=0.5)
    with pytest.raises(core.WorkbenchError, match="keep must be a fraction"):
        Recipe.of("random", keep=1.5)
    assert Recipe.of("drop-flagged:label_noise").keep is None


def test_recipe_given_with_a_second_budget_is_refused(data):
    ds, scores = data
    with pytest.raises(core.WorkbenchError, match="carries its own budget"):
        core.select(ds, scores, Recipe.of("random", keep=0.5), keep=0.3)


def test_missing_score_column_is_one_clear_error(data):
    ds, scores = data
    recipe = Recipe.of("ccs:margin", keep=0.3)  # registered, but not computed here
    with pytest.raises(core.WorkbenchError, match="margin"):
        core.select(ds, scores, recipe)


def test_one_parse_per_action(data, monkeypatch):
    """Selection, fold masks and the leak-free estimate of a recipe never parse its text again."""
    ds, scores = data
    recipe = Recipe.of("ccs:el2n", keep=0.3, score_columns=scores.columns)
    calls = []
    original = grammar.parse_strategy
    monkeypatch.setattr(grammar, "parse_strategy", lambda *a, **k: calls.append(a) or original(*a, **k))
    evaluator = LiveEvaluator(ds, folds=3, seed=0)
    sel = core.select(ds, scores, recipe)
    masks, leak_free = fold_masks(ds, recipe, scores=scores, fold_of_row=evaluator.fold_of_row_)
    core.evaluation.selection_estimate(ds, sel, scores=scores, evaluator=evaluator)
    assert calls == []
    assert masks.shape == (3, ds.n_samples) and not leak_free  # all-rows scores of a label-using scorer


def test_fold_masks_same_for_text_and_recipe(data):
    ds, scores = data
    evaluator = LiveEvaluator(ds, folds=3, seed=0)
    keep_ids = list(ds.ids[:5])
    by_text, _ = fold_masks(ds, "knn_density", scores=scores, fold_of_row=evaluator.fold_of_row_, keep=0.4,
                            force_keep=keep_ids)
    recipe = Recipe.of("knn_density", keep=0.4, force_keep=keep_ids)
    by_recipe, _ = fold_masks(ds, recipe, scores=scores, fold_of_row=evaluator.fold_of_row_)
    assert np.array_equal(by_text, by_recipe)
    for f in range(3):  # a forced row outside fold f is kept in fold f's training rows
        outside = evaluator.fold_of_row_[:5] != f
        assert by_recipe[f, :5][outside].all()


def test_random_fold_masks_keep_forced_rows(data):
    ds, _ = data
    evaluator = LiveEvaluator(ds, folds=3, seed=0)
    dropped = list(ds.ids[:20])
    masks, leak_free = fold_masks(ds, Recipe.of("random", keep=0.9, force_drop=dropped), fold_of_row=evaluator.fold_of_row_)
    assert leak_free and not masks[:, :20].any()
