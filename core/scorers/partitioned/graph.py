"""The neighbour graph the partitioned scorers share, in files on a shared disk; and its inverted-file search.

The scorers read the graph from :data:`GRAPH_INDICES` and :data:`GRAPH_DISTANCES` (:func:`read_graph`), rows in
data order. By default NN-descent writes them (:mod:`core.scorers.partitioned.descent`); with
``score_partitioned(search="ivf")`` (or ``clusters=`` / ``probes=``) the inverted-file index of
:mod:`core.foundation.cluster_index` searches them partition by partition:

1. the driver fits the list centroids on a sample (bounded size);
2. :func:`assign_task`: every partition finds the home list of each of its rows and counts its
   rows per home list;
3. :func:`place_task`: every partition copies its rows into the list-ordered matrix at slots the
   driver computed from the counts (a shuffle through a memory-mapped file);
4. :func:`probes_reaching_recall`: the driver measures, on a few hundred sampled rows with exact neighbours
   (:func:`exact_neighbours`), the fewest lists per row that reach the target recall@10, as the
   one-machine graph does (:func:`core.foundation.neighbors.choose_probes`): a fixed count loses
   recall as the rows grow;
5. :func:`search_task`: every partition finds the lists each block of its rows probes and searches
   them (:func:`probe_search`: each row's nearest list first, then the others under the distance that
   list set), reading one list at a time, and writes its rows of the neighbour graph.

Nothing here holds more than one partition and one list in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.partitions import PartitionedData, open_store
from core.foundation.cluster_index import nearest_clusters, probe_search, smallest
from core.foundation.neighbors import recall_of

HOMES = "homes.npy"
LIST_FEATURES = "lists_features.npy"
LIST_IDS = "lists_ids.npy"
GRAPH_INDICES = "graph_indices.npy"
GRAPH_DISTANCES = "graph_distances.npy"


#: Rows of a partition assigned, searched or checked at a time: a task's memory is bounded by this, not the partition.
QUERY_BLOCK = 65_536


def allocate(folder, shape: tuple, dtype, name: str) -> None:
    """Create an ``.npy`` file of ``shape`` in ``folder`` that tasks then fill slice by slice."""
    np.lib.format.open_memmap(Path(folder) / name, mode="w+", dtype=dtype, shape=shape).flush()


def assign_task(index: int, data: PartitionedData, scratch: str, centroids: np.ndarray) -> np.ndarray:
    """Write the home list of every row of partition ``index``; return its rows per home list."""
    part = data.partitions[index]
    X, _ = open_store(scratch)
    target = np.load(Path(scratch) / HOMES, mmap_mode="r+")
    counts = np.zeros(len(centroids), dtype=np.int64)
    for start in range(part.start, part.stop, QUERY_BLOCK):
        stop = min(start + QUERY_BLOCK, part.stop)
        home = nearest_clusters(X[start:stop], centroids, 1)[:, 0]
        target[start:stop] = home
        counts += np.bincount(home, minlength=len(centroids))
    target.flush()
    return counts


def list_slots(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From rows per (partition, list): where each list starts, and where each partition's share starts.

    Parameters
    ----------
    counts : ndarray of shape (n_partitions, n_lists)

    Returns
    -------
    bounds : ndarray of shape (n_lists + 1,)
        List ``c`` holds rows ``bounds[c]:bounds[c + 1]`` of the list-ordered matrix.
    slots : ndarray of shape (n_partitions, n_lists)
        First row of partition ``p``'s members of list ``c``; partitions follow each other in
        order inside a list, so ids ascend within every list.
    """
    totals = counts.sum(axis=0)
    bounds = np.concatenate([[0], np.cumsum(totals)]).astype(np.int64)
    before = np.cumsum(counts, axis=0) - counts
    return bounds, bounds[:-1][None, :] + before


def place_task(index: int, data: PartitionedData, scratch: str, slots: np.ndarray) -> int:
    """Copy partition ``index``'s rows into the list-ordered matrix at its slots."""
    part = data.partitions[index]
    X, _ = open_store(scratch)
    home = np.load(Path(scratch) / HOMES, mmap_mode="r")[part.start:part.stop].astype(np.int64)
    order = np.argsort(home, kind="stable")
    first = np.searchsorted(home[order], home[order], side="left")
    target_rows = slots[home[order]] + (np.arange(len(order)) - first)
    features = np.load(Path(scratch) / LIST_FEATURES, mmap_mode="r+")
    ids = np.load(Path(scratch) / LIST_IDS, mmap_mode="r+")
    features[target_rows] = X[part.start:part.stop][order]
    ids[target_rows] = part.start + order
    features.flush(), ids.flush()
    return part.rows


def list_reader(scratch: str, bounds: np.ndarray):
    """``block(c) -> (vectors, ids)`` over the list-ordered files (for :func:`probe_search`)."""
    features = np.load(Path(scratch) / LIST_FEATURES, mmap_mode="r")
    ids = np.load(Path(scratch) / LIST_IDS, mmap_mode="r")

    def block(cluster: int):
        rows = slice(int(bounds[cluster]), int(bounds[cluster + 1]))
        return features[rows], np.asarray(ids[rows])

    return block


def search_task(index: int, data: PartitionedData, scratch: str, bounds: np.ndarray, k: int,
                centroids: np.ndarray, probes: int) -> int:
    """Write the ``k`` nearest other rows of every row of partition ``index`` into the graph files,
    ``QUERY_BLOCK`` rows at a time (the search holds ``rows x probes x k`` candidates)."""
    part = data.partitions[index]
    X, _ = open_store(scratch)
    block = list_reader(scratch, bounds)

    graph_indices = np.load(Path(scratch) / GRAPH_INDICES, mmap_mode="r+")
    graph_distances = np.load(Path(scratch) / GRAPH_DISTANCES, mmap_mode="r+")
    for start in range(part.start, part.stop, QUERY_BLOCK):
        stop = min(start + QUERY_BLOCK, part.stop)
        queries = np.asarray(X[start:stop])
        probed = nearest_clusters(queries, centroids, probes)
        distances, indices = probe_search(queries, np.arange(start, stop), probed, block, k, len(bounds) - 1)
        graph_indices[start:stop] = indices
        graph_distances[start:stop] = distances
    graph_indices.flush(), graph_distances.flush()
    return part.rows


def read_graph(scratch: str, start: int, stop: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start:stop`` of the neighbour graph, first ``k`` neighbours: (indices, distances)."""
    indices = np.load(Path(scratch) / GRAPH_INDICES, mmap_mode="r")
    distances = np.load(Path(scratch) / GRAPH_DISTANCES, mmap_mode="r")
    return np.asarray(indices[start:stop, :k]), np.asarray(distances[start:stop, :k])


def exact_candidates_task(index: int, data: PartitionedData, scratch: str, queries: np.ndarray,
                          k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest rows of partition ``index`` to each query row (itself excluded), by brute force.

    Parameters
    ----------
    queries : ndarray of shape (n_queries,)
        Global positions of a few sampled rows.

    Returns
    -------
    distances, indices : ndarrays of shape (n_queries, k); the driver merges them over partitions.
    """
    part = data.partitions[index]
    X, _ = open_store(scratch)
    points = np.asarray(X[queries], dtype=np.float64)
    distances = np.full((len(queries), k), np.inf)
    indices = np.full((len(queries), k), -1, dtype=np.int64)
    for start in range(part.start, part.stop, QUERY_BLOCK):  # a running best k over blocks of rows
        stop = min(start + QUERY_BLOCK, part.stop)
        rows = np.asarray(X[start:stop], dtype=np.float64)
        squared = (points**2).sum(axis=1)[:, None] + (rows**2).sum(axis=1)[None, :] - 2.0 * points @ rows.T
        squared[queries[:, None] == np.arange(start, stop)[None, :]] = np.inf
        merged_d = np.concatenate([distances, squared], axis=1)
        merged_i = np.concatenate([indices, np.broadcast_to(np.arange(start, stop), squared.shape)], axis=1)
        distances, columns = smallest(merged_d, k)
        indices = np.take_along_axis(merged_i, columns, axis=1)
    return distances, indices


def exact_neighbours(engine, data: PartitionedData, scratch: str, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """The exact ``k`` nearest other rows of each sampled row in ``queries``, by brute force over every
    partition (one pass), shape (len(queries), k)."""
    found = engine.map(exact_candidates_task, range(len(data.partitions)), data, scratch, queries, k)
    distances = np.concatenate([d for d, _ in found], axis=1)
    indices = np.concatenate([i for _, i in found], axis=1)
    return np.take_along_axis(indices, smallest(distances, k)[1], axis=1)


def probes_reaching_recall(scratch: str, bounds: np.ndarray, centroids: np.ndarray, queries: np.ndarray,
                           exact: np.ndarray, target_recall: float, steps) -> int:
    """The fewest of ``steps`` lists per row whose search finds ``target_recall`` of the ``exact``
    neighbours of the sampled ``queries`` (every list, which is exact, when none does)."""
    X, _ = open_store(scratch)
    points = np.asarray(X[queries], dtype=np.float32)
    block, lists, k = list_reader(scratch, bounds), len(centroids), exact.shape[1]
    for probes in [p for p in steps if p < lists] + [lists]:
        probed = nearest_clusters(points, centroids, probes)
        _, found = probe_search(points, np.asarray(queries, dtype=np.int64), probed, block, k, lists)
        if recall_of(exact, found) >= target_recall:
            return int(probes)
    return int(lists)


def graph_recall(scratch: str, queries: np.ndarray, exact: np.ndarray) -> float:
    """Recall@k of the written neighbour graph on the sampled ``queries`` against their ``exact``
    neighbours (:func:`exact_neighbours`, shape (len(queries), k))."""
    graph = np.load(Path(scratch) / GRAPH_INDICES, mmap_mode="r")
    return recall_of(exact, np.asarray(graph[np.asarray(queries)][:, :exact.shape[1]]))
