"""``<scorer>[:high|:low]``: keep the top rows by one score (or the rows past a threshold)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import numpy as np

from core.selection.algorithms import budget_from_keep, top_mask
from core.selection.ends import default_end
from core.selection.partitioned.base import PartitionedRule
from core.selection.partitioned.rules import CutRule, kept_by_cut, oriented, top_cut
from core.selection.registry import StrategyKind, register_strategy


def _run(request):
    name = request.spec.scorers[0]
    oriented, end = request.oriented(name, request.spec.end)
    if request.threshold is not None:
        cut = request.threshold if end == "high" else -request.threshold
        mask = np.nan_to_num(oriented, nan=-np.inf) >= cut
    else:
        mask = top_mask(oriented, request.budget, request.seed)
    return mask, {"kind": "top", "scorer": name, "end": end}, {}


@dataclass(frozen=True)
class TopRule(CutRule):
    """``<scorer>[:end]`` on partitions: at or above ``threshold_cut``, or above ``cut`` plus the rows tied
    at it with the largest hash draws (``tie_draw_cut``, ``tie_draw_ties``; in data order, ``ties_taken``,
    for rules written before ``tie_break``), so exactly ``budget`` rows are kept."""

    kind: ClassVar[str] = "top"
    scorers: tuple = ()
    scorer: str = ""
    end: str = "high"
    threshold_cut: Optional[float] = None


def _plan(where, recipe, engine) -> TopRule:
    scorer = recipe.spec.scorers[0]
    end = recipe.spec.end or default_end(scorer)
    if recipe.threshold is not None:
        cut = recipe.threshold if end == "high" else -recipe.threshold
        return TopRule(scorers=(scorer,), scorer=scorer, end=end, threshold_cut=float(cut))
    budget = budget_from_keep(recipe.keep, where.data.n_samples)
    return TopRule(scorers=(scorer,), scorer=scorer, end=end, budget=budget,
                   **top_cut(engine, where, oriented, (scorer, end), budget))


def _mask(index: int, where, rule: TopRule) -> np.ndarray:
    if rule.threshold_cut is not None:
        return np.nan_to_num(oriented(index, where, rule.scorer, rule.end), nan=-np.inf) >= rule.threshold_cut
    return kept_by_cut(index, where, oriented(index, where, rule.scorer, rule.end), rule)


register_strategy(StrategyKind(
    name="top", title="Top by one score", order=10, syntax="<scorer>[:high|:low]", target="bare-scorer",
    budget="keep-or-threshold", takes_end=True,
    help="Keep the rows at one end of a score (the scorer's default end unless :high or :low is given), "
         "by a keep fraction or a threshold.",
    run=_run,
    partitioned=PartitionedRule(TopRule, _plan, _mask, how="exact: the cut is the k-th value (or the threshold); "
                                "rows tied at it are taken by the per-row hash draw memory ranks them by: same rows"),
))
