"""``scorecard:<s1>[:high|:low][=w1],<s2>...``: a weighted mean of per-score rank percentiles."""

from __future__ import annotations

from core.selection.algorithms import scorecard_values, top_mask
from core.selection.registry import StrategyKind, register_strategy


def _run(request):
    spec = request.spec
    columns, ends = [], []
    for name, end in zip(spec.scorers, spec.ends):
        oriented, end = request.oriented(name, end)
        columns.append(oriented)
        ends.append(end)
    combined = scorecard_values(columns, spec.weights)
    mask = top_mask(combined, request.budget, request.seed)
    return mask, {"kind": "scorecard", "scorers": list(spec.scorers), "ends": ends, "weights": list(spec.weights)}, {}


register_strategy(StrategyKind(
    name="scorecard", title="Weighted scorecard", order=60, syntax="scorecard:<s1>[:high|:low][=w1],<s2>...",
    target="terms", budget="keep",
    help="Keep the top rows by a weighted mean of rank percentiles of several scores, each oriented by its keep end.",
    run=_run,
))
