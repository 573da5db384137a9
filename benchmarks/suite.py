"""Wall time of the test suites, with the machine's load beside each run; prints JSON.

    python benchmarks/suite.py                    # `make test-fast`'s selection, once
    python benchmarks/suite.py --repeats 3        # the median of three runs
    python benchmarks/suite.py --all              # everything (`make test`'s selection), once

Each run gets a fresh cache folder (cold: no score is reused from an earlier run) and runs pytest
exactly as the Makefile does. The load average is read before and after each run: a figure taken at
load above 1 on a 2-core machine is a busy figure, not the suite's speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.cold_cache import cold_cache  # noqa: E402

FAST = ["-m", "not slow and not browser and not app"]


def run_once(selection: list) -> dict:
    env = dict(os.environ, WORKBENCH_CACHE_DIR=cold_cache("suite-bench-cache-", set_env=False))
    before = os.getloadavg()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    lines = done.stdout.strip().splitlines() or [""]
    failed = [line.split(" ", 1)[1].split(" - ")[0] for line in lines if line.startswith(("FAILED ", "ERROR "))]
    return {"wall_s": round(wall, 1), "exit_code": done.returncode, "summary": lines[-1], "failed": failed,
            "load_before": [round(x, 2) for x in before], "load_after": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--all", action="store_true", help="every test (make test), not only make test-fast's")
    args = parser.parse_args()
    selection = [] if args.all else FAST
    runs = [run_once(selection) for _ in range(args.repeats)]
    print(json.dumps({"suite": "all" if args.all else "fast", "selection": " ".join(selection) or "(all)",
                      "cores": os.cpu_count(), "median_wall_s": statistics.median(r["wall_s"] for r in runs),
                      "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
