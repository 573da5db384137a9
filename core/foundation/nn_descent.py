"""NN-descent: a k-nearest-neighbour graph refined by comparing each row with its neighbours' neighbours.

Dong, Charikar & Li (2011), "Efficient k-nearest neighbor graph construction for generic similarity
measures": a neighbour of a neighbour is likely a neighbour, so starting from a rough graph, rounds of
"local joins" converge to the true graph, each round costing a bounded number of distances per row.
The rough graph here is the leaves of two random-projection trees (each split is the hyperplane halfway
between two random rows of the node, as in pynndescent), an ``n log n`` build.

The kernels are written for the partitioned path (:mod:`core.scorers.partitioned.graph`), where a task
owns a block of rows and may only write that block:

- rows are numbered by their position in the first tree (rows near each other in space are near each
  other in memory, which keeps the gathers of neighbours' rows in cache);
- a round *pulls*: every row of a block compares itself with the neighbours (and reverse neighbours) of its
  newly found neighbours and reverse neighbours, reading the previous round's graph and writing its own
  rows of the next one, so blocks can run anywhere in any order and give the same graph;
- the reverse neighbours are a bounded sample (:data:`REVERSE_SLOTS` per row, a hash of the source picks
  the slot), written by one sequential pass per round.

Distances are squared euclidean in float32 from direct differences (no expansion), exact for the pairs
compared. Compiled by numba (``cache=True``: compiled once per installation, then loaded).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Rows per leaf of the random-projection trees the first graph is read from.
LEAF_SIZE = 100
#: Newly found neighbours each row draws candidates from per round (the nearest new ones).
NEW_SOURCES = 16
#: Neighbours of each source a row compares itself with (the source's nearest).
TAKE = 16
#: Old neighbours whose new neighbours a row also compares itself with.
OLD_SOURCES = 8
#: Reverse neighbours kept per row and round.
REVERSE_SLOTS = 16
#: Most rounds; the caller stops earlier once the graph reaches its recall target or stops changing.
MAX_ROUNDS = 15
#: A round that changes fewer than this share of the graph's entries ends the descent (converged).
CONVERGED = 0.001


@njit(cache=True)
def rp_tree(X, leaf_size, seed):
    """Leaves of a random-projection tree over the rows of ``X``.

    Returns ``(perm, starts)``: leaf ``i`` holds rows ``perm[starts[i]:starts[i + 1]]``; leaves hold at most
    ``leaf_size`` rows. A split that leaves one side empty (copies) falls back to random halves.
    """
    np.random.seed(seed)
    n, dim = X.shape
    perm = np.arange(n)
    side = np.empty(n, np.float32)
    normal = np.empty(dim, np.float32)
    stack_start = np.empty(256, np.int64)
    stack_stop = np.empty(256, np.int64)
    stack_start[0], stack_stop[0], top = 0, n, 1
    leaf_starts = np.empty(n + 1, np.int64)
    leaves = 0
    while top > 0:
        top -= 1
        start, stop = stack_start[top], stack_stop[top]
        if stop - start <= leaf_size:
            leaf_starts[leaves] = start
            leaves += 1
            continue
        a = perm[start + np.random.randint(stop - start)]
        b = perm[start + np.random.randint(stop - start)]
        offset = np.float32(0.0)
        for j in range(dim):
            normal[j] = X[a, j] - X[b, j]
            offset += normal[j] * (X[a, j] + X[b, j]) * np.float32(0.5)
        for i in range(start, stop):
            value = np.float32(0.0)
            row = perm[i]
            for j in range(dim):
                value += X[row, j] * normal[j]
            side[i] = value - offset
        low, high = start, stop - 1
        while low <= high:
            if side[low] < 0:
                low += 1
            else:
                perm[low], perm[high] = perm[high], perm[low]
                side[low], side[high] = side[high], side[low]
                high -= 1
        middle = low
        if middle == start or middle == stop:
            for i in range(stop - 1, start, -1):
                other = start + np.random.randint(i - start + 1)
                perm[i], perm[other] = perm[other], perm[i]
            middle = (start + stop) // 2
        stack_start[top], stack_stop[top] = middle, stop
        stack_start[top + 1], stack_stop[top + 1] = start, middle
        top += 2
    starts = np.empty(leaves + 1, np.int64)
    starts[:leaves] = np.sort(leaf_starts[:leaves])
    starts[leaves] = n
    return perm, starts


@njit(cache=True, fastmath=True)
def _offer(X, u, w, indices, distances, new, k):
    """Insert row ``w`` into row ``u``'s sorted list (arrays of one row) if nearer than its farthest; 1 if inserted."""
    squared = np.float32(0.0)
    for j in range(X.shape[1]):
        t = X[u, j] - X[w, j]
        squared += t * t
    if squared >= distances[k - 1]:
        return 0
    p = k - 1
    while p > 0 and distances[p - 1] > squared:
        indices[p], distances[p], new[p] = indices[p - 1], distances[p - 1], new[p - 1]
        p -= 1
    indices[p], distances[p], new[p] = w, squared, 1
    return 1


@njit(cache=True)
def _mix(x):
    h = (np.uint64(x) + np.uint64(0x632BE59BD9B4E019)) * np.uint64(0x9E3779B97F4A7C15)
    return h ^ (h >> np.uint64(31))


@njit(cache=True)
def _seen(table, stamps, stamp, x):
    """Open-addressing set of the row ids a row has compared itself with; True if ``x`` was already in it."""
    mask = table.shape[0] - 1
    slot = np.int64(_mix(x) & np.uint64(mask))
    while True:
        if stamps[slot] != stamp:
            stamps[slot], table[slot] = stamp, x
            return False
        if table[slot] == x:
            return True
        slot = (slot + 1) & mask


@njit(cache=True, fastmath=True)
def init_block(X, start, stop, leaf_starts, perm2, position2, leaf_starts2, leaf2, indices, distances, new, seed):
    """The first graph of rows ``start:stop`` (tree-1 positions): each row offered every other row of its leaf
    in both trees; a list the leaves could not fill is filled with random rows. Writes ``indices``,
    ``distances`` (squared) and ``new`` of shape (stop - start, k); all entries are new."""
    n, k = X.shape[0], indices.shape[1]
    table = np.empty(4096, np.int64)
    stamps = np.zeros(4096, np.int64)
    for u in range(start, stop):
        row = u - start
        for j in range(k):
            indices[row, j], distances[row, j], new[row, j] = -1, np.inf, 1
        _seen(table, stamps, u + 1, u)
        leaf = np.searchsorted(leaf_starts, u, side="right") - 1
        for w in range(leaf_starts[leaf], leaf_starts[leaf + 1]):
            if not _seen(table, stamps, u + 1, w):
                _offer(X, u, w, indices[row], distances[row], new[row], k)
        leaf = leaf2[position2[u]]
        for p in range(leaf_starts2[leaf], leaf_starts2[leaf + 1]):
            w = perm2[p]
            if not _seen(table, stamps, u + 1, w):
                _offer(X, u, w, indices[row], distances[row], new[row], k)
        draw = np.uint64(seed) * np.uint64(n) + np.uint64(u)
        tries = 0
        while indices[row, k - 1] < 0 and tries < 4 * k:
            draw = _mix(draw)
            w = np.int64(draw % np.uint64(n))
            tries += 1
            if not _seen(table, stamps, u + 1, w):
                _offer(X, u, w, indices[row], distances[row], new[row], k)
        w = 0
        while indices[row, k - 1] < 0 and w < n and n <= 2048:  # tiny data: every row
            if not _seen(table, stamps, u + 1, w):
                _offer(X, u, w, indices[row], distances[row], new[row], k)
            w += 1


@njit(cache=True)
def reverse_sample(indices, new, reverse, salt):
    """Fill ``reverse`` (n, slots) with a sample of each row's reverse neighbours along new edges (-1: empty)."""
    n, k = indices.shape
    slots = reverse.shape[1]
    for u in range(n):
        for j in range(slots):
            reverse[u, j] = -1
    for u in range(n):
        slot = np.int64((_mix(np.uint64(u) + np.uint64(salt))) % np.uint64(slots))
        for j in range(k):
            if new[u, j]:
                reverse[indices[u, j], slot] = u


@njit(cache=True, fastmath=True)
def join_block(X, indices, distances, new, reverse, start, stop, out_indices, out_distances, out_new,
               new_sources, take, old_sources):
    """One round for rows ``start:stop``: each row offered the nearest ``take`` neighbours and the reverse
    neighbours of its nearest ``new_sources`` new neighbours and of its reverse neighbours, and the new
    neighbours of its nearest ``old_sources`` old ones. Reads the previous round's graph (whole arrays), writes
    the block's rows of the next (``out_*``, shape (stop - start, k)); returns (entries changed, distances computed)."""
    k = indices.shape[1]
    slots = reverse.shape[1]
    table = np.empty(8192, np.int64)
    stamps = np.zeros(8192, np.int64)
    sources = np.empty(new_sources + slots, np.int64)
    changed = 0
    computed = 0
    for u in range(start, stop):
        row = u - start
        stamp = u + 1
        mine_i, mine_d, mine_n = out_indices[row], out_distances[row], out_new[row]
        for j in range(k):
            mine_i[j], mine_d[j], mine_n[j] = indices[u, j], distances[u, j], 0
            _seen(table, stamps, stamp, indices[u, j])
        _seen(table, stamps, stamp, u)
        count = 0
        for j in range(k):
            if new[u, j] and count < new_sources:
                sources[count] = indices[u, j]
                count += 1
        for j in range(slots):
            if reverse[u, j] >= 0:
                sources[count] = reverse[u, j]
                count += 1
        for a in range(count):
            v = sources[a]
            for j in range(take):
                w = indices[v, j]
                if not _seen(table, stamps, stamp, w):
                    changed += _offer(X, u, w, mine_i, mine_d, mine_n, k)
                    computed += 1
            for j in range(slots):
                w = reverse[v, j]
                if w >= 0 and not _seen(table, stamps, stamp, w):
                    changed += _offer(X, u, w, mine_i, mine_d, mine_n, k)
                    computed += 1
        old = 0
        for j in range(k):
            if old >= old_sources:
                break
            if not new[u, j]:
                old += 1
                v = indices[u, j]
                for jj in range(k):
                    if new[v, jj]:
                        w = indices[v, jj]
                        if not _seen(table, stamps, stamp, w):
                            changed += _offer(X, u, w, mine_i, mine_d, mine_n, k)
                            computed += 1
    return changed, computed


def leaf_of_position(starts: np.ndarray) -> np.ndarray:
    """The leaf of every tree position, from the leaves' ``starts``."""
    return np.repeat(np.arange(len(starts) - 1, dtype=np.int32), np.diff(starts))
