"""Tune's searches at real sizes: auto's recommendation and a two-strategy pruning curve.

The issue's rows "Recommend a strategy (auto) at keep 0.3" and "Pruning curve (2 strategies)" at
20k rows x 784 pixel-like columns (loaded as the app loads them: PCA to 128 dimensions), each
target under 60 s. Both run what the app's buttons run (``core.select(..., "auto")`` and
``core.pruning_curve``), leak-free, so the time includes the fold-wise scores the search needs.

Runs cold: a fresh cache folder (``WORKBENCH_CACHE_DIR``) for every shape, so no score, fold-wise
score or map comes from an earlier run. ``fold_scores_s`` is the time of the fold-wise scores
alone (the Tune page starts them as a job when it opens); ``auto_s`` and ``curve_s`` then find
them in this run's cache, as the app's jobs do, and ``auto_cold_s`` is auto with nothing computed
before (fold-wise scores + search). Prints one JSON object with the machine
load average beside each row.

    python benchmarks/search.py                       # 20k x 784
    python benchmarks/search.py --rows 20000x784,50000x64 --curve ccs:label_noise,knn_density
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pixel_table(rows: int, columns: int, classes: int = 10, seed: int = 0) -> pd.DataFrame:
    """Pixel-like data: per-class smooth templates plus noise, clipped to 0..255, 5% labels flipped."""
    rng = np.random.default_rng(seed)
    side = int(round(np.sqrt(columns)))
    grid = np.linspace(-1, 1, side)
    xx, yy = np.meshgrid(grid, grid)
    templates = []
    for _ in range(classes):
        cx, cy, width = rng.uniform(-0.5, 0.5, 3) * [1, 1, 0.4] + [0, 0, 0.5]
        templates.append(255 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * width ** 2)).ravel()[:columns])
    templates = np.array(templates)
    y = rng.integers(0, classes, rows)
    pixels = np.clip(templates[y] * rng.uniform(0.6, 1.0, (rows, 1)) + rng.normal(0, 60, (rows, columns)), 0, 255)
    flip = rng.random(rows) < 0.05
    frame = pd.DataFrame(pixels.astype(np.uint8), columns=[f"p{i}" for i in range(columns)])
    frame["label"] = np.where(flip, rng.integers(0, classes, rows), y)
    return frame


def bench(shape: str, curve: list, keep: float) -> dict:
    import core

    rows, columns = (int(v) for v in shape.lower().split("x"))
    os.environ["WORKBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="wb-search-bench-")  # cold
    frame = pixel_table(rows, columns)
    started = time.perf_counter()
    ds = core.load_dataset(frame, label="label")
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    scores = core.compute_scores(ds, "default")
    scores_s = time.perf_counter() - started
    evaluator = core.LiveEvaluator(ds, folds=5, seed=0)
    result = {"rows": rows, "columns": columns, "features": ds.n_features, "kind": ds.kind,
              "load_average_before": round(os.getloadavg()[0], 2), "load_s": round(load_s, 2),
              "default_scores_s": round(scores_s, 2)}
    started = time.perf_counter()
    core.workflows.fold_scores_of(ds, scores, evaluator)
    result["fold_scores_s"] = round(time.perf_counter() - started, 2)
    passes = []
    started = time.perf_counter()
    sel = core.select(ds, scores, "auto", keep=keep, evaluator=evaluator,
                      progress=lambda done, total, message: passes.append(message))
    result["auto_s"] = round(time.perf_counter() - started, 2)
    result["auto_chose"] = sel.resolved_strategy
    result["auto_progress_messages"] = len(passes)
    started = time.perf_counter()
    frame_curve = core.pruning_curve(ds, scores, curve, seeds=3, folds=5, evaluator=evaluator)
    result["curve_s"] = round(time.perf_counter() - started, 2)
    result["curve_strategies"] = curve
    result["curve_points"] = int(len(frame_curve))
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    result["targets_s"] = {"auto": 60, "curve": 60}
    result["auto_cold_s"] = round(result["fold_scores_s"] + result["auto_s"], 2)  # nothing computed before
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="20000x784", help="comma-separated ROWSxCOLUMNS shapes")
    parser.add_argument("--curve", default="ccs:label_noise,knn_shapley", help="the curve's two strategies")
    parser.add_argument("--keep", type=float, default=0.3)
    args = parser.parse_args()
    runs = [bench(shape, args.curve.split(","), args.keep) for shape in args.rows.split(",")]
    print(json.dumps({"benchmark": "search", "machine": platform.machine(), "cpus": os.cpu_count(),
                      "note": "cold cache per shape; fold_scores_s timed alone first, then auto_s and curve_s "
                              "find them cached (as in the app); auto_cold_s = fold_scores_s + auto_s",
                      "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
