"""App speed: server-side rerun time of the Tune page after a slider move, and time to the first map.

Runs the real pages through Streamlit's AppTest (the server side of a rerun, without a browser)
on synthetic data of 20k and 50k rows x 64 features, 10 classes, with a fresh cache folder.
A slider move in the browser reruns only the Tune page's live fragment; AppTest reruns the whole
page, so the numbers here are an upper bound. Prints one JSON object.

    python benchmarks/app.py [--rows 20000,50000] [--umap]

``--umap`` also times the background UMAP job (minutes at 50k rows on a 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["WORKBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="workbench-bench-app-")
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
    return core.Dataset.from_arrays(X.astype(np.float32), y_obs)


def _app(ds, scores):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=900)
    at.session_state["ds"] = ds
    at.session_state["ds_origin"] = f"Synthetic {ds.n_samples:,} x {ds.n_features}"
    at.session_state["scores"] = scores
    at.session_state["preloaded"] = True
    at.run()
    assert not at.exception, at.exception
    return at


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench(rows: int, with_umap: bool) -> dict:
    ds = synthetic(rows)
    t_scores = _timed(lambda: core.compute_scores(ds, ["knn_density", "prototypicality"], seed=0))
    scores = core.compute_scores(ds, ["knn_density", "prototypicality"], seed=0)
    at = _app(ds, scores)

    # first map: PCA computed, figure built, display downsampled above 20k points
    first_map = _timed(lambda: at.switch_page("../pages/map.py").run())
    assert not at.exception, at.exception

    first_tune = _timed(lambda: at.switch_page("../pages/tune.py").run())
    at.selectbox(key="tune_kind").set_value("top").run()
    at.selectbox(key="tune_scorer").set_value("knn_density").run()
    moves = []
    for keep in KEEP_STEPS:
        moves.append(_timed(lambda: at.slider(key="tune_keep").set_value(keep).run()))
        assert not at.exception and not at.error, (at.exception, at.error)
        shown = {m.label: m.value for m in at.metric}
        assert shown["Rows kept"] == f"{int(round(keep / 100 * rows)):,}", shown  # the estimate really ran
    result = {
        "rows": rows, "features": ds.n_features, "classes": ds.n_classes,
        "scores_s": round(t_scores, 2),
        "first_map_s": round(first_map, 3),
        "tune_first_open_s": round(first_tune, 3),
        "tune_slider_rerun_s": {"median": round(statistics.median(moves), 3), "max": round(max(moves), 3),
                                "all": [round(m, 3) for m in moves]},
        "target_met": max(moves) < 1.0,
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="20000,50000")
    parser.add_argument("--umap", action="store_true", help="also time the background UMAP job")
    args = parser.parse_args(argv)
    runs = [bench(int(r), args.umap) for r in args.rows.split(",") if r.strip()]
    print(json.dumps({"benchmark": "app", "machine": platform.machine(), "cpus": os.cpu_count(),
                      "note": "AppTest reruns the whole page; a browser slider move reruns only the live fragment",
                      "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
