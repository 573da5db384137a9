"""The neighbour index shared by all workers: k-means lists of every row, in files on a shared disk.

Built and searched partition by partition (:mod:`core.foundation.neighbors` has the cluster-probe
search these tasks run):

1. the driver fits the list centroids on a sample (bounded size);
2. :func:`assign_task`: every partition finds the lists each of its rows probes and counts its
   rows per home list;
3. :func:`place_task`: every partition copies its rows into the list-ordered matrix at slots the
   driver computed from the counts (a shuffle through a memory-mapped file);
4. :func:`search_task`: every partition searches its rows against the lists they probe, reading
   one list at a time, and writes its rows of the neighbour graph.

Nothing here holds more than one partition and one list in memory.

The search is an inverted file (Jegou et al. 2011), like the faiss index behind
:func:`core.foundation.neighbors.approximate_knn_graph` on one machine, but its lists live in
memory-mapped files any worker can read list by list, where faiss keeps the whole index in one
process's memory (which grows with n). With ``probes >= clusters`` the search is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from core.data.partitions import PartitionedData, open_store
from core.foundation.progress import CancelToken, check_cancelled
from core.foundation.seeds import rng

@dataclass
class ClusterIndex:
    """Centroids of a coarse k-means partition of the rows, and how many of them a query probes.

    A row lives in the list of its nearest centroid; a query compares itself with every row of
    the ``probes`` lists whose centroids are nearest to it. With ``probes == clusters`` the search
    is exact. Only the centroids are held here; the lists are whatever ``block(c)`` returns, so the
    rows can sit in memory, in a memory-mapped file or on a shared disk read by many workers.

    Attributes
    ----------
    centroids : ndarray of shape (n_clusters, n_features), float32
    probes : int
    """

    centroids: np.ndarray
    probes: int

    @property
    def clusters(self) -> int:
        return int(len(self.centroids))


def default_clusters(n_samples: int) -> int:
    """About ``sqrt(n)`` lists: a query then scans ``probes * sqrt(n)`` rows instead of ``n``."""
    return int(max(1, min(n_samples // 8, round(np.sqrt(n_samples)))))


def fit_cluster_index(sample: np.ndarray, clusters: int, probes: int, seed: int, steps: int = 10) -> ClusterIndex:
    """K-means centroids of a sample of the rows: random rows as the start, then ``steps`` Lloyd steps.

    Parameters
    ----------
    sample : ndarray of shape (n_sample, n_features)
        Rows to place the centroids; a few dozen rows per centroid is enough (the lists hold
        *all* rows later, so a poor centroid costs speed or recall, never correctness of distances).
    clusters, probes : int
    seed : int
        Seeds the starting rows.
    """
    sample = np.ascontiguousarray(sample, dtype=np.float32)
    clusters = int(max(1, min(clusters, len(sample))))
    generator = rng(seed, "cluster-index")
    centroids = sample[np.sort(generator.choice(len(sample), size=clusters, replace=False))].copy()
    for _ in range(steps):
        nearest = nearest_clusters(sample, centroids, 1)[:, 0]
        order = np.argsort(nearest, kind="stable")
        moved, starts = np.unique(nearest[order], return_index=True)  # an empty list keeps its centroid
        sums = np.add.reduceat(sample[order].astype(np.float64), starts, axis=0)
        centroids[moved] = (sums / np.diff(np.append(starts, len(order)))[:, None]).astype(np.float32)
    return ClusterIndex(centroids, int(max(1, min(probes, clusters))))


def nearest_clusters(X: np.ndarray, centroids: np.ndarray, count: int, chunk_size: int = 16384) -> np.ndarray:
    """The ``count`` nearest centroids of every row, nearest first, shape (n_samples, count), int64."""
    count = int(min(count, len(centroids)))
    centre_norms = (centroids * centroids).sum(axis=1)
    result = np.empty((len(X), count), dtype=np.int64)
    for start in range(0, len(X), chunk_size):
        rows = np.asarray(X[start:start + chunk_size], dtype=np.float32)
        squared = centre_norms[None, :] - 2.0 * rows @ centroids.T
        if count == 1:
            result[start:start + len(rows), 0] = squared.argmin(axis=1)
        else:
            result[start:start + len(rows)] = _smallest(squared, count)[1]
    return result


def _smallest(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest values per row and their columns, sorted ascending."""
    if values.shape[1] > k:
        part = np.argpartition(values, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(values.shape[1]), values.shape).copy()
    picked = np.take_along_axis(values, part, axis=1)
    order = np.argsort(picked, axis=1, kind="stable")
    return np.take_along_axis(picked, order, axis=1), np.take_along_axis(part, order, axis=1)


def probe_search(queries: np.ndarray, query_ids: np.ndarray, probes: np.ndarray, block, k: int,
                 n_clusters: int, *, query_chunk: int = 2048,
                 cancel: Optional[CancelToken] = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of each query among the rows of its probed lists (itself excluded).

    Works list by list: every list is read once and compared with all queries that probe it (one
    matrix product), and each query keeps its best ``k`` so far, so memory is O(queries * k) plus
    one list.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_features)
    query_ids : ndarray of shape (n_queries,), int64
        Global row ids of the queries; a listed row with the same id is the query itself.
    probes : ndarray of shape (n_queries, n_probes), int64
        Lists each query searches (:func:`nearest_clusters`).
    block : callable ``block(c) -> (vectors, ids)``
        Rows of list ``c``: float32 array of shape (m, n_features) and their int64 ids of shape (m,),
        in ascending id order.
    k : int
    n_clusters : int

    Returns
    -------
    distances : ndarray of shape (n_queries, k), float32, nearest first (inf where fewer than k rows were seen)
    indices : ndarray of shape (n_queries, k), int64 (-1 where fewer than k rows were seen)
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    n_probes = probes.shape[1]
    # each probed list leaves its best k in the query's slot for that list; one selection at the end
    found_d = np.full((len(queries), n_probes * k), np.inf, dtype=np.float32)
    found_i = np.full((len(queries), n_probes * k), -1, dtype=np.int64)
    query_norms = (queries * queries).sum(axis=1)
    flat_queries = np.repeat(np.arange(len(queries)), n_probes)
    flat_slots = np.tile(np.arange(n_probes), len(queries))
    flat_lists = probes.ravel()
    order = np.argsort(flat_lists, kind="stable")
    flat_queries, flat_slots, flat_lists = flat_queries[order], flat_slots[order], flat_lists[order]
    bounds = np.searchsorted(flat_lists, np.arange(n_clusters + 1))
    for cluster in np.flatnonzero(np.diff(bounds)):
        check_cancelled(cancel)
        vectors, ids = block(int(cluster))
        if len(ids) == 0:
            continue
        vectors = np.asarray(vectors, dtype=np.float32)
        vector_norms = (vectors * vectors).sum(axis=1)
        members = flat_queries[bounds[cluster]:bounds[cluster + 1]]
        slots = flat_slots[bounds[cluster]:bounds[cluster + 1]]
        for start in range(0, len(members), query_chunk):
            rows, slot = members[start:start + query_chunk], slots[start:start + query_chunk]
            squared = query_norms[rows, None] + vector_norms[None, :] - 2.0 * (queries[rows] @ vectors.T)
            at = np.minimum(np.searchsorted(ids, query_ids[rows]), len(ids) - 1)  # ids ascend within a list
            is_self = ids[at] == query_ids[rows]
            squared[np.flatnonzero(is_self), at[is_self]] = np.inf
            width = min(k, len(ids))
            _, top_c = _smallest(squared, width)
            # the expansion above loses digits to cancellation; the few kept pairs are measured directly
            difference = queries[rows][:, None, :] - vectors[top_c]
            top_d = np.einsum("ikd,ikd->ik", difference, difference, dtype=np.float64).astype(np.float32)
            top_d[~np.isfinite(np.take_along_axis(squared, top_c, axis=1))] = np.inf  # the query itself
            columns = slot[:, None] * k + np.arange(width)[None, :]
            found_d[rows[:, None], columns] = top_d
            found_i[rows[:, None], columns] = ids[top_c]
    best_d, best_c = _smallest(found_d, k)
    return np.sqrt(np.maximum(best_d, 0.0)), np.take_along_axis(found_i, best_c, axis=1)


PROBES = "probes.npy"
LIST_FEATURES = "lists_features.npy"
LIST_IDS = "lists_ids.npy"
GRAPH_INDICES = "graph_indices.npy"
GRAPH_DISTANCES = "graph_distances.npy"


def allocate(folder, shape: tuple, dtype, name: str) -> None:
    """Create an ``.npy`` file of ``shape`` in ``folder`` that tasks then fill slice by slice."""
    np.lib.format.open_memmap(Path(folder) / name, mode="w+", dtype=dtype, shape=shape).flush()


def assign_task(index: int, data: PartitionedData, scratch: str, centroids: np.ndarray, probes: int) -> np.ndarray:
    """Write the lists each row of partition ``index`` probes; return its rows per home list."""
    part = data.partitions[index]
    X, _ = open_store(scratch)
    probed = nearest_clusters(X[part.start:part.stop], centroids, probes)
    target = np.load(Path(scratch) / PROBES, mmap_mode="r+")
    target[part.start:part.stop] = probed
    target.flush()
    return np.bincount(probed[:, 0], minlength=len(centroids))


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
    home = np.load(Path(scratch) / PROBES, mmap_mode="r")[part.start:part.stop, 0].astype(np.int64)
    order = np.argsort(home, kind="stable")
    first = np.searchsorted(home[order], home[order], side="left")
    target_rows = slots[home[order]] + (np.arange(len(order)) - first)
    features = np.load(Path(scratch) / LIST_FEATURES, mmap_mode="r+")
    ids = np.load(Path(scratch) / LIST_IDS, mmap_mode="r+")
    features[target_rows] = X[part.start:part.stop][order]
    ids[target_rows] = part.start + order
    features.flush(), ids.flush()
    return part.rows


def search_task(index: int, data: PartitionedData, scratch: str, bounds: np.ndarray, k: int) -> int:
    """Write the ``k`` nearest other rows of every row of partition ``index`` into the graph files."""
    part = data.partitions[index]
    X, _ = open_store(scratch)
    probed = np.load(Path(scratch) / PROBES, mmap_mode="r")[part.start:part.stop].astype(np.int64)
    features = np.load(Path(scratch) / LIST_FEATURES, mmap_mode="r")
    ids = np.load(Path(scratch) / LIST_IDS, mmap_mode="r")

    def block(cluster: int):
        rows = slice(int(bounds[cluster]), int(bounds[cluster + 1]))
        return features[rows], np.asarray(ids[rows])

    distances, indices = probe_search(np.asarray(X[part.start:part.stop]), np.arange(part.start, part.stop),
                                      probed, block, k, len(bounds) - 1)
    graph_indices = np.load(Path(scratch) / GRAPH_INDICES, mmap_mode="r+")
    graph_distances = np.load(Path(scratch) / GRAPH_DISTANCES, mmap_mode="r+")
    graph_indices[part.start:part.stop] = indices
    graph_distances[part.start:part.stop] = distances
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
    rows = np.asarray(X[part.start:part.stop], dtype=np.float64)
    points = np.asarray(X[queries], dtype=np.float64)
    squared = (points**2).sum(axis=1)[:, None] + (rows**2).sum(axis=1)[None, :] - 2.0 * points @ rows.T
    squared[queries[:, None] == np.arange(part.start, part.stop)[None, :]] = np.inf
    width = min(k, part.rows)
    nearest, columns = _smallest(squared, width)
    distances = np.full((len(queries), k), np.inf)
    indices = np.full((len(queries), k), -1, dtype=np.int64)
    distances[:, :width], indices[:, :width] = nearest, part.start + columns
    return distances, indices


def graph_recall(engine, data: PartitionedData, scratch: str, queries: np.ndarray, k: int = 10) -> float:
    """Recall@k of the written neighbour graph against exact neighbours of the sampled ``queries``."""
    found = engine.map(exact_candidates_task, range(len(data.partitions)), data, scratch, queries, k)
    distances = np.concatenate([d for d, _ in found], axis=1)
    indices = np.concatenate([i for _, i in found], axis=1)
    exact = np.take_along_axis(indices, _smallest(distances, k)[1], axis=1)
    graph = np.load(Path(scratch) / GRAPH_INDICES, mmap_mode="r")
    hits = sum(len(np.intersect1d(exact[q], graph[row, :k])) for q, row in enumerate(queries))
    return hits / float(len(queries) * k)
