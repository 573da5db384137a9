"""Rows per second and peak memory of the default scorers at growing sizes, on one machine and on a
local Dask cluster; prints JSON.

    .venv/bin/python benchmarks/scale.py --rows 100000,1000000 --mode single
    .venv/bin/python benchmarks/scale.py --rows 100000 --mode cluster --workers 2
    .venv/bin/python benchmarks/scale.py --rows 100000,300000,1000000 --mode cluster --partition-rows 50000
    nice -n 10 .venv/bin/python benchmarks/scale.py --rows 100000,300000,1000000 --mode stages

Data: clustered embedding-like rows (``--features`` columns of ``--latent`` intrinsic dimensions, 16 by
default, plus a little noise in all; 10 % of the labels flipped), written once as a folder of Parquet
partitions under ``--cache`` and reused.

``single``: :func:`core.data.partitions.load_partitioned` (features memory-mapped from a feature
store, not copied) and :func:`core.compute_scores` with the default scorers and the default
:class:`core.scorers.LargeData` (approximate neighbours with measured recall@10, out-of-fold models
on a stratified sample). ``cluster``: :func:`core.workflows.score_partitioned` on a local cluster, with the
wall seconds of each of its stages on the driver and each scorer's seconds summed over its partition tasks
(from the scores record's ``timings``; NN-descent's steps as ``neighbour graph: ...``) and, across sizes, their
fitted exponents (``exponents_cluster``); ``--search nndescent`` or ``ivf`` forces the shared graph's method
(``auto``: the library's choice by row count).
Each run is a child process; its peak memory is the child's peak resident set (``ru_maxrss``; for
the cluster, the driver plus every worker), which includes the memory-mapped pages it touched.

``stages``: the single-machine path taken apart, each stage timed alone in the same child (wall
and CPU seconds): loading, the neighbour graph (k sized for every default scorer; ``--search auto``,
the library's default, ``ivf`` or ``hnsw``; includes choosing the search width or probe count on its calibration rows,
``--probes N`` fixes the inverted file's instead; recall check excluded), the recall@10 check, the out-of-fold models, then each default scorer's own pass over
the shared work (prototypicality's includes its k-means). Across sizes it fits each stage's
exponent (least-squares slope of log time on log rows, wall and CPU) beside n log n's slope over
the same sizes; CPU time is the steadier figure on a shared machine. The load average before and
after every child is recorded. Cold: no disk cache.

The JSON gives, per run, seconds, rows/s, peak memory, the scorer records (neighbour method and
recall, how the out-of-fold models were fitted) and, between consecutive sizes of one mode, the
cost of each extra 10x rows (time and memory ratios scaled to a factor of 10).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_data(folder: Path, rows: int, features: int, classes: int, partition_rows: int, seed: int = 0,
               latent: int = 16) -> Path:
    """Write ``rows`` generated rows as Parquet partitions (skipped when ``folder`` already holds them):
    Gaussian clusters in ``latent`` dimensions mixed into ``features`` columns, plus a little noise in all."""
    import pandas as pd

    done = folder / "_complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    generator = np.random.default_rng(seed)
    centres = generator.normal(size=(classes * 4, latent)) * 2.0
    mixing = generator.normal(size=(latent, features)) / np.sqrt(latent)  # 16 latent: / 4, as before the option
    for number, start in enumerate(range(0, rows, partition_rows)):
        count = min(partition_rows, rows - start)
        component = generator.integers(0, classes * 4, count)
        coordinates = centres[component] + generator.normal(size=(count, latent))
        X = (coordinates @ mixing + 0.1 * generator.normal(size=(count, features))).astype(np.float32)
        y = component % classes
        flipped = generator.random(count) < 0.1
        y[flipped] = generator.integers(0, classes, int(flipped.sum()))
        frame = pd.DataFrame(X, columns=[f"e{i:03d}" for i in range(features)])
        frame["label"] = y
        frame.to_parquet(folder / f"part-{number:05d}.parquet", index=False)
    done.write_text("ok\n")
    return folder


def _progress(start: float):
    last = [-1]

    def report(done: int, total: int, message: str) -> None:
        share = int(100 * done / total) if total else 100
        if share // 5 != last[0] // 5:
            last[0] = share
            print(f"[{time.time() - start:7.1f}s] {share:3d}% {message}", file=sys.stderr, flush=True)

    return report


def run_single(data: Path, scratch: Path, search: str) -> dict:
    from core.data.partitions import load_partitioned
    from core.scorers import LargeData, compute_scores

    start = time.time()
    ds = load_partitioned(data, store=scratch / "store", label="label")
    loaded = time.time() - start
    scores = compute_scores(ds, "default", seed=0, cache=False, progress=_progress(start),
                            large=LargeData(search=search))
    return {"rows": ds.n_samples, "features": ds.n_features, "seconds": time.time() - start,
            "seconds_loading": loaded, "scorers": scores.attrs.get("workbench_scorers"),
            "feature_store": "memory-mapped (read-only np.memmap)" if isinstance(ds.X, np.memmap) else "in memory"}


class _Stages:
    """Wall and CPU seconds of named stages."""

    def __init__(self):
        self.wall, self.cpu = {}, {}

    def time(self, name: str, work):
        wall, cpu = time.time(), time.process_time()
        value = work()
        self.wall[name] = round(time.time() - wall, 2)
        self.cpu[name] = round(time.process_time() - cpu, 2)
        print(f"  {name}: {self.wall[name]} s wall, {self.cpu[name]} s CPU", file=sys.stderr, flush=True)
        return value


def run_stages(data: Path, scratch: Path, probes: int = 0, search: str = "auto") -> dict:
    from core.data.partitions import load_partitioned
    from core.foundation.neighbors import neighbor_recall
    from core.scorers import LargeData, ScoringContext, resolve_scorers

    stages, start = _Stages(), time.time()
    ds = stages.time("loading", lambda: load_partitioned(data, store=scratch / "store", label="label"))
    checks = LargeData().recall_queries
    large = LargeData(recall_queries=0, probes=int(probes) if probes else None, search=search)
    context = ScoringContext(ds, seed=0, cache=False, large=large)
    scorers = resolve_scorers("default")
    context.plan(scorers)
    graph = stages.time("neighbour graph", lambda: context.neighbors(context.planned_neighbors))
    recall = stages.time("recall check", lambda: neighbor_recall(ds.X, graph, k=min(10, graph.k), queries=checks))
    stages.time("out-of-fold models", context.out_of_fold)
    for scorer in scorers:
        stages.time(scorer.name, lambda: scorer.compute(ds, context))
    shared = context.choices()
    shared["neighbors"].update({"k": graph.k, "recall_at_10": round(float(recall), 4), "recall_queries": checks})
    return {"rows": ds.n_samples, "features": ds.n_features, "seconds": time.time() - start,
            "stages_wall": stages.wall, "stages_cpu": stages.cpu, "shared": shared}


def exponents(runs: list) -> dict:
    """Per stage: least-squares slope of log seconds on log rows (wall and CPU), and n log n's slope."""
    if len(runs) < 2:
        return {}
    n = np.array([run["rows"] for run in runs], dtype=float)
    slope = lambda values: round(float(np.polyfit(np.log(n), np.log(np.maximum(values, 1e-3)), 1)[0]), 2)  # noqa: E731
    fitted = {"n_log_n": slope(n * np.log(n))}
    for name in runs[0]["stages_wall"]:
        fitted[name] = {"wall": slope([run["stages_wall"][name] for run in runs])}
        if "stages_cpu" in runs[0]:
            fitted[name]["cpu"] = slope([run["stages_cpu"][name] for run in runs])
    fitted["total"] = {"wall": slope([run["seconds"] for run in runs])}
    return fitted


def run_cluster(data: Path, scratch: Path, workers: int, search: str = "auto") -> dict:
    from core.workflows import dask_engine, score_partitioned

    start = time.time()
    with dask_engine(workers=workers) as engine:
        started = time.time() - start
        record = score_partitioned(data, scratch / "scores", label="label", engine=engine, scratch=scratch,
                                   search=search, progress=_progress(start))
        worker_peaks = engine.client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    timings = record["timings"]
    stages = dict(timings["stages_wall_seconds"])
    stages.update({f"{name} (task seconds)": value for name, value in timings["scorer_task_seconds"].items()})
    stages["writing the scores files (task seconds)"] = timings["write_task_seconds"]
    return {"rows": record["n_rows"], "seconds": time.time() - start, "seconds_cluster_start": started,
            "scorers": record["scorers"], "engine": record["engine"], "stages_wall": stages,
            "worker_peak_mib": round(sum(worker_peaks.values()) / 1024, 1)}


def _child(args) -> None:
    import shutil
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="scale-", dir=args.cache))
    try:
        load_before = os.getloadavg()
        if args.mode == "cluster":
            result = run_cluster(Path(args.data), scratch, args.workers, args.search)
        elif args.mode == "stages":
            result = run_stages(Path(args.data), scratch, args.probes, args.search)
        else:
            result = run_single(Path(args.data), scratch, args.search)
        result["load_average"] = {"before": [round(v, 2) for v in load_before],
                                  "after": [round(v, 2) for v in os.getloadavg()]}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["peak_mib"] = round(own + result.get("worker_peak_mib", 0.0), 1)
    result["rows_per_second"] = round(result["rows"] / result["seconds"], 1)
    print(json.dumps(result))


def growth(runs: list) -> list:
    """Cost of each extra 10x rows between consecutive sizes: time and memory ratios scaled to 10x."""
    steps = []
    for small, large in zip(runs, runs[1:]):
        factor = large["rows"] / small["rows"]
        if factor <= 1:
            continue
        exponent = lambda a, b: math.log(b / a) / math.log(factor)  # noqa: E731
        steps.append({"from_rows": small["rows"], "to_rows": large["rows"],
                      "time_per_10x_rows": round(10 ** exponent(small["seconds"], large["seconds"]), 2),
                      "memory_per_10x_rows": round(10 ** exponent(small["peak_mib"], large["peak_mib"]), 2)})
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="100000", help="comma-separated sizes (default 100000)")
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--latent", type=int, default=16,
                        help="intrinsic dimension of the generated rows (default 16); the search's work per row grows "
                             "with it")
    parser.add_argument("--partition-rows", type=int, default=100_000)
    parser.add_argument("--mode", default="single", choices=["single", "cluster", "both", "stages"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--probes", type=int, default=0,
                        help="stages: search this many cells per row (0: the count chosen by measured recall)")
    parser.add_argument("--search", default="auto", choices=["auto", "ivf", "hnsw", "nndescent"],
                        help="the approximate neighbour search (default auto, the library's): ivf or hnsw on one "
                             "machine (single, stages), ivf or nndescent on partitions (cluster)")
    parser.add_argument("--cache", default="/tmp/workbench-scale", help="where generated data and scratch go")
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args)
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    modes = ["single", "cluster"] if args.mode == "both" else [args.mode]
    report = {"machine": "2 cores, shared with other jobs unless stated", "features": args.features, "search": args.search,
              "latent": args.latent,
              "classes": args.classes, "runs": {}, "growth": {}}
    for mode in modes:
        runs = []
        for rows in [int(r) for r in args.rows.split(",")]:
            name = f"data-{rows}x{args.features}-p{args.partition_rows}" + ("" if args.latent == 16 else f"-l{args.latent}")
            data = write_data(Path(args.cache) / name, rows, args.features, args.classes, args.partition_rows,
                              latent=args.latent)
            child = subprocess.run([sys.executable, __file__, "--child", "--mode", mode, "--data", str(data),
                                    "--workers", str(args.workers), "--cache", args.cache,
                                    "--probes", str(args.probes), "--search", args.search],
                                   stdout=subprocess.PIPE, text=True, check=True)
            runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(json.dumps({"mode": mode, **runs[-1]}), file=sys.stderr, flush=True)
        report["runs"][mode] = runs
        report["growth"][mode] = growth(runs)
        if mode == "stages":
            report["exponents"] = exponents(runs)
        if mode == "cluster":  # the driver's stages (wall) and each scorer's partition tasks (task seconds)
            report["exponents_cluster"] = exponents(runs)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
