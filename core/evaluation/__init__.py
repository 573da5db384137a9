"""Evaluation: cross-validated accuracy of a kept subset with the user's target model, leak-free.

Public names:

- :class:`LiveEvaluator` (``estimate``, ``estimate_folds``, ``first_paint``, ``full``, ``random``)
  and :class:`Estimate`; :func:`evaluate_exact` (reference implementations, trained from scratch).
- :func:`fold_scores` -> :class:`FoldScores`: scores per evaluator fold computed without that
  fold's labels (cached on disk); :func:`fold_masks`: a strategy run per fold on them.
- :func:`random_curve` -> :class:`RandomCurve`: random pruning's accuracy at a few sizes, read at
  any size by interpolation (marked so) while the exact reference of that size is computed.
- :func:`estimate_selection`: the one route to the comparison block (selection, full data, random
  of the same size, ``leak_free``, model, budget) that every face shows and manifests record;
  :func:`selection_figure` is its first step alone (``selection_estimate``, its older name).
- :func:`check_estimator`, :func:`estimator_from_text`: the user's own classifier as the target
  (``LiveEvaluator(ds, estimator=...)``; the CLI's ``--eval-model module:Class --eval-params JSON``);
  :func:`measure_agreement`: how faithfully the live figure ranks subsets as that classifier does.
"""

from core.evaluation.block import class_comparison
from core.evaluation.comparison import estimate_selection, selection_estimate, selection_figure
from core.evaluation.fold_selection import fold_masks
from core.evaluation.foldwise import FoldScores, fold_scores, recorded_fold_scores
from core.evaluation.live import MODELS, Estimate, LiveEvaluator, evaluate_exact, make_folds
from core.evaluation.references import INTERPOLATED, RandomCurve, random_curve
from core.evaluation.target import (
    AGREEMENT_KEEPS, FAITHFUL, check_estimator, estimator_from_text, measure_agreement, panel_strategies, rank_agreement,
)

__all__ = ["LiveEvaluator", "Estimate", "evaluate_exact", "make_folds", "MODELS",
           "estimate_selection", "selection_figure", "selection_estimate", "fold_scores", "recorded_fold_scores", "fold_masks", "FoldScores",
           "RandomCurve", "random_curve", "INTERPOLATED", "class_comparison", "check_estimator", "estimator_from_text",
           "measure_agreement", "rank_agreement", "panel_strategies", "FAITHFUL", "AGREEMENT_KEEPS"]
