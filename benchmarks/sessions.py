"""Slider latency per session while several sessions share one app (issue 25), as JSON.

Run (cold cache: a fresh temporary ``WORKBENCH_CACHE_DIR`` every time)::

    WORKBENCH_UMAP=off .venv/bin/python benchmarks/sessions.py --sessions 4 --rows 4000 --noisy-rows 20000 --moves 8

Every session is a ``streamlit.testing.v1.AppTest`` of ``workbench/app.py`` in its own thread, with
its own generated data (uploaded as a CSV). Session 0 is the noisy neighbour: it starts scoring
its data with several model scorers (a background job) and does not wait. The other sessions score
``knn_density``, pick ``top:knn_density`` on Tune and move the keep slider ``--moves`` times, at the
same time, while session 0's job and their own background references run.

AppTest cannot run two scripts at once in one process, so script runs take a lock; each move
reports ``run_s`` (the script run itself, what a server thread would spend) and ``wait_s`` (time
queued behind the other sessions' runs; on a real server those run in parallel threads sharing the
same cores). Medians and 90th percentiles per session, and the load average before and after, are
printed (and written with ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("WORKBENCH_UMAP", "off")
os.environ["WORKBENCH_PRELOAD"] = ""
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.cold_cache import cold_cache  # noqa: E402

cold_cache("bench-sessions-", keep_given=True)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "workbench" / "app.py")
NOISY_SCORERS = ("el2n", "forgetting", "aum", "label_noise", "knn_shapley")
RUN_LOCK = threading.Lock()


class Timed:
    """An AppTest whose script runs take the lock and record (wait, run) seconds."""

    def __init__(self) -> None:
        self.at = AppTest.from_file(APP, default_timeout=900)
        self.last = (0.0, 0.0)
        inner = self.at._run

        def run(*args, **kwargs):
            asked = time.perf_counter()
            with RUN_LOCK:
                started = time.perf_counter()
                try:
                    return inner(*args, **kwargs)
                finally:
                    self.last = (started - asked, time.perf_counter() - started)

        self.at._run = run


def _csv(seed: int, rows: int, features: int) -> bytes:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(features)])
    frame.insert(0, "id", [f"s{seed}_{i}" for i in range(rows)])
    frame["label"] = np.where(X[:, 0] + X[:, 1] + rng.normal(scale=0.7, size=rows) > 0, "pos", "neg")
    return frame.to_csv(index=False).encode()


def _load(session: Timed, index: int, rows: int, features: int) -> None:
    at = session.at
    at.run()
    at.segmented_control(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="data_upload").set_value((f"s{index}.csv", _csv(index, rows, features), "text/csv")).run()
    at.selectbox(key="data_up_id").set_value("id").run()
    at.button(key="data_up_load").click().run()


def _score(session: Timed, names, wait: bool) -> None:
    at = session.at
    at.switch_page("../pages/scores.py").run()
    for box in at.checkbox:
        if box.key and box.key.startswith("scores_pick_"):
            box.set_value(box.key.removeprefix("scores_pick_") in names)
    at.run()
    if not at.button(key="scores_compute").disabled:
        at.button(key="scores_compute").click().run()
    while wait and "scores" in at.session_state["jobs"]:
        time.sleep(0.5)
        at.run()


def _session(index: int, args, barrier: threading.Barrier, results: dict) -> None:
    session = Timed()
    _load(session, index, args.noisy_rows if index == 0 else args.rows, args.features)
    if index == 0:  # the noisy neighbour: heavy background scoring, started and left running
        barrier.wait(timeout=1800)
        _score(session, NOISY_SCORERS, wait=False)
        results[index] = {"role": "background scoring", "scorers": list(NOISY_SCORERS),
                          "job": session.at.session_state["jobs"].get("scores")}
        return
    _score(session, ["knn_density"], wait=True)
    at = session.at
    at.switch_page("../pages/tune.py").run()
    at.selectbox(key="tune_kind").set_value("top").run()
    at.selectbox(key="tune_scorer").set_value("knn_density").run()
    barrier.wait(timeout=1800)
    moves = []
    for step in range(args.moves):
        at.slider(key="tune_keep").set_value([30, 50, 70, 40][step % 4] + step % 3).run()
        wait, run = session.last
        moves.append({"wait_s": round(wait, 3), "run_s": round(run, 3), "total_s": round(wait + run, 3)})
    results[index] = {"role": "slider", "moves": moves, **_summary(moves)}


def _summary(moves: list) -> dict:
    out = {}
    for key in ("run_s", "wait_s", "total_s"):
        values = np.array([m[key] for m in moves])
        out[f"median_{key}"] = round(float(np.median(values)), 3)
        out[f"p90_{key}"] = round(float(np.percentile(values, 90)), 3)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--noisy-rows", type=int, default=20000, help="rows of session 0, the noisy neighbour")
    parser.add_argument("--moves", type=int, default=8)
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    before, started = os.getloadavg(), time.perf_counter()
    results, errors = {}, []
    barrier = threading.Barrier(args.sessions)

    def run(index):
        try:
            _session(index, args, barrier, results)
        except BaseException as exc:  # noqa: BLE001 - reported in the JSON
            errors.append(f"session {index}: {exc!r}")
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(args.sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    noisy = results.get(0, {}).pop("job", None)
    if 0 in results:  # whether the neighbour's scoring was still running when the last slider move ended
        results[0]["running_at_end"] = bool(noisy is not None and noisy.running)
        results[0]["elapsed_s"] = round(noisy.elapsed, 1) if noisy is not None else None
        results[0]["status"] = getattr(noisy, "status", None)
    if noisy is not None:
        noisy.cancel()  # nothing of this benchmark keeps running
    report = {
        "benchmark": "sessions", "sessions": args.sessions, "rows": args.rows, "noisy_rows": args.noisy_rows,
        "features": args.features,
        "moves": args.moves, "cpu_count": os.cpu_count(), "cache": "cold (fresh WORKBENCH_CACHE_DIR)",
        "loadavg_before": [round(x, 2) for x in before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "wall_s": round(time.perf_counter() - started, 1), "errors": errors,
        "per_session": {str(k): results[k] for k in sorted(results)},
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
