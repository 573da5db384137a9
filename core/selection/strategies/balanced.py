"""``balanced:<scorer|random>``: class quotas, then the top (or random) rows within each class."""

from __future__ import annotations

from core.selection.algorithms import balanced_mask
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


register_strategy(StrategyKind(
    name="balanced", title="Class-balanced", order=30,
    syntax="balanced:<scorer|random>[:high|:low][:mode=proportional|equal]", target="scorer-or-random",
    budget="keep", takes_end=True,
    options={"mode": Option(str, "proportional", "class quotas: proportional to class size or equal",
                                  choices=("proportional", "equal"))},
    help="Per-class quotas (proportional or equal), then the best rows of each class by a score, or random ones.",
    run=_run,
))
