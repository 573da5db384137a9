"""Write a generated classification table as a folder of Parquet partitions, one partition at a time.

    .venv/bin/python benchmarks/gen_partitioned.py --rows 5000000 --features 64 --partitions 10 --out /tmp/gen-5m

Columns: ``id`` (int64, the global row number), ``label`` (int64, 10 classes by default) and
``e000``... (float32 features). Rows come from a Gaussian mixture like ``benchmarks/scale.py``'s
generator (``4 x classes`` components in 16 latent dimensions, mixed linearly to the features, plus
a little noise); a component's class is ``component % classes``. Planted so that the flags mean
something: ``--flip`` of the labels (default 5 %) are replaced by a different class, and
``--duplicates`` of the rows (default 0.5 %) are near-copies of another row of the same partition
(the copy plus noise at 1e-4 of the features' scale). Which rows were flipped or copied is written
beside the partitions in ``_planted/part-XXXXX.npz`` (``flipped``, ``copies``: global row numbers),
so a benchmark can check that the flags find them.

Memory is bounded by one partition; every partition draws from its own stream of
``numpy.random.SeedSequence((seed, partition))``, so the output depends only on the arguments
(deterministic by ``--seed``), not on the order partitions are written in. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

LATENT = 16


def mixture(seed: int, classes: int, features: int) -> tuple[np.ndarray, np.ndarray]:
    """The mixture every partition draws from: component centres (latent) and the mixing matrix."""
    generator = np.random.default_rng(np.random.SeedSequence((seed, 2**31)))
    centres = generator.normal(size=(classes * 4, LATENT)) * 2.0
    mixing = generator.normal(size=(LATENT, features)) / 4.0
    return centres, mixing


def partition_rows(rows: int, partitions: int) -> list:
    """Rows of each partition: as even as possible, larger ones first."""
    base, extra = divmod(rows, partitions)
    return [base + (1 if number < extra else 0) for number in range(partitions)]


def generate(number: int, start: int, count: int, *, seed: int, classes: int, centres: np.ndarray,
             mixing: np.ndarray, flip: float, duplicates: float) -> tuple[dict, dict]:
    """Columns of partition ``number`` (rows ``start .. start + count``) and the planted rows."""
    generator = np.random.default_rng(np.random.SeedSequence((seed, number)))
    component = generator.integers(0, len(centres), count)
    latent = centres[component] + generator.normal(size=(count, LATENT))
    X = (latent @ mixing + 0.1 * generator.normal(size=(count, mixing.shape[1]))).astype(np.float32)
    y = (component % classes).astype(np.int64)
    flipped = np.flatnonzero(generator.random(count) < flip)
    y[flipped] = (y[flipped] + generator.integers(1, classes, len(flipped))) % classes  # always another class
    copies = np.flatnonzero(generator.random(count) < duplicates)
    copies = copies[copies > 0]
    originals = (generator.random(len(copies)) * copies).astype(np.int64)  # an earlier row of the partition
    scale = float(X.std()) * 1e-4
    X[copies] = X[originals] + (scale * generator.normal(size=(len(copies), X.shape[1]))).astype(np.float32)
    y[copies] = y[originals]
    columns = {"id": np.arange(start, start + count, dtype=np.int64), "label": y}
    columns.update({f"e{i:03d}": X[:, i] for i in range(X.shape[1])})
    return columns, {"flipped": start + flipped, "copies": start + copies, "originals": start + originals}


def write(out: Path, rows: int, features: int, partitions: int, *, seed: int = 0, classes: int = 10,
          flip: float = 0.05, duplicates: float = 0.005) -> dict:
    """Write the folder (which must not exist yet); returns a summary."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if out.exists():
        raise SystemExit(f"{out} exists; give a new folder.")
    (out / "_planted").mkdir(parents=True)
    centres, mixing = mixture(seed, classes, features)
    start, planted = 0, {"flipped": 0, "copies": 0}
    for number, count in enumerate(partition_rows(rows, partitions)):
        columns, rows_planted = generate(number, start, count, seed=seed, classes=classes, centres=centres,
                                         mixing=mixing, flip=flip, duplicates=duplicates)
        pq.write_table(pa.table(columns), out / f"part-{number:05d}.parquet")
        np.savez(out / "_planted" / f"part-{number:05d}.npz", **rows_planted)
        planted["flipped"] += len(rows_planted["flipped"])
        planted["copies"] += len(rows_planted["copies"])
        start += count
    return {"out": str(out), "rows": rows, "features": features, "partitions": partitions, "classes": classes,
            "seed": seed, "planted": planted,
            "bytes": sum(p.stat().st_size for p in out.glob("part-*.parquet"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--flip", type=float, default=0.05, help="share of labels replaced by another class")
    parser.add_argument("--duplicates", type=float, default=0.005, help="share of rows that are near-copies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="new folder")
    args = parser.parse_args()
    if args.rows < args.partitions or args.partitions < 1 or args.classes < 2:
        raise SystemExit("need rows >= partitions >= 1 and at least 2 classes")
    began = time.time()
    summary = write(Path(args.out), args.rows, args.features, args.partitions, seed=args.seed,
                    classes=args.classes, flip=args.flip, duplicates=args.duplicates)
    print(json.dumps({**summary, "seconds": round(time.time() - began, 1)}))


if __name__ == "__main__":
    main()
