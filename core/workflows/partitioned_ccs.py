"""``ccs:<scorer>`` on partitioned data, from per-partition summaries only.

The rule of :func:`core.selection.algorithms.ccs_mask` (Zheng et al. 2023), computed without gathering
anything that grows with the number of rows: the ``beta`` hardest rows are cut off at an exact order
statistic (NaN counts as hardest, as in memory), the equal-width bins span the pool's exact minimum
and maximum, the bin sizes are summed from per-partition counts, and the budget is allocated over
the non-empty bins by :func:`core.selection.algorithms.ccs_allocation` - so the per-bin counts equal
the in-memory selection's. Within a bin the rows with the largest per-row hash draw are taken (a
per-bin order statistic), where memory samples with a seeded permutation: the rows differ, the
counts do not. Rows tied at a cut are taken in data order.
"""

from __future__ import annotations

import numpy as np

from core.selection import ccs_hard_end
from core.selection.algorithms import budget_from_keep, ccs_allocation
from core.workflows.partitioned_rules import (
    ccs_bins, ccs_draws, ccs_hardness, split_ties, tie_counts,
)
from core.workflows.quantiles import order_statistics


def _nan_task(index: int, plan: dict) -> int:
    return int(np.isnan(ccs_hardness(index, plan)).sum())


def _finite_hardness(index: int, plan: dict) -> list:
    hardness = ccs_hardness(index, plan)
    return [hardness] * 4  # one key per wanted rank: the beta cut, the top, the pool's max and min


def _beta_tie_task(index: int, plan: dict, cut: float) -> tuple[int, int]:
    hardness = ccs_hardness(index, plan)
    return tie_counts(np.where(np.isnan(hardness), -np.inf, hardness), cut)


def _bin_size_task(index: int, plan: dict) -> np.ndarray:
    bins = ccs_bins(index, plan)
    return np.bincount(bins[bins >= 0], minlength=len(plan["edges"]) - 1)


def _draws_by_bin(index: int, plan: dict, slots: list):
    """One key per slot: the draws of the rows in that bin, NaN elsewhere (made one at a time)."""
    bins = ccs_bins(index, plan)
    draws = ccs_draws(index, plan)
    return (np.where(bins == plan["bins_used"][slot], draws, np.nan) for slot in slots)


def _draw_tie_task(index: int, plan: dict, slots: list, cuts: list) -> list:
    return [tie_counts(column, cut) for column, cut in zip(_draws_by_bin(index, plan, slots), cuts)]


def _prune_and_bin_edges(plan: dict, nan_counts: list, n_pruned: int, engine) -> None:
    """Fix which rows are pruned first (``pruned_nan``, ``beta_cut``, ``beta_ties``) and the bin edges."""
    parts = len(nan_counts)
    n_nan = sum(nan_counts)
    n_finite = plan["data"].n_samples - n_nan
    plan["pruned_nan"] = split_ties([(0, count) for count in nan_counts], min(n_pruned, n_nan))
    pruned_finite = max(n_pruned - n_nan, 0)
    if n_finite == 0:  # no finite hardness: every row counts as 0.0, one bin (as in memory)
        plan.update(beta_cut=None, top=0.0, edges=[0.0, 1.0])
        return
    high_rank = 1 if n_nan > n_pruned else pruned_finite + 1  # NaN rows left in the pool count as the top
    ranks = [pruned_finite or None, 1, high_rank, n_finite]
    beta_cut, top, high, low = order_statistics(engine, parts, _finite_hardness, (plan,), lambda counts: ranks)
    plan.update(beta_cut=beta_cut, top=top)
    if beta_cut is not None:
        plan["beta_ties"] = split_ties(engine.map(_beta_tie_task, range(parts), plan, beta_cut), pruned_finite)
    edges = np.linspace(low, high, plan["bins"] + 1) if high > low else np.array([low, low + 1.0])
    plan["edges"] = [float(edge) for edge in edges]


def _within_bins(plan: dict, sizes: np.ndarray, engine) -> None:
    """Per used bin, the draw cut and each partition's ties, so every bin keeps exactly its allocation."""
    parts = len(plan["data"].partitions)
    slots = [slot for slot, (bin_index, taken) in enumerate(zip(plan["bins_used"], plan["bin_taken"]))
             if 0 < taken < sizes[bin_index]]
    cuts = [None] * len(plan["bins_used"])
    ties = [[0] * len(plan["bins_used"]) for _ in range(parts)]
    if slots:
        ranks = [plan["bin_taken"][slot] for slot in slots]
        found = order_statistics(engine, parts, _draws_by_bin, (plan, slots), lambda counts: ranks)
        counts = engine.map(_draw_tie_task, range(parts), plan, slots, found)
        for position, (slot, cut) in enumerate(zip(slots, found)):
            cuts[slot] = cut
            for index, taken in enumerate(split_ties([part[position] for part in counts], plan["bin_taken"][slot])):
                ties[index][slot] = taken
    plan["draw_cuts"], plan["draw_ties"] = cuts, ties


def plan_ccs(spec, plan: dict, keep, threshold, engine) -> dict:
    """Plan ``ccs:<scorer>[:beta=..][:bins=..][:hard=..]`` with ``keep`` (the options of the in-memory kind).

    Adds to ``plan``: ``scorer``, ``hard``, ``beta``, ``bins``, ``budget``, ``n_pruned_hardest``,
    ``beta_used``, ``pruned_nan``, ``beta_cut``, ``beta_ties``, ``top``, ``edges``, ``bins_used``,
    ``bin_taken``, ``draw_cuts``, ``draw_ties`` (per partition and used bin). Nothing in it grows
    with the number of rows; lists grow with partitions x bins.
    """
    name, options = spec.scorers[0], spec.option
    plan.update(scorer=name, hard=options.get("hard") or ccs_hard_end(name), beta=float(options["beta"]),
                bins=int(options["bins"]))
    n = plan["data"].n_samples
    budget = budget_from_keep(keep, n)
    n_pruned = min(int(np.floor(plan["beta"] * n)), n - budget)
    nan_counts = engine.map(_nan_task, range(len(plan["data"].partitions)), plan)
    _prune_and_bin_edges(plan, nan_counts, n_pruned, engine)
    sizes = np.sum(engine.map(_bin_size_task, range(len(plan["data"].partitions)), plan), axis=0)
    used = np.flatnonzero(sizes)
    plan.update(budget=budget, n_pruned_hardest=int(n_pruned), beta_used=n_pruned / n,
                bins_used=[int(b) for b in used], bin_taken=[int(t) for t in ccs_allocation(sizes[used], budget)])
    _within_bins(plan, sizes, engine)
    return plan
