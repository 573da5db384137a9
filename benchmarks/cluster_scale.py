"""Score, select and apply partitioned data on a local 2-worker Dask cluster, with every process's peak memory.

    nice -n 10 .venv/bin/python benchmarks/cluster_scale.py --rows 500000,5000000 --cache /tmp/cluster-scale

For each size, data are written once by ``benchmarks/gen_partitioned.py`` (``--features`` columns,
``--partitions`` Parquet files, 10 classes, 5 % flipped labels, 0.5 % planted near-duplicates) and
reused. Then each step runs as its own ``workbench`` subprocess, which starts and shuts down its own
local cluster (``--workers 2``):

1. ``score DATA --out SCORES --workers 2 --search SEARCH`` (the default scorers; ``--search`` the neighbour method, auto by default);
2. ``select`` with a top-k strategy (``knn_density --keep 0.3``), ``ccs:label_noise --keep 0.3`` and
   ``drop-flagged:label_noise``;
3. ``apply`` of the top-k manifest, checked to write the same files byte for byte as ``select`` did.

Memory: a poller reads every process of the step's tree every ``--poll`` seconds (default 0.2):
the driver is the ``workbench`` process, the workers are the Dask worker processes it spawns
(``spawn_main`` in their command line; the resource tracker and short-lived forks are left out).
Per process it keeps the kernel's high-water mark of the resident set (``VmHWM`` from
``/proc/PID/status``: it does not miss short peaks, but it is read at polls, so the last 0.2 s
before a process exits can be missed) and the polled peak of the anonymous resident memory
(``RssAnon``; a poll can miss short peaks). Resident sets include the pages of memory-mapped files
a process touched (the feature store, the neighbour graph), which the kernel can drop; ``RssAnon``
is what the process itself allocated.

The JSON gives per size and step: wall seconds, rows/s, the driver's and each worker's peaks (and
whether they stay under the issue's limits: driver 2 GB, each worker 6 GB, on ``VmHWM``), the
load average before and after, the rows kept, the planted rows the flags found, and between sizes
the cost per extra 10x rows (time and peak-memory ratios scaled to a factor of 10). Cold: no disk
cache (each step reads the Parquet files and writes new outputs; the page cache is warm).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from gen_partitioned import write as write_data  # noqa: E402

WORKBENCH = str(Path(sys.executable).with_name("workbench"))
MIB = 2**20


def _status(pid: int) -> dict:
    """VmHWM, VmRSS and RssAnon of ``pid`` in MiB (empty when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon"):
            found[key] = int(value.split()[0]) / 1024.0
    return found


class TreePoller:
    """Polls the peaks of every process under ``root`` (see the module docstring)."""

    def __init__(self, root: int, every: float):
        import psutil

        self.root, self.every, self.psutil = root, every, psutil
        self.peaks: dict[int, dict] = {}
        self.polls = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _role(self, process) -> str:
        if process.pid == self.root:
            return "driver"
        try:
            line = " ".join(process.cmdline())
        except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
            return "worker"
        if "resource_tracker" in line:
            return "resource_tracker"
        return "worker" if "spawn_main" in line else "other"  # other: a short-lived fork before exec

    def _command(self, process) -> str:
        try:
            return " ".join(process.cmdline())[-90:]
        except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
            return "?"

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                root = self.psutil.Process(self.root)
                processes = [root] + root.children(recursive=True)
            except self.psutil.NoSuchProcess:
                break
            for process in processes:
                found = _status(process.pid)
                if not found:
                    continue
                if process.pid not in self.peaks:
                    self.peaks[process.pid] = {"role": self._role(process), "hwm_mib": 0.0, "anon_mib": 0.0,
                                               "command": self._command(process)}
                entry = self.peaks[process.pid]
                entry["hwm_mib"] = max(entry["hwm_mib"], found.get("VmHWM", 0.0))
                entry["anon_mib"] = max(entry["anon_mib"], found.get("RssAnon", 0.0))
            self.polls += 1
            self.stop.wait(self.every)

    def summary(self) -> dict:
        def rounded(entry: dict) -> dict:
            return {"hwm_mib": round(entry["hwm_mib"], 1), "anon_mib": round(entry["anon_mib"], 1),
                    "command": entry["command"]}

        driver = [rounded(e) for e in self.peaks.values() if e["role"] == "driver"]
        workers = [rounded(e) for e in self.peaks.values() if e["role"] == "worker"]
        return {"driver": driver[0] if driver else None, "workers": workers, "polls": self.polls}


#: The issue's limits (MiB): the driver's and each worker's peak resident set.
LIMITS = {"driver_mib": 2048, "worker_mib": 6144}


def run_step(name: str, command: list, poll: float, log=None) -> dict:
    """Run one workbench command, polling its process tree; its wall time, load and peaks (appended to
    ``log`` as one JSON line when given, so a run stopped part-way keeps its finished steps)."""
    load_before = os.getloadavg()
    began = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    poller = TreePoller(process.pid, poll)
    poller.thread.start()
    out, err = process.communicate()
    wall = time.time() - began
    poller.stop.set()
    poller.thread.join()
    if process.returncode != 0:
        raise SystemExit(f"{name} failed ({process.returncode}): {' '.join(command)}\n{err[-3000:]}")
    found = {"step": name, "seconds": round(wall, 1), "load_before": [round(v, 2) for v in load_before],
             "load_after": [round(v, 2) for v in os.getloadavg()], **poller.summary(), "stdout": out.strip()[-400:]}
    found["within_limits"] = (peak(found, "driver") < LIMITS["driver_mib"]
                              and peak(found, "worker") < LIMITS["worker_mib"])
    if log:
        with open(log, "a") as handle:
            handle.write(json.dumps(found) + "\n")
    return found


def _same_files(first: Path, second: Path) -> bool:
    names = sorted(p.name for p in first.glob("*.parquet"))
    return names == sorted(p.name for p in second.glob("*.parquet")) and all(
        filecmp.cmp(first / n, second / n, shallow=False) for n in names)


def planted_found(data: Path, scores: Path) -> dict:
    """Recall and precision of label_noise's and duplicate's flags on the planted rows, partition by partition."""
    import pyarrow.parquet as pq

    counts = {"label_noise": [0, 0, 0], "duplicate": [0, 0, 0]}  # planted & flagged, planted, flagged
    for planted_file in sorted((data / "_planted").glob("*.npz")):
        planted = np.load(planted_file)
        table = pq.read_table(scores / planted_file.name.replace(".npz", ".parquet"),
                              columns=["id", "label_noise_flag", "duplicate_flag"]).to_pandas()
        ids = table["id"].to_numpy(dtype=np.int64)
        truth = {"label_noise": np.isin(ids, planted["flipped"]),
                 "duplicate": np.isin(ids, planted["copies"])}  # a group's first row is not flagged
        for name, real in truth.items():
            flagged = table[f"{name}_flag"].to_numpy(dtype=bool)
            counts[name][0] += int((real & flagged).sum())
            counts[name][1] += int(real.sum())
            counts[name][2] += int(flagged.sum())
    return {name: {"recall": round(hit / max(real, 1), 4), "precision": round(hit / max(flagged, 1), 4),
                   "planted": real, "flagged": flagged} for name, (hit, real, flagged) in counts.items()}


def run_size(rows: int, args) -> dict:
    data = Path(args.cache) / f"data-{rows}x{args.features}-p{args.partitions}"
    if not (data / "_planted").exists():
        write_data(data, rows, args.features, args.partitions)
    work = Path(args.cache) / f"run-{rows}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    engine = ["--workers", str(args.workers), "--quiet"]
    common = ["--label", "label", "--id", "id", *engine]
    scores = work / "scores"
    steps = [run_step("score", [WORKBENCH, "score", str(data), "--out", str(scores), "--search", args.search, *common],
                      args.poll, args.log)]
    selections = {"topk": ["--strategy", "knn_density", "--keep", "0.3"],
                  "ccs": ["--strategy", "ccs:label_noise", "--keep", "0.3"],
                  "drop_flagged": ["--strategy", "drop-flagged:label_noise"]}
    for name, strategy in selections.items():
        steps.append(run_step(f"select_{name}", [WORKBENCH, "select", str(data), "--scores", str(scores), *strategy,
                                                 "--out", str(work / f"kept_{name}"), "--manifest",
                                                 str(work / f"{name}.json"), *common], args.poll, args.log))
        steps[-1]["n_kept"] = json.loads((work / f"{name}.json").read_text())["n_kept"]
    steps.append(run_step("apply_topk", [WORKBENCH, "apply", str(work / "topk.json"), str(data), "--out",
                                         str(work / "kept_again"), *engine], args.poll, args.log))
    steps[-1]["same_files_as_select"] = _same_files(work / "kept_topk", work / "kept_again")
    for step in steps:
        step["rows_per_second"] = round(rows / step["seconds"], 1)
    record = json.loads((scores / "_workbench_scores.json").read_text())
    result = {"rows": rows, "features": args.features, "partitions": args.partitions, "steps": steps,
              "seconds": round(sum(s["seconds"] for s in steps), 1),
              "neighbors": record["scorers"][0].get("neighbors"), "planted_found": planted_found(data, scores)}
    if not args.keep_outputs:
        shutil.rmtree(work, ignore_errors=True)
    return result


def peak(step: dict, role: str, key: str = "hwm_mib") -> float:
    if role == "driver":
        return step["driver"][key] if step["driver"] else 0.0
    return max([w[key] for w in step["workers"]] or [0.0])


def growth(runs: list) -> list:
    """Per extra 10x rows between consecutive sizes: time and peak ratios of every step, scaled to 10x."""
    out = []
    for small, large in zip(runs, runs[1:]):
        factor = math.log(large["rows"] / small["rows"])

        def scaled(a: float, b: float):
            return round(10 ** (math.log(b / a) / factor), 2) if a > 0 and b > 0 else None  # b/a at 10x rows

        out.append({"from_rows": small["rows"], "to_rows": large["rows"],
                    "total_time_per_10x": scaled(small["seconds"], large["seconds"]),
                    "steps": {s["step"]: {"time": scaled(s["seconds"], t["seconds"]),
                                          "driver_peak": scaled(peak(s, "driver"), peak(t, "driver")),
                                          "worker_peak": scaled(peak(s, "worker"), peak(t, "worker")),
                                          "worker_anon": scaled(peak(s, "worker", "anon_mib"),
                                                                peak(t, "worker", "anon_mib"))}
                              for s, t in zip(small["steps"], large["steps"])}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="500000", help="comma-separated sizes (default 500000)")
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--search", default="auto", help="the score step's neighbour search: auto (the library's "
                                                         "choice by rows), nndescent or ivf")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between memory polls")
    parser.add_argument("--cache", default="/tmp/cluster-scale", help="generated data and outputs (large)")
    parser.add_argument("--keep-outputs", action="store_true", help="keep scores and kept rows (default: removed)")
    parser.add_argument("--log", help="append every finished step here as a JSON line (kept if the run is stopped)")
    args = parser.parse_args()
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    runs = []
    for rows in [int(r) for r in args.rows.split(",")]:
        runs.append(run_size(rows, args))
        print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"machine": f"{os.cpu_count()} cores, shared with other jobs unless stated",
                      "workers": args.workers, "limits": LIMITS, "runs": runs, "growth": growth(runs)}, indent=2))


if __name__ == "__main__":
    main()
