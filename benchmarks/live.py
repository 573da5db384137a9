"""Latency of the ridge first figure (``LiveEvaluator(model="ridge")``) against a plain scikit-learn RidgeClassifier CV.

The faithful estimate (logistic regression, the default) is timed by benchmarks/estimate.py.

For each size, a slider is dragged over a difficulty-like score (small moves that change a few
hundred rows each) and then jumps to unrelated masks (nothing close in the cache). Every mask is
new to the evaluator; the naive baseline fits ``RidgeClassifier`` on the kept rows of each
training fold and scores the held-out fold, on the same folds and the same mask, timed both with
the default BLAS threads and with one (the fast evaluator uses one; on a busy machine extra BLAS
threads can be much slower). Prints JSON (and writes it to ``--out``) with p50/p95 per sequence
and the ratios of medians; the target is a ratio of at most 0.2 at 60k x 64.

    python benchmarks/live.py                       # 10k and 60k rows x 64 features
    python benchmarks/live.py --sizes 10000 --moves 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data.dataset import Dataset  # noqa: E402
from core.evaluation.live import LiveEvaluator  # noqa: E402
from core.foundation.threads import single_threaded  # noqa: E402
from core.data.samples import make_known_answer  # noqa: E402


def make_data(n_rows: int, n_features: int, seed: int = 1) -> Dataset:
    frame = make_known_answer(n_rows=n_rows, n_features=n_features, seed=seed)
    features = [f"f{i}" for i in range(n_features)]
    return Dataset.from_arrays(frame[features].to_numpy(), frame["label"].to_numpy())


def naive_cv(ds: Dataset, fold_of_row: np.ndarray, mask: np.ndarray) -> float:
    """Plain 5-fold RidgeClassifier fit and score on the same mask and folds."""
    from sklearn.linear_model import RidgeClassifier

    accuracies = []
    for f in range(int(fold_of_row.max()) + 1):
        train, test = (fold_of_row != f) & mask, fold_of_row == f
        model = RidgeClassifier().fit(ds.X[train], ds.y[train])
        accuracies.append(model.score(ds.X[test], ds.y[test]))
    return float(np.mean(accuracies))


def masks_for(ds: Dataset, moves: int, jumps: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    centre = np.stack([ds.X[ds.y == c].mean(axis=0) for c in range(ds.n_classes)])
    score = np.linalg.norm(ds.X - centre[ds.y], axis=1)  # distance to the class mean: a difficulty
    order = np.argsort(-score)
    drag = np.concatenate([np.linspace(0.5, 0.3, moves // 2), np.linspace(0.31, 0.7, moves - moves // 2)])

    def top(keep):
        mask = np.zeros(ds.n_samples, dtype=bool)
        mask[order[: int(keep * ds.n_samples)]] = True
        return mask

    jump_masks = [rng.random(ds.n_samples) < rng.uniform(0.1, 0.9) for _ in range(jumps)]
    return {"slider": [top(k) for k in drag], "jump": jump_masks}


def percentiles(values) -> dict:
    values = np.asarray(values) * 1000
    return {"p50_ms": round(float(np.median(values)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2),
            "n": int(len(values))}


def bench_size(n_rows: int, n_features: int, moves: int, jumps: int) -> dict:
    import sklearn.linear_model  # noqa: F401  (imports are not part of the first call)
    import sklearn.model_selection  # noqa: F401

    ds = make_data(n_rows, n_features)
    ev = LiveEvaluator(ds, folds=5, seed=0, model="ridge")  # the instant first figure
    start = time.perf_counter()
    ev.full()
    first_call = time.perf_counter() - start
    fold_of_row = ev.fold_of_row_
    result = {"rows": n_rows, "features": n_features, "classes": ds.n_classes,
              "first_call_ms": round(first_call * 1000, 1), "model": ev.describe()}
    all_fast, all_naive, all_naive_single = [], [], []
    for name, masks in masks_for(ds, moves, jumps).items():
        fast, naive, naive_single, compare = [], [], [], []
        for mask in masks:
            start = time.perf_counter()
            ev.estimate(mask)
            fast.append(time.perf_counter() - start)
            start = time.perf_counter()
            ev.compare(mask)  # the random reference of the same size (5 repeats) on top
            compare.append(time.perf_counter() - start)
            start = time.perf_counter()
            naive_cv(ds, fold_of_row, mask)
            naive.append(time.perf_counter() - start)
            with single_threaded("blas"):  # the baseline at its best on a busy machine, too
                start = time.perf_counter()
                naive_cv(ds, fold_of_row, mask)
                naive_single.append(time.perf_counter() - start)
        all_fast += fast
        all_naive += naive
        all_naive_single += naive_single
        result[name] = summary(fast, naive, naive_single)
        result[name]["compare_after_estimate"] = percentiles(compare)
    result["all"] = summary(all_fast, all_naive, all_naive_single)
    return result


def summary(fast, naive, naive_single) -> dict:
    best_naive = min(np.median(naive), np.median(naive_single))
    return {"estimate": percentiles(fast), "naive_ridge_cv": percentiles(naive),
            "naive_ridge_cv_one_blas_thread": percentiles(naive_single),
            "ratio_of_medians": round(float(np.median(fast) / np.median(naive)), 4),
            "ratio_to_faster_naive": round(float(np.median(fast) / best_naive), 4)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,60000")
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--moves", type=int, default=40, help="slider moves per size")
    parser.add_argument("--jumps", type=int, default=10, help="unrelated masks per size")
    parser.add_argument("--out", default="benchmarks/results/live.json")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_info

    report = {
        "benchmark": "live evaluator latency vs naive RidgeClassifier 5-fold CV on the same masks",
        "target": "ratio_of_medians <= 0.2 at 60k x 64",
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
                    "blas_threads": [info.get("num_threads") for info in threadpool_info()]},
        "sizes": [bench_size(int(n), args.features, args.moves, args.jumps) for n in args.sizes.split(",")],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
