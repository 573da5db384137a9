"""Load -> score -> select -> estimate -> export -> apply: the one pipeline every face calls.

The CLI's commands, the app's pages and the notebook API (``core.select``, ``core.export``...) all
go through these functions, so the same selection made from any face yields the same manifest.
"""

from __future__ import annotations

import json
from typing import Optional

from core.evaluation import LiveEvaluator, estimate_selection
from core.evaluation import recorded_fold_scores
from core.foundation.progress import scaled
from core.foundation.encoding import to_jsonable
from core.outputs import manifest as manifests
from core.outputs.rows import rows_bytes
from core.outputs.tracking import track
from core.scorers import compute_scores, recorded_scorers, scorer_records
from core.search import auto_select
from core.search import curve_on_folds
from core.scorers.table import align_scores
from core.selection import as_recipe, force_positions, select_recipe
from core.selection.subset import apply_forced


def select(ds, scores=None, strategy="random", keep: Optional[float] = None,
           threshold: Optional[float] = None, seed: int = 0, *, force_keep=(), force_drop=(),
           evaluator=None, fold_scores=None, progress=None, cancel=None):
    """Turn scores into a kept subset with any strategy, including those chosen by cross-validation.

    The parameters are those of :func:`core.selection.select_without_search` (``strategy`` a text or a
    :class:`core.selection.Recipe` parsed once by the caller), plus ``evaluator`` (a
    :class:`core.LiveEvaluator`) for strategies chosen by a search (``auto``), which run in
    :mod:`core.search`; every other kind runs through the strategy registry. A search reuses
    ``fold_scores`` (:func:`fold_scores_of` with the same evaluator) when the caller has them.
    """
    frame = align_scores(ds, scores)
    recipe = as_recipe(strategy, keep, threshold, seed, force_keep=force_keep, force_drop=force_drop,
                       score_columns=frame.columns)
    if not recipe.searched:
        return select_recipe(ds, frame, recipe, given=strategy if isinstance(strategy, str) else None,
                             progress=progress, cancel=cancel)
    forced = force_positions(ds, recipe.force_keep, recipe.force_drop)
    evaluator = evaluator or LiveEvaluator(ds, folds=5, seed=recipe.seed)
    # the search judges candidates per fold with scores that never saw that fold's labels
    if fold_scores is None:
        fold_scores = fold_scores_of(ds, scores, evaluator, progress=scaled(progress, 0.0, 0.5), cancel=cancel)
        progress = scaled(progress, 0.5 if fold_scores is not None else 0.0, 1.0)
    chosen = auto_select(ds, scores, recipe.keep, seed=recipe.seed, evaluator=evaluator, fold_scores=fold_scores,
                         progress=progress, cancel=cancel)
    return apply_forced(ds, chosen, *forced)


def estimate(ds, sel, *, scores=None, evaluator=None, fold_scores=None, leak_free: bool = True, progress=None,
             cancel=None) -> dict:
    """The cross-validated estimate of a selection beside the full data and random subsets of its size.

    Parameters
    ----------
    ds : Dataset
    sel : Selection
    scores : DataFrame, optional
        The all-rows scores the selection was made with.
    evaluator : LiveEvaluator, optional
        Folds, seed and target model; ``LiveEvaluator(ds, folds=5, seed=sel.seed)`` by default.
    fold_scores : FoldScores, optional
        Scores per evaluator fold made without that fold's labels (:func:`fold_scores_for`).
    leak_free : bool
        Without ``fold_scores``, compute them (once, cached on disk) so that no held-out label
        chose a training row. False gives the quick all-rows figure, marked optimistic.

    Returns
    -------
    dict
        The comparison block that manifests, the CLI and the app show (``leak_free`` says which it is).
    """
    evaluator = evaluator or LiveEvaluator(ds, folds=5, seed=sel.seed)
    if fold_scores is None and leak_free and scores is not None:
        fold_scores = fold_scores_for(ds, sel, scores, evaluator, progress=scaled(progress, 0.0, 0.8), cancel=cancel)
        progress = scaled(progress, 0.8, 1.0)
    return estimate_selection(ds, sel, scores=scores, evaluator=evaluator, fold_scores=fold_scores,
                              progress=progress, cancel=cancel)


def fold_scores_for(ds, sel, scores, evaluator, *, progress=None, cancel=None):
    """Fold-wise scores of the label-using scorers a selection used (None when it used none)."""
    return fold_scores_of(ds, scores, evaluator, names=sel.resolved_recipe.needed_scorers, progress=progress,
                          cancel=cancel)


def labelled_scorers(scores, names=None) -> list:
    """The scorers of a scores table (or those of ``names`` in it) whose values depend on the labels,
    asked with the parameters each was run with (:func:`core.scorers.reads_labels`)."""
    return [scorer.name for scorer in recorded_scorers(scores, names, labelled_only=True)]


def fold_scores_of(ds, scores, evaluator, *, names=None, progress=None, cancel=None):
    """Scores per evaluator fold, made without that fold's labels, of a table's label-using scorers.

    Computed with the table's own seed and cross-fitting folds, and cached on disk per fold; None
    when no scorer (of ``names``, if given) uses the labels, since one mask then serves every fold.
    """
    if scores is None:
        return None
    wanted = labelled_scorers(scores, names)
    if not wanted:
        return None
    return recorded_fold_scores(ds, scores, wanted, fold_of_row=evaluator.fold_of_row_, seed=evaluator.seed,
                                progress=progress, cancel=cancel)


def pruning_curve(ds, scores, strategies, keep_fractions=(0.1, 0.2, 0.3, 0.5, 0.7, 0.9), seeds: int = 3,
                  folds: int = 5, seed: int = 0, progress=None, cancel=None, *, evaluator=None, fold_scores=None,
                  leak_free: bool = True):
    """Accuracy of each strategy at each keep fraction beside random (:func:`core.search.curve_on_folds`).

    Leak-free by default: the fold-wise scores of the table's label-using scorers are computed (once,
    cached) so that no point of the curve chose training rows with a held-out fold's labels.
    """
    evaluator = evaluator or LiveEvaluator(ds, folds=folds, seed=seed)
    if fold_scores is None and leak_free:
        fold_scores = fold_scores_of(ds, scores, evaluator, progress=scaled(progress, 0.0, 0.5), cancel=cancel)
        progress = scaled(progress, 0.5 if fold_scores is not None else 0.0, 1.0)
    return curve_on_folds(ds, scores, strategies, keep_fractions, seeds, folds, seed, progress, cancel,
                          evaluator=evaluator, fold_scores=fold_scores)


#: Points below the full data beyond which a subset is called far below it (when also beyond the spread).
FAR_BELOW_FULL_POINTS = 3.0


def estimate_warning(comparison: Optional[dict]) -> Optional[str]:
    """A plain warning when a subset loses: below random of its size beyond the spread, far below the full
    data, or its worst class more than its spread below random subsets' worst class.

    The spread is the standard deviation over folds (over repeats x folds for random subsets), as shown
    beside every figure. Returns None when the subset does not lose, or when there is no estimate.
    """
    if not comparison or not comparison.get("selection"):
        return None
    sel, rand, full = comparison["selection"], comparison["random"], comparison["full"]
    points = lambda value: 100 * value  # noqa: E731
    spread = max(sel["std"], rand["std"])
    problems = []
    if sel["accuracy"] < rand["accuracy"] - spread:
        problems.append(f"{points(rand['accuracy'] - sel['accuracy']):.1f} points below random subsets of the same "
                        f"size (beyond the spread of ±{points(spread):.1f})")
    drop = full["accuracy"] - sel["accuracy"]
    if points(drop) > FAR_BELOW_FULL_POINTS and drop > max(sel["std"], full["std"]):
        problems.append(f"{points(drop):.1f} points below the full data")
    worst = comparison.get("worst_class") or {}
    if worst.get("below_random"):
        mine, theirs = worst["selection"], worst["random"]
        problems.append(f"its worst class ({mine['class']}, {points(mine['accuracy']):.1f}%) is "
                        f"{points(-worst['vs_random']):.1f} points below random subsets' worst class "
                        f"({theirs['class']}, {points(theirs['accuracy']):.1f}%), beyond its spread of "
                        f"±{points(mine['std']):.1f}")
    if not problems:
        return None
    advice = (" Class quotas (add :quota=drop or :quota=proportional to the strategy) keep every class's share."
              if worst.get("below_random") else "")
    return ("This subset loses: its estimate is " + " and ".join(problems)
            + ". Random pruning of the same size would do better; try another strategy or keep more rows." + advice)


def build_manifest(ds, sel, estimate=None, scores=None, *, load=None, created=None, columns=None) -> dict:
    """The JSON-able manifest of a selection (the scorers block comes from the scores' own records).

    ``columns``: a column cut (``core.columns.columns_block``), recorded as the ``columns`` block.
    """
    return manifests.manifest_document(ds, sel, estimate, scorer_records(scores), load=load, created=created,
                                       columns=columns)


def manifest_bytes(ds, sel, estimate=None, scores=None, *, load=None, columns=None) -> bytes:
    """The manifest as the bytes of a ``.json`` file (what a download gets)."""
    document = build_manifest(ds, sel, estimate, scores, load=load, columns=columns)
    return (json.dumps(to_jsonable(document), indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def export(ds, sel, path, manifest=None, scores=None, include_scores: bool = False, estimate=None, *,
           load=None, formula_safe: bool = False, columns=None, mlflow=None, origin: str = "api") -> Optional[dict]:
    """Write the kept rows (CSV or Parquet by extension) and, if asked, the manifest, atomically.

    ``columns`` is a column cut (``core.columns.columns_block``): recorded in the manifest, and its
    dropped columns are left out of the rows. ``mlflow`` logs the selection as an MLflow run once the
    files are written: True for the local store ``./mlruns``, or a store URI/folder (None: off).
    Returns the manifest written, if any.
    """
    document = manifests.write_selection(ds, sel, path, manifest=manifest, scores=scores,
                                         include_scores=include_scores, estimate=estimate,
                                         scores_meta=scorer_records(scores), load=load, formula_safe=formula_safe,
                                         columns=columns)
    track(mlflow, ds, sel, estimate=estimate, manifest=document, scores=scores, origin=origin)
    return document


def score(ds, names="default", *, seed: int = 0, folds: int = 5, model: str = "logreg", progress=None,
          cancel=None):
    """Scores of every row (:func:`core.compute_scores`); an empty list of names gives None."""
    if names is not None and not isinstance(names, str) and len(names) == 0:
        return None
    return compute_scores(ds, names, seed=seed, folds=folds, model=model, progress=progress, cancel=cancel)


__all__ = ["select", "estimate", "estimate_warning", "fold_scores_for", "fold_scores_of", "labelled_scorers",
           "pruning_curve", "build_manifest", "manifest_bytes", "export", "score", "rows_bytes"]
