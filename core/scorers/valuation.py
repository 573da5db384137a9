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

Truncation. Only the ``K*`` nearest rows of each test point are listed (the shared neighbour
graph), so the recursion must start at ``a_{K*}`` without seeing ``a_{K*+1} .. a_N``. Unrolled,
for ``i >= K``

    s(a_i) = m_i / i - sum_{j > i} m_j / (j (j - 1)),

so if the unseen labels are exchangeable - a fraction ``q`` of them matches the test label, with
``q`` known exactly from the class counts - the expected start is

    E[s(a_{K*})] = (m_{K*} - q) / K* + q / N,

which is what we use. Starting from 0 instead (the plain truncation of Jia et al.'s Theorem 2)
errs with one sign across a region where every listed neighbour shares the label and values a
whole well-separated class at exactly 0. Either start is within ``1 / K*`` of the exact value,
only the one here is unbiased under exchangeability; with ``K* = N`` both are exact. Time and
memory are O(n * K*) on the shared neighbour graph - never O(n^2).
"""

from __future__ import annotations

import numpy as np

from core.scorers.base import Scorer, ScoreResult, register


def knn_shapley_per_test(match: np.ndarray, k: int, n_train: int, tail_rate: np.ndarray) -> np.ndarray:
    """Shapley values of each test point's listed nearest neighbours.

    Parameters
    ----------
    match : ndarray of shape (n_tests, k_star)
        ``1`` where the listed neighbour (nearest first) shares the test point's label.
    k : int
        The K of the K-nearest-neighbour utility.
    n_train : int
        ``N``, the size of each test point's training set (listed and unlisted rows).
    tail_rate : ndarray of shape (n_tests,)
        Fraction of the ``N - k_star`` unlisted rows that share the test point's label
        (ignored when ``k_star == n_train``).

    Returns
    -------
    ndarray of shape (n_tests, k_star)
        The value of each listed neighbour to each test point: exact when nothing is truncated,
        the expectation over orders of the unlisted labels otherwise.
    """
    match = np.asarray(match, dtype=np.float64)
    k_star = match.shape[1]
    ranks = np.arange(1, k_star)  # i = 1 .. K*-1 (one-based)
    steps = (match[:, :-1] - match[:, 1:]) * (np.minimum(k, ranks) / (k * ranks))
    values = np.empty_like(match)
    if k_star >= n_train:
        values[:, -1] = match[:, -1] / n_train
    else:
        # The expected start presumes K* >= K (the unrolled form above); the caller ensures it.
        tail = np.asarray(tail_rate, dtype=np.float64)
        values[:, -1] = (match[:, -1] - tail) / k_star + tail / n_train
    values[:, :-1] = values[:, -1:] + np.cumsum(steps[:, ::-1], axis=1)[:, ::-1]
    return values


def knn_shapley_values(y: np.ndarray, indices: np.ndarray, k: int, chunk_size: int = 65_536) -> np.ndarray:
    """KNN-Shapley value of every row, each row serving as a test point against the others.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
    indices : ndarray of shape (n_samples, k_star)
        Each row's ``k_star`` nearest other rows, nearest first (the truncation ``K*``). When
        ``k_star == n_samples - 1`` the values are exact; otherwise the recursion starts from the
        expected value of the unlisted tail (module docstring).
    k : int
        The K of the K-nearest-neighbour utility; at most ``k_star``.

    Returns
    -------
    ndarray of shape (n_samples,)
        Shapley value summed over test points. Higher means the row helps its neighbours be
        classified correctly; mislabeled rows go negative.
    """
    y = np.asarray(y)
    n_samples, k_star = indices.shape
    n_train = n_samples - 1
    if k > k_star:
        raise ValueError(f"k={k} exceeds the {k_star} listed neighbours")
    _, codes = np.unique(y, return_inverse=True)
    same_class_others = np.bincount(codes)[codes] - 1
    unlisted = max(n_train - k_star, 1)
    total = np.zeros(n_samples)
    # test points a block at a time: the float64 temporaries stay a few MB instead of several
    # (n, K*) arrays (240 MB each at 1M x 30), which made this scorer grow as n^2 past 300k rows;
    # at most 64 blocks, since each adds a length-n count
    chunk_size = max(int(chunk_size), -(-n_samples // 64))
    for start in range(0, n_samples, chunk_size):
        stop = min(start + chunk_size, n_samples)
        listed = indices[start:stop]
        match = y[listed] == y[start:stop, None]
        tail_rate = (same_class_others[start:stop] - match.sum(axis=1)) / unlisted
        values = knn_shapley_per_test(match, k, n_train, tail_rate)
        total += np.bincount(listed.ravel(), weights=values.ravel(), minlength=n_samples)
    return total


@register
class KnnShapley(Scorer):
    name = "knn_shapley"
    family = "valuation"
    description = ("KNN-Shapley value (Jia et al. 2019): contribution to a k-NN classifier's accuracy on the "
                   "other rows; exact recursion over each row's nearest rows, started from the expected tail.")
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
        return ScoreResult(knn_shapley_values(ds.y, graph.indices, min(int(self.k), graph.k)))
