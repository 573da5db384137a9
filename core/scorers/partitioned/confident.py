"""Partitioned half of label_noise (:class:`core.scorers.model.LabelNoise`): confident learning from summaries.

The out-of-fold models are fitted on the bounded stratified sample (every row is then predicted by
the model of its own fold): a stated approximation of memory's out-of-fold fit on every row. From
there the rule is memory's: the stacking weight with the best summed log-likelihood, per-class
thresholds, the confident joint summed from per-partition counts
(:func:`core.scorers.model.confident_counts`), the flag budget of every cell
(:func:`core.scorers.model.noise_cells`), and each cell's cut an exact order statistic of the gaps
(:func:`core.foundation.order_statistics.order_statistics`); rows tied at a cut are flagged in data
order, as a stable sort would pick them.
"""

from __future__ import annotations

import numpy as np

from core.data.partitions import open_store
from core.foundation.order_statistics import order_statistics, split_ties
from core.scorers.base import flag_column
from core.scorers.model import LabelNoise, confident_counts, noise_cells
from core.scorers.oof import apply_fold_models, fit_fold_models, row_folds
from core.scorers.partitioned.base import PartitionedScorer, register_partitioned
from core.scorers.partitioned.graph import allocate, read_graph
from core.scorers.partitioned.state import ScoreState, column, write_rows

MIXED = "mixed.npy"
NAME = LabelNoise.name
_SHARES = np.linspace(0.0, 1.0, 21)


def _fit(state: ScoreState, sample: dict) -> None:
    state.fold_models = fit_fold_models(sample["X"], sample["y"], sample["fold"], state.data.n_classes, state.folds)


def _votes(state: ScoreState, indices: np.ndarray) -> np.ndarray:
    _, labels = open_store(state.scratch)
    n_classes, k = state.data.n_classes, indices.shape[1]
    neighbour_labels = np.asarray(labels[indices.ravel()], dtype=np.int64)
    cells = np.repeat(np.arange(len(indices)) * n_classes, k) + neighbour_labels
    votes = np.bincount(cells, minlength=len(indices) * n_classes).reshape(len(indices), n_classes)
    prior = state.data.class_counts / state.data.n_samples
    return (votes + prior) / (k + 1.0)


def model_probabilities(state: ScoreState, index: int) -> tuple:
    """Out-of-fold probabilities and (when label_noise votes) k-NN vote probabilities of a partition."""
    rows = state.rows(index)
    X, _ = open_store(state.scratch)
    positions = np.arange(rows.start, rows.stop)
    p, _ = apply_fold_models(state.fold_models, X[rows], row_folds(positions, state.folds, state.seed))
    votes = state.params[NAME].get("votes", 0)
    if not votes:
        return p, None
    indices, _ = read_graph(state.scratch, rows.start, rows.stop, int(votes))
    return p, _votes(state, indices)


def _log_likelihoods(index: int, state: ScoreState):
    """Summed log-likelihood of the given labels under each stacking share (None without votes)."""
    p, votes = model_probabilities(state, index)
    if votes is None:
        return None
    y = state.labels(state.rows(index))
    given = np.stack([p[np.arange(len(y)), y], votes[np.arange(len(y)), y]])
    mix = np.column_stack([_SHARES, 1.0 - _SHARES]) @ given
    return np.log(np.maximum(mix, 1e-12)).sum(axis=1)


def _mix(index: int, state: ScoreState) -> np.ndarray:
    """Write the stacked probabilities of a partition; return its per-class sums of ``p[given]``."""
    rows = state.rows(index)
    p, votes = model_probabilities(state, index)
    if votes is not None:
        p = state.stack_weights[0] * p + state.stack_weights[1] * votes
    write_rows(state, MIXED, rows, p)
    y = state.labels(rows)
    return np.bincount(y, weights=p[np.arange(len(y)), y], minlength=state.data.n_classes)


def _mixed_and_labels(state: ScoreState, index: int) -> tuple:
    rows = state.rows(index)
    return np.asarray(column(state, MIXED)[rows]), state.labels(rows)


def joint_counts(index: int, state: ScoreState) -> np.ndarray:
    """This partition's confident-joint counts ``C[given, guessed]``."""
    p, y = _mixed_and_labels(state, index)
    return confident_counts(p, y, state.data.n_classes, state.class_thresholds)


def cell_gaps(index: int, state: ScoreState, cells: list) -> list:
    """For each (given, true) cell: ``p[true] - p[given]`` of rows labelled ``given``, NaN elsewhere."""
    p, y = _mixed_and_labels(state, index)
    return [np.where(y == given, p[:, true] - p[:, given], np.nan) for given, true in cells]


def cell_tie_counts(index: int, state: ScoreState) -> list:
    """Per cell with a cut: rows of this partition above the cut and rows exactly at it."""
    gaps = cell_gaps(index, state, list(state.cell_thresholds))
    return [(int((gap > cut).sum()), int((gap == cut).sum())) for gap, cut in zip(gaps, state.cell_thresholds.values())]


def _reduce(engine, state: ScoreState) -> None:
    data, parts = state.data, state.parts
    allocate(state.scratch, (data.n_samples, data.n_classes), np.float64, MIXED)
    state.stack_weights = np.array([1.0, 0.0])
    likelihoods = [found for found in engine.map(_log_likelihoods, parts, state) if found is not None]
    if likelihoods:
        best = int(np.argmax(np.sum(likelihoods, axis=0) / data.n_samples))
        state.stack_weights = np.array([_SHARES[best], 1.0 - _SHARES[best]])
    totals = np.sum(engine.map(_mix, parts, state), axis=0)
    counts = data.class_counts
    state.class_thresholds = np.where(counts > 0, totals / np.maximum(counts, 1), 1.0)
    cells = noise_cells(np.sum(engine.map(joint_counts, parts, state), axis=0), counts)
    found = order_statistics(engine, len(parts), cell_gaps, (state, list(cells)), lambda _counts: list(cells.values()))
    state.cell_thresholds = {cell: value for cell, value in zip(cells, found) if value is not None}
    ties = engine.map(cell_tie_counts, parts, state)
    for position, cell in enumerate(state.cell_thresholds):
        state.cell_ties_taken[cell] = split_ties([part[position] for part in ties], cells[cell])


def _columns(index: int, state: ScoreState) -> dict:
    p, y = _mixed_and_labels(state, index)
    score = 1.0 - p[np.arange(len(y)), y]
    flags = np.zeros(len(y), dtype=bool)
    for (given, true), threshold in state.cell_thresholds.items():
        gap = np.where(y == given, p[:, true] - p[:, given], -np.inf)
        flags |= gap > threshold
        # rows tied at the cut are flagged in data order, as a stable sort by gap would pick them
        flags[np.flatnonzero(gap == threshold)[:state.cell_ties_taken[(given, true)][index]]] = True
    return {"scores": {NAME: score}, "flags": {flag_column(NAME): flags & (p.argmax(axis=1) != y)}}


register_partitioned(PartitionedScorer(NAME, columns=_columns, reduce=_reduce, fit=_fit,
                                       how="out-of-fold models fitted on the stratified sample; the rest exact"))
