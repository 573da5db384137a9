"""The neighbour graph's large-data paths: the approximate search run list by list with a probe count
chosen by measured recall, and the exact search and recall measure that read the rows block by block
(core/foundation/neighbors.py)."""

import numpy as np
import pytest

from core.foundation.neighbors import (PROBE_STEPS, NeighborGraph, _exact_among, _ivf_index, approximate_knn_graph,
                                       choose_probes, ivf_cells, knn_graph, neighbor_recall)


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


def test_index_cells_grow_as_twice_the_square_root_with_39_rows_each():
    for n in (1_000, 20_001, 100_000, 300_000, 1_000_000, 5_000_000):
        cells = ivf_cells(n)
        assert abs(cells - 2 * np.sqrt(n)) <= 1 or cells == n // 39
        assert n // cells >= 39
    assert ivf_cells(1_000) == 1_000 // 39  # small data: faiss's 39 training rows per cell bind


def _calibration_recall(index, X, probes):
    rows = np.arange(0, len(X), 17)
    _, truth = _exact_among(X, rows, 10)
    index.nprobe = probes
    _, found = index.search(X[rows], 11)
    return np.mean([len(np.intersect1d(t, f[f != r][:10])) for t, f, r in zip(truth, found, rows)]) / 10


def test_choose_probes_takes_the_fewest_cells_that_reach_the_target(blobs):
    index, _ = _ivf_index(blobs, clusters=64, seed=0)
    steps = (1, 2, 4, 8, 16, 32)
    loose = choose_probes(index, blobs, 0.6, queries=len(blobs), steps=steps)
    tight = choose_probes(index, blobs, 0.99, queries=len(blobs), steps=steps)
    assert loose < tight
    for target, chosen in ((0.6, loose), (0.99, tight)):  # its recall reaches the target, one step fewer does not
        assert _calibration_recall(index, blobs, chosen) >= target - 0.02
        if chosen > steps[0]:
            assert _calibration_recall(index, blobs, steps[steps.index(chosen) - 1]) < target + 0.02
    assert choose_probes(index, blobs, 1.01, queries=200, steps=steps) == 64  # unreachable: every cell, exact


@pytest.mark.slow
def test_default_graph_keeps_recall_above_the_bar_at_60k_rows():
    # Clustered 128-feature rows like benchmarks/scale.py's: 16 latent dimensions, 40 components.
    generator = np.random.default_rng(3)
    centres = generator.normal(size=(40, 16)) * 2.0
    latent = centres[generator.integers(0, 40, 60_000)] + generator.normal(size=(60_000, 16))
    X = (latent @ (generator.normal(size=(16, 128)) / 4.0) + 0.1 * generator.normal(size=(60_000, 128)))
    X = X.astype(np.float32)
    graph = approximate_knn_graph(X, 30, seed=0)
    assert graph.probes in PROBE_STEPS and graph.probes < ivf_cells(len(X))  # chosen, not the exact fallback
    assert neighbor_recall(X, graph, k=10, queries=300, seed=5) >= 0.95  # rows the probes were not chosen on
