"""Leak-free fold-wise scores against the all-rows default scoring (issue 20, item 2).

Target: ``workbench select DATA --scores S --strategy ccs:label_noise --keep 0.3`` (leak-free: it
computes the fold-wise scores of ``label_noise``) within 1.2x of ``workbench score DATA`` (the
default scorers on all rows), and fold-wise scores never slower than the per-fold computation
they replaced on the bundled samples.

Per shape (a generated 10-class Gaussian mixture, float32, 5 % flipped labels, written as Parquet
to a temporary folder), each repeat in a fresh cache folder (cold):

- ``score_s``: ``workbench score FILE --label label --out S`` (a new process, as a user runs it);
- ``select_s``: then ``workbench select FILE --label label --scores S --strategy ccs:label_noise
  --keep 0.3 --out K --manifest M`` in the same cache folder (a user who scored first: the all-rows
  neighbour graph is on disk);
- ``select_cold_s``: the same select in a fresh cache folder (nothing on disk but S);
- ``fold_scores_s``: in-process ``core.evaluation.fold_scores`` of the default label-using scorers
  (``label_noise``, ``knn_shapley``: what Tune and auto ask for), cache off;
- ``per_fold_reference_s`` (with ``--reference``): the computation fold_scores did before this
  change, reproduced with public calls: ``compute_scores`` on each fold's rows alone, cache off.

Each time also has its CPU time (``*_cpu_s``: user + system of the process and its threads),
which other work on the machine inflates far less than wall time.

``ratio_select`` = median select_s / median score_s, ``ratio_select_cold`` likewise, and
``ratio_select_cpu`` / ``ratio_select_cold_cpu`` the same on CPU time. The
bundled samples (``core.list_samples()``) report ``fold_scores_s`` and ``per_fold_reference_s``
(medians). Every row carries the 1-minute load average before and after: figures taken while
other work runs are busy figures. Prints one JSON object.

    python benchmarks/foldwise.py                                   # 100k x 128, 3 repeats, samples
    python benchmarks/foldwise.py --rows 100000 --features 128 --repeats 3 --reference
    python benchmarks/foldwise.py --rows 20000 --features 64 --repeats 1 --no-samples
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LABELLED_DEFAULT = ["label_noise", "knn_shapley"]


def mixture_table(rows: int, features: int, classes: int = 10, seed: int = 0) -> pd.DataFrame:
    """benchmarks/app.py's ``synthetic``: Gaussian class centres, noise 2.0, 5 % labels redrawn."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, (classes, features))
    y = rng.integers(0, classes, rows)
    X = centres[y] + rng.normal(0, 2.0, (rows, features))
    flip = rng.random(rows) < 0.05
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"f{i}" for i in range(features)])
    frame["label"] = np.where(flip, rng.integers(0, classes, rows), y)
    return frame


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cli(row: dict, name: str, args: list, cache: str) -> None:
    """Run ``workbench ARGS``; ``row[name + "_s"]`` its wall time, ``row[name + "_cpu_s"]`` its CPU time."""
    env = dict(os.environ, WORKBENCH_CACHE_DIR=cache, WORKBENCH_UMAP="off")
    cpu, started = _children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"workbench {args[0]} failed: {done.stderr.strip()[-2000:]}")
    row[name + "_s"], row[name + "_cpu_s"] = time.perf_counter() - started, _children_cpu() - cpu


def _timed(row: dict, name: str, action) -> None:
    """Run ``action()`` here; its wall and CPU time (all threads of this process) into ``row``."""
    cpu, started = time.process_time(), time.perf_counter()
    action()
    row[name + "_s"], row[name + "_cpu_s"] = time.perf_counter() - started, time.process_time() - cpu


def per_fold_reference(ds, names, fold_of_row) -> list:
    """What fold_scores computed before: every label-using scorer on each fold's rows alone."""
    import core

    return [core.compute_scores(ds.take(np.flatnonzero(fold_of_row != f)), names, seed=0, cache=False)
            for f in range(int(fold_of_row.max()) + 1)]


def _in_process(ds, reference: bool) -> dict:
    from core.evaluation import fold_scores
    from core.foundation.folds import stratified_folds

    folds = stratified_folds(ds.y, 5, 0)
    row = {"load_before": _load()}
    _timed(row, "fold_scores", lambda: fold_scores(ds, LABELLED_DEFAULT, fold_of_row=folds, cache=False))
    if reference:
        _timed(row, "per_fold_reference", lambda: per_fold_reference(ds, LABELLED_DEFAULT, folds))
    row["load_after"] = _load()
    return row


def bench_shape(rows: int, features: int, repeats: int, reference: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="wb-foldwise-bench-"))
    try:
        return _bench_shape(work, rows, features, repeats, reference)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the data, the outputs and every cache folder


def _bench_shape(work: Path, rows: int, features: int, repeats: int, reference: bool) -> dict:
    import core

    data = work / "data.parquet"
    mixture_table(rows, features).to_parquet(data)
    runs = []
    for repeat in range(repeats):
        cache = tempfile.mkdtemp(prefix="cache-", dir=work)  # cold
        scores, kept, manifest = (str(work / f"{name}{repeat}.{ext}") for name, ext in
                                  (("S", "parquet"), ("K", "parquet"), ("M", "json")))
        select = ["select", str(data), "--label", "label", "--scores", scores, "--strategy", "ccs:label_noise",
                  "--keep", "0.3", "--out", kept, "--manifest", manifest]
        run = {"load_before": _load()}
        _cli(run, "score", ["score", str(data), "--label", "label", "--out", scores], cache)
        _cli(run, "select", select, cache)
        _cli(run, "select_cold", select[:-4] + ["--out", str(work / f"Kcold{repeat}.parquet"),
                                                "--manifest", str(work / f"Mcold{repeat}.json")],
             tempfile.mkdtemp(prefix="cache-", dir=work))
        run["load_after"] = _load()
        runs.append(run)
    os.environ["WORKBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="cache-", dir=work)
    ds = core.load_dataset(data, label="label")
    in_process = [_in_process(ds, reference) for _ in range(repeats)]
    result = {"rows": rows, "features": features, "repeats": repeats, "runs": runs, "in_process": in_process}
    result.update(_medians(runs + in_process))
    result["ratio_select"] = round(result["select_s"] / result["score_s"], 3)
    result["ratio_select_cold"] = round(result["select_cold_s"] / result["score_s"], 3)
    result["ratio_select_cpu"] = round(result["select_cpu_s"] / result["score_cpu_s"], 3)
    result["ratio_select_cold_cpu"] = round(result["select_cold_cpu_s"] / result["score_cpu_s"], 3)
    result["target_ratio"] = 1.2
    return result


def _medians(rows: list) -> dict:
    keys = sorted({key for row in rows for key in row if key.endswith("_s")})
    return {key: round(float(np.median([row[key] for row in rows if key in row])), 2) for key in keys}


def bench_samples(repeats: int) -> list:
    import core

    cache = tempfile.mkdtemp(prefix="wb-foldwise-samples-")
    os.environ["WORKBENCH_CACHE_DIR"] = cache
    try:
        return [_bench_sample(core, sample, repeats) for sample in core.list_samples()]
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _bench_sample(core, sample: dict, repeats: int) -> dict:
    ds = core.load_sample(sample["name"])
    rows = [_in_process(ds, reference=True) for _ in range(repeats)]
    entry = {"sample": sample["name"], "rows": ds.n_samples, "features": ds.n_features, **_medians(rows),
             "load_before": rows[0]["load_before"], "load_after": rows[-1]["load_after"]}
    entry["speedup"] = round(entry["per_fold_reference_s"] / entry["fold_scores_s"], 2)
    entry["speedup_cpu"] = round(entry["per_fold_reference_cpu_s"] / entry["fold_scores_cpu_s"], 2)
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference", action="store_true",
                        help="also time the per-fold computation fold_scores replaced, at this shape")
    parser.add_argument("--no-samples", action="store_true", help="skip the bundled samples")
    args = parser.parse_args()
    out = {"benchmark": "foldwise", "machine": platform.machine(), "cpus": os.cpu_count(),
           "note": "cold caches; select_s after score in the same cache folder, select_cold_s in a fresh one; "
                   "load averages are 1-minute (busy when above ~1)",
           "shape": bench_shape(args.rows, args.features, args.repeats, args.reference)}
    if not args.no_samples:
        out["samples"] = bench_samples(args.repeats)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
