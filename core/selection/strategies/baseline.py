"""``random``: a uniformly random subset, the baseline every other strategy is compared with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.selection.algorithms import budget_from_keep, random_mask
from core.selection.partitioned.base import PartitionedRule
from core.selection.partitioned.rules import CutRule, kept_by_cut, oriented, random_draws, top_cut
from core.selection.registry import StrategyKind, register_strategy


def _run(request):
    return random_mask(request.ds.n_samples, request.budget, request.seed), {"kind": "random"}, {}


@dataclass(frozen=True)
class RandomRule(CutRule):
    """``random`` on partitions: the ``budget`` rows with the largest per-row hash draw (above ``cut``,
    plus each partition's ``ties_taken``)."""

    kind: ClassVar[str] = "random"
    scorers: tuple = ()


def _plan(where, recipe, engine) -> RandomRule:
    budget = budget_from_keep(recipe.keep, where.data.n_samples)
    return RandomRule(budget=budget, **top_cut(engine, where, oriented, (None, None), budget))


def _mask(index: int, where, rule: RandomRule):
    return kept_by_cut(index, where, random_draws(index, where), rule)


register_strategy(StrategyKind(
    name="random", title="Random", order=0, syntax="random", target="none", budget="keep",
    help="A uniformly random subset of the same size: the baseline every strategy must beat.",
    run=_run,
    partitioned=PartitionedRule(RandomRule, _plan, _mask, how="exact: the rows with the largest per-row hash "
                                "draw, the draw memory ranks rows by: same rows"),
))
