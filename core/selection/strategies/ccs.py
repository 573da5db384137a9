"""``ccs:<scorer>``: coverage-centric coreset selection (Zheng et al. 2023), in memory and on partitions.

On partitions the rule of :func:`core.selection.algorithms.ccs_mask` is computed without gathering
anything that grows with the number of rows: the ``beta`` hardest rows are cut off at an exact order
statistic (NaN counts as hardest, as in memory), the equal-width bins span the pool's exact minimum
and maximum, the bin sizes are summed from per-partition counts, and the budget is allocated over
the non-empty bins by :func:`core.selection.algorithms.ccs_allocation` - so the per-bin counts equal
the in-memory selection's. Within a bin the rows with the largest per-row hash draw are taken (a
per-bin order statistic) and rows tied at a cut (or NaN rows pruned first) by the same draw: the
per-row hash :func:`core.selection.algorithms.random_priority` ranks rows by in memory, so both
engines keep the same rows. Rules written before ``tie_break`` draw within bins on a stream of their
own and take tied rows in data order, as they did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Optional

import numpy as np

from core.data.partitions import row_uniforms
from core.foundation.order_statistics import above_or_first_ties, order_statistics, split_ties, tie_counts
from core.foundation.seeds import derive_seed
from core.selection.algorithms import RANDOM_STREAM, budget_from_keep, ccs_allocation, ccs_mask
from core.selection.ends import ccs_hard_end
from core.selection.partitioned.base import PartitionedRule, Rule
from core.selection.partitioned.rules import positions, score_values, tied_draws_cut, tied_rows
from core.selection.registry import Option, StrategyKind, register_strategy


def _fraction(value: float):
    return None if 0 <= value < 1 else "must be in [0, 1)"


def _positive(value: int):
    return None if value >= 1 else "must be at least 1"


def _run(request):
    spec = request.spec
    name, options = spec.scorers[0], spec.option
    hard = options.get("hard") or ccs_hard_end(name)
    values = request.values(name)
    hardness = values if hard == "high" else -values
    mask, info = ccs_mask(hardness, request.budget, options["beta"], options["bins"], request.seed)
    params = {"kind": "ccs", "scorer": name, "beta": options["beta"], "bins": options["bins"], "hard": hard,
              "beta_used": info.pop("beta_used")}
    return mask, params, info


# ----------------------------------------------------------------------------- on partitions


@dataclass(frozen=True)
class CCSRule(Rule):
    """CCS fixed from summaries: which rows are pruned first (``pruned_nan`` per partition, ``beta_cut`` and
    ``beta_ties``), the bin ``edges`` (NaN rows left in the pool count as ``top``), the allocation
    (``bins_used``, ``bin_taken``) and, per used bin, the draw cut and each partition's tied rows."""

    kind: ClassVar[str] = "ccs"
    scorers: tuple = ()
    scorer: str = ""
    hard: str = "high"
    beta: float = 0.1
    bins: int = 50
    pruned_nan: tuple = ()
    beta_cut: Optional[float] = None
    top: float = 0.0
    beta_ties: Optional[tuple] = None
    edges: tuple = ()
    budget: int = 0
    n_pruned_hardest: int = 0
    beta_used: float = 0.0
    bins_used: tuple = ()
    bin_taken: tuple = ()
    draw_cuts: tuple = ()
    draw_ties: tuple = ()
    nan_draw_cut: Optional[float] = None
    nan_draw_ties: Optional[tuple] = None
    beta_draw_cut: Optional[float] = None
    beta_draw_ties: Optional[tuple] = None
    tie_break: Optional[str] = None


def hardness(index: int, where, rule: CCSRule) -> np.ndarray:
    """CCS hardness of the partition's rows: higher means harder (pruned first); NaN kept as NaN."""
    values = score_values(index, where, rule.scorer)
    return values if rule.hard == "high" else -values


def _pruned(index: int, where, rule: CCSRule, hard: np.ndarray) -> np.ndarray:
    nan = np.isnan(hard)
    if rule.tie_break == "hash":
        drawn = draws(index, where, rule)
        pruned = tied_rows(np.where(nan, np.inf, hard), drawn, np.inf, rule.nan_draw_cut,
                           rule.nan_draw_ties[index] if rule.nan_draw_ties else 0)
        if rule.beta_cut is not None:
            finite = np.where(nan, -np.inf, hard)
            pruned |= (finite > rule.beta_cut) | tied_rows(finite, drawn, rule.beta_cut, rule.beta_draw_cut,
                                                           rule.beta_draw_ties[index] if rule.beta_draw_ties else 0)
        return pruned
    pruned = np.zeros(len(hard), dtype=bool)
    pruned[np.flatnonzero(nan)[:int(rule.pruned_nan[index])]] = True
    if rule.beta_cut is not None:
        pruned |= above_or_first_ties(np.where(nan, -np.inf, hard), rule.beta_cut, rule.beta_ties[index])
    return pruned


def bins_of(index: int, where, rule: CCSRule) -> np.ndarray:
    """The equal-width bin of every pooled row (as in memory), -1 if pruned; NaN rows count as ``top``."""
    hard = hardness(index, where, rule)
    pooled = ~_pruned(index, where, rule, hard)
    edges = np.asarray(rule.edges, dtype=np.float64)
    bins = np.clip(np.searchsorted(edges, np.where(np.isnan(hard), rule.top, hard), side="right") - 1, 0,
                   len(edges) - 2)
    return np.where(pooled, bins, -1)


def draws(index: int, where, rule: CCSRule) -> np.ndarray:
    """The draw of every row (the largest are taken): memory's per-row hash, or for rules written before
    ``tie_break`` a hash on a stream of its own."""
    if rule.tie_break == "hash":
        return row_uniforms(where.seed, positions(index, where), RANDOM_STREAM)
    return row_uniforms(derive_seed(where.seed, "partitioned-ccs-draw"), positions(index, where), 0)


def _nan_as_top(index: int, where, rule: CCSRule) -> np.ndarray:
    hard = hardness(index, where, rule)
    return np.where(np.isnan(hard), np.inf, hard)


def _nan_count(index: int, where, rule: CCSRule) -> int:
    return int(np.isnan(hardness(index, where, rule)).sum())


def _finite_hardness(index: int, where, rule: CCSRule) -> list:
    return [hardness(index, where, rule)] * 4  # one key per wanted rank: the beta cut, the top, the pool's max, min


def _beta_ties(index: int, where, rule: CCSRule, cut: float) -> tuple:
    hard = hardness(index, where, rule)
    return tie_counts(np.where(np.isnan(hard), -np.inf, hard), cut)


def _bin_sizes(index: int, where, rule: CCSRule) -> np.ndarray:
    bins = bins_of(index, where, rule)
    return np.bincount(bins[bins >= 0], minlength=len(rule.edges) - 1)


def _draws_by_bin(index: int, where, rule: CCSRule, slots: list):
    """One key per slot: the draws of the rows in that bin, NaN elsewhere (made one at a time)."""
    bins, drawn = bins_of(index, where, rule), draws(index, where, rule)
    return (np.where(bins == rule.bins_used[slot], drawn, np.nan) for slot in slots)


def _draw_ties(index: int, where, rule: CCSRule, slots: list, cuts: list) -> list:
    return [tie_counts(column, cut) for column, cut in zip(_draws_by_bin(index, where, rule, slots), cuts)]


def _prune_and_edges(where, rule: CCSRule, nan_counts: list, n_pruned: int, engine) -> CCSRule:
    n_nan = sum(nan_counts)
    n_finite = where.data.n_samples - n_nan
    rule = replace(rule, pruned_nan=tuple(split_ties([(0, count) for count in nan_counts], min(n_pruned, n_nan))))
    if min(n_pruned, n_nan):
        cuts, ties = tied_draws_cut(engine, where, _nan_as_top, (rule,), [np.inf], [min(n_pruned, n_nan)])
        rule = replace(rule, nan_draw_cut=cuts[0], nan_draw_ties=tuple(part[0] for part in ties))
    pruned_finite = max(n_pruned - n_nan, 0)
    if n_finite == 0:  # no finite hardness: every row counts as 0.0, one bin (as in memory)
        return replace(rule, beta_cut=None, top=0.0, edges=(0.0, 1.0))
    high_rank = 1 if n_nan > n_pruned else pruned_finite + 1  # NaN rows left in the pool count as the top
    ranks = [pruned_finite or None, 1, high_rank, n_finite]
    beta_cut, top, high, low = order_statistics(engine, where.count, _finite_hardness, (where, rule),
                                                lambda counts: ranks)
    rule = replace(rule, beta_cut=beta_cut, top=top)
    if beta_cut is not None:
        counts = engine.map(_beta_ties, where.parts, where, rule, beta_cut)
        wanted = pruned_finite - sum(above for above, _ in counts)
        cuts, ties = tied_draws_cut(engine, where, hardness, (rule,), [beta_cut], [wanted])
        rule = replace(rule, beta_ties=tuple(split_ties(counts, pruned_finite)), beta_draw_cut=cuts[0],
                       beta_draw_ties=tuple(part[0] for part in ties))
    edges = np.linspace(low, high, rule.bins + 1) if high > low else np.array([low, low + 1.0])
    return replace(rule, edges=tuple(float(edge) for edge in edges))


def _within_bins(where, rule: CCSRule, sizes: np.ndarray, engine) -> CCSRule:
    """Per used bin, the draw cut and each partition's ties, so every bin keeps exactly its allocation."""
    slots = [slot for slot, (bin_index, taken) in enumerate(zip(rule.bins_used, rule.bin_taken))
             if 0 < taken < sizes[bin_index]]
    cuts = [None] * len(rule.bins_used)
    ties = [[0] * len(rule.bins_used) for _ in where.parts]
    if slots:
        ranks = [rule.bin_taken[slot] for slot in slots]
        found = order_statistics(engine, where.count, _draws_by_bin, (where, rule, slots), lambda counts: ranks)
        counts = engine.map(_draw_ties, where.parts, where, rule, slots, found)
        for position, (slot, cut) in enumerate(zip(slots, found)):
            cuts[slot] = cut
            for index, taken in enumerate(split_ties([part[position] for part in counts], rule.bin_taken[slot])):
                ties[index][slot] = taken
    return replace(rule, draw_cuts=tuple(cuts), draw_ties=tuple(tuple(row) for row in ties))


def _plan(where, recipe, engine) -> CCSRule:
    name, options = recipe.spec.scorers[0], recipe.spec.option
    rule = CCSRule(scorers=(name,), scorer=name, hard=options.get("hard") or ccs_hard_end(name),
                   beta=float(options["beta"]), bins=int(options["bins"]), tie_break="hash")
    n = where.data.n_samples
    budget = budget_from_keep(recipe.keep, n)
    n_pruned = min(int(np.floor(rule.beta * n)), n - budget)
    rule = _prune_and_edges(where, rule, engine.map(_nan_count, where.parts, where, rule), n_pruned, engine)
    sizes = np.sum(engine.map(_bin_sizes, where.parts, where, rule), axis=0)
    used = np.flatnonzero(sizes)
    rule = replace(rule, budget=budget, n_pruned_hardest=int(n_pruned), beta_used=n_pruned / n,
                   bins_used=tuple(int(b) for b in used),
                   bin_taken=tuple(int(t) for t in ccs_allocation(sizes[used], budget)))
    return _within_bins(where, rule, sizes, engine)


def _mask(index: int, where, rule: CCSRule) -> np.ndarray:
    """In every used bin, the rows whose draw is above that bin's cut, plus its ties."""
    bins, drawn = bins_of(index, where, rule), draws(index, where, rule)
    mask = np.zeros(len(bins), dtype=bool)
    for slot, (bin_index, taken, cut) in enumerate(zip(rule.bins_used, rule.bin_taken, rule.draw_cuts)):
        members = bins == bin_index
        if taken == 0:
            continue
        if cut is None:  # the bin is taken whole
            mask |= members
            continue
        mask |= members & above_or_first_ties(np.where(members, drawn, -np.inf), cut, rule.draw_ties[index][slot])
    return mask


register_strategy(StrategyKind(
    name="ccs", title="Coverage-centric (CCS)", order=20,
    syntax="ccs:<scorer>[:beta=0.1][:bins=50][:hard=high|low]", target="scorer", budget="keep",
    options={
        "beta": Option(float, 0.1, "fraction pruned first from the hard end", _fraction),
        "bins": Option(int, 50, "equal-width score bins sampled evenly", _positive),
        "hard": Option(str, None, "which end is hard (default: the scorer's declared hard end)",
                       choices=("high", "low")),
    },
    help="Drop the hardest beta fraction, then sample evenly across score bins so easy and hard rows stay "
         "covered; beats random at small keep fractions.",
    run=_run,
    partitioned=PartitionedRule(CCSRule, _plan, _mask, how="same beta cut, bin edges, count per bin and rows as "
                                "memory (draws and ties by the same per-row hash)"),
))
