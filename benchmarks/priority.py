"""The in-memory random draw and tie-break: the per-row hash ranks (``random_priority``) against the seeded
permutation they replaced, cold and from the kept ranks.

Run from the repository root::

    .venv/bin/python benchmarks/priority.py [--rows 80000 1000000] [--repeats 5]

Prints JSON: per row count the median seconds of ``rng(seed, "priority").permutation(n)`` (before),
``random_priority`` cold (a new seed each call, so nothing kept is reused) and warm (the same seed,
the kept ranks), and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from core.foundation.seeds import rng
from core.selection.algorithms import random_priority


def _median(function, repeats: int) -> float:
    times = []
    for repeat in range(repeats):
        start = time.perf_counter()
        function(repeat)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[80_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    found = {}
    for n in args.rows:
        found[str(n)] = {
            "permutation_s": _median(lambda r: rng(r, "priority").permutation(n), args.repeats),
            "hash_cold_s": _median(lambda r: random_priority(n, 10_000 + r), args.repeats),
            "hash_warm_s": _median(lambda r: random_priority(n, 10_000), args.repeats),
        }
    print(json.dumps({"rows": found, "load_average": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
