"""An inverted-file (IVF) neighbour index whose lists can live anywhere: in memory, a memory-mapped
file or a shared disk read by many workers.

Coarse k-means lists (Jegou et al. 2011), like the faiss index behind
:func:`core.foundation.neighbors.approximate_knn_graph` on one machine, but only the centroids are held
here; :func:`probe_search` reads the lists through a ``block(c)`` callable one at a time (each at most
twice: as the nearest list of some queries, then as another probe), so memory stays O(queries * probes * k)
plus one list. With ``probes >= clusters`` the search is exact. The partitioned
scorers build their shared graph with it (:mod:`core.scorers.partitioned.graph`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

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
            result[start:start + len(rows)] = smallest(squared, count)[1]
    return result


def smallest(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest values per row and their columns, sorted ascending."""
    part = _smallest_columns(values, k)
    picked = np.take_along_axis(values, part, axis=1)
    order = np.argsort(picked, axis=1, kind="stable")
    return np.take_along_axis(picked, order, axis=1), np.take_along_axis(part, order, axis=1)


#: Below this share of ``|q-c|^2 + |v-c|^2`` a pair's expanded distance has lost most of its digits (float32
#: keeps about 7): such pairs (near copies) are measured directly.
CANCELLATION = 1e-3


def probe_search(queries: np.ndarray, query_ids: np.ndarray, probes: np.ndarray, block, k: int,
                 n_clusters: int, *, query_chunk: int = 2048,
                 cancel: Optional[CancelToken] = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of each query among the rows of its probed lists (itself excluded).

    Works list by list: every list is read and compared with all queries that probe it (one matrix
    product), so memory is O(queries * probes * k) plus one list. Two passes: first each query's
    first probe (its nearest list), whose best ``k`` give it a distance to beat; then its other
    lists, where only rows under that distance can enter its best ``k``. Few do, so the per-row
    selection of a list's best ``k`` (the costliest step once the product is done) runs once per
    query instead of once per probed list. The result does not depend on the order of ``probes``;
    the speed does.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_features)
    query_ids : ndarray of shape (n_queries,), int64
        Global row ids of the queries; a listed row with the same id is the query itself.
    probes : ndarray of shape (n_queries, n_probes), int64
        Lists each query searches, nearest first (:func:`nearest_clusters`).
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
    n_queries, n_probes = probes.shape
    # each probed list leaves its candidates in the query's k columns for that list; one selection at the end
    found = (np.full((n_queries, n_probes * k), np.inf, dtype=np.float32),
             np.full((n_queries, n_probes * k), -1, dtype=np.int64))
    search = _ListScan(queries, np.asarray(query_ids), block, k, found, query_chunk, cancel)
    every = np.arange(n_queries)
    search.run(every, np.zeros(n_queries, dtype=np.int64), probes[:, 0], n_clusters, bound=None)
    if n_probes > 1 and k > 0:
        beat = np.partition(found[0][:, :k], k - 1, axis=1)[:, k - 1]  # inf while the first list held fewer
        search.run(np.repeat(every, n_probes - 1), np.tile(np.arange(1, n_probes), n_queries),
                   probes[:, 1:].ravel(), n_clusters, bound=beat)
    best_d, best_c = smallest(found[0], k)
    return np.sqrt(np.maximum(best_d, 0.0)), np.take_along_axis(found[1], best_c, axis=1)


class _ListScan:
    """One pass of :func:`probe_search` over the lists: (query, slot, list) triples, read list by list."""

    def __init__(self, queries, query_ids, block, k, found, query_chunk, cancel):
        self.queries, self.query_ids, self.block, self.k = queries, query_ids, block, k
        self.found_d, self.found_i = found
        self.query_chunk, self.cancel = query_chunk, cancel

    def run(self, members, slots, lists, n_clusters: int, bound: Optional[np.ndarray]) -> None:
        order = np.argsort(lists, kind="stable")
        members, slots = members[order], slots[order]
        bounds = np.searchsorted(lists[order], np.arange(n_clusters + 1))
        for cluster in np.flatnonzero(np.diff(bounds)):
            check_cancelled(self.cancel)
            vectors, ids = self.block(int(cluster))
            if len(ids) == 0:
                continue
            vectors = np.asarray(vectors, dtype=np.float32)
            # distances by the expansion |q-c|^2 + |v-c|^2 - 2 (q-c).(v-c) about the list's own mean c: the terms
            # are then about as large as the distances themselves, so float32 keeps them to about 1e-6
            centre = vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
            centred = vectors - centre
            vector_norms = np.einsum("ij,ij->i", centred, centred)
            here = slice(bounds[cluster], bounds[cluster + 1])
            for start in range(0, here.stop - here.start, self.query_chunk):
                rows = members[here][start:start + self.query_chunk]
                local = self.queries[rows] - centre
                local_norms = np.einsum("ij,ij->i", local, local)
                squared = local_norms[:, None] + vector_norms[None, :]
                squared -= 2.0 * (local @ centred.T)
                at = np.minimum(np.searchsorted(ids, self.query_ids[rows]), len(ids) - 1)  # ids ascend in a list
                is_self = ids[at] == self.query_ids[rows]
                squared[np.flatnonzero(is_self), at[is_self]] = np.inf
                row, column, rank = _candidates(squared, min(self.k, len(ids)),
                                                None if bound is None else bound[rows])
                values = squared[row, column]
                # a near copy's distance is all cancellation: those few pairs are measured directly
                close = np.flatnonzero(values < CANCELLATION * (local_norms[row] + vector_norms[column]))
                if len(close):
                    difference = self.queries[rows[row[close]]] - vectors[column[close]]
                    values[close] = np.einsum("ij,ij->i", difference, difference, dtype=np.float64)
                target = slots[here][start:start + self.query_chunk][row] * self.k + rank
                self.found_d[rows[row], target] = values
                self.found_i[rows[row], target] = ids[column]


def _candidates(squared: np.ndarray, width: int, bound: Optional[np.ndarray]) -> tuple:
    """Per row of ``squared``, its ``width`` smallest columns, or (with ``bound``) those of them under the
    row's bound: (row, column, rank) arrays; ranks are 0.. within a row, in no particular order."""
    if bound is None:
        column = _smallest_columns(squared, width)
        n_rows, width = column.shape
        return np.repeat(np.arange(n_rows), width), column.ravel(), np.tile(np.arange(width), n_rows)
    row, column = np.nonzero(squared < bound[:, None])
    order = np.lexsort((squared[row, column], row))
    row, column = row[order], column[order]
    rank = np.arange(len(row)) - np.searchsorted(row, row, side="left")
    kept = rank < width
    return row[kept], column[kept], rank[kept]


def _smallest_columns(values: np.ndarray, k: int) -> np.ndarray:
    """Columns of the ``k`` smallest values per row (all columns where a row has ``k`` or fewer), in no order."""
    if values.shape[1] > k:
        return np.argpartition(values, k - 1, axis=1)[:, :k]
    return np.broadcast_to(np.arange(values.shape[1]), values.shape)
