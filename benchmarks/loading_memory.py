"""Peak memory of loading a CSV whose one cell is very long (issue 12, category 5).

Writes CSVs of 200 ordinary rows plus one cell of 20 MB and 52 MB, loads each with
``core.load_dataset`` in a fresh process, and prints JSON: file size, seconds, peak resident
memory, the peak of a process that loads the same table without the long cell (the baseline:
interpreter, pandas, scikit-learn), and the ratio of the extra memory to the file's size.
Target: the ratio stays a small multiple (< 10).

    .venv/bin/python benchmarks/loading_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_CHILD = """
import resource, sys, time
import core
start = time.perf_counter()
core.load_dataset(sys.argv[1], id="id", text_method="tfidf")
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def write_csv(path: Path, cell_mb: float, rows: int = 200, text: bool = False) -> None:
    """A tabular table (the long cell in a categorical column) or a text table (in the text column)."""
    rng = np.random.default_rng(0)
    words = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"]
    lines = ["id,x,y,label,note"]
    for i in range(rows):
        note = " ".join(rng.choice(words, 12)) + f" row {i}" if text else "short"
        lines.append(f"{i},{rng.normal():.3f},{rng.normal():.3f},{i % 2},{note}")
    if cell_mb:
        lines[5] = lines[5].rsplit(",", 1)[0] + "," + "lorem ipsum " * int(cell_mb * 2**20 / 12)
    path.write_text("\n".join(lines) + "\n")


def measure(path: str) -> tuple:
    out = subprocess.run([sys.executable, "-c", _CHILD, path], capture_output=True, text=True, check=True)
    seconds, peak = out.stdout.split()
    return float(seconds), int(peak)


def main() -> None:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, cell_mb in (("tabular", 20), ("tabular", 52), ("text", 20)):
            write_csv(Path(tmp) / "short.csv", 0, text=kind == "text")
            _, baseline = measure(str(Path(tmp) / "short.csv"))
            path = Path(tmp) / f"long_{cell_mb}.csv"
            write_csv(path, cell_mb, text=kind == "text")
            size = path.stat().st_size
            started = time.perf_counter()
            seconds, peak = measure(str(path))
            results.append({"kind": kind, "file_mb": round(size / 2**20, 1), "load_seconds": round(seconds, 2),
                            "wall_seconds": round(time.perf_counter() - started, 2),
                            "peak_mb": round(peak / 2**20), "baseline_mb": round(baseline / 2**20),
                            "extra_over_file_size": round((peak - baseline) / size, 1)})
    print(json.dumps({"benchmark": "loading_memory", "results": results}, indent=2))


if __name__ == "__main__":
    main()
