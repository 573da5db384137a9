"""``drop-flagged[:<scorer>,...]`` (and ``dedupe``): drop the rows flagging scorers flag."""

from __future__ import annotations

import numpy as np

from core.scorers import extra_column, flag_column
from core.selection.algorithms import dedupe_flags, drop_flagged_mask
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


register_strategy(StrategyKind(
    name="drop-flagged", title="Drop flagged rows", order=50, syntax="drop-flagged[:<scorer>[,<scorer>...]]",
    target="flagging-scorers", budget="optional-keep",
    help="Drop every row a flagging scorer flags (label noise, duplicates keep one per group, outliers); needs "
         "no keep fraction, and one given only caps the clean rows kept (flagged rows never come back).",
    run=_run,
), aliases={"dedupe": "drop-flagged:duplicate"})
