"""``balanced:<scorer|random>``: class quotas, then the top (or random) rows within each class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import numpy as np

from core.selection.algorithms import balanced_mask, budget_from_keep, equal_quotas, proportional_quotas
from core.selection.ends import default_end
from core.selection.partitioned.base import PartitionedRule
from core.selection.partitioned.rules import QuotaRule, class_top_rows, class_tops, oriented
from core.selection.registry import Option, StrategyKind, register_strategy


def _run(request):
    spec, ds = request.spec, request.ds
    mode = spec.option["mode"]
    params = {"kind": "balanced", "mode": mode}
    oriented = None
    if spec.scorers:
        oriented, end = request.oriented(spec.scorers[0], spec.end)
        params.update(scorer=spec.scorers[0], end=end)
    mask = balanced_mask(ds.y, ds.n_classes, oriented, request.budget, mode, request.seed)
    return mask, params, {}


@dataclass(frozen=True)
class BalancedRule(QuotaRule):
    """Class quotas from the summed class counts (as in memory), then each class's cut on the oriented
    score (or the per-row hash draw for ``random``) and each partition's tied and NaN rows taken."""

    kind: ClassVar[str] = "balanced"
    scorers: tuple = ()
    mode: str = "proportional"
    scorer: Optional[str] = None
    end: Optional[str] = None


def plan_quota_tops(where, engine, *, scorer, end, mode: str, keep: float, rule=BalancedRule, **fields):
    """A per-class rule: quotas by ``mode`` for ``keep``, then the top of each class by ``scorer``."""
    budget = budget_from_keep(keep, where.data.n_samples)
    quota_rule = proportional_quotas if mode == "proportional" else equal_quotas
    quotas = tuple(int(q) for q in quota_rule(where.data.class_counts, budget))
    found = class_tops(engine, where, oriented, (scorer, end), list(quotas))
    return rule(scorer=scorer, end=end, mode=mode, budget=budget, quotas=quotas, **found, **fields)


def _plan(where, recipe, engine) -> BalancedRule:
    spec = recipe.spec
    scorer = spec.scorers[0] if spec.scorers else None
    end = (spec.end or default_end(scorer)) if scorer else None
    return plan_quota_tops(where, engine, scorer=scorer, end=end, mode=spec.option["mode"], keep=recipe.keep,
                           scorers=tuple(spec.scorers))


def quota_mask(index: int, where, rule) -> np.ndarray:
    return class_top_rows(index, where, oriented(index, where, rule.scorer, rule.end), rule)


register_strategy(StrategyKind(
    name="balanced", title="Class-balanced", order=30,
    syntax="balanced:<scorer|random>[:high|:low][:mode=proportional|equal]", target="scorer-or-random",
    budget="keep", takes_end=True,
    options={"mode": Option(str, "proportional", "class quotas: proportional to class size or equal",
                                  choices=("proportional", "equal"))},
    help="Per-class quotas (proportional or equal), then the best rows of each class by a score, or random ones.",
    run=_run,
    partitioned=PartitionedRule(BalancedRule, _plan, quota_mask, how="same quotas and rows per class as memory (ties and "
                                "random draws by the same per-row hash); NaN rows that fill a quota in data order"),
))
