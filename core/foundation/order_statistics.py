"""Exact order statistics (medians, k-th largest values) of data spread over partitions.

Nothing that grows with the number of rows reaches the driver: rounds of per-partition summaries
find each wanted value exactly - (1) count, min and max per key, (2) a histogram of ``bins`` equal
bins per key, then, while the bin that holds the wanted rank holds more than ``_GATHER`` values, a
histogram of that bin alone (with its min and max: a bin whose values are all equal gives the
answer at once), and last (3) the values inside the one bin that holds the wanted rank, at most
``_GATHER`` of them (rounds are bounded: a bin split ``_ROUNDS`` times is gathered whatever it
holds, which takes distinct values closer than float64's resolution of their range).

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
_GATHER = 4096  # most values of one key gathered to the driver (a fuller bin is split again)
_ROUNDS = 4  # bins split at most this often (4096**4 bins: about float64's resolution of the range)


def _extent_task(index: int, values: Callable, args: tuple) -> list:
    out = []
    for column in values(index, *args):
        valid = column[~np.isnan(column)]
        out.append((len(valid), float(valid.min()) if len(valid) else np.inf,
                    float(valid.max()) if len(valid) else -np.inf))
    return out


def _edges(low: float, high: float) -> np.ndarray:
    return np.linspace(low, high if high > low else low + 1.0, _BINS + 1)


def _inside(column: np.ndarray, window: tuple) -> np.ndarray:
    low, high, last = window
    valid = column[~np.isnan(column)]
    return valid[(valid >= low) & ((valid <= high) if last else (valid < high))]


def _histogram_task(index: int, values: Callable, args: tuple, windows: list) -> list:
    """Per key with a window: (min, max, histogram of ``_BINS`` equal bins) of the values inside it."""
    out = []
    for column, window in zip(values(index, *args), windows):
        if window is None:
            out.append(None)
            continue
        inside = _inside(column, window)
        out.append((float(inside.min()) if len(inside) else np.inf, float(inside.max()) if len(inside) else -np.inf,
                    np.histogram(inside, bins=_edges(window[0], window[1]))[0]))
    return out


def _bin_task(index: int, values: Callable, args: tuple, windows: list) -> list:
    out = []
    for column, window in zip(values(index, *args), windows):
        if window is None:
            out.append(np.empty(0))
            continue
        out.append(np.sort(_inside(column, window)))
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
    ranks = list(choose(counts))
    windows, above, results = [None] * n_keys, [0] * n_keys, [None] * n_keys
    for key in range(n_keys):
        if ranks[key] is not None and 1 <= ranks[key] <= counts[key]:
            windows[key] = (min(part[key][1] for part in extents), max(part[key][2] for part in extents), True)
    split = list(windows)  # the windows histogrammed next round
    for round_ in range(_ROUNDS + 1):  # the last round only tells an all-equal window from one to gather
        if not any(window is not None for window in split):
            break
        histograms = engine.map(_histogram_task, range(partitions), values, args, split)
        for key, window in enumerate(split):
            if window is None:
                continue
            parts = [part[key] for part in histograms]
            if min(part[0] for part in parts) == max(part[1] for part in parts):  # all equal: the wanted value
                windows[key], results[key], split[key] = None, min(part[0] for part in parts), None
            elif round_ == _ROUNDS:
                split[key] = None
            else:
                windows[key], above[key], again = _narrow(window, parts, ranks[key] - above[key], above[key])
                split[key] = windows[key] if again else None
    gather = [window if results[key] is None else None for key, window in enumerate(windows)]
    inside = engine.map(_bin_task, range(partitions), values, args, gather) if any(gather) else []
    for key, window in enumerate(gather):
        if window is not None:
            candidates = np.sort(np.concatenate([part[key] for part in inside]))[::-1]
            results[key] = float(candidates[ranks[key] - above[key] - 1])
    return results


def _narrow(window: tuple, parts: list, rank: int, above: int) -> tuple:
    """One key's next window from its per-partition histograms of ``window``: the bin holding ``rank``
    (counted from the top of the window).

    Returns ``(window, above, again)``: the bin as the new window, the values above it, and whether
    it holds more than ``_GATHER`` values (split it again rather than gather it).
    """
    total = np.sum([part[2] for part in parts], axis=0)
    from_top = np.cumsum(total[::-1])
    top_bin = int(np.searchsorted(from_top, rank))  # bins counted from the highest
    bin_index = _BINS - 1 - top_bin
    edges = _edges(window[0], window[1])
    above += int(from_top[top_bin - 1]) if top_bin > 0 else 0
    narrowed = (edges[bin_index], edges[bin_index + 1], bool(window[2]) and bin_index == _BINS - 1)
    return narrowed, above, bool(total[bin_index] > _GATHER)


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
