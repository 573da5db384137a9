"""The neighbour graph's large-data paths: the approximate search run list by list, and the exact
search and recall measure that read the rows block by block (core/foundation/neighbors.py)."""

import numpy as np
import pytest

from core.foundation.neighbors import (NeighborGraph, _exact_among, approximate_knn_graph, knn_graph,
                                       neighbor_recall)


@pytest.fixture(scope="module")
def blobs():
    generator = np.random.default_rng(7)
    centres = generator.normal(scale=5.0, size=(12, 24))
    X = centres[generator.integers(12, size=5000)] + generator.normal(size=(5000, 24))
    return X.astype(np.float32)


def test_searching_list_by_list_keeps_every_row_its_own_neighbours(blobs):
    # Rows are searched in the order of the index's lists and written back: every row's listed
    # neighbours must be at the distances measured from *that* row, and near its exact ones.
    graph = approximate_knn_graph(blobs, 12, seed=0)
    measured = np.linalg.norm(blobs[graph.indices] - blobs[:, None, :], axis=2)
    np.testing.assert_allclose(graph.distances, measured, rtol=1e-3, atol=1e-3)
    assert not (graph.indices == np.arange(len(blobs))[:, None]).any()
    exact = knn_graph(blobs, 12, device="cpu")
    overlap = np.mean([len(np.intersect1d(a, e)) for a, e in zip(graph.indices, exact.indices)]) / 12
    assert overlap > 0.95


def test_exact_among_reads_the_rows_in_blocks(blobs):
    exact = knn_graph(blobs, 10, device="cpu")
    rows = np.array([0, 17, 2500, 4999])
    for block_size in (97, 1000, 65536):  # blocks smaller than k + 8, uneven, and one block
        distances, indices = _exact_among(blobs, rows, 10, chunk_size=3, block_size=block_size)
        np.testing.assert_array_equal(indices, exact.indices[rows])
        np.testing.assert_allclose(distances, exact.distances[rows], rtol=1e-4, atol=1e-4)


def test_neighbor_recall_counts_the_true_neighbours_found(blobs):
    exact = knn_graph(blobs, 10, device="cpu")
    assert neighbor_recall(blobs, exact, k=10, queries=300, seed=2) == 1.0
    # Half of every row's neighbours replaced by far rows: recall about one half.
    damaged = exact.indices.copy()
    far = (np.arange(len(blobs)) + len(blobs) // 2) % len(blobs)
    damaged[:, 5:] = far[:, None]
    half = neighbor_recall(blobs, NeighborGraph(damaged, exact.distances), k=10, queries=300, seed=2)
    assert 0.45 <= half <= 0.55
