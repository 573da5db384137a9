"""Flags that need the whole data set, decided on the driver from per-partition summaries.

Both follow :mod:`core.scorers.model` and :mod:`core.scorers.geometry` exactly, but take summaries
whose size does not grow with the rows: the confident joint (classes x classes), and the linked
near-duplicate pairs (which grow with the duplicates only).
"""

from __future__ import annotations

import numpy as np


def noise_cells(joint_counts: np.ndarray, class_counts: np.ndarray) -> dict:
    """How many rows each off-diagonal cell of the calibrated confident joint flags (prune by noise rate).

    Parameters
    ----------
    joint_counts : ndarray of shape (n_classes, n_classes)
        Summed per-partition counts ``C[given, guessed]``.
    class_counts : ndarray of shape (n_classes,)

    Returns
    -------
    dict of (given, true) -> int
        Rows labelled ``given`` to flag, those with the largest ``p[true] - p[given]``.
    """
    joint = np.asarray(joint_counts, dtype=np.float64).copy()
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1.0))  # every class has a clean example
    joint = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-12) * np.asarray(class_counts)[:, None]
    joint = np.rint(joint)
    cells = {}
    for given in range(len(joint)):
        off_diagonal = joint[given].copy()
        off_diagonal[given] = 0.0
        budget = max(int(class_counts[given]) - 1, 0)
        if off_diagonal.sum() > budget:  # leave at least one row of the class unflagged
            off_diagonal = np.floor(off_diagonal * budget / off_diagonal.sum())
        for true in np.flatnonzero(off_diagonal > 0):
            cells[(int(given), int(true))] = int(off_diagonal[true])
    return cells


def duplicate_components(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Duplicate groups from linked pairs: connected components, numbered by their first row.

    Parameters
    ----------
    edges : ndarray of shape (n_edges, 2), int64
        Global positions of linked pairs.

    Returns
    -------
    rows : ndarray of shape (n_grouped,)
        Sorted positions of the rows in some group.
    groups : ndarray of shape (n_grouped,)
        Group id of each (0, 1, ... in order of each group's first row).
    flags : ndarray of shape (n_grouped,), bool
        True for every member but the group's first row.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(edges) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, bool)
    rows, inverse = np.unique(edges.ravel(), return_inverse=True)
    pairs = inverse.reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(rows), len(rows)))
    _, component = connected_components(graph, directed=True, connection="weak")
    _, first, inverse = np.unique(component, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")  # rows are sorted: first = first row
    groups = rank[inverse].astype(np.int64)
    flags = np.ones(len(rows), dtype=bool)
    flags[first] = False
    return rows.astype(np.int64), groups, flags
