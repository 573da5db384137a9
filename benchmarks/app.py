"""App speed: server-side rerun time of the Tune page after a slider move, and the Map at 100k points.

Runs the real pages through Streamlit's AppTest (the server side of a rerun, without a browser)
on synthetic data (10 classes; by default 20k and 50k rows x 64 features; ``ROWSxFEATURES`` picks
the width, and a table wider than 200 columns is loaded as the app loads it, reduced to 128 PCA
dimensions), with a fresh cache folder. A slider move reruns the Tune page (the same as AppTest
does): ``tune_slider_rerun_s`` is the time until the cards show the selection's estimate; the
random reference of a new size comes from a background job, and ``random_settle_s`` is the time
from the end of that rerun until the job is done and the page has rerun with it. The machine's
load average is printed beside the numbers. The Map part opens the Map page on
100k rows x 128 features and reruns it as a lasso selection does (``on_select="rerun"``), and
reports how many points the browser gets and the size of the figure it is sent. Prints one JSON
object.

    python benchmarks/app.py [--rows 20000,50000] [--map-rows 100000] [--umap]
    python benchmarks/app.py --rows 20000x784,100000x128 --map-rows 0     # the issue's shapes

``--umap`` also times the background UMAP job (minutes at 50k rows on a 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.cold_cache import cold_cache  # noqa: E402

cold_cache("workbench-bench-app-")
os.environ.setdefault("WORKBENCH_UMAP", "off")

import numpy as np  # noqa: E402

import core  # noqa: E402

APP = str(ROOT / "workbench" / "app.py")
KEEP_STEPS = (65, 60, 55, 50, 40, 30, 31, 32)  # percent; the last ones are neighbouring sizes


def synthetic(rows: int, features: int = 64, classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, (classes, features))
    y = rng.integers(0, classes, rows)
    X = centres[y] + rng.normal(0, 2.0, (rows, features))
    flip = rng.random(rows) < 0.05
    y_obs = np.where(flip, rng.integers(0, classes, rows), y)
    if features <= 200:
        return core.Dataset.from_arrays(X.astype(np.float32), y_obs)
    import pandas as pd

    frame = pd.DataFrame(X.astype(np.float32), columns=[f"f{i}" for i in range(features)])
    frame["label"] = y_obs
    return core.load_dataset(frame, label="label")  # wide: PCA to 128 dimensions, as the app loads it


def _app(ds, scores):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=900)
    at.session_state["dataset"] = ds
    at.session_state["origin"] = f"Synthetic {ds.n_samples:,} x {ds.n_features}"
    at.session_state["score_table"] = scores
    at.session_state["preloaded"] = True
    at.run()
    assert not at.exception, at.exception
    return at


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _settle(at) -> float:
    """Seconds until the random reference's job (if the move started one) is done and shown."""
    job = at.session_state["jobs"].get("random_reference")
    if job is None:
        return 0.0
    start = time.perf_counter()
    job.wait()
    at.run()
    return time.perf_counter() - start


def _shape(text: str) -> tuple:
    rows, _, features = text.strip().lower().partition("x")
    return int(rows), int(features or 64)


def bench(shape: str, with_umap: bool) -> dict:
    rows, features = _shape(shape)
    ds = synthetic(rows, features)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    scores = core.compute_scores(ds, ["knn_density", "prototypicality"], seed=0)
    t_scores = time.perf_counter() - start
    at = _app(ds, scores)

    # first map: PCA computed, every point drawn (the coordinates file written once)
    first_map = _timed(lambda: at.switch_page("../pages/map.py").run())
    assert not at.exception, at.exception

    first_tune = _timed(lambda: at.switch_page("../pages/tune.py").run())
    at.selectbox(key="tune_kind").set_value("top").run()
    at.selectbox(key="tune_scorer").set_value("knn_density").run()
    moves, settles = [], []
    for keep in KEEP_STEPS:
        moves.append(_timed(lambda: at.slider(key="tune_keep").set_value(keep).run()))
        assert not at.exception and not at.error, (at.exception, at.error)
        shown = {m.label.split(" ·")[0]: m.value for m in at.metric}
        assert shown["Rows kept"] == f"{int(round(keep / 100 * rows)):,}", shown  # the estimate really ran
        settles.append(_settle(at))
    result = {
        "rows": rows, "columns": features, "features": ds.n_features, "classes": ds.n_classes,
        "load_average_before": round(load, 2), "load_average_after": round(os.getloadavg()[0], 2),
        "scores_s": round(t_scores, 2),
        "first_map_s": round(first_map, 3),
        "tune_first_open_s": round(first_tune, 3),
        "tune_slider_rerun_s": {"median": round(statistics.median(moves), 3), "max": round(max(moves), 3),
                                "all": [round(m, 3) for m in moves]},
        "random_settle_s": {"median": round(statistics.median(settles), 3), "max": round(max(settles), 3),
                            "all": [round(m, 3) for m in settles]},
        "target_met": statistics.median(moves) <= 0.5,
    }
    if with_umap:
        from core.projection import maps as projection

        job = projection.start_umap(ds)
        start = time.perf_counter()
        while job.poll() is None and not job.failed:
            time.sleep(1)
        result["umap_background_s"] = round(time.perf_counter() - start, 1)
        result["umap_failed"] = job.error_
    return result


def bench_map(rows: int, features: int = 128) -> dict:
    """Map page at ``rows`` points: first open (PCA), selection reruns, and what the browser receives."""
    ds = synthetic(rows, features)
    at = _app(ds, None)
    at.switch_page("../pages/tune.py").run()
    at.slider(key="tune_keep").set_value(50).run()
    first = _timed(lambda: at.switch_page("../pages/map.py").run())
    assert not at.exception, at.exception
    reruns = [_timed(at.run) for _ in range(3)]  # what a lasso selection costs on the server
    chart = at.get("component_instance")[0].proto  # the map frame (workbench.map_canvas): its arguments
    args = json.loads(chart.json_args)
    counts = {item["name"]: item["count"] for item in args["legend"]["items"]}
    drawn = args["drawn"]
    kept_share = counts.get("kept", 0) / max(sum(counts.values()), 1)
    return {"rows": rows, "features": features, "first_map_s": round(first, 2),
            "selection_rerun_s": {"median": round(statistics.median(reruns), 3), "max": round(max(reruns), 3)},
            "points_drawn": drawn, "kept_share_drawn": round(kept_share, 3),
            "map_message_megabytes": round(len(chart.json_args) / 1e6, 3),  # coordinates travel apart, once
            "target_met": max(reruns) < 1.0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="20000,50000")
    parser.add_argument("--map-rows", type=int, default=100_000)
    parser.add_argument("--umap", action="store_true", help="also time the background UMAP job")
    args = parser.parse_args(argv)
    runs = [bench(r, args.umap) for r in args.rows.split(",") if r.strip()]
    map_run = bench_map(args.map_rows) if args.map_rows else None
    print(json.dumps({"benchmark": "app", "machine": platform.machine(), "cpus": os.cpu_count(),
                      "note": "server side of each rerun (AppTest); the browser adds drawing time",
                      "runs": runs, "map": map_run}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
