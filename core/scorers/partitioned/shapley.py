"""Partitioned half of knn_shapley (:class:`core.scorers.valuation.KnnShapley`), from the shared graph.

Every row is a test point for its own neighbourhood (:func:`core.scorers.valuation.knn_shapley_per_test`);
the contributions it sends to its neighbours are written to one file per receiving partition, and each
partition sums what it received. Exact on the same graph; the rows beyond the neighbourhood share the
tail rate, as in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.partitions import open_store
from core.scorers.partitioned.base import PartitionedScorer, register_partitioned
from core.scorers.partitioned.graph import read_graph
from core.scorers.partitioned.state import ScoreState
from core.scorers.valuation import KnnShapley, knn_shapley_per_test

NAME = KnnShapley.name


def shapley_contributions(index: int, state: ScoreState) -> int:
    """Write this partition's KNN-Shapley contributions, one file per receiving partition."""
    rows = state.rows(index)
    params = state.params[NAME]
    neighborhood = max(int(params["k"]), int(params["neighborhood"]))
    indices, _ = read_graph(state.scratch, rows.start, rows.stop, neighborhood)
    _, labels = open_store(state.scratch)
    y = np.asarray(labels[rows], dtype=np.int64)
    match = np.asarray(labels[indices.ravel()]).reshape(indices.shape) == y[:, None]
    n_train = state.data.n_samples - 1
    same_class_others = state.data.class_counts[y] - 1
    tail_rate = (same_class_others - match.sum(axis=1)) / max(n_train - neighborhood, 1)
    values = knn_shapley_per_test(match, min(int(params["k"]), neighborhood), n_train, tail_rate)
    starts = np.array([p.start for p in state.data.partitions] + [state.data.n_samples])
    receiver = np.searchsorted(starts, indices.ravel(), side="right") - 1
    for target in np.unique(receiver):
        mine = receiver == target
        np.save(Path(state.scratch) / f"shapley_{index:06d}_{target:06d}.npy",
                np.column_stack([indices.ravel()[mine] - starts[target], values.ravel()[mine]]))
    return int(len(indices))


def _reduce(engine, state: ScoreState) -> None:
    engine.map(shapley_contributions, state.parts, state)


def _columns(index: int, state: ScoreState) -> dict:
    part = state.data.partitions[index]
    pieces = [np.load(path) for path in sorted(Path(state.scratch).glob(f"shapley_*_{index:06d}.npy"))]
    if not pieces:
        return {"scores": {NAME: np.zeros(part.rows)}}
    pairs = np.concatenate(pieces)
    return {"scores": {NAME: np.bincount(pairs[:, 0].astype(np.int64), weights=pairs[:, 1], minlength=part.rows)}}


register_partitioned(PartitionedScorer(NAME, columns=_columns, reduce=_reduce, how="exact on the shared graph"))
