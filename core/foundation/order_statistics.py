"""Exact order statistics (medians, k-th largest values) of data spread over partitions.

Nothing that grows with the number of rows reaches the driver: three rounds of per-partition
summaries find each wanted value exactly - (1) count, min and max per key, (2) a histogram of
``bins`` equal bins per key, (3) the values inside the one bin that holds the wanted rank.

A *values function* ``values(index, *args) -> list of 1-D float arrays`` gives, for partition
``index``, one array per key; NaN entries are left out (a row that does not belong to that key).
It must be a module-level function so worker processes can import it.

Rows tied at a cut are counted per partition (:func:`tie_counts`) and shared out in data order
(:func:`split_ties`), so a count is met exactly without gathering the tied rows.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

_BINS = 4096


def _extent_task(index: int, values: Callable, args: tuple) -> list:
    out = []
    for column in values(index, *args):
        valid = column[~np.isnan(column)]
        out.append((len(valid), float(valid.min()) if len(valid) else np.inf,
                    float(valid.max()) if len(valid) else -np.inf))
    return out


def _edges(low: float, high: float) -> np.ndarray:
    return np.linspace(low, high if high > low else low + 1.0, _BINS + 1)


def _histogram_task(index: int, values: Callable, args: tuple, extents: list) -> list:
    out = []
    for column, (low, high) in zip(values(index, *args), extents):
        valid = column[~np.isnan(column)]
        out.append(np.histogram(valid, bins=_edges(low, high))[0] if np.isfinite(low) else np.zeros(_BINS, int))
    return out


def _bin_task(index: int, values: Callable, args: tuple, windows: list) -> list:
    out = []
    for column, window in zip(values(index, *args), windows):
        if window is None:
            out.append(np.empty(0))
            continue
        low, high, last = window
        valid = column[~np.isnan(column)]
        inside = (valid >= low) & ((valid <= high) if last else (valid < high))
        out.append(np.sort(valid[inside]))
    return out


def order_statistics(engine, partitions: int, values: Callable, args: tuple,
                     choose: Callable[[list], Sequence[Optional[int]]]) -> list:
    """The wanted order statistic of every key, exactly.

    Parameters
    ----------
    engine : SerialEngine or DaskEngine
    partitions : int
        Number of partitions (tasks ``0 .. partitions - 1``).
    values, args
        The values function and its extra arguments (see the module docstring).
    choose : callable ``choose(counts) -> ranks``
        Given the number of values of each key, the rank wanted per key: 1 is the largest, ``count``
        the smallest; None skips the key.

    Returns
    -------
    list of float or None
        The value of the chosen rank per key (None where skipped or out of range).
    """
    extents = engine.map(_extent_task, range(partitions), values, args)
    n_keys = len(extents[0]) if extents else 0
    counts = [sum(part[key][0] for part in extents) for key in range(n_keys)]
    lows = [min(part[key][1] for part in extents) for key in range(n_keys)]
    highs = [max(part[key][2] for part in extents) for key in range(n_keys)]
    ranks = list(choose(counts))
    wanted = [r is not None and 1 <= r <= c for r, c in zip(ranks, counts)]
    histograms = engine.map(_histogram_task, range(partitions), values, args, list(zip(lows, highs)))
    windows, above = [], []
    for key in range(n_keys):
        if not wanted[key]:
            windows.append(None), above.append(0)
            continue
        total = np.sum([part[key] for part in histograms], axis=0)
        from_top = np.cumsum(total[::-1])
        top_bin = int(np.searchsorted(from_top, ranks[key]))  # bins counted from the highest
        bin_index = _BINS - 1 - top_bin
        edges = _edges(lows[key], highs[key])
        windows.append((edges[bin_index], edges[bin_index + 1], bin_index == _BINS - 1))
        above.append(int(from_top[top_bin - 1]) if top_bin > 0 else 0)
    inside = engine.map(_bin_task, range(partitions), values, args, windows)
    results = []
    for key in range(n_keys):
        if not wanted[key]:
            results.append(None)
            continue
        candidates = np.sort(np.concatenate([part[key] for part in inside]))[::-1]
        results.append(float(candidates[ranks[key] - above[key] - 1]))
    return results


def median_ranks(counts: list) -> list:
    """Ranks (largest first) of the two middle values of each key; pair them up with :func:`medians`."""
    ranks = []
    for count in counts:
        ranks += [count - (count - 1) // 2, count - count // 2] if count else [None, None]
    return ranks


def medians(engine, partitions: int, values: Callable, args: tuple) -> list:
    """The median (mean of the two middle values, as :func:`numpy.median`) of every key; NaN if empty."""
    found = order_statistics(engine, partitions, _twice, (values, args), median_ranks_from_doubled)
    return [np.nan if a is None else (a + b) / 2.0 for a, b in zip(found[0::2], found[1::2])]


def _twice(index: int, values: Callable, args: tuple) -> list:
    columns = values(index, *args)
    return [column for column in columns for _ in range(2)]


def median_ranks_from_doubled(counts: list) -> list:
    """Ranks for keys listed twice (:func:`_twice`): the two middle values of each original key."""
    return median_ranks(counts[0::2])


def tie_counts(values: np.ndarray, cut: float) -> tuple[int, int]:
    """(values above ``cut``, values equal to it); NaN is neither."""
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
    """Values above ``cut`` plus the first ``ties`` equal to it (data order), as a bool mask."""
    mask = values > cut
    mask[np.flatnonzero(values == cut)[:int(ties)]] = True
    return mask
