"""The selection algorithms behind :func:`core.select`, as plain functions over arrays.

Every function returns a boolean kept mask of shape ``(n_samples,)`` and assumes valid input
(:mod:`core.selection` validates once). Scores passed here are already *oriented*: higher means
more worth keeping, so "keep the top" is the only ranking rule in this module. How a scorer's
``keep`` metadata turns into that orientation is written in :mod:`core.selection`.

Ties are broken by a seeded random permutation, never by row order, so that integer-valued
scores (forgetting counts, flags) do not silently favour the first rows or the first class.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from core.data.partitions import row_uniforms


def budget_from_keep(keep: float, n_samples: int) -> int:
    """Rows kept for a keep fraction: ``round(keep * n)``, at least one row."""
    return int(min(n_samples, max(1, round(keep * n_samples))))


_ORDERS: OrderedDict = OrderedDict()  # (digest of the values, seed) -> read-only order
_ORDERS_LOCK = threading.Lock()
_ORDERS_KEPT = 16  # a slider move ranks one score per evaluator fold (5) plus all rows
_PRIORITIES: OrderedDict = OrderedDict()  # (n_samples, seed) -> read-only ranks


def priority_order(oriented: np.ndarray, seed: int) -> np.ndarray:
    """Row positions from most to least worth keeping.

    Between slider moves of a score-ranked strategy only the cut changes, so the ranking of the
    last few score vectors is kept (keyed by a digest of the values, not their identity: a
    changed score array is ranked again). The answer is the same as ranking afresh.

    Parameters
    ----------
    oriented : ndarray of shape (n_samples,)
        Higher means more worth keeping. NaN sorts last.

    Returns
    -------
    order : ndarray of shape (n_samples,), read-only
    """
    oriented = np.ascontiguousarray(oriented)
    key = (hashlib.sha1(oriented).digest(), oriented.dtype.str, oriented.shape, int(seed))
    with _ORDERS_LOCK:
        order = _ORDERS.get(key)
        if order is not None:
            _ORDERS.move_to_end(key)
            return order
    values = np.where(np.isnan(oriented), -np.inf, oriented)
    order = np.lexsort((random_priority(len(values), seed), -values))
    order.setflags(write=False)
    with _ORDERS_LOCK:
        _ORDERS[key] = order
        while len(_ORDERS) > _ORDERS_KEPT:
            _ORDERS.popitem(last=False)
    return order


#: The per-row hash stream of every random draw and tie-break (:func:`core.data.partitions.row_uniforms`).
RANDOM_STREAM = 4


def random_priority(n_samples: int, seed: int) -> np.ndarray:
    """A random rank per row (a permutation of ``0..n-1``), fixed by the seed.

    Every random draw in this module takes the rows of lowest rank, so for one seed a larger
    budget keeps a superset of a smaller one: a slider step changes only the rows it must, and the
    evaluator's warm starts see nearly the same subset. The rank orders the rows by a per-row hash
    draw of ``(seed, row position)`` (largest first), the draw partitioned data make for the same row
    in whichever partition it sits, so random draws and tie-breaks pick the same rows on both engines.
    The ranks of the last few ``(n_samples, seed)`` pairs are kept (read-only): a hash and a sort
    cost more than the permutation they replace, and a slider move asks for the same ranks per fold.
    """
    key = (int(n_samples), int(seed))
    with _ORDERS_LOCK:
        priority = _PRIORITIES.get(key)
        if priority is not None:
            _PRIORITIES.move_to_end(key)
            return priority
    draws = row_uniforms(seed, np.arange(n_samples), RANDOM_STREAM)
    priority = np.empty(n_samples, dtype=np.int64)
    priority[np.argsort(-draws)] = np.arange(n_samples)  # draws are distinct: no stable sort needed
    priority.setflags(write=False)
    with _ORDERS_LOCK:
        _PRIORITIES[key] = priority
        while len(_PRIORITIES) > _ORDERS_KEPT // 2:
            _PRIORITIES.popitem(last=False)
    return priority


def lowest_priority(members: np.ndarray, count: int, priority: np.ndarray) -> np.ndarray:
    """The ``count`` rows of ``members`` with the lowest random rank."""
    return members[np.argsort(priority[members], kind="stable")[: int(count)]]


def mask_from_positions(positions, n_samples: int) -> np.ndarray:
    mask = np.zeros(n_samples, dtype=bool)
    mask[np.asarray(positions, dtype=np.int64)] = True
    return mask


def random_mask(n_samples: int, budget: int, seed: int) -> np.ndarray:
    """Uniformly random subset of exactly ``budget`` rows (nested across budgets for one seed)."""
    priority = random_priority(n_samples, seed)
    return priority < budget


def top_mask(oriented: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """Keep the ``budget`` rows with the highest oriented score."""
    return mask_from_positions(priority_order(oriented, seed)[:budget], len(oriented))


# ----------------------------------------------------------------------------- class quotas


def proportional_quotas(class_counts: np.ndarray, budget: int) -> np.ndarray:
    """Per-class quotas that keep class proportions and sum exactly to ``budget``.

    Largest-remainder rounding, so every quota is within one row of ``budget * n_c / n``.
    """
    counts = np.asarray(class_counts, dtype=np.int64)
    exact = budget * counts / counts.sum()
    quotas = np.floor(exact).astype(np.int64)
    short = budget - int(quotas.sum())
    if short > 0:
        remainders = exact - quotas
        # stable order so equal remainders resolve the same way every time
        order = np.argsort(-remainders, kind="stable")
        quotas[order[:short]] += 1
    return quotas


def equal_quotas(class_counts: np.ndarray, budget: int) -> np.ndarray:
    """Per-class quotas as equal as class sizes allow, summing to ``budget``.

    Classes smaller than their equal share are kept whole; what they cannot use is shared among
    the others (the same water-filling as :func:`ccs_allocation`). Quotas of classes that are
    not capped differ by at most one.
    """
    return water_fill(class_counts, budget)


def balanced_mask(
    y: np.ndarray, n_classes: int, oriented, budget: int, mode: str, seed: int
) -> np.ndarray:
    """Per-class quotas, then the top of each class by ``oriented`` (random if None)."""
    counts = np.bincount(y, minlength=n_classes)
    quotas = proportional_quotas(counts, budget) if mode == "proportional" else equal_quotas(counts, budget)
    priority = random_priority(len(y), seed)
    mask = np.zeros(len(y), dtype=bool)
    for c in range(n_classes):
        members = np.flatnonzero(y == c)
        if quotas[c] == 0:
            continue
        if oriented is None:
            chosen = lowest_priority(members, quotas[c], priority)
        else:
            values = np.where(np.isnan(oriented[members]), -np.inf, oriented[members])
            chosen = members[np.lexsort((priority[members], -values))[: quotas[c]]]
        mask[chosen] = True
    return mask


# ----------------------------------------------------------------------------- CCS


def water_fill(sizes: np.ndarray, budget: int) -> np.ndarray:
    """Share ``budget`` among groups as equally as their sizes allow.

    Groups are visited from the smallest; each takes ``min(size, remaining_budget // groups_left)``,
    so small groups are taken whole and what they leave is shared by the larger ones. Rows that
    flooring leaves over go one each to the groups with most room.

    Parameters
    ----------
    sizes : ndarray of shape (n_groups,)
    budget : int
        At most ``sizes.sum()``.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    taken = np.zeros_like(sizes)
    remaining = int(budget)
    order = np.argsort(sizes, kind="stable")
    for i, g in enumerate(order):
        taken[g] = min(sizes[g], remaining // (len(order) - i))
        remaining -= int(taken[g])
    while remaining > 0:
        room = sizes - taken
        open_groups = np.argsort(-room, kind="stable")[: min(remaining, int((room > 0).sum()))]
        taken[open_groups] += 1
        remaining -= len(open_groups)
    return taken


def ccs_allocation(bin_sizes: np.ndarray, budget: int) -> np.ndarray:
    """How many rows CCS takes from each non-empty bin (Zheng et al. 2023, Algorithm 1).

    The budget is water-filled from the smallest bin (:func:`water_fill`): each bin takes
    ``min(size, remaining_budget // bins_left)``.
    """
    return water_fill(bin_sizes, budget)


def ccs_mask(hardness: np.ndarray, budget: int, beta: float, n_bins: int, seed: int):
    """Coverage-centric coreset selection.

    Drops the hardest ``beta`` fraction, splits the rest into ``n_bins`` equal-width bins of
    hardness, allocates the budget with :func:`ccs_allocation` and samples uniformly within
    each bin.

    Parameters
    ----------
    hardness : ndarray of shape (n_samples,)
        Higher means harder (the end CCS prunes first). NaN counts as hardest.

    Returns
    -------
    mask : ndarray of shape (n_samples,), dtype bool
    info : dict
        ``beta_used`` (lowered when the budget needs more rows than ``1 - beta`` leaves),
        ``bin_edges`` and ``bin_taken``.
    """
    n = len(hardness)
    finite = np.isfinite(hardness)
    top = float(hardness[finite].max()) if finite.any() else 0.0
    # NaN counts as hardest: pruned first, and in the hardest bin if any remain
    hardness = np.where(finite, hardness, top)
    n_pruned = min(int(np.floor(beta * n)), n - budget)
    hardest_first = priority_order(np.where(finite, hardness, np.inf), seed)
    pool = hardest_first[n_pruned:]
    values = hardness[pool]
    low, high = float(values.min()), float(values.max())
    edges = np.linspace(low, high, n_bins + 1) if high > low else np.array([low, low + 1.0])
    bin_of = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    all_sizes = np.bincount(bin_of, minlength=len(edges) - 1)
    used_bins = np.flatnonzero(all_sizes)
    sizes = all_sizes[used_bins]
    taken = ccs_allocation(sizes, budget)
    # every bin's rows by random rank in one sort (ranks are distinct, so the key is too): a bin's
    # lowest-ranked ``count`` rows open its stretch of the order
    priority = random_priority(n, seed)
    by_bin = pool[np.argsort(bin_of * np.int64(n) + priority[pool])]
    starts = np.cumsum(all_sizes)[used_bins] - sizes
    mask = np.zeros(n, dtype=bool)
    for start, count in zip(starts, taken):
        mask[by_bin[start:start + count]] = True
    info = {
        "beta_used": n_pruned / n,
        "n_pruned_hardest": int(n_pruned),
        "bin_edges": [float(e) for e in edges],
        "bin_taken": {int(b): int(t) for b, t in zip(used_bins, taken)},
    }
    return mask, info


# ----------------------------------------------------------------------------- flags, band, scorecard


def dedupe_flags(flags: np.ndarray, groups) -> np.ndarray:
    """Rows to drop for flags, keeping one row per duplicate group.

    In a group where some member is not flagged, all flagged members go; in a group where every
    member is flagged, the first (in data order) stays. Rows flagged outside any group (-1) go.
    """
    drop = flags.copy()
    if groups is None:
        return drop
    groups = np.asarray(groups)
    for g in np.unique(groups[flags & (groups >= 0)]):
        members = np.flatnonzero(groups == g)
        if flags[members].all():
            drop[members[0]] = False
    return drop


def drop_flagged_mask(drop: np.ndarray, budget, seed: int) -> np.ndarray:
    """Drop the given rows; with a budget, keep at most ``budget`` of the others.

    When more clean rows remain than the budget allows, a uniform random subset of them is kept
    (random is a strong baseline; the flags decide only what goes). Flagged rows never come back:
    with fewer clean rows than the budget, every clean row is kept.
    """
    clean = ~drop
    n_clean = int(clean.sum())
    if budget is None or n_clean <= budget:
        return clean
    return mask_from_positions(lowest_priority(np.flatnonzero(clean), budget, random_priority(len(drop), seed)),
                               len(drop))


def band_mask(scores: np.ndarray, n_low: int, n_high: int, seed: int) -> np.ndarray:
    """Drop the ``n_low`` lowest and ``n_high`` highest scores; keep the middle band."""
    ascending = priority_order(-scores, seed)  # lowest first, NaN last
    mask = np.ones(len(scores), dtype=bool)
    finite = ascending[: int(np.isfinite(scores).sum())]
    mask[finite[:n_low]] = False
    if n_high:
        mask[finite[len(finite) - n_high:]] = False
    mask[~np.isfinite(scores)] = False
    return mask


def rank_percentile(oriented: np.ndarray) -> np.ndarray:
    """Rank percentile in (0, 1]; higher means more worth keeping; ties share a rank; NaN is 0."""
    from scipy.stats import rankdata

    finite = np.isfinite(oriented)
    out = np.zeros(len(oriented))
    out[finite] = rankdata(oriented[finite], method="average") / max(1, len(oriented))
    return out


def scorecard_values(oriented_columns: list, weights: list) -> np.ndarray:
    """Weighted mean of per-scorer rank percentiles (each already oriented by its keep end)."""
    weights = np.asarray(weights, dtype=float)
    weights = weights / weights.sum()
    return sum(w * rank_percentile(col) for w, col in zip(weights, oriented_columns))
