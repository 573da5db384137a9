"""Data valuation: exact-recursion KNN-Shapley (Jia et al. 2019), truncated to the neighbour graph.

Each row in turn is the test point and the other ``N = n - 1`` rows are the training set of a
K-nearest-neighbour classifier whose utility is the fraction of the test point's K nearest rows
that share its label. Sorting the training rows by distance (``a_1`` nearest), the Shapley values
of that game have the closed form

    s(a_N) = m_N / N,
    s(a_i) = s(a_{i+1}) + (m_i - m_{i+1}) / K * min(K, i) / i,

with ``m_i = 1[y(a_i) = y(test)]``. A row's value is the sum over all test points (Jia et al.
average; summing only rescales by ``n`` and reads as the row's share of the classifier's
leave-one-out correct count: the values of all rows add up to it when nothing is truncated).

Truncation (Jia et al.'s own approximation, their Theorem 2): for ``i >= K`` every step is at
most ``1 / i`` in size, so setting ``s(a_i) = 0`` for ``i >= K*`` and recursing from there
changes no value by more than ``1 / K*``. Only the ``K*`` nearest rows of each test point are
touched, so time and memory are O(n * K*) on the shared neighbour graph - never O(n^2). With
``K* >= N`` the recursion is exact.
"""

from __future__ import annotations

import numpy as np

from core.scorers.base import Scorer, ScoreResult, register


def knn_shapley_values(y: np.ndarray, indices: np.ndarray, k: int) -> np.ndarray:
    """KNN-Shapley value of every row, each row serving as a test point against the others.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
    indices : ndarray of shape (n_samples, k_star)
        Each row's ``k_star`` nearest other rows, nearest first (the truncation ``K*``). When
        ``k_star == n_samples - 1`` the values are exact.
    k : int
        The K of the K-nearest-neighbour utility.

    Returns
    -------
    ndarray of shape (n_samples,)
        Shapley value summed over test points. Higher means the row helps its neighbours be
        classified correctly; mislabeled rows go negative.
    """
    n_samples, k_star = indices.shape
    n_train = n_samples - 1
    match = (y[indices] == y[:, None]).astype(np.float64)
    ranks = np.arange(1, k_star)  # i = 1 .. K*-1 (one-based)
    steps = (match[:, :-1] - match[:, 1:]) * (np.minimum(k, ranks) / (k * ranks))
    values = np.zeros_like(match)
    # The last listed neighbour starts the recursion: exact start when nothing was truncated.
    values[:, -1] = match[:, -1] / n_train if k_star >= n_train else 0.0
    values[:, :-1] = values[:, -1:] + np.cumsum(steps[:, ::-1], axis=1)[:, ::-1]
    totals = np.bincount(indices.ravel(), weights=values.ravel(), minlength=n_samples)
    return totals


@register
class KnnShapley(Scorer):
    name = "knn_shapley"
    family = "valuation"
    description = "KNN-Shapley value (Jia et al. 2019): contribution to a k-NN classifier's accuracy on the other rows."
    higher_means = "more valuable to its neighbours' classification; negative for harmful rows"
    keep = "high"
    hard = "low"
    needs_labels = True
    flags = False
    cost = "fast"
    defaults = {"k": 10, "neighborhood": 30}

    def needs(self) -> dict:
        return {"neighbors": max(int(self.k), int(self.neighborhood))}

    def _compute(self, ds, context) -> ScoreResult:
        graph = context.neighbors(max(int(self.k), int(self.neighborhood)))
        return ScoreResult(knn_shapley_values(ds.y, graph.indices, int(self.k)))
