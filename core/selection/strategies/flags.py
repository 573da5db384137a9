"""``drop-flagged[:<scorer>,...]`` (and ``dedupe``): drop the rows flagging scorers flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from core.foundation.errors import ConfigError
from core.scorers import extra_column, flag_column
from core.selection.algorithms import dedupe_flags, drop_flagged_mask
from core.selection.partitioned.base import PartitionedRule, Rule
from core.selection.partitioned.rules import read_scores
from core.selection.registry import StrategyKind, register_strategy


def _run(request):
    frame, names = request.frame, request.spec.scorers
    drop = np.zeros(request.ds.n_samples, dtype=bool)
    details: dict = {}
    for name in names:
        flags = frame[flag_column(name)].fillna(False).to_numpy(dtype=bool)
        group_column = extra_column(name, "group")
        groups = frame[group_column].fillna(-1).to_numpy(dtype=np.int64) if group_column in frame else None
        drop |= dedupe_flags(flags, groups)
        details[f"{name}_flagged"] = int(flags.sum())
    details["n_dropped_for_flags"] = int(drop.sum())
    if request.budget is not None and request.budget > int((~drop).sum()):
        details["budget_not_reached"] = True  # flagged rows never come back to fill a budget
    mask = drop_flagged_mask(drop, request.budget, request.seed)
    return mask, {"kind": "drop-flagged", "scorers": list(names)}, details


@dataclass(frozen=True)
class FlagsRule(Rule):
    """``drop-flagged`` on partitions: the rows no named scorer flags (partitioned duplicate flags already
    spare each group's first row)."""

    kind: ClassVar[str] = "drop-flagged"
    scorers: tuple = ()


def _plan(where, recipe, engine) -> FlagsRule:
    if recipe.keep is not None:
        raise ConfigError("On partitioned data drop-flagged takes no --keep; it drops every flagged row.")
    return FlagsRule(scorers=tuple(recipe.spec.scorers))


def _mask(index: int, where, rule: FlagsRule) -> np.ndarray:
    flags = read_scores(where.scores[index], [flag_column(name) for name in rule.scorers])
    return ~flags.fillna(False).to_numpy(dtype=bool).any(axis=1)


register_strategy(StrategyKind(
    name="drop-flagged", title="Drop flagged rows", order=50, syntax="drop-flagged[:<scorer>[,<scorer>...]]",
    target="flagging-scorers", budget="optional-keep",
    help="Drop every row a flagging scorer flags (label noise, duplicates keep one per group, outliers); needs "
         "no keep fraction, and one given only caps the clean rows kept (flagged rows never come back).",
    run=_run,
    partitioned=PartitionedRule(FlagsRule, _plan, _mask, how="exact without a keep fraction (none is taken)"),
), aliases={"dedupe": "drop-flagged:duplicate"})
