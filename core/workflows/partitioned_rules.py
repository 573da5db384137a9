"""The per-partition half of a partitioned selection rule: each partition's kept mask, from its scores.

A *rule* is what a partitioned manifest records under ``rule``: the strategy kind and the numbers
that global order statistics fixed (a cut, how many rows tied at it each partition takes, ...). A
*plan* is a rule plus where it runs: ``data`` (:class:`core.data.partitions.PartitionedData`),
``scores`` (one scores file per partition) and ``seed``. ``select`` computes the rule, ``apply`` reads
it back from the manifest; both turn the plan into masks with the functions here, partition by
partition, so the same rule keeps the same rows.

Rows tied at a cut are taken in data order (:func:`split_ties` decides how many per partition), so
the count is exact without gathering the tied rows.
"""

from __future__ import annotations

import numpy as np

from core.data.partitions import row_uniforms
from core.foundation.seeds import derive_seed
from core.scorers import flag_column

RANDOM_STREAM = 4


def read_scores(path: str, columns: list):
    """The given columns of one scores partition, as a DataFrame."""
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns).to_pandas()


def positions(index: int, plan: dict) -> np.ndarray:
    """Global row positions of partition ``index``, shape (rows,)."""
    part = plan["data"].partitions[index]
    return np.arange(part.start, part.stop)


def oriented(index: int, plan: dict) -> np.ndarray:
    """Higher means more worth keeping, NaN never kept (as :mod:`core.selection.strategies.ranking`).

    Without a scorer (``random``, ``balanced:random``) rows rank by their per-row hash draw
    (:func:`core.data.partitions.row_uniforms`).
    """
    if plan.get("scorer") is None:
        return row_uniforms(plan["seed"], positions(index, plan), RANDOM_STREAM)
    values = read_scores(plan["scores"][index], [plan["scorer"]])[plan["scorer"]].to_numpy(dtype=np.float64)
    return values if plan["end"] == "high" else -values


def tie_counts(values: np.ndarray, cut: float) -> tuple[int, int]:
    """(rows above ``cut``, rows equal to it); NaN is neither."""
    return int((values > cut).sum()), int((values == cut).sum())


def split_ties(counts: list, wanted: int) -> list:
    """How many tied rows each partition takes so that ``wanted`` rows are kept, in data order.

    Parameters
    ----------
    counts : list of (above, tied) per partition
    wanted : int
        Rows wanted in all, at least the sum of ``above``.
    """
    remaining = wanted - sum(above for above, _ in counts)
    taken = []
    for _, tied in counts:
        taken.append(int(min(tied, max(remaining, 0))))
        remaining -= taken[-1]
    return taken


def above_or_first_ties(values: np.ndarray, cut: float, ties: int) -> np.ndarray:
    """Rows above ``cut`` plus the first ``ties`` rows equal to it (data order), as a bool mask."""
    mask = values > cut
    mask[np.flatnonzero(values == cut)[:int(ties)]] = True
    return mask


def top_mask(index: int, plan: dict) -> np.ndarray:
    """``<scorer>[:end]`` and ``random``: at or above the threshold, or above the cut plus this partition's ties."""
    values = np.nan_to_num(oriented(index, plan), nan=-np.inf)
    if plan.get("threshold_cut") is not None:
        return values >= plan["threshold_cut"]
    return above_or_first_ties(values, plan["cut"], plan["ties_taken"][index])


def flag_mask(index: int, plan: dict) -> np.ndarray:
    """``drop-flagged``: rows no named scorer flags."""
    flags = read_scores(plan["scores"][index], [flag_column(n) for n in plan["scorers"]])
    return ~flags.fillna(False).to_numpy(dtype=bool).any(axis=1)


def ccs_hardness(index: int, plan: dict) -> np.ndarray:
    """CCS hardness of the partition's rows: higher means harder (pruned first); NaN kept as NaN."""
    values = read_scores(plan["scores"][index], [plan["scorer"]])[plan["scorer"]].to_numpy(dtype=np.float64)
    return values if plan["hard"] == "high" else -values


def ccs_pruned(index: int, plan: dict, hardness: np.ndarray) -> np.ndarray:
    """Rows CCS prunes first: NaN rows (first ``pruned_nan`` in data order), then the hardest finite rows."""
    nan = np.isnan(hardness)
    pruned = np.zeros(len(hardness), dtype=bool)
    pruned[np.flatnonzero(nan)[:int(plan["pruned_nan"][index])]] = True
    if plan.get("beta_cut") is not None:
        pruned |= above_or_first_ties(np.where(nan, -np.inf, hardness), plan["beta_cut"], plan["beta_ties"][index])
    return pruned


def ccs_bins(index: int, plan: dict) -> np.ndarray:
    """The equal-width bin of every pooled row (as :func:`core.selection.algorithms.ccs_mask`), -1 if pruned.

    NaN rows left in the pool count as the hardest finite value (``top``), as in memory.
    """
    hardness = ccs_hardness(index, plan)
    pooled = ~ccs_pruned(index, plan, hardness)
    values = np.where(np.isnan(hardness), plan["top"], hardness)
    edges = np.asarray(plan["edges"], dtype=np.float64)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    return np.where(pooled, bins, -1)


def ccs_draws(index: int, plan: dict) -> np.ndarray:
    """The within-bin draw of every row: a per-row hash on its own named stream (the largest are taken)."""
    return row_uniforms(derive_seed(plan["seed"], "partitioned-ccs-draw"), positions(index, plan), 0)


def ccs_mask(index: int, plan: dict) -> np.ndarray:
    """``ccs:<scorer>``: in every used bin, the rows whose draw is above that bin's cut, plus its ties."""
    bins = ccs_bins(index, plan)
    draws = ccs_draws(index, plan)
    mask = np.zeros(len(bins), dtype=bool)
    for slot, (bin_index, taken, cut) in enumerate(zip(plan["bins_used"], plan["bin_taken"], plan["draw_cuts"])):
        members = bins == bin_index
        if taken == 0:
            continue
        if cut is None:  # the bin is taken whole
            mask |= members
            continue
        mask |= members & above_or_first_ties(np.where(members, draws, -np.inf), cut,
                                              plan["draw_ties"][index][slot])
    return mask


def class_codes(index: int, plan: dict) -> np.ndarray:
    """Label codes (into ``data.classes``) of the partition's rows, shape (rows,), int64."""
    import pandas as pd
    import pyarrow.parquet as pq

    data = plan["data"]
    labels = pq.read_table(data.partitions[index].path, columns=[data.label]).column(data.label).to_pandas()
    return pd.Index(data.classes).get_indexer(pd.Index(labels.to_numpy(dtype=object))).astype(np.int64)


def balanced_mask(index: int, plan: dict) -> np.ndarray:
    """``balanced:<scorer|random>``: per class, rows above the class's cut plus ties, or all scored rows
    plus the first NaN rows when the class has fewer scored rows than its quota."""
    codes = class_codes(index, plan)
    values = oriented(index, plan)
    scored = ~np.isnan(values)
    mask = np.zeros(len(codes), dtype=bool)
    for code, (quota, cut) in enumerate(zip(plan["quotas"], plan["class_cuts"])):
        members = codes == code
        if quota == 0:
            continue
        if cut is None:  # every scored row of the class, then NaN rows in data order
            mask |= members & scored
            mask[np.flatnonzero(members & ~scored)[:int(plan["nan_taken"][index][code])]] = True
            continue
        mask |= members & above_or_first_ties(np.where(members & scored, values, -np.inf), cut,
                                              plan["class_ties"][index][code])
    return mask


MASKS = {"top": top_mask, "random": top_mask, "drop-flagged": flag_mask, "ccs": ccs_mask, "balanced": balanced_mask}


def kept_mask(index: int, plan: dict) -> np.ndarray:
    """The kept rows of partition ``index`` under the plan, shape (rows,), bool."""
    return MASKS[plan["kind"]](index, plan)
