"""NN-descent's k-nearest-neighbour graph at growing row counts: is its work n log n on the scale benchmark's data?

Issue 26 item 3 asks that the neighbour graph's cost grow no faster than n log n. This measures pynndescent
(installed with umap-learn; Dong et al. 2011, local joins of neighbours' neighbours) on the rows
``benchmarks/scale.py`` generates (Gaussian clusters in ``--latent`` dimensions mixed into ``--features``
columns), in memory, one thread, after a small compile run (numba compiles once per process: that run's
seconds are left out and reported apart). Per size: CPU and wall seconds, recall@10 on 200 sampled rows
against a brute-force search, and the exponent fitted over the sizes (n log n's is about 1.08 from 100k to 1M).
NN-descent is not a search the product uses (see the README's Large data section). Nothing is cached: the
rows are written to a fresh temporary folder and read back.

    python benchmarks/nndescent_scale.py --rows 100000,300000,1000000     # about 8 minutes CPU at 1M
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.scale import write_data  # noqa: E402


def rows_in_memory(rows: int, features: int, latent: int, seed: int = 0) -> np.ndarray:
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="nndescent-scale-") as folder:
        write_data(Path(folder), rows, features, 10, 50_000, seed=seed, latent=latent)
        frames = [pd.read_parquet(path) for path in sorted(Path(folder).glob("part-*.parquet"))]
    frame = pd.concat(frames, ignore_index=True)
    return frame.drop(columns="label").to_numpy(dtype=np.float32)


def recall_at_10(X: np.ndarray, indices: np.ndarray, queries: int = 200, seed: int = 1) -> float:
    hits = 0
    picked = np.random.default_rng(seed).choice(len(X), size=min(queries, len(X)), replace=False)
    for row in picked:
        squared = ((X - X[row]) ** 2).sum(axis=1)
        squared[row] = np.inf
        exact = set(np.argpartition(squared, 10)[:10].tolist())
        found = [int(i) for i in indices[row] if int(i) != row][:10]
        hits += len(exact.intersection(found))
    return hits / (10 * len(picked))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="100000,300000,1000000")
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--latent", type=int, default=16)
    parser.add_argument("--k", type=int, default=55, help="neighbours per row (the default scorers' need: 54 + self)")
    args = parser.parse_args(argv)
    from pynndescent import NNDescent

    started = time.process_time()
    NNDescent(rows_in_memory(2000, args.features, args.latent), n_neighbors=10, random_state=0, n_jobs=1).neighbor_graph
    result = {"benchmark": "nndescent_scale", "cpus": os.cpu_count(), "features": args.features,
              "latent": args.latent, "k": args.k, "compile_run_cpu_s": round(time.process_time() - started, 1),
              "load_average_before": os.getloadavg(), "sizes": []}
    for rows in [int(r) for r in args.rows.split(",")]:
        X = rows_in_memory(rows, args.features, args.latent)
        cpu, wall = time.process_time(), time.perf_counter()
        indices, _ = NNDescent(X, n_neighbors=args.k, random_state=0, n_jobs=1, low_memory=True).neighbor_graph
        size = {"rows": rows, "cpu_s": round(time.process_time() - cpu, 1), "wall_s": round(time.perf_counter() - wall, 1),
                "load_average": os.getloadavg()}
        size["recall_at_10"] = recall_at_10(X, indices)
        result["sizes"].append(size)
        print(json.dumps(size), file=sys.stderr, flush=True)
    if len(result["sizes"]) > 1:
        n = np.log([s["rows"] for s in result["sizes"]])
        result["cpu_exponent"] = float(np.polyfit(n, np.log([s["cpu_s"] for s in result["sizes"]]), 1)[0])
        result["n_log_n_exponent"] = float(np.polyfit(n, n + np.log(n), 1)[0])
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
