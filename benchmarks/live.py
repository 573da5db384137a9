"""Slider latency of Tune's live estimate, and of the ridge first figure against a naive CV.

``slider`` (default): what a Tune slider move computes before the cards are drawn, at 100k x 128
and at 20k x 784 (loaded as a 784-column table, so reduced to 128 PCA dimensions as the app does),
10 classes, logistic regression (the default target), leak-free: the all-rows selection
(``core.select``), then per fold a selection among the other folds with their fold-wise scores
(an el2n-like score, distance to the class mean of the fold's training rows) and a fit on the kept
rows; the full-data figure (cached after the first). A move is a one-percent step of the keep
slider (arrow key) or a jump. The random reference of the new size (5 draws x 5 folds) is timed
apart: the app computes it in a background job after the figure is shown (``random_settle``).
p50/p95 in wall seconds and in CPU seconds of this process (the machine is shared: the load
average is printed beside them),.

``ridge`` (``--ridge``): the closed-form ridge figure against scikit-learn's RidgeClassifier 5-fold
CV on the same masks (target: ratio of medians at most 0.2 at 60k x 64).

    python benchmarks/live.py                                  # slider at 100000x128 and 20000x784
    python benchmarks/live.py --shapes 20000x784 --strategies el2n,ccs:el2n --moves 8
    python benchmarks/live.py --ridge --sizes 10000 --moves 20
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


def wide_or_plain(rows: int, features: int, classes: int = 10, seed: int = 0):
    """Clustered rows with ``classes`` classes and 5% flipped labels; above 200 columns the table is
    loaded through ``core.load_dataset`` (PCA to 128 dimensions, as the app does)."""
    import pandas as pd

    import core

    generator = np.random.default_rng(seed)
    latent_dim = min(features, 32)
    centres = generator.normal(0, 1.5, (classes, latent_dim))
    y = generator.integers(0, classes, rows)
    latent = centres[y] + generator.normal(0, 2.0, (rows, latent_dim))
    mixing = generator.normal(size=(latent_dim, features)) / np.sqrt(latent_dim)
    X = (latent @ mixing + 0.5 * generator.normal(size=(rows, features))).astype(np.float32)
    flipped = generator.random(rows) < 0.05
    y = np.where(flipped, generator.integers(0, classes, rows), y)
    if features <= 200:
        return Dataset.from_arrays(X, y)
    frame = pd.DataFrame(X, columns=[f"p{i}" for i in range(features)])
    frame["label"] = y
    return core.load_dataset(frame, label="label")


def _difficulty(X: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    centre = np.stack([X[y == c].mean(axis=0) for c in range(n_classes)])
    return np.linalg.norm(X - centre[y], axis=1)


def score_tables(ds: Dataset, evaluator) -> tuple:
    """All-rows ``el2n``-like scores and fold-wise ones (each fold's from its training rows only)."""
    import pandas as pd

    from core.evaluation import FoldScores

    table = pd.DataFrame({"el2n": _difficulty(ds.X, ds.y, ds.n_classes)}, index=pd.Index(ds.ids, name="id"))
    frames = []
    for f in range(evaluator.n_folds):
        train = np.flatnonzero(evaluator.fold_of_row_ != f)
        frames.append(pd.DataFrame({"el2n": _difficulty(ds.X[train], ds.y[train], ds.n_classes)},
                                   index=pd.Index(ds.ids[train], name="id")))
    return table, FoldScores(frames, evaluator.fold_of_row_, ["el2n"], [], ds.fingerprint)


def _clock() -> np.ndarray:
    return np.array([time.perf_counter(), time.process_time()])


def slider_moves(ds: Dataset, strategy: str, keeps) -> dict:
    """Time each keep of ``keeps`` as a Tune move (figure, then the random reference apart)."""
    import core
    from core.evaluation import LiveEvaluator, selection_estimate

    ev = LiveEvaluator(ds, folds=5, seed=0)
    table, fold_scores = score_tables(ds, ev)

    def figure(keep):
        sel = core.select(ds, table, strategy=strategy, keep=float(keep), seed=0)
        selection_estimate(ds, sel, scores=table, evaluator=ev, fold_scores=fold_scores)
        ev.full()
        return sel

    started = _clock()
    first = figure(keeps[0])
    ev.random(first.n_kept, repeats=5)
    first_open = _clock() - started
    moves, randoms = [], []
    for keep in keeps[1:]:
        before = _clock()
        sel = figure(keep)
        moves.append(_clock() - before)
        before = _clock()
        ev.random(sel.n_kept, repeats=5)
        randoms.append(_clock() - before)
    moves, randoms = np.array(moves), np.array(randoms)
    return {"strategy": strategy, "first_open_s": {"wall": round(float(first_open[0]), 2),
                                                   "cpu": round(float(first_open[1]), 2)},
            "move_s": _wall_cpu(moves), "random_settle_s": _wall_cpu(randoms),
            "keeps": [round(float(k), 2) for k in keeps], "target_met_wall_p50": bool(np.median(moves[:, 0]) <= 0.5)}


def _wall_cpu(times: np.ndarray) -> dict:
    out = {}
    for column, name in enumerate(("wall", "cpu")):
        values = times[:, column]
        out[name] = {"p50": round(float(np.median(values)), 3), "p95": round(float(np.percentile(values, 95)), 3)}
    out["n"] = int(len(times))
    return out


def slider_keeps(moves: int) -> list:
    """Start at Tune's default 70%, step down one percent at a time, then two jumps and back."""
    steps = [0.70 - 0.01 * i for i in range(max(moves - 3, 1) + 1)]
    return steps + [0.40, 0.30, steps[-1]][: max(moves - len(steps) + 1, 0)]


def bench_slider(shape: str, strategies, moves: int) -> dict:
    rows, features = (int(v) for v in shape.lower().split("x"))
    started = time.perf_counter()
    ds = wide_or_plain(rows, features)
    result = {"shape": [rows, features], "features_used": ds.n_features, "classes": ds.n_classes,
              "load_s": round(time.perf_counter() - started, 1), "load_before": os.getloadavg()[0]}
    for strategy in strategies:
        result[strategy] = slider_moves(ds, strategy, slider_keeps(moves))
        print(f"{shape} {strategy}: move {result[strategy]['move_s']}", file=sys.stderr)
    result["load_after"] = os.getloadavg()[0]
    return result


def machine() -> dict:
    from threadpoolctl import threadpool_info

    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)), "load_average": os.getloadavg(),
            "blas_threads": [info.get("num_threads") for info in threadpool_info()]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="100000x128,20000x784", help="slider: rows x features")
    parser.add_argument("--strategies", default="el2n,ccs:el2n", help="slider: strategies moved")
    parser.add_argument("--moves", type=int, default=12, help="slider moves (ridge: per size)")
    parser.add_argument("--ridge", action="store_true", help="the ridge figure against a naive CV instead")
    parser.add_argument("--sizes", default="10000,60000", help="ridge: rows")
    parser.add_argument("--features", type=int, default=64, help="ridge: features")
    parser.add_argument("--jumps", type=int, default=10, help="ridge: unrelated masks per size")
    parser.add_argument("--out", default="benchmarks/results/live.json", help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.ridge:
        report = {"benchmark": "live evaluator latency vs naive RidgeClassifier 5-fold CV on the same masks",
                  "target": "ratio_of_medians <= 0.2 at 60k x 64", "machine": machine(),
                  "sizes": [bench_size(int(n), args.features, args.moves, args.jumps) for n in args.sizes.split(",")]}
    else:
        report = {"benchmark": "Tune slider move: leak-free logistic estimate (figure), random reference apart",
                  "target": "move_s wall p50 <= 0.5 s at 100k x 128 and 20k x 784", "machine": machine(),
                  "note": "busy shared machine: compare cpu seconds and mind the load average",
                  "shapes": [bench_slider(shape, args.strategies.split(","), args.moves)
                             for shape in args.shapes.split(",")]}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
