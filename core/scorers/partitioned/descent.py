"""The partitioned scorers' shared neighbour graph by NN-descent (:mod:`core.foundation.nn_descent`), in files.

The inverted file (:mod:`core.scorers.partitioned.graph`) scans ``sqrt(n)`` lists of ``sqrt(n)`` rows and
needs more of them as the rows grow, so its cost grows about as ``n^1.5``. NN-descent's cost per row and
round is bounded and it needs about one round more per extra 10x rows: its graph stage grew as ``n^1.2``
(``benchmarks/scale.py --mode cluster --search nndescent``). The stages, each a map of tasks:

1. two random-projection trees, one task each (:func:`tree_task`), then :func:`link_task` numbers the rows
   by their position in the first (rows near in space, near in the files) and places the second's leaves
   in those positions;
2. :func:`order_task`: blocks of positions copy their rows from the feature store into position order;
3. :func:`init_task`: blocks of positions write the first graph (every row offered its leaves' rows);
4. rounds: :func:`reverse_task` (one task: a bounded sample of reverse neighbours), then :func:`join_task`
   over blocks of positions, each reading the previous round's graph and writing its rows of the next; the
   driver stops at the first round whose recall@10 on the calibration rows reaches the target (or when a
   round changes almost nothing);
5. :func:`write_task`: every partition writes its rows of the graph the scorers read
   (:data:`~core.scorers.partitioned.graph.GRAPH_INDICES`, row ids and euclidean distances, nearest first).

A block task holds one block of rows of its own and reads the rest memory-mapped; the tree and link tasks hold
a few integer arrays of the rows' length (at most 36 bytes a row: 180 MB at 5M rows), none goes to the driver.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from core.data.partitions import PartitionedData, open_store
from core.foundation import nn_descent
from core.foundation.neighbors import recall_of
from core.scorers.partitioned.graph import GRAPH_DISTANCES, GRAPH_INDICES, allocate

#: Positions per block task (order, init, join).
BLOCK = 16_384

_PERM = "descent_perm_{}.npy"
_STARTS = "descent_starts_{}.npy"
_POSITION = "descent_position.npy"
_POSITION2 = "descent_position_2.npy"
_LEAF2 = "descent_leaf_2.npy"
_FEATURES = "descent_features.npy"
_INDICES = "descent_indices_{}.npy"
_DISTANCES = "descent_distances_{}.npy"
_NEW = "descent_new_{}.npy"
_REVERSE = "descent_reverse.npy"


def _load(scratch: str, name: str, mode: str = "r"):
    return np.load(Path(scratch) / name, mmap_mode=mode)


def tree_task(tree: int, scratch: str, seed: int) -> int:
    """Build random-projection tree ``tree`` (1 or 2) over the feature store; write its leaf order and leaf starts."""
    X, _ = open_store(scratch)
    perm, starts = nn_descent.rp_tree(X, nn_descent.LEAF_SIZE, int(seed) * 2 + tree)
    np.save(Path(scratch) / _PERM.format(tree), perm)
    np.save(Path(scratch) / _STARTS.format(tree), starts)
    return int(len(starts) - 1)


def link_task(scratch: str) -> int:
    """Number rows by their place in tree 1 and express tree 2 in those numbers (positions)."""
    folder = Path(scratch)
    perm = np.load(folder / _PERM.format(1))
    n = len(perm)
    position = np.empty(n, np.int64)
    position[perm] = np.arange(n)
    np.save(folder / _POSITION, position)
    perm2 = position[np.load(folder / _PERM.format(2))]  # tree 2's leaf order, in positions
    np.save(folder / _PERM.format(2), perm2)
    position2 = np.empty(n, np.int64)
    position2[perm2] = np.arange(n)
    np.save(folder / _POSITION2, position2)
    np.save(folder / _LEAF2, nn_descent.leaf_of_position(np.load(folder / _STARTS.format(2))))
    return n


def order_task(start: int, scratch: str, n: int) -> int:
    """Copy the rows of positions ``start:start + BLOCK`` from the feature store into position order."""
    stop = min(start + BLOCK, n)
    X, _ = open_store(scratch)
    rows = np.asarray(_load(scratch, _PERM.format(1))[start:stop])
    order = np.argsort(rows)  # read the store in ascending rows, place them back in position order
    block = np.empty((stop - start, X.shape[1]), np.float32)
    block[order] = X[rows[order]]
    target = _load(scratch, _FEATURES, "r+")
    target[start:stop] = block
    target.flush()
    return stop - start


def init_task(start: int, scratch: str, n: int, seed: int) -> int:
    """Write the first graph of positions ``start:start + BLOCK`` (buffer 0)."""
    stop = min(start + BLOCK, n)
    features = _load(scratch, _FEATURES)
    indices, distances, new = (_load(scratch, name.format(0), "r+") for name in (_INDICES, _DISTANCES, _NEW))
    nn_descent.init_block(features, start, stop, _load(scratch, _STARTS.format(1)), _load(scratch, _PERM.format(2)),
                          _load(scratch, _POSITION2), _load(scratch, _STARTS.format(2)), _load(scratch, _LEAF2),
                          indices[start:stop], distances[start:stop], new[start:stop], int(seed))
    for array in (indices, distances, new):
        array.flush()
    return stop - start


def reverse_task(buffer: int, scratch: str, salt: int) -> int:
    """Write the reverse-neighbour sample of graph ``buffer``."""
    reverse = _load(scratch, _REVERSE, "r+")
    nn_descent.reverse_sample(_load(scratch, _INDICES.format(buffer)), _load(scratch, _NEW.format(buffer)), reverse,
                              int(salt))
    reverse.flush()
    return int(reverse.shape[0])


def join_task(start: int, scratch: str, n: int, buffer: int) -> tuple:
    """One round for positions ``start:start + BLOCK``: read graph ``buffer``, write the other; returns
    (entries changed, distances computed)."""
    stop = min(start + BLOCK, n)
    out = [_load(scratch, name.format(1 - buffer), "r+") for name in (_INDICES, _DISTANCES, _NEW)]
    changed, computed = nn_descent.join_block(
        _load(scratch, _FEATURES), _load(scratch, _INDICES.format(buffer)), _load(scratch, _DISTANCES.format(buffer)),
        _load(scratch, _NEW.format(buffer)), _load(scratch, _REVERSE), start, stop,
        out[0][start:stop], out[1][start:stop], out[2][start:stop],
        nn_descent.NEW_SOURCES, nn_descent.TAKE, nn_descent.OLD_SOURCES)
    for array in out:
        array.flush()
    return int(changed), int(computed)


def _in_row_ids(scratch: str, buffer: int, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest neighbours graph ``buffer`` holds for the given rows (ids): their row ids and squared
    distances, nearest first."""
    places = np.asarray(_load(scratch, _POSITION)[rows])
    found = np.asarray(_load(scratch, _INDICES.format(buffer))[places][:, :k])
    ids = np.asarray(_load(scratch, _PERM.format(1))[found.ravel()]).reshape(found.shape)
    return ids, np.asarray(_load(scratch, _DISTANCES.format(buffer))[places][:, :k])


def write_task(index: int, data: PartitionedData, scratch: str, buffer: int) -> int:
    """Write partition ``index``'s rows of the scorers' graph files from graph ``buffer``."""
    part = data.partitions[index]
    graph_indices, graph_distances = _load(scratch, GRAPH_INDICES, "r+"), _load(scratch, GRAPH_DISTANCES, "r+")
    for start in range(part.start, part.stop, BLOCK):
        stop = min(start + BLOCK, part.stop)
        ids, squared = _in_row_ids(scratch, buffer, np.arange(start, stop), graph_indices.shape[1])
        graph_indices[start:stop], graph_distances[start:stop] = ids, np.sqrt(squared)
    graph_indices.flush(), graph_distances.flush()
    return part.rows


def build(engine, data: PartitionedData, scratch: str, k: int, calibration, target_recall: float, seed: int,
          progress=None) -> tuple[dict, dict]:
    """Build the shared graph by NN-descent into the scorers' graph files.

    Returns what to record (rounds, the calibration recall@10 after each, the distances computed per row:
    ``work_per_row``) and, apart, the wall seconds of each step (this run's machine and load)."""
    n, folder = data.n_samples, Path(scratch)
    blocks = range(0, n, BLOCK)
    seconds, started = {}, time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        seconds[name] = round(seconds.get(name, 0.0) + time.perf_counter() - started, 3)
        started = time.perf_counter()

    engine.map(tree_task, [1, 2], scratch, seed)
    engine.map(link_task, [scratch])
    lap("trees")
    allocate(folder, (n, data.n_features), np.float32, _FEATURES)
    engine.map(order_task, blocks, scratch, n)
    lap("rows in tree order")
    for buffer in (0, 1):
        allocate(folder, (n, k), np.int32, _INDICES.format(buffer))
        allocate(folder, (n, k), np.float32, _DISTANCES.format(buffer))
        allocate(folder, (n, k), np.uint8, _NEW.format(buffer))
    allocate(folder, (n, nn_descent.REVERSE_SLOTS), np.int32, _REVERSE)
    engine.map(init_task, blocks, scratch, n, seed)
    lap("first graph from the leaves")
    buffer, recalls, computed = 0, [], 0
    for round_ in range(nn_descent.MAX_ROUNDS):
        engine.map(reverse_task, [buffer], scratch, seed * 7919 + round_)
        counts = engine.map(join_task, blocks, scratch, n, buffer)
        buffer = 1 - buffer
        changed = sum(c for c, _ in counts)
        computed += sum(c for _, c in counts)
        if calibration is not None:
            rows, exact = calibration
            recalls.append(round(recall_of(exact, _in_row_ids(scratch, buffer, rows, exact.shape[1])[0]), 4))
        else:
            recalls.append(None)
        lap("rounds")
        if progress is not None:
            progress(round_ + 1, recalls[-1])
        reached = recalls[-1] is not None and recalls[-1] >= target_recall
        if reached or changed < nn_descent.CONVERGED * n * k:
            break
    allocate(folder, (n, k), np.int64, GRAPH_INDICES)
    allocate(folder, (n, k), np.float32, GRAPH_DISTANCES)
    engine.map(write_task, range(len(data.partitions)), data, scratch, buffer)
    lap("graph files written")
    for name in (_FEATURES, _REVERSE) + tuple(t.format(b) for t in (_INDICES, _DISTANCES, _NEW) for b in (0, 1)):
        (folder / name).unlink(missing_ok=True)
    return {"rounds": len(recalls), "calibration_recall_by_round": recalls,
            "work_per_row": round(computed / max(n, 1), 1)}, seconds
