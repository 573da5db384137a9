"""``random``: a uniformly random subset, the baseline every other strategy is compared with."""

from __future__ import annotations

from core.selection.algorithms import random_mask
from core.selection.registry import StrategyKind, register_strategy


def _run(request):
    return random_mask(request.ds.n_samples, request.budget, request.seed), {"kind": "random"}, {}


register_strategy(StrategyKind(
    name="random", title="Random", order=0, syntax="random", target="none", budget="keep",
    help="A uniformly random subset of the same size: the baseline every strategy must beat.",
    run=_run,
))
