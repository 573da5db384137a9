"""NN-descent: the partitioned path's shared neighbour graph (issue 26 item 3).

The graph is built by tasks that each own a block of rows; these check what the product relies on: the
trees' leaves cover every row once, the graph finds the true neighbours (recall against brute force) with
exact distances, nearest first and never the row itself, it does not depend on how the rows are cut into
blocks (the tasks may run anywhere, in any order), and scoring records how it was made.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.foundation import nn_descent
from core.scorers.partitioned import descent
from core.workflows import SerialEngine, score_partitioned
from core.workflows.partitioned.scoring import DESCENT_FROM, SCORES_RECORD, partitioned_search
from core.foundation.errors import ConfigError

ROWS, FEATURES = 6000, 24


def _rows(seed: int = 5) -> np.ndarray:
    generator = np.random.default_rng(seed)
    centres = generator.normal(size=(12, 10)) * 2.0
    latent = centres[generator.integers(0, len(centres), ROWS)] + generator.normal(size=(ROWS, 10))
    return (latent @ generator.normal(size=(10, FEATURES)) + 0.1 * generator.normal(size=(ROWS, FEATURES))).astype(
        np.float32)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    X = _rows()
    frame = pd.DataFrame(X, columns=[f"e{i}" for i in range(FEATURES)])
    frame["label"], frame["id"] = np.arange(ROWS) % 3, np.arange(ROWS)
    folder = tmp_path_factory.mktemp("descent") / "data"
    folder.mkdir()
    for number, part in enumerate(np.array_split(np.arange(ROWS), 3)):
        frame.iloc[part].to_parquet(folder / f"part-{number}.parquet", index=False)
    return folder, X


def _graph(data, out, **options):
    """Score with knn_density only and read back the shared graph's files (kept by reading them mid-run)."""
    captured = {}
    original = descent.write_task

    def capture(index, partitioned, scratch, buffer):
        rows = original(index, partitioned, scratch, buffer)
        part = partitioned.partitions[index]
        indices = np.load(f"{scratch}/graph_indices.npy", mmap_mode="r")[part.start:part.stop]
        distances = np.load(f"{scratch}/graph_distances.npy", mmap_mode="r")[part.start:part.stop]
        captured[index] = (np.array(indices), np.array(distances))
        return rows

    descent.write_task = capture
    try:
        score_partitioned(data, out, label="label", id="id", names=["knn_density"], engine=SerialEngine(),
                          fit_rows=2000, recall_queries=300, search="nndescent", **options)
    finally:
        descent.write_task = original
    record = json.loads((out / SCORES_RECORD).read_text())["scorers"][0]["neighbors"]
    parts = [captured[i] for i in sorted(captured)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), record


def test_tree_leaves_cover_every_row_once():
    X = _rows()
    perm, starts = nn_descent.rp_tree(X, 100, 3)
    assert np.array_equal(np.sort(perm), np.arange(ROWS))
    assert starts[0] == 0 and starts[-1] == ROWS and np.all(np.diff(starts) > 0) and np.diff(starts).max() <= 100
    # a tree of copies cannot split by a hyperplane; it still ends in small leaves
    perm, starts = nn_descent.rp_tree(np.ones((500, 4), np.float32), 50, 0)
    assert np.array_equal(np.sort(perm), np.arange(500)) and np.diff(starts).max() <= 50


def test_graph_finds_the_true_neighbours_with_exact_distances(data, tmp_path):
    folder, X = data
    indices, distances, record = _graph(folder, tmp_path / "scores")
    assert record["search"] == "nn-descent" and record["rounds_chosen_for_recall"] == 0.97
    assert record["calibration_recall_by_round"][-1] >= 0.97 and record["rounds"] <= nn_descent.MAX_ROUNDS
    assert record["recall_at_10"] >= 0.95  # other rows than the rounds were chosen on
    rows = np.random.default_rng(0).choice(ROWS, 300, replace=False)
    squared = ((X[rows, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(axis=2)
    squared[np.arange(len(rows)), rows] = np.inf
    exact = np.argsort(squared, axis=1)[:, :10]
    recall = np.mean([len(np.intersect1d(exact[i], indices[row, :10])) / 10 for i, row in enumerate(rows)])
    assert recall >= 0.95
    assert not np.any(indices[rows] == rows[:, None])  # never the row itself
    assert np.all(np.diff(distances[rows], axis=1) >= 0)  # nearest first
    true = np.sqrt(squared[np.arange(len(rows))[:, None], indices[rows]])
    assert np.allclose(distances[rows], true, rtol=1e-4, atol=1e-4)  # euclidean distances of the pairs returned


def test_graph_does_not_depend_on_the_blocks(data, tmp_path, monkeypatch):
    folder, _ = data
    whole, whole_d, first = _graph(folder, tmp_path / "whole")
    monkeypatch.setattr(descent, "BLOCK", 700)  # nine blocks, the last one short
    cut, cut_d, second = _graph(folder, tmp_path / "cut")
    assert np.array_equal(whole, cut) and np.array_equal(whole_d, cut_d)
    assert first["calibration_recall_by_round"] == second["calibration_recall_by_round"]


def test_auto_is_nn_descent_above_a_million_rows_unless_the_inverted_file_is_configured():
    assert partitioned_search("auto", None, None, DESCENT_FROM + 1) == "nndescent"
    assert partitioned_search("auto", None, None, DESCENT_FROM) == "ivf"
    assert partitioned_search("auto", 200, None, 5 * DESCENT_FROM) == "ivf"
    assert partitioned_search("auto", None, 8, 5 * DESCENT_FROM) == "ivf"
    assert partitioned_search("nndescent", None, None, 1000) == "nndescent"
    with pytest.raises(ConfigError, match="choose one of"):
        partitioned_search("annoy", None, None, 1000)
