"""Coreset selectors: choose ``budget`` rows directly from the feature matrix.

Plain functions returning row positions; :mod:`core.selection` wires them into the strategies
``kcenter``, ``kmeans-diversity`` and ``facility-location``. Each is deterministic for a seed,
reports progress, can be cancelled between chunks, and needs O(n * k) memory, never O(n^2).
"""

from __future__ import annotations

import heapq
from typing import Optional

import numpy as np

from core.foundation.neighbors import knn_graph
from core.foundation.seeds import rng
from core.foundation.progress import CancelToken, ProgressFn, check_cancelled, report, scaled
from core.selection.algorithms import proportional_quotas


def _prepared(X, budget) -> tuple[np.ndarray, int]:
    """``X`` as float32 and the budget clipped to ``[0, n_samples]``."""
    X = np.asarray(X, dtype=np.float32)
    return X, int(min(max(int(budget), 0), len(X)))


def k_center_greedy(
    X: np.ndarray,
    budget: int,
    seed: int = 0,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
    *,
    chunk: int = 256,
) -> np.ndarray:
    """Greedy k-center (Sener and Savarese 2018): repeatedly add the row farthest from the chosen set.

    The result covers the feature space evenly: it minimises (within a factor of two) the largest
    distance from any row to its nearest chosen row. The first row is drawn with ``seed``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    budget : int
        Rows to choose (clipped to ``[0, n_samples]``).

    Returns
    -------
    ndarray of shape (budget,), int64
        Chosen row positions, in the order they were picked.
    """
    X, budget = _prepared(X, budget)
    n_samples = len(X)
    if budget == 0:
        return np.zeros(0, dtype=np.int64)
    squared_norms = np.einsum("ij,ij->i", X, X)
    chosen = np.empty(budget, dtype=np.int64)
    chosen[0] = rng(seed).integers(n_samples)
    nearest = np.full(n_samples, np.inf, dtype=np.float32)
    for step in range(budget):
        if step % chunk == 0:
            check_cancelled(cancel)
            report(progress, step, budget, "k-center greedy")
        if step > 0:
            chosen[step] = int(np.argmax(nearest))
        center = chosen[step]
        squared = squared_norms - 2.0 * (X @ X[center]) + squared_norms[center]
        np.minimum(nearest, np.maximum(squared, 0.0), out=nearest)
        nearest[center] = -1.0  # stays below every distance, so rounding never re-picks a chosen row
    report(progress, budget, budget, "k-center greedy")
    return chosen


def kmeans_diversity(
    X: np.ndarray,
    y: Optional[np.ndarray],
    budget: int,
    seed: int = 0,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
    *,
    clusters_per_class: int = 50,
) -> np.ndarray:
    """k-means-stratified sampling: every class and every region of it keeps its share.

    The budget is split across classes in proportion to their sizes; each class is clustered with
    k-means into ``min(its budget, clusters_per_class)`` clusters, its budget is split across the
    clusters in proportion to their sizes, and rows are drawn at random within each cluster.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or None
        Class codes; None treats all rows as one class.
    budget : int

    Returns
    -------
    ndarray of shape (budget,), int64
        Chosen row positions, sorted.
    """
    from sklearn.cluster import KMeans

    X, budget = _prepared(X, budget)
    n_samples = len(X)
    y = np.zeros(n_samples, dtype=np.int64) if y is None else np.asarray(y)
    labels, y_codes = np.unique(y, return_inverse=True)
    class_budgets = proportional_quotas(np.bincount(y_codes, minlength=len(labels)), budget)
    generator = rng(seed)
    chosen = []
    for label, class_budget in enumerate(class_budgets):
        check_cancelled(cancel)
        members = np.flatnonzero(y_codes == label)
        if class_budget == 0:
            continue
        n_clusters = int(min(class_budget, clusters_per_class, len(members)))
        if n_clusters > 1:
            assignment = KMeans(n_clusters=n_clusters, n_init=1, random_state=int(generator.integers(2**31))).fit_predict(X[members])
        else:
            assignment = np.zeros(len(members), dtype=np.int64)
        cluster_budgets = proportional_quotas(np.bincount(assignment, minlength=n_clusters), class_budget)
        for cluster, cluster_budget in enumerate(cluster_budgets):
            in_cluster = members[assignment == cluster]
            chosen.append(generator.choice(in_cluster, size=int(cluster_budget), replace=False))
        report(progress, label + 1, len(labels), "k-means stratified sampling")
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, dtype=np.int64)


def facility_location(
    X: np.ndarray,
    budget: int,
    seed: int = 0,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
    *,
    k: int = 10,
) -> np.ndarray:
    """Facility location by lazy greedy (Minoux 1978) on a sparse k-nearest-neighbour similarity.

    Maximises ``F(S) = sum_i max_{j in S} sim(i, j)``: every row should have a similar chosen row
    (the objective behind CRAIG, Mirzasoleiman et al. 2020). ``sim(i, j) = exp(-d(i, j)^2 /
    sigma^2)`` for ``j`` among the ``k`` nearest neighbours of ``i`` (and ``sim(i, i) = 1``), zero
    otherwise, with ``sigma`` the median neighbour distance, so memory is O(n * k). Once every row
    is covered, the remaining budget goes to random rows (drawn with ``seed``); ties are broken
    by a random order drawn with ``seed``.

    Returns
    -------
    ndarray of shape (budget,), int64
        Chosen row positions, in the order they were picked.
    """
    from scipy.sparse import csc_matrix

    X, budget = _prepared(X, budget)
    n_samples = len(X)
    if budget == 0:
        return np.zeros(0, dtype=np.int64)
    if n_samples == 1:
        return np.zeros(1, dtype=np.int64)
    graph = knn_graph(X, k, progress=scaled(progress, 0.0, 0.5), cancel=cancel)
    sigma = max(float(np.median(graph.distances)), 1e-12)
    rows = np.concatenate([np.repeat(np.arange(n_samples), graph.k), np.arange(n_samples)])
    cols = np.concatenate([graph.indices.ravel(), np.arange(n_samples)])
    sims = np.concatenate([np.exp(-((graph.distances.ravel() / sigma) ** 2)), np.ones(n_samples)])
    # Column j lists the rows candidate j would cover and how well.
    covers = csc_matrix((sims, (rows, cols)), shape=(n_samples, n_samples))
    indptr, covered_rows, similarity = covers.indptr, covers.indices, covers.data
    coverage = np.zeros(n_samples)
    tie_rank = rng(seed).permutation(n_samples)
    heap = [(-float(similarity[indptr[j]:indptr[j + 1]].sum()), int(tie_rank[j]), j) for j in range(n_samples)]
    heapq.heapify(heap)
    chosen: list[int] = []
    selected = np.zeros(n_samples, dtype=bool)
    picker = scaled(progress, 0.5, 1.0)
    while heap and len(chosen) < budget:
        if len(chosen) % 512 == 0:
            check_cancelled(cancel)
            report(picker, len(chosen), budget, "facility location")
        stale, rank, j = heapq.heappop(heap)
        span = slice(indptr[j], indptr[j + 1])
        gain = float(np.maximum(similarity[span] - coverage[covered_rows[span]], 0.0).sum())
        if gain <= 1e-12:
            continue  # adds nothing now, and gains only shrink: never worth more later
        if heap and gain < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-gain, rank, j))  # stale bound: re-queue with the fresh gain
            continue
        chosen.append(j)
        selected[j] = True
        members = covered_rows[span]  # unique within a column
        coverage[members] = np.maximum(coverage[members], similarity[span])
    if len(chosen) < budget:  # everything is covered: fill the rest at random
        rest = np.flatnonzero(~selected)
        fill = rng(seed, "facility-location-fill").choice(rest, size=budget - len(chosen), replace=False)
        chosen.extend(fill.tolist())
    report(picker, budget, budget, "facility location")
    return np.asarray(chosen, dtype=np.int64)
