"""The default scorers computed partition by partition, from the shared graph and global summaries.

Each task reads one partition's rows of the feature store and of the neighbour graph, plus the
per-row columns of *other* rows it needs (a neighbour's label, k-distance or reach) from
memory-mapped files in the shared scratch folder. Global quantities come from per-partition
summaries reduced on the driver (:mod:`core.workflows.partitioned`): class counts, medians
(:mod:`core.workflows.quantiles`), stacking weights, confident-learning thresholds and joint,
duplicate edges (their number grows with the duplicates, not with the rows). The formulas are
those of :mod:`core.scorers.geometry`, :mod:`core.scorers.model` and :mod:`core.scorers.valuation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from core.data.partitions import PartitionedData, open_store
from core.scorers.oof import FoldModels, apply_fold_models, row_folds
from core.scorers.valuation import knn_shapley_per_test
from core.workflows.shared_index import read_graph

KDIST = "kdist.npy"
REACH = "reach.npy"
MIXED = "mixed.npy"
SUPPORTED = ("knn_density", "prototypicality", "duplicate", "outlier", "label_noise", "knn_shapley")


@dataclass
class ScoreState:
    """What every partition task needs: settings and the global summaries found so far."""

    data: PartitionedData
    scratch: str
    params: dict  # scorer name -> its parameters
    seed: int
    folds: int
    fold_models: Optional[FoldModels] = None
    prototypes: Optional[np.ndarray] = None
    spacing: float = 0.0
    reach_floor: float = 1e-12
    stack_weights: Optional[np.ndarray] = None
    class_thresholds: Optional[np.ndarray] = None
    cell_thresholds: dict = field(default_factory=dict)
    cell_ties_taken: dict = field(default_factory=dict)  # (given, true) -> rows tied at the cut taken per partition
    duplicate_rows: Optional[np.ndarray] = None  # sorted global positions of rows in a duplicate group
    duplicate_groups: Optional[np.ndarray] = None
    duplicate_flags: Optional[np.ndarray] = None

    def wants(self, name: str) -> bool:
        return name in self.params

    def rows(self, index: int) -> slice:
        part = self.data.partitions[index]
        return slice(part.start, part.stop)


def _column(state: ScoreState, name: str, mode: str = "r"):
    return np.load(Path(state.scratch) / name, mmap_mode=mode)


def _votes(state: ScoreState, indices: np.ndarray) -> np.ndarray:
    _, labels = open_store(state.scratch)
    n_classes, k = state.data.n_classes, indices.shape[1]
    neighbour_labels = np.asarray(labels[indices.ravel()], dtype=np.int64)
    cells = np.repeat(np.arange(len(indices)) * n_classes, k) + neighbour_labels
    votes = np.bincount(cells, minlength=len(indices) * n_classes).reshape(len(indices), n_classes)
    prior = state.data.class_counts / state.data.n_samples
    return (votes + prior) / (k + 1.0)


def model_probabilities(state: ScoreState, index: int) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Out-of-fold probabilities and (when label_noise votes) k-NN vote probabilities of a partition."""
    rows = state.rows(index)
    X, _ = open_store(state.scratch)
    positions = np.arange(rows.start, rows.stop)
    p, _ = apply_fold_models(state.fold_models, X[rows], row_folds(positions, state.folds, state.seed))
    votes = state.params["label_noise"].get("votes", 0)
    if not votes:
        return p, None
    indices, _ = read_graph(state.scratch, rows.start, rows.stop, int(votes))
    return p, _votes(state, indices)


def first_pass(index: int, state: ScoreState) -> dict:
    """k-distances (outlier) and the stacking likelihoods of label_noise for one partition."""
    rows = state.rows(index)
    summary = {}
    if state.wants("outlier"):
        k = int(state.params["outlier"]["k"])
        _, distances = read_graph(state.scratch, rows.start, rows.stop, k)
        target = _column(state, KDIST, "r+")
        target[rows] = distances[:, -1]
        target.flush()
    if state.wants("label_noise"):
        p, votes = model_probabilities(state, index)
        _, y = open_store(state.scratch)
        y = np.asarray(y[rows], dtype=np.int64)
        if votes is not None:
            shares = np.linspace(0.0, 1.0, 21)
            given = np.stack([p[np.arange(len(y)), y], votes[np.arange(len(y)), y]])
            mix = np.column_stack([shares, 1.0 - shares]) @ given
            summary["log_likelihood"] = np.log(np.maximum(mix, 1e-12)).sum(axis=1)
    return summary


def nearest_distances(index: int, state: ScoreState) -> list:
    """Per partition: each row's distance to its nearest other row (NaN where 0), for the spacing median."""
    rows = state.rows(index)
    _, distances = read_graph(state.scratch, rows.start, rows.stop, 1)
    nearest = distances[:, 0].astype(np.float64)
    return [np.where(nearest > 0, nearest, np.nan)]


def second_pass(index: int, state: ScoreState) -> dict:
    """Reach distances (outlier) and stacked probabilities with per-class sums (label_noise)."""
    rows = state.rows(index)
    summary = {}
    if state.wants("outlier"):
        k = int(state.params["outlier"]["k"])
        indices, distances = read_graph(state.scratch, rows.start, rows.stop, k)
        k_distance = _column(state, KDIST)
        reach = np.maximum(np.asarray(k_distance[indices.ravel()]).reshape(indices.shape).astype(np.float64),
                           distances.astype(np.float64)).mean(axis=1)
        target = _column(state, REACH, "r+")
        target[rows] = reach
        target.flush()
    if state.wants("label_noise"):
        p, votes = model_probabilities(state, index)
        if votes is not None:
            p = state.stack_weights[0] * p + state.stack_weights[1] * votes
        target = _column(state, MIXED, "r+")
        target[rows] = p
        target.flush()
        _, y = open_store(state.scratch)
        y = np.asarray(y[rows], dtype=np.int64)
        n_classes = state.data.n_classes
        summary["given_sums"] = np.bincount(y, weights=p[np.arange(len(y)), y], minlength=n_classes)
    return summary


def reach_values(index: int, state: ScoreState) -> list:
    return [np.asarray(_column(state, REACH)[state.rows(index)], dtype=np.float64)]


def _mixed_and_labels(state: ScoreState, index: int) -> tuple[np.ndarray, np.ndarray]:
    rows = state.rows(index)
    _, y = open_store(state.scratch)
    return np.asarray(_column(state, MIXED)[rows]), np.asarray(y[rows], dtype=np.int64)


def joint_counts(index: int, state: ScoreState) -> np.ndarray:
    """This partition's confident-joint counts ``C[given, guessed]`` (as in core.scorers.model)."""
    p, y = _mixed_and_labels(state, index)
    n_classes = state.data.n_classes
    above = p >= state.class_thresholds - 1e-6
    confident_count = above.sum(axis=1)
    guess = np.where(confident_count > 1, p.argmax(axis=1), above.argmax(axis=1))
    counted = confident_count > 0
    return np.bincount(y[counted] * n_classes + guess[counted], minlength=n_classes**2).reshape(n_classes, n_classes)


def cell_gaps(index: int, state: ScoreState, cells: list) -> list:
    """For each (given, true) cell: ``p[true] - p[given]`` of rows labelled ``given``, NaN elsewhere."""
    p, y = _mixed_and_labels(state, index)
    return [np.where(y == given, p[:, true] - p[:, given], np.nan) for given, true in cells]


def cell_tie_counts(index: int, state: ScoreState) -> list:
    """Per cell with a cut: rows of this partition above the cut and rows exactly at it."""
    gaps = cell_gaps(index, state, list(state.cell_thresholds))
    return [(int((gap > cut).sum()), int((gap == cut).sum())) for gap, cut in zip(gaps, state.cell_thresholds.values())]


def duplicate_edges(index: int, state: ScoreState) -> np.ndarray:
    """Linked near-duplicate pairs ``(row, neighbour)`` of a partition, global positions, shape (m, 2)."""
    rows = state.rows(index)
    params = state.params["duplicate"]
    indices, distances = read_graph(state.scratch, rows.start, rows.stop, int(params["k"]))
    cosines = _cosines(state, rows, indices)
    linked = (cosines >= params["threshold"]) & (distances <= params["relative_distance"] * state.spacing)
    source, column = np.nonzero(linked)
    return np.column_stack([rows.start + source, indices[source, column]]).astype(np.int64)


def _cosines(state: ScoreState, rows: slice, indices: np.ndarray, chunk_size: int = 4096) -> np.ndarray:
    X, _ = open_store(state.scratch)
    cosines = np.empty(indices.shape, dtype=np.float64)
    for start in range(0, len(indices), chunk_size):  # neighbours' rows are gathered a chunk at a time
        stop = min(start + chunk_size, len(indices))
        queries = np.asarray(X[rows.start + start:rows.start + stop], dtype=np.float32)
        unit = queries / np.maximum(np.linalg.norm(queries, axis=1), 1e-12)[:, None]
        neighbours = np.asarray(X[indices[start:stop].ravel()], dtype=np.float32)
        neighbours = neighbours / np.maximum(np.linalg.norm(neighbours, axis=1), 1e-12)[:, None]
        shape = (stop - start, indices.shape[1], -1)
        cosines[start:stop] = np.einsum("id,ikd->ik", unit, neighbours.reshape(shape))
    return np.clip(cosines, -1.0, 1.0)


def _prototype_distances(state: ScoreState, rows: slice, chunk_size: int = 4096) -> np.ndarray:
    X, _ = open_store(state.scratch)
    distances = np.empty(rows.stop - rows.start)
    for start in range(rows.start, rows.stop, chunk_size):
        chunk = np.asarray(X[start:min(start + chunk_size, rows.stop)], dtype=np.float64)
        squared = ((chunk[:, None, :] - state.prototypes[None, :, :]) ** 2).sum(axis=2)
        distances[start - rows.start:start - rows.start + len(chunk)] = np.sqrt(squared.min(axis=1))
    return distances


def shapley_contributions(index: int, state: ScoreState) -> int:
    """Write this partition's KNN-Shapley contributions, one file per receiving partition."""
    rows = state.rows(index)
    params = state.params["knn_shapley"]
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


def _shapley(state: ScoreState, index: int) -> np.ndarray:
    part = state.data.partitions[index]
    pieces = [np.load(path) for path in sorted(Path(state.scratch).glob(f"shapley_*_{index:06d}.npy"))]
    if not pieces:
        return np.zeros(part.rows)
    pairs = np.concatenate(pieces)
    return np.bincount(pairs[:, 0].astype(np.int64), weights=pairs[:, 1], minlength=part.rows)


def _lof(state: ScoreState, rows: slice) -> np.ndarray:
    k = int(state.params["outlier"]["k"])
    indices, _ = read_graph(state.scratch, rows.start, rows.stop, k)
    reach = _column(state, REACH)
    density = 1.0 / np.maximum(np.asarray(reach[rows], dtype=np.float64), state.reach_floor)
    neighbour_density = 1.0 / np.maximum(np.asarray(reach[indices.ravel()], dtype=np.float64), state.reach_floor)
    return neighbour_density.reshape(indices.shape).mean(axis=1) / density


def _duplicates(state: ScoreState, rows: slice) -> tuple[np.ndarray, np.ndarray]:
    positions = np.arange(rows.start, rows.stop)
    groups = np.full(len(positions), -1, dtype=np.int64)
    flags = np.zeros(len(positions), dtype=bool)
    if state.duplicate_rows is not None and len(state.duplicate_rows):
        at = np.searchsorted(state.duplicate_rows, positions)
        found = (at < len(state.duplicate_rows)) & (state.duplicate_rows[np.minimum(at, len(state.duplicate_rows) - 1)]
                                                     == positions)
        groups[found] = state.duplicate_groups[at[found]]
        flags[found] = state.duplicate_flags[at[found]]
    return groups, flags


def _label_noise(state: ScoreState, index: int) -> tuple[np.ndarray, np.ndarray]:
    p, y = _mixed_and_labels(state, index)
    score = 1.0 - p[np.arange(len(y)), y]
    flags = np.zeros(len(y), dtype=bool)
    for (given, true), threshold in state.cell_thresholds.items():
        gap = np.where(y == given, p[:, true] - p[:, given], -np.inf)
        flags |= gap > threshold
        # rows tied at the cut are flagged in data order, as a stable sort by gap would pick them
        flags[np.flatnonzero(gap == threshold)[:state.cell_ties_taken[(given, true)][index]]] = True
    return score, flags & (p.argmax(axis=1) != y)


def score_columns(index: int, state: ScoreState) -> dict:
    """Every requested score, flag and extra column of one partition (named as compute_scores names them)."""
    rows = state.rows(index)
    columns, flags, extras = {}, {}, {}
    if state.wants("knn_density"):
        _, distances = read_graph(state.scratch, rows.start, rows.stop, int(state.params["knn_density"]["k"]))
        columns["knn_density"] = distances.mean(axis=1, dtype=np.float64)
    if state.wants("prototypicality"):
        columns["prototypicality"] = _prototype_distances(state, rows)
    if state.wants("duplicate"):
        indices, _ = read_graph(state.scratch, rows.start, rows.stop, int(state.params["duplicate"]["k"]))
        columns["duplicate"] = _cosines(state, rows, indices).max(axis=1)
        extras["duplicate_group"], flags["duplicate_flag"] = _duplicates(state, rows)
    if state.wants("outlier"):
        columns["outlier"] = _lof(state, rows)
        flags["outlier_flag"] = columns["outlier"] > float(state.params["outlier"]["flag_above"])
    if state.wants("label_noise"):
        columns["label_noise"], flags["label_noise_flag"] = _label_noise(state, index)
    if state.wants("knn_shapley"):
        columns["knn_shapley"] = _shapley(state, index)
    return {"scores": columns, "flags": flags, "extras": extras}
