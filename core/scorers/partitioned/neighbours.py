"""Partitioned halves of the geometry scorers (:mod:`core.scorers.geometry`): knn_density, prototypicality,
duplicate and outlier, from the shared neighbour graph.

Each follows its in-memory formula exactly on the same graph (exact with ``probes >= clusters``);
the global numbers - the median nearest-neighbour spacing, the reach floor, the duplicate groups -
are reduced from per-partition summaries (:func:`core.foundation.order_statistics.medians`,
:func:`core.scorers.geometry.duplicate_components`). Prototypicality fits its k-means prototypes on
the bounded stratified sample, where memory fits them on every row: a stated approximation.
"""

from __future__ import annotations

import numpy as np

from core.data.partitions import open_store
from core.foundation.order_statistics import medians
from core.scorers.base import extra_column, flag_column
from core.scorers.geometry import (Duplicate, KnnDensity, Outlier, Prototypicality, cosines_from_distances,
                                   duplicate_components, fit_kmeans)
from core.scorers.partitioned.base import PartitionedScorer, register_partitioned
from core.scorers.partitioned.graph import allocate, read_graph
from core.scorers.partitioned.state import ScoreState, column, write_rows

KDIST = "kdist.npy"
REACH = "reach.npy"
NORMS = "norms.npy"


def _density_columns(index: int, state: ScoreState) -> dict:
    rows = state.rows(index)
    _, distances = read_graph(state.scratch, rows.start, rows.stop, int(state.params[KnnDensity.name]["k"]))
    return {"scores": {KnnDensity.name: distances.mean(axis=1, dtype=np.float64)}}


register_partitioned(PartitionedScorer(KnnDensity.name, columns=_density_columns,
                                       how="exact on the shared graph"))


# ------------------------------------------------------------------------------------ prototypicality


def _fit_prototypes(state: ScoreState, sample: dict) -> None:
    X = sample["X"]
    count = min(int(state.params[Prototypicality.name]["clusters"]) or max(state.data.n_classes, 2), len(X))
    state.prototypes = fit_kmeans(X.astype(np.float64), count, state.seed).cluster_centers_


def _prototype_columns(index: int, state: ScoreState, chunk_size: int = 4096) -> dict:
    rows = state.rows(index)
    X, _ = open_store(state.scratch)
    distances = np.empty(rows.stop - rows.start)
    for start in range(rows.start, rows.stop, chunk_size):
        chunk = np.asarray(X[start:min(start + chunk_size, rows.stop)], dtype=np.float64)
        squared = ((chunk[:, None, :] - state.prototypes[None, :, :]) ** 2).sum(axis=2)
        distances[start - rows.start:start - rows.start + len(chunk)] = np.sqrt(squared.min(axis=1))
    return {"scores": {Prototypicality.name: distances}}


def _kmeans_only(scorer) -> str | None:
    return None if scorer.method == "kmeans" else "On partitioned data prototypicality runs with method='kmeans' only."


register_partitioned(PartitionedScorer(Prototypicality.name, columns=_prototype_columns, fit=_fit_prototypes,
                                       check=_kmeans_only, how="k-means prototypes fitted on the stratified sample"))


# ------------------------------------------------------------------------------------ duplicate


def _norms(index: int, state: ScoreState, chunk_size: int = 65_536) -> int:
    """Write the euclidean norm of every row of partition ``index`` (the duplicate scorer's cosines read them)."""
    rows = state.rows(index)
    X, _ = open_store(state.scratch)
    norms = np.empty(rows.stop - rows.start)
    for start in range(rows.start, rows.stop, chunk_size):
        chunk = np.asarray(X[start:min(start + chunk_size, rows.stop)], dtype=np.float32)
        norms[start - rows.start:start - rows.start + len(chunk)] = np.linalg.norm(chunk, axis=1)
    write_rows(state, NORMS, rows, norms)
    return rows.stop - rows.start


def _cosines(state: ScoreState, rows: slice, indices: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Cosine of each row to its listed neighbours from the norms and the graph's distances (law of cosines):
    one norm per neighbour is read, not its row, so the cost is linear in the rows."""
    norms = column(state, NORMS)
    return cosines_from_distances(np.asarray(norms[rows]), np.asarray(norms[indices.ravel()]).reshape(indices.shape),
                                  distances)


def nearest_distances(index: int, state: ScoreState) -> list:
    """Per partition: each row's distance to its nearest other row (NaN where 0), for the spacing median."""
    rows = state.rows(index)
    _, distances = read_graph(state.scratch, rows.start, rows.stop, 1)
    nearest = distances[:, 0].astype(np.float64)
    return [np.where(nearest > 0, nearest, np.nan)]


def duplicate_edges(index: int, state: ScoreState) -> np.ndarray:
    """Linked near-duplicate pairs ``(row, neighbour)`` of a partition, global positions, shape (m, 2)."""
    rows = state.rows(index)
    params = state.params[Duplicate.name]
    indices, distances = read_graph(state.scratch, rows.start, rows.stop, int(params["k"]))
    cosines = _cosines(state, rows, indices, distances)
    linked = (cosines >= params["threshold"]) & (distances <= params["relative_distance"] * state.spacing)
    source, neighbour = np.nonzero(linked)
    return np.column_stack([rows.start + source, indices[source, neighbour]]).astype(np.int64)


def _reduce_duplicates(engine, state: ScoreState) -> None:
    allocate(state.scratch, (state.data.n_samples,), np.float64, NORMS)
    engine.map(_norms, state.parts, state)
    state.spacing = float(np.nan_to_num(medians(engine, len(state.parts), nearest_distances, (state,))[0]))
    edges = engine.map(duplicate_edges, state.parts, state)
    state.duplicate_rows, state.duplicate_groups, state.duplicate_flags = duplicate_components(
        np.concatenate(edges) if edges else np.empty((0, 2), np.int64))


def _duplicate_columns(index: int, state: ScoreState) -> dict:
    rows = state.rows(index)
    indices, distances = read_graph(state.scratch, rows.start, rows.stop, int(state.params[Duplicate.name]["k"]))
    positions = np.arange(rows.start, rows.stop)
    groups = np.full(len(positions), -1, dtype=np.int64)
    flags = np.zeros(len(positions), dtype=bool)
    known = state.duplicate_rows
    if known is not None and len(known):
        at = np.searchsorted(known, positions)
        found = (at < len(known)) & (known[np.minimum(at, len(known) - 1)] == positions)
        groups[found] = state.duplicate_groups[at[found]]
        flags[found] = state.duplicate_flags[at[found]]
    return {"scores": {Duplicate.name: _cosines(state, rows, indices, distances).max(axis=1)},
            "flags": {flag_column(Duplicate.name): flags}, "extras": {extra_column(Duplicate.name, "group"): groups}}


register_partitioned(PartitionedScorer(Duplicate.name, columns=_duplicate_columns, reduce=_reduce_duplicates,
                                       how="exact on the shared graph"))


# ------------------------------------------------------------------------------------ outlier


def _k_distances(index: int, state: ScoreState) -> int:
    rows = state.rows(index)
    _, distances = read_graph(state.scratch, rows.start, rows.stop, int(state.params[Outlier.name]["k"]))
    write_rows(state, KDIST, rows, distances[:, -1])
    return rows.stop - rows.start


def _reach(index: int, state: ScoreState) -> int:
    rows = state.rows(index)
    indices, distances = read_graph(state.scratch, rows.start, rows.stop, int(state.params[Outlier.name]["k"]))
    k_distance = column(state, KDIST)
    reach = np.maximum(np.asarray(k_distance[indices.ravel()]).reshape(indices.shape).astype(np.float64),
                       distances.astype(np.float64)).mean(axis=1)
    write_rows(state, REACH, rows, reach)
    return rows.stop - rows.start


def reach_values(index: int, state: ScoreState) -> list:
    return [np.asarray(column(state, REACH)[state.rows(index)], dtype=np.float64)]


def _reduce_outliers(engine, state: ScoreState) -> None:
    n = state.data.n_samples
    allocate(state.scratch, (n,), np.float64, KDIST)
    allocate(state.scratch, (n,), np.float64, REACH)
    engine.map(_k_distances, state.parts, state)
    engine.map(_reach, state.parts, state)
    state.reach_floor = max(float(medians(engine, len(state.parts), reach_values, (state,))[0]) * 1e-6, 1e-12)


def _outlier_columns(index: int, state: ScoreState) -> dict:
    rows = state.rows(index)
    indices, _ = read_graph(state.scratch, rows.start, rows.stop, int(state.params[Outlier.name]["k"]))
    reach = column(state, REACH)
    density = 1.0 / np.maximum(np.asarray(reach[rows], dtype=np.float64), state.reach_floor)
    neighbour_density = 1.0 / np.maximum(np.asarray(reach[indices.ravel()], dtype=np.float64), state.reach_floor)
    lof = neighbour_density.reshape(indices.shape).mean(axis=1) / density
    return {"scores": {Outlier.name: lof},
            "flags": {flag_column(Outlier.name): lof > float(state.params[Outlier.name]["flag_above"])}}


register_partitioned(PartitionedScorer(Outlier.name, columns=_outlier_columns, reduce=_reduce_outliers,
                                       how="exact on the shared graph"))
