"""The partitioned (large-data) path: a Dask local cluster of two worker processes gives the scores and
selections of the single-machine path on the same data.

Tolerances: neighbour distances are float32, so distance-based scores agree to 1e-5; flags,
duplicate groups, label-noise and KNN-Shapley values agree exactly (up to float summation order,
1e-9). Prototypicality's k-means is fitted on the stratified fitting sample on partitions (recorded), so
it is checked against that method computed on one machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from sklearn.cluster import KMeans

import core
from core.foundation import knn_graph
from core.data.partitions import load_partitioned, open_partitioned, row_uniforms
from core.scorers import LargeData, compute_scores
from core.scorers.oof import fit_sample_mask, sampled_out_of_fold
from core.workflows import (SerialEngine, dask_engine, load_partitioned_sample, score_partitioned,
                            select_partitioned)
from core.foundation.order_statistics import medians, order_statistics
from core.foundation.cluster_index import fit_cluster_index, nearest_clusters, probe_search

ROWS, FEATURES, CLASSES, FIT_ROWS = 2400, 12, 4, 1200


def embeddings(n: int, d: int, classes: int, seed: int, noise: float = 0.1):
    """Clustered embedding-like rows (low intrinsic dimension) with ``noise`` of labels flipped."""
    generator = np.random.default_rng(seed)
    centres = generator.normal(size=(classes * 3, 6)) * 2.0
    component = generator.integers(0, classes * 3, n)
    latent = centres[component] + generator.normal(size=(n, 6))
    X = (latent @ generator.normal(size=(6, d)) + 0.1 * generator.normal(size=(n, d))).astype(np.float32)
    y = component % classes
    flipped = generator.random(n) < noise
    y[flipped] = generator.integers(0, classes, int(flipped.sum()))
    return X, y, flipped & (y != component % classes)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("partitioned") / "data"
    root.mkdir()
    X, y, _ = embeddings(ROWS, FEATURES, CLASSES, seed=3)
    X[7] = X[8] + 1e-4  # two near-duplicate pairs across partitions
    X[1500] = X[100] * 1.00001
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(FEATURES)])
    frame["label"] = np.array(["ant", "bee", "cat", "dog"])[y]
    frame["rid"] = [f"r{i:05d}" for i in range(ROWS)]
    for number, start in enumerate(range(0, ROWS, 700)):  # 4 partitions of unequal size
        frame.iloc[start:start + 700].to_parquet(root / f"part-{number}.parquet", index=False)
    return root


@pytest.fixture(scope="module")
def single(dataset, tmp_path_factory):
    ds = load_partitioned(dataset, store=tmp_path_factory.mktemp("store"), label="label", id="rid")
    large = LargeData(approximate_above=10**9, fit_rows=FIT_ROWS)  # exact graph, sampled out-of-fold models
    return ds, compute_scores(ds, "default", seed=0, cache=False, large=large)


@pytest.fixture(scope="module")
def distributed(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("outputs")
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    default_scratch = Path(tempfile.gettempdir()) / "dask-scratch-space"
    default_there = default_scratch.exists()
    with dask_engine(workers=2) as engine:
        assert engine.description == {"engine": "dask", "cluster": "local", "workers": 2}
        scratch = engine.scratch
        # probes >= clusters: the shared-index search is exact, like the single-machine graph here
        record = score_partitioned(dataset, out / "scores", label="label", id="rid", fit_rows=FIT_ROWS,
                                   clusters=12, probes=12, engine=engine)
        top = select_partitioned(dataset, out / "scores", out / "kept_top", out / "top.json", strategy="knn_density",
                                 keep=0.3, label="label", id="rid", engine=engine)
        flagged = select_partitioned(dataset, out / "scores", out / "kept_clean", out / "clean.json",
                                     strategy="drop-flagged:label_noise", label="label", id="rid", engine=engine)
    leftover = [" ".join(c.cmdline()) for c in psutil.Process().children(recursive=True)
                if c.pid not in before and c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    # multiprocessing's resource tracker serves this test process for its lifetime; it is not a worker
    leftover = [command for command in leftover if "resource_tracker" not in command]
    return {"out": out, "record": record, "top": top, "flagged": flagged, "leftover": leftover, "scratch": scratch,
            "default_scratch_made": default_scratch.exists() and not default_there}


@pytest.mark.slow
def test_local_cluster_is_closed(distributed):
    assert distributed["leftover"] == []
    # its workers used a scratch folder of the run's own, and it is gone (Dask's default one stays behind)
    assert distributed["scratch"].name.startswith("workbench-dask-") and not distributed["scratch"].exists()
    assert not distributed["default_scratch_made"]


def test_scores_equal_single_machine(single, distributed):
    ds, expected = single
    got = pd.read_parquet(distributed["out"] / "scores")
    expected = expected.reset_index()
    assert list(got["id"]) == list(expected["id"])
    for column in ("knn_density", "outlier", "duplicate"):
        np.testing.assert_allclose(got[column], expected[column], atol=1e-5, rtol=1e-5)
    for column in ("label_noise", "knn_shapley"):
        np.testing.assert_allclose(got[column], expected[column], atol=1e-9)
    for column in ("duplicate_flag", "outlier_flag", "label_noise_flag", "duplicate_group"):
        assert (got[column].to_numpy() == expected[column].to_numpy()).all(), column
    assert got["duplicate_flag"].sum() >= 2  # the planted near-duplicates are found across partitions
    # prototypicality: k-means on the stratified fitting sample (recorded), then every row's nearest centroid
    sample = fit_sample_mask(ds.y, np.arange(ROWS), np.bincount(ds.y), FIT_ROWS, seed=0)
    centroids = KMeans(n_clusters=CLASSES, n_init=3, random_state=0).fit(np.asarray(ds.X[sample], dtype=np.float64))
    np.testing.assert_allclose(got["prototypicality"], centroids.transform(np.asarray(ds.X, np.float64)).min(axis=1),
                               atol=1e-6)


def test_scores_record_engine_sample_and_index(distributed):
    record = distributed["record"]
    written = json.loads((distributed["out"] / "scores" / "_workbench_scores.json").read_text())
    assert written == json.loads(json.dumps(record))
    assert record["engine"]["workers"] == 2 and record["partitions"] == 4 and record["n_rows"] == ROWS
    by_name = {r["name"]: r for r in record["scorers"]}
    assert by_name["label_noise"]["oof"]["fit"] == "stratified sample"
    assert abs(by_name["label_noise"]["oof"]["rows"] - FIT_ROWS) < 0.2 * FIT_ROWS
    assert by_name["knn_density"]["neighbors"]["method"] == "exact"
    assert by_name["knn_density"]["neighbors"]["recall_at_10"] == 1.0  # exact search, checked by brute force
    assert by_name["prototypicality"]["prototypes"]["fit"] == "k-means on the stratified sample"
    # how long each stage and each scorer's partition tasks took, for the scale benchmark's exponents
    timings = record["timings"]
    assert set(timings["scorer_task_seconds"]) == set(by_name)
    assert {"neighbour graph", "feature store", "scores of every partition, written"} <= set(timings["stages_wall_seconds"])
    assert all(v >= 0 for v in [*timings["scorer_task_seconds"].values(), *timings["stages_wall_seconds"].values()])
    assert sum(timings["stages_wall_seconds"].values()) > sum(timings["scorer_task_seconds"].values()) / 2


def test_selections_equal_single_machine(single, distributed):
    ds, scores = single
    kept_top = pd.read_parquet(distributed["out"] / "kept_top")
    expected = core.select(ds, scores, strategy="knn_density", keep=0.3, seed=0)
    assert sorted(kept_top["rid"]) == sorted(ds.ids[expected.mask])
    assert distributed["top"]["n_kept"] == expected.n_kept == round(0.3 * ROWS)
    assert list(kept_top.columns) == [f"f{i}" for i in range(FEATURES)] + ["label", "rid"]  # all columns, in order
    kept_clean = pd.read_parquet(distributed["out"] / "kept_clean")
    clean = core.select(ds, scores, strategy="drop-flagged:label_noise", seed=0)
    assert sorted(kept_clean["rid"]) == sorted(ds.ids[clean.mask])


def test_sampled_out_of_fold_is_partition_independent_and_finds_noise():
    X, y, flipped = embeddings(6000, 8, 3, seed=5, noise=0.15)
    positions = np.arange(len(y))
    counts = np.bincount(y)
    whole = fit_sample_mask(y, positions, counts, 1000, seed=0)
    pieces = np.concatenate([fit_sample_mask(y[s], positions[s], counts, 1000, seed=0)
                             for s in np.array_split(positions, 7)])
    assert (whole == pieces).all() and 800 < whole.sum() < 1200
    oof = sampled_out_of_fold(X, y, 3, max_rows=1000, folds=5, seed=0)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(flipped, 1.0 - oof.probabilities[positions, y]) > 0.85


def _search_lists(X, lists, n_lists, probes, k):
    """``probe_search`` of every row of ``X`` when row ``i`` lives in list ``lists[i]`` (lists held in memory)."""
    order = np.argsort(lists, kind="stable")
    bounds = np.searchsorted(lists[order], np.arange(n_lists + 1))
    return probe_search(X, np.arange(len(X)), probes,
                        lambda c: (X[order[bounds[c]:bounds[c + 1]]], order[bounds[c]:bounds[c + 1]]), k, n_lists)


def test_cluster_probe_search_recall():
    X, _, _ = embeddings(4000, 16, 4, seed=1)
    index = fit_cluster_index(X, 40, 6, seed=0)
    probes = nearest_clusters(X, index.centroids, index.probes)
    distances, indices = _search_lists(X, probes[:, 0], 40, probes, 10)
    exact = knn_graph(X, 10, device="cpu")
    recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(indices, exact.indices)])
    assert recall >= 0.95
    assert (indices != np.arange(len(X))[:, None]).all()  # never its own neighbour
    assert (np.diff(distances, axis=1) >= 0).all()


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_cluster_probe_search_distances_hold_far_from_the_origin_and_copies_read_zero(offset):
    # the search ranks by an expanded product; far from the origin (offset 1000) its terms are a million
    # times the distances, and a copy's distance is nothing but cancellation
    generator = np.random.default_rng(1)
    base = generator.normal(size=(1500, 32)).astype(np.float32) + np.float32(offset)
    near = base[300:450] + np.float32(1e-3) * generator.normal(size=(150, 32)).astype(np.float32)
    X = np.concatenate([base, base[:150], near]).astype(np.float32)
    index = fit_cluster_index(X, 12, 12, seed=0)
    probes = nearest_clusters(X, index.centroids, index.probes)
    distances, indices = _search_lists(X, probes[:, 0], 12, probes, 5)
    X64 = X.astype(np.float64)
    true = np.sqrt(((X64[:, None, :] - X64[indices]) ** 2).sum(axis=-1))
    assert np.abs(distances - true).max() <= 1e-5 * true.max()
    exact = knn_graph(X, 5, device="cpu")  # every list probed: the same neighbours as an exact search
    np.testing.assert_allclose(np.sort(distances, axis=1), exact.distances, rtol=1e-5, atol=1e-6)
    assert (distances[:150, 0] == 0).all() and (distances[1500:1650, 0] == 0).all()  # a copy and its original
    measured = np.abs(distances[1650:, 0] - true[1650:, 0]) / true[1650:, 0]
    assert measured.max() <= 1e-4  # a near copy 1e-3 x sqrt(32) away keeps its distance


def test_cluster_probe_search_finds_the_best_of_exactly_the_probed_lists_in_any_probe_order():
    # the search takes a distance to beat from each query's first probe; whatever that list is (nearest, far,
    # or one with fewer rows than k), the answer is the k nearest rows of the probed lists, brute force
    generator = np.random.default_rng(3)
    X = generator.normal(size=(900, 8)).astype(np.float32)
    lists = np.minimum(generator.integers(0, 12, len(X)), 11)
    lists[:4] = 11  # list 11: a few rows only
    lists[4:] = np.where(lists[4:] == 11, 10, lists[4:])
    probes = np.stack([generator.permutation(12)[:4] for _ in range(len(X))])
    probes[:50] = [[11, *generator.permutation(11)[:3]] for _ in range(50)]  # the first holds 4 rows, fewer than k
    k = 7
    distances, indices = _search_lists(X, lists, 12, probes, k)
    for q in range(len(X)):
        pool = np.flatnonzero(np.isin(lists, probes[q]) & (np.arange(len(X)) != q))
        true = np.sqrt(((X[pool].astype(np.float64) - X[q]) ** 2).sum(axis=1))
        best = np.argsort(true, kind="stable")[:k]
        np.testing.assert_allclose(distances[q], true[best], rtol=1e-5, atol=1e-6)
        assert set(indices[q]) == set(pool[best])


def _parts(index: int, arrays: list) -> list:
    return [arrays[index]]


def test_order_statistics_are_exact():
    generator = np.random.default_rng(0)
    arrays = [generator.normal(size=n) for n in (101, 1, 350, 64)]
    arrays[2][:40] = np.nan  # left out
    arrays[3][:10] = 0.5  # ties
    values = np.concatenate(arrays)
    values = values[~np.isnan(values)]
    engine = SerialEngine()
    for rank in (1, 7, 200, len(values)):
        assert order_statistics(engine, 4, _parts, (arrays,), lambda counts: [rank])[0] == np.sort(values)[::-1][rank - 1]
    assert medians(engine, 4, _parts, (arrays,))[0] == np.median(values)


def test_open_partitioned_summaries(dataset):
    data = open_partitioned(str(dataset / "*.parquet"), label="label", id="rid")
    assert [p.rows for p in data.partitions] == [700, 700, 700, 300]
    assert data.n_samples == ROWS and data.n_features == FEATURES and list(data.classes) == ["ant", "bee", "cat", "dog"]
    assert open_partitioned(dataset, label="label", id="rid").fingerprint == data.fingerprint
    draws = row_uniforms(0, np.arange(10), 1)
    assert (draws == row_uniforms(0, np.arange(10), 1)).all() and not (draws == row_uniforms(1, np.arange(10), 1)).all()


@pytest.mark.slow
def test_cli_scores_partitioned_folder_and_refuses_bad_cluster(dataset, tmp_path):
    out = tmp_path / "scores"
    run = subprocess.run([sys.executable, "-m", "core.cli", "score", str(dataset), "--label", "label", "--id", "rid",
                          "--workers", "0", "--scorers", "knn_density,duplicate", "--out", str(out), "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    scores = pd.read_parquet(out)
    assert list(scores.columns[:4]) == ["id", "label", "knn_density", "duplicate"] and len(scores) == ROWS
    bad = subprocess.run([sys.executable, "-m", "core.cli", "score", str(dataset), "--label", "label",
                          "--cluster", "tcp://127.0.0.1:9", "--out", str(tmp_path / "other")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Dask scheduler" in bad.stderr
    assert not (tmp_path / "other").exists()


def test_stratified_sample_with_scores_for_the_app(dataset, distributed):
    ds, scores, sample = load_partitioned_sample(dataset, scores=distributed["out"] / "scores", rows=600,
                                                 label="label", id="rid", seed=0)
    assert 450 < sample["rows"] < 750 and sample["of"] == ROWS and ds.n_samples == sample["rows"]
    full = pd.concat([pd.read_parquet(p) for p in sorted(dataset.glob("*.parquet"))], ignore_index=True)
    assert list(ds.frame.columns) == list(full.columns)  # every original column
    shares = pd.Series(ds.labels).value_counts(normalize=True)
    expected = full["label"].value_counts(normalize=True)
    assert (shares.reindex(expected.index) - expected).abs().max() < 0.05  # stratified
    assert list(scores.index) == list(ds.ids)
    written = pd.read_parquet(distributed["out"] / "scores").set_index("id")
    np.testing.assert_allclose(scores["knn_density"], written.loc[ds.ids, "knn_density"])


@pytest.mark.slow
def test_closing_a_local_cluster_waits_for_its_workers_and_not_the_resource_tracker():
    # the resource tracker multiprocessing starts beside the workers lives as long as the process that started the
    # cluster: counted as a worker, every local cluster's close waited out the whole timeout (15 s a CLI command)
    code = ("import psutil\n"
            "from core.workflows.partitioned import engine\n"
            "before = {c.pid for c in psutil.Process().children(recursive=True)}\n"
            "with engine.dask_engine(workers=2):\n"
            "    new = [c for c in psutil.Process().children(recursive=True) if c.pid not in before]\n"
            "    print(sorted((engine._is_worker(c), 'resource_tracker' in ' '.join(c.cmdline())) for c in new))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent.parent, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[(False, True), (True, False), (True, False)]"
