"""``<scorer>[:high|:low]``: keep the top rows by one score (or the rows past a threshold)."""

from __future__ import annotations

import numpy as np

from core.selection.algorithms import top_mask
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


register_strategy(StrategyKind(
    name="top", title="Top by one score", order=10, syntax="<scorer>[:high|:low]", target="bare-scorer",
    budget="keep-or-threshold", takes_end=True,
    help="Keep the rows at one end of a score (the scorer's default end unless :high or :low is given), "
         "by a keep fraction or a threshold.",
    run=_run,
))
