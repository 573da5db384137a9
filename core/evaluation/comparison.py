"""The comparison block every face shows and every manifest records.

:func:`estimate_selection` is the one route to an estimate: it puts a selection next to the full
data and random subsets of the same size, on the same folds and with the same target model, and says
whether the selection's figure is leak-free (fold ``f``'s training rows chosen by scores that never
saw fold ``f``'s labels). ``core.estimate`` (:func:`core.workflows.estimate`) calls it after making
the fold-wise scores it needs. Two parts of it are public for pages that draw the references on
their own schedule: :func:`selection_figure` (the selection's figure alone, its first step) and
``LiveEvaluator.full``/``random`` (the references). ``LiveEvaluator.compare(mask)`` is the same block
for a bare mask that no recipe made (its ``leak_free`` is None: unknown).
"""

from __future__ import annotations

import threading
import weakref
from typing import Optional

import numpy as np
import pandas as pd

from core.evaluation.block import comparison_block
from core.evaluation.fold_selection import fold_masks
from core.evaluation.foldwise import FoldScores
from core.evaluation.figures import summarise
from core.evaluation.live import LiveEvaluator
from core.foundation.progress import scaled
from core.scorers.table import align_scores

LEAK_FREE_METHOD = ("leak-free: per fold, scores computed without that fold's labels chose the training "
                    "rows (same strategy and budget); the model was trained on them and tested on the whole fold")
OPTIMISTIC_METHOD = ("optimistic: the all-rows scores, which saw every fold's labels, chose the training rows; "
                     "compute fold-wise scores for a leak-free figure")
LABEL_FREE_METHOD = "the selection uses no labels, so one mask serves every fold (leak-free)"
NESTED_METHOD = "auto's nested estimate: the choice and the scoring were both made without the fold they are tested on"

# evaluator -> (scores, ds, FoldScores): label-free all-rows scores split per fold once, so each
# fold's training subset (a Dataset copy: a quarter of a second at 100k x 128) is made once per
# table instead of on every slider move
_LABEL_FREE_SPLITS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_SPLITS_LOCK = threading.Lock()


def _label_free_splits(ds, scores, evaluator: LiveEvaluator) -> FoldScores:
    """The all-rows ``scores`` per evaluator fold (they read no labels, so they are leak-free as they are)."""
    with _SPLITS_LOCK:
        held = _LABEL_FREE_SPLITS.get(evaluator)
        if held is not None and held[0] is scores and held[1] is ds:
            return held[2]
        fold_of_row = evaluator.fold_of_row_
        aligned = align_scores(ds, scores)
        frames = []
        for f in range(evaluator.n_folds):
            train = np.flatnonzero(fold_of_row != f)
            frames.append(aligned.iloc[train].set_index(pd.Index(ds.ids[train], name="id")))
        columns = list(aligned.columns)
        split = FoldScores(frames, fold_of_row, columns, columns, ds.fingerprint)
        _LABEL_FREE_SPLITS[evaluator] = (scores, ds, split)
        return split


def selection_figure(ds, selection, *, scores, evaluator: LiveEvaluator,
                     fold_scores: Optional[FoldScores] = None, progress=None, cancel=None) -> tuple:
    """``(Estimate, leak_free, method)``: the selection's own figure, without the references.

    The first step of :func:`estimate_selection`, leak-free when fold-wise scores allow it (or when
    the recipe reads no labels); auto's nested estimate when the selection carries one.
    """
    details = getattr(selection, "details", {}) or {}
    honest = details.get("honest_estimate")
    if honest and not honest.get("optimistic", True) and honest.get("model") == evaluator.model_description:
        accs = np.asarray(honest["fold_accuracies"], dtype=float)
        classes = np.asarray(honest.get("class_accuracies") or np.full((len(accs), 0), np.nan), dtype=float)
        shares = honest.get("kept_share") or []
        est = summarise(accs[None], classes[None], ds.classes[:classes.shape[1]], selection.n_kept, selection.n_input,
                        evaluator.model_description, evaluator.budget_description, note="auto's nested estimate",
                        kept_share={str(c): v for c, v in zip(ds.classes, shares)})
        return est, bool(honest.get("leak_free", False)), NESTED_METHOD
    recipe = selection.resolved_recipe
    # plain random: one all-rows mask serves every fold; without any scores a strategy is not re-run per fold
    # (optimistic), except random with class quotas, which needs no scores to be re-run on each fold's rows
    if recipe.label_blind or scores is None and fold_scores is None and recipe.kind != "random":
        method = LABEL_FREE_METHOD if recipe.label_blind else OPTIMISTIC_METHOD
        est = evaluator.estimate(selection.mask, progress, cancel)
        return est, recipe.label_blind, method
    if fold_scores is None and not recipe.reads_labels:
        fold_scores = _label_free_splits(ds, scores, evaluator)
    masks, leak_free = fold_masks(ds, recipe, scores=scores, fold_scores=fold_scores,
                                  fold_of_row=evaluator.fold_of_row_)
    est = evaluator.estimate_folds(masks, progress, cancel)
    return est, leak_free, LEAK_FREE_METHOD if leak_free else OPTIMISTIC_METHOD


#: The older public name of :func:`selection_figure` (easily read as :func:`estimate_selection`).
selection_estimate = selection_figure


def estimate_selection(ds, selection, *, scores, evaluator: LiveEvaluator, fold_scores: Optional[FoldScores] = None,
                       progress=None, cancel=None, repeats: int = 5) -> dict:
    """The comparison block of a selection, as shown by every face and recorded in manifests.

    Parameters
    ----------
    ds : Dataset
    selection : Selection
        From :func:`core.select` (an ``auto`` selection reports its nested estimate).
    scores : DataFrame or None
        The all-rows scores the selection was made with.
    evaluator : LiveEvaluator
        Folds, seed and target model of every figure.
    fold_scores : FoldScores, optional
        From :func:`core.evaluation.fold_scores` with the evaluator's folds and seed. Without
        them a score-based figure is computed with the all-rows scores and marked
        ``leak_free: False`` (optimistic).

    Returns
    -------
    dict
        ``selection``, ``full``, ``random`` (each an :class:`Estimate` as a dict with ``accuracy``
        (mean), ``std`` (spread over folds, or repeats x folds) and ``fold_accuracies``),
        ``vs_random``, ``vs_full``, ``leak_free`` (bool), ``method``, ``model``, ``budget``,
        ``folds``, ``seed`` and a one-line ``summary``.
    """
    est, leak_free, method = selection_figure(ds, selection, scores=scores, evaluator=evaluator,
                                              fold_scores=fold_scores, progress=scaled(progress, 0, 0.6),
                                              cancel=cancel)
    evaluator.full(scaled(progress, 0.6, 0.7), cancel)
    evaluator.random(est.n_kept, repeats, scaled(progress, 0.7, 1.0), cancel)
    return comparison_block(evaluator, est, repeats, leak_free=leak_free, method=method)
