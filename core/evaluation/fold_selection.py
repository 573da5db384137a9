"""Fold-wise selections: a recipe re-run on each evaluator fold's training rows.

Fold ``f``'s training mask is the recipe run on the rows outside ``f`` with scores that never saw
``f``'s labels (:class:`core.evaluation.foldwise.FoldScores`), so the estimate trains on a subset
chosen the way the exported one is, without a held-out label deciding it. The recipe is parsed
once by the caller (:class:`core.selection.Recipe`); each fold only runs the kind's rule.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from core.evaluation.foldwise import FoldScores
from core.foundation.errors import ConfigError
from core.scorers.table import align_scores
from core.selection import as_recipe, select, select_recipe


def fold_masks(ds, strategy, *, scores=None, fold_scores: Optional[FoldScores] = None, fold_of_row=None,
               keep: Optional[float] = None, threshold: Optional[float] = None, seed: int = 0,
               force_keep=(), force_drop=(), folds=None) -> tuple:
    """Fold ``f``'s training mask: the recipe run on the rows outside ``f`` with their fold scores.

    Parameters
    ----------
    strategy : str or Recipe
        Any strategy :func:`core.select` takes (not ``auto``: its own search is nested). A
        :class:`core.selection.Recipe` carries its budget, seed and forced rows (then leave
        ``keep``, ``threshold``, ``seed`` and the force lists out).
    scores : DataFrame, optional
        All-rows scores: used only where fold-wise scores lack a column the strategy needs
        (then the result is not leak-free).
    fold_scores : FoldScores, optional
        Without them, every fold selects with the all-rows scores (optimistic).
    fold_of_row : ndarray of shape (n_samples,)
        The evaluator's folds (required without ``fold_scores``).
    folds : iterable of int, optional
        Select for these folds only (the other rows of ``masks`` stay False); all by default.

    Returns
    -------
    (masks, leak_free) : (ndarray of shape (n_folds, n_samples), bool)
        ``masks[f]`` is True on fold f's kept training rows (never inside fold f).
    """
    if fold_scores is not None:
        if fold_of_row is not None and not fold_scores.matches(fold_of_row):
            raise ConfigError("The fold-wise scores were made for other folds; compute them with the "
                              "evaluator's folds and seed.")
        fold_of_row = fold_scores.fold_of_row
    if fold_of_row is None:
        raise ConfigError("fold_masks needs the evaluator's folds (fold_of_row) or fold-wise scores.")
    recipe = as_recipe(strategy, keep, threshold, seed, force_keep=force_keep, force_drop=force_drop)
    n_folds, n = int(fold_of_row.max()) + 1, ds.n_samples
    masks = np.zeros((n_folds, n), dtype=bool)
    if recipe.label_blind:  # uses no labels: the one all-rows mask (forced rows included) serves every fold
        masks[:] = select(ds, None, recipe).mask
        masks[fold_of_row[None, :] == np.arange(n_folds)[:, None]] = False
        return masks, True
    leak_free = fold_scores is not None or not recipe.reads_labels
    forced_keep, forced_drop = set(recipe.force_keep), set(recipe.force_drop)
    for f in range(n_folds) if folds is None else folds:
        train = np.flatnonzero(fold_of_row != f)
        sub = fold_scores.subset(ds, f) if fold_scores is not None else ds.take(train)
        ids = sub.ids
        fold_recipe = recipe.with_forced([i for i in ids if i in forced_keep] if forced_keep else (),
                                         [i for i in ids if i in forced_drop] if forced_drop else ())
        frame = fold_scores.frames[f] if fold_scores is not None else _rows_of(scores, ds, train)
        try:
            kept = _run(sub, frame, fold_recipe)
        except ConfigError:
            if fold_scores is None or scores is None:
                raise
            kept = _run(sub, _rows_of(scores, ds, train), fold_recipe)  # a column not scored per fold
            leak_free = False
        masks[f, train] = kept
    return masks, leak_free


def _run(sub, frame, recipe) -> np.ndarray:
    aligned = align_scores(sub, frame)
    recipe.check_columns(aligned.columns)
    return select_recipe(sub, aligned, recipe).mask


def _rows_of(scores, ds, rows):
    """All-rows scores restricted to ``rows`` (aligned to the Dataset first)."""
    if scores is None:
        return None
    frame = align_scores(ds, scores).iloc[rows].set_index(pd.Index(ds.ids[rows], name="id"))
    frame.attrs = {}  # the scores' records: pandas would deep-copy them on every later row take
    return frame
