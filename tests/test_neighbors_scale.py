"""The neighbour graph's large-data paths: the approximate searches (an HNSW graph over rows in k-means
order, an inverted file run list by list) with their effort chosen by measured recall, and the exact
search and recall measure that read the rows block by block (core/foundation/neighbors.py)."""

import numpy as np
import pytest

from core.foundation.errors import ConfigError
from core.foundation.neighbors import (HNSW_FROM, PROBE_STEPS, WIDTH_STEPS, NeighborGraph, _exact_among, _ivf_index,
                                       _locality_order, approximate_knn_graph, choose_probes, choose_width, ivf_cells,
                                       knn_graph, neighbor_recall, resolve_search)

METHODS = ("ivf", "hnsw")


@pytest.fixture(scope="module")
def blobs():
    generator = np.random.default_rng(7)
    centres = generator.normal(scale=5.0, size=(12, 24))
    X = centres[generator.integers(12, size=5000)] + generator.normal(size=(5000, 24))
    return X.astype(np.float32)


@pytest.mark.parametrize("search", METHODS)
def test_searching_in_index_order_keeps_every_row_its_own_neighbours(blobs, search):
    # Rows are stored and searched in the index's order (k-means cells, the inverted file's lists) and
    # written back: every row's listed neighbours must be at the distances measured from *that* row,
    # and near its exact ones.
    graph = approximate_knn_graph(blobs, 12, seed=0, search=search)
    assert graph.search == search and (graph.width is not None) == (search == "hnsw")
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
    for search in METHODS:
        graph = approximate_knn_graph(X, 30, seed=0, search=search)
        if search == "ivf":
            assert graph.probes in PROBE_STEPS and graph.probes < ivf_cells(len(X))  # chosen, not the exact fallback
        else:
            assert graph.width in (31,) + WIDTH_STEPS and graph.width < WIDTH_STEPS[-1]  # chosen, not the widest
        assert neighbor_recall(X, graph, k=10, queries=300, seed=5) >= 0.95  # rows the effort was not chosen on


def _hnsw_index(X):
    import faiss

    order = _locality_order(X, seed=0)
    index = faiss.IndexHNSWFlat(X.shape[1], 4)  # few links: recall grows with the search width over the steps
    index.hnsw.efConstruction = 8
    index.add(np.ascontiguousarray(X[order]))
    return index, order


def _width_recall(index, order, X, width):
    rows = np.arange(0, len(X), 17)
    _, truth = _exact_among(X, rows, 10)
    index.hnsw.efSearch = width
    found = order[index.search(X[rows], 11)[1]]
    return np.mean([len(np.intersect1d(t, f[f != r][:10])) for t, f, r in zip(truth, found, rows)]) / 10


def test_choose_width_takes_the_narrowest_search_that_reaches_the_target(blobs):
    index, order = _hnsw_index(blobs)
    steps = (16, 32, 64, 128, 256)
    loose = choose_width(index, blobs, order, 10, 0.6, queries=len(blobs), steps=steps)
    tight = choose_width(index, blobs, order, 10, 0.8, queries=len(blobs), steps=steps)
    assert loose < tight
    widths = [11] + list(steps)  # k + 1 first
    for target, chosen in ((0.6, loose), (0.8, tight)):  # its recall reaches the target, one step narrower does not
        assert _width_recall(index, order, blobs, chosen) >= target - 0.02
        if chosen > widths[0]:
            assert _width_recall(index, order, blobs, widths[widths.index(chosen) - 1]) < target + 0.02
    assert choose_width(index, blobs, order, 10, 1.01, queries=200, steps=steps) == 256  # unreachable: the widest


def test_rows_are_ordered_by_cell_and_each_appears_once(blobs):
    order = _locality_order(blobs, seed=0)
    assert np.array_equal(np.sort(order), np.arange(len(blobs)))
    # consecutive rows in the order are far nearer each other than consecutive rows of the data
    along = np.linalg.norm(np.diff(blobs[order], axis=0), axis=1).mean()
    assert along < 0.8 * np.linalg.norm(np.diff(blobs, axis=0), axis=1).mean()
    assert np.array_equal(_locality_order(blobs[:200], seed=0), np.arange(200))  # under 512 rows: not worth ordering


def test_auto_searches_with_the_inverted_file_up_to_two_million_rows_and_the_graph_above(blobs):
    assert [resolve_search("auto", n) for n in (25_000, HNSW_FROM, HNSW_FROM + 1)] == ["ivf", "ivf", "hnsw"]
    assert resolve_search("hnsw", 25_000) == "hnsw" and resolve_search("ivf", 10**8) == "ivf"  # asked for: kept
    assert approximate_knn_graph(blobs, 5, seed=0).search == "ivf"  # the default is auto


def test_an_unknown_search_is_refused(blobs):
    with pytest.raises(ConfigError, match="Unknown neighbour search 'annoy'; choose one of auto, ivf, hnsw"):
        approximate_knn_graph(blobs, 5, search="annoy")


@pytest.mark.slow
def test_rows_sorted_by_cluster_still_join_into_one_searchable_graph():
    # A file sorted by class or cluster: built in that order a chunk at a time, the HNSW graph joined
    # the clusters poorly and recall stopped short of the target at any width (see _hnsw_graph).
    generator = np.random.default_rng(11)
    centres = generator.normal(scale=4.0, size=(40, 16))
    X = (centres[np.sort(generator.integers(40, size=80_000))] + generator.normal(size=(80_000, 16))).astype(np.float32)
    graph = approximate_knn_graph(X, 20, seed=0, search="hnsw")
    assert graph.width < WIDTH_STEPS[-1]  # the target reached, not the widest fallback
    assert neighbor_recall(X, graph, k=10, queries=400, seed=9) >= 0.95


def test_ctrl_c_stops_the_graph_build_inside_faiss(monkeypatch):
    # The HNSW build is one faiss call (half the graph's time). A Ctrl-C on the main thread (the CLI, a
    # notebook) must stop it part-way through faiss's interrupt callback, not when the call returns:
    # a SIGINT just after the build starts leaves rows out of the graph.
    import os
    import signal
    import threading

    import faiss

    built, timers = [], []
    real = faiss.IndexHNSWFlat

    def capture(*args):
        built.append(real(*args))
        return built[-1]

    def progress(done, total, message):
        if "building the graph" in message and not timers:
            timers.append(threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)))
            timers[0].start()

    class Interrupted(Exception):
        pass

    def interrupted(signum, frame):
        raise Interrupted

    monkeypatch.setattr(faiss, "IndexHNSWFlat", capture)
    X = np.random.default_rng(3).normal(size=(200_000, 32)).astype(np.float32)
    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        with pytest.raises(Interrupted):
            approximate_knn_graph(X, 10, search="hnsw", width=11, progress=progress)
    finally:
        for timer in timers:
            timer.join()
        signal.signal(signal.SIGINT, previous)
    hnsw = built[0].hnsw
    links = faiss.vector_to_array(hnsw.neighbors)
    starts = faiss.vector_to_array(hnsw.offsets)[:-1].astype(np.int64)
    level0 = links[starts[:, None] + np.arange(hnsw.nb_neighbors(0))]
    unlinked = int((level0 < 0).all(axis=1).sum())
    assert unlinked > len(X) // 10, f"only {unlinked} rows left out: the build ran to its end"
