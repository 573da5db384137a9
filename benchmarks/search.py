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
    python benchmarks/search.py --quality            # auto's pick and honest figure on three sets (a change check)

``--quality`` runs ``core.select(..., "auto", keep=0.3)`` leak-free on known_answer, digits and a
generated 6,000 x 64 set (default scores, fold-wise scores computed first and not timed) and prints
each pick, its nested (honest) estimate and the search time: run it before and after a change to
the search and compare the honest figures (a faster search should stay within 0.3 points).
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
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cold_cache import cold_cache  # noqa: E402


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
    cold_cache("wb-search-bench-")
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


QUALITY_SETS = ("known_answer", "digits", "generated")


def quality_set(name: str):
    """The data set of ``--quality``: a bundled sample, or a generated 6,000 x 64 known-answer table."""
    import core
    from core.data.samples import load_sample, make_known_answer

    if name != "generated":
        return load_sample(name)
    frame = make_known_answer(n_rows=6000, n_features=64, seed=5)
    return core.load_dataset(frame[[c for c in frame.columns if c.startswith("f") and c[1:].isdigit()] + ["label"]],
                             label="label")


def quality(names, keep: float) -> dict:
    """Auto's pick and nested estimate per set (cold cache; fold-wise scores first, not timed)."""
    import core

    cold_cache("wb-search-quality-")
    out = {}
    for name in names:
        ds = quality_set(name)
        scores = core.compute_scores(ds, "default")
        evaluator = core.LiveEvaluator(ds, folds=5, seed=0)
        fold = core.workflows.fold_scores_of(ds, scores, evaluator)
        load = round(os.getloadavg()[0], 2)
        started = time.perf_counter()
        sel = core.select(ds, scores, "auto", keep=keep, evaluator=evaluator, fold_scores=fold)
        honest = sel.details["honest_estimate"]
        out[name] = {"rows": ds.n_samples, "features": ds.n_features, "chose": sel.resolved_strategy,
                     "honest_accuracy": round(100 * honest["accuracy"], 2), "honest_std": round(100 * honest["std"], 2),
                     "outer_choices": honest.get("choices"), "leak_free": sel.details["leak_free"],
                     "cv_accuracy": round(100 * sel.details["cv_estimate"]["accuracy"], 2),
                     "candidates": len(sel.details["candidates"]), "auto_s": round(time.perf_counter() - started, 2),
                     "load_average_before": load, "load_average_after": round(os.getloadavg()[0], 2)}
        print(f"{name}: {json.dumps(out[name])}", file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="20000x784", help="comma-separated ROWSxCOLUMNS shapes")
    parser.add_argument("--curve", default="ccs:label_noise,knn_shapley", help="the curve's two strategies")
    parser.add_argument("--keep", type=float, default=0.3)
    parser.add_argument("--quality", action="store_true", help="auto's pick and honest figure on three sets")
    parser.add_argument("--sets", default=",".join(QUALITY_SETS), help="the sets of --quality")
    args = parser.parse_args()
    if args.quality:
        print(json.dumps({"benchmark": "search-quality", "keep": args.keep, "cpus": os.cpu_count(),
                          "sets": quality(args.sets.split(","), args.keep)}, indent=2))
        return
    runs = [bench(shape, args.curve.split(","), args.keep) for shape in args.rows.split(",")]
    print(json.dumps({"benchmark": "search", "machine": platform.machine(), "cpus": os.cpu_count(),
                      "note": "cold cache per shape; fold_scores_s timed alone first, then auto_s and curve_s "
                              "find them cached (as in the app); auto_cold_s = fold_scores_s + auto_s",
                      "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
