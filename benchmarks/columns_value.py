"""Speed of column pruning and of the value model at the design's scale; prints JSON.

    .venv/bin/python benchmarks/columns_value.py [--rows 50000] [--features 64] [--repeats 3]

Times (median of ``--repeats``, seconds, warm: imports and the data generation excluded):
``rank_columns`` (three rankings), ``column_curve`` (per-fold rankings + one estimate per column
count + random subsets), ``fit_value_model`` (linear and MLP, with 5-fold quality, without the
backtest; the linear one once more with its default backtest) and scoring a new batch of
``--rows`` rows with a saved model. Whether the backtest tells the truth: ``value_backtest.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import core
from core.columns import column_curve, rank_columns
from core.value import fit_value_model, load_value_model


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    frame = core.make_known_answer(n_rows=args.rows, n_features=args.features, seed=1)
    features = [f"f{i}" for i in range(args.features)]
    ds = core.load_dataset(frame, label="label", id="id", features=features)
    target = pd.DataFrame({"value": np.random.default_rng(0).normal(size=ds.n_samples) + ds.X[:, 0]},
                          index=pd.Index(ds.ids, name="id"))
    results = {"rows": ds.n_samples, "features": ds.n_features, "repeats": args.repeats, "unit": "seconds (median)"}
    results["rank_columns"] = _median_time(lambda: rank_columns(ds), args.repeats)
    results["column_curve_20_points"] = _median_time(lambda: column_curve(ds, n_points=20), 1)
    for model in ("linear", "mlp"):
        results[f"fit_value_model_{model}"] = _median_time(
            lambda: fit_value_model(ds, target, "value", model=model, backtest=False),
            1 if model == "mlp" else args.repeats)
    # the backtest at keep 0.3/0.5/0.8 (5 batch folds x 2 halves x (2 strategies + 5 random draws) logistic fits
    # per keep); "value" is no registered scorer, so no fold-wise scores are computed here
    results["fit_value_model_linear_with_backtest"] = _median_time(lambda: fit_value_model(ds, target, "value"), 1)
    with tempfile.TemporaryDirectory() as folder:
        path = fit_value_model(ds, target, "value", backtest=False).save(Path(folder) / "value.json")
        loaded = load_value_model(path)
        results["score_new_rows"] = _median_time(lambda: loaded.predict(frame), args.repeats)
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
