"""``ambiguous``: the data-maps ambiguous region (Swayamdipta et al. 2020)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.foundation.errors import ConfigError
from core.selection.algorithms import balanced_mask
from core.selection.partitioned.base import PartitionedRule
from core.selection.partitioned.rules import scores_file_columns
from core.selection.registry import StrategyKind, register_strategy
from core.selection.strategies.balanced import BalancedRule, plan_quota_tops, quota_mask

VARIABILITY = "datamap_variability"


def _run(request):
    if VARIABILITY not in request.frame.columns:
        raise ConfigError(f"Strategy 'ambiguous' needs the {VARIABILITY} score; compute it first "
                          f"(core.compute_scores(ds, ['{VARIABILITY}']) or --scorers {VARIABILITY}).")
    # The region is the top of the variability axis (confidence places rows on the map, but the
    # paper's selection ranks by variability alone), taken within each class: ranked globally, the
    # top 10 % of penguins held almost no row of one species and lost 48 points of accuracy.
    ds = request.ds
    mask = balanced_mask(ds.y, ds.n_classes, request.values(VARIABILITY), request.budget, "proportional",
                         request.seed)
    return mask, {"kind": "ambiguous", "scorer": VARIABILITY}, {}


@dataclass(frozen=True)
class AmbiguousRule(BalancedRule):
    """``balanced:datamap_variability:high`` with proportional quotas, as memory runs it."""

    kind: ClassVar[str] = "ambiguous"


def _plan(where, recipe, engine) -> AmbiguousRule:
    if VARIABILITY not in scores_file_columns(where):
        raise ConfigError(f"Strategy 'ambiguous' needs the {VARIABILITY} score in the partitions' scores; they "
                          "hold only what `workbench score` wrote for them.")
    return plan_quota_tops(where, engine, scorer=VARIABILITY, end="high", mode="proportional", keep=recipe.keep,
                           rule=AmbiguousRule, scorers=(VARIABILITY,))


register_strategy(StrategyKind(
    name="ambiguous", title="Data-maps ambiguous region", order=74, syntax="ambiguous", target="none",
    budget="keep", scorers=(VARIABILITY,),
    help="Data maps (Swayamdipta et al. 2020): keep the most ambiguous rows, those whose given-label probability "
         "varies most across training epochs (the paper's best region to train on), in proportion to each class.",
    run=_run,
    partitioned=PartitionedRule(AmbiguousRule, _plan, quota_mask, how="same quotas and rows per class as memory (ties by "
                                "the same per-row hash)"),
))
