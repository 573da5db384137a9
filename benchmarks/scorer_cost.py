"""Calibrate the scoring cost model (:mod:`core.scorers.cost`) and check it against measured runs.

Run through ``benchmarks/scorers.py``::

    .venv/bin/python benchmarks/scorers.py --calibrate   # writes core/scorers/cost_coefficients.json
    .venv/bin/python benchmarks/scorers.py --estimate --shapes 3000x64,20000x64,20000x784,50000x64

``--calibrate`` times every piece of work the model prices (exact and approximate neighbour graphs,
out-of-fold logistic fits, k-means, the proxy MLP, PCA, each scorer's own pass) at a few shapes in
this process (the least of two runs each), fits seconds per work unit by non-negative least squares
on relative error, and writes the coefficients with the speed probe's time on this machine (it is
not part of ``make bench``: it rewrites a tracked file). ``--estimate`` runs the
default scorers cold in a fresh process per shape (PCA first for wide shapes, as loading does)
and reports the estimate made in that process, the measured time, and their ratio.
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXACT_SHAPES = [(2000, 64), (5000, 16), (5000, 64), (5000, 128), (10000, 64), (20000, 64)]
APPROXIMATE_SHAPES = [(25000, 16), (25000, 64), (25000, 128), (50000, 64), (80000, 64), (200000, 64)]
MODEL_SHAPES = [(5000, 64), (10000, 16), (10000, 128), (20000, 64), (40000, 32)]
MLP_SHAPES = [(2000, 16), (3000, 64), (6000, 128)]
PCA_SHAPES = [(2000, 400), (3000, 784), (8000, 300), (10000, 784), (20000, 784)]
PASS_SHAPES = [(5000, 64), (10000, 128)]


def known_answer(rows: int, features: int, classes: int = 5):
    """Features (float32) and labels of ``core.data.samples.make_known_answer`` (seed 1)."""
    from core.data.samples import make_known_answer

    weights = (0.40, 0.25, 0.15, 0.12, 0.08) if classes == 5 else tuple([1.0 / classes] * classes)
    frame = make_known_answer(n_rows=rows, n_features=features, class_weights=weights, seed=1)
    return frame[[f"f{i}" for i in range(features)]].to_numpy("float32"), frame["label"].to_numpy()


def _timed(work, warm: bool = False, repeats: int = 2) -> float:
    """The least seconds of ``repeats`` runs of ``work()``; with ``warm`` an untimed run first (imports, thread pools).

    The least, because on a shared machine other work only ever adds time; the cost model then
    estimates this machine undisturbed, as its speed probe measures it.
    """
    if warm:
        work()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _graph_points() -> dict:
    from core.foundation.neighbors import approximate_knn_graph, knn_graph, neighbor_recall
    from core.scorers.cost import graph_units

    points = {"neighbors_exact": []}
    for i, (n, d) in enumerate(EXACT_SHAPES):
        X, _ = known_answer(n, d)
        points["neighbors_exact"].append(({"n2d": float(n) * n * d, "n2": float(n) * n},
                                          _timed(lambda: knn_graph(X, 30, device="cpu"), warm=i == 0), (n, d)))
    for search in ("ivf", "hnsw"):  # both methods at every shape: "auto" picks between them by rows
        group = graph_units(2, 2, search)[0]
        points[group] = []
        for i, (n, d) in enumerate(APPROXIMATE_SHAPES):
            X, _ = known_answer(n, d)

            def approximate():
                graph = approximate_knn_graph(X, 30, seed=0, search=search)
                neighbor_recall(X, graph, k=10, queries=200, seed=0)  # the context measures recall too
            points[group].append((graph_units(n, d, search)[1], _timed(approximate, warm=i == 0), (n, d)))
    return points


def _model_points() -> dict:
    from core.scorers.geometry import nearest_prototype_distance
    from core.scorers.oof import out_of_fold

    points = {"oof_logreg": [], "kmeans": []}
    # the sizes the app is used at weigh in too: the logistic fits' cost per unit falls with n (about
    # 30 ns below 40k rows, 16 ns at 50k x 128), so a fit on small shapes alone priced 100k x 128 scoring 1.5x
    shapes = [(n, d, 5) for n, d in MODEL_SHAPES] + [(10000, 64, 10), (50000, 128, 10), (100000, 128, 10)]
    for i, (n, d, classes) in enumerate(shapes):
        X, labels = known_answer(n, d, classes)
        _, y = np.unique(labels, return_inverse=True)
        points["oof_logreg"].append(({"units": 5 * n * 0.8 * (d + 1) * classes},
                                     _timed(lambda: out_of_fold(X, y, classes, folds=5, seed=0), warm=i == 0, repeats=3),
                                     (n, d, classes)))
        X64 = X.astype(np.float64)
        points["kmeans"].append(({"units": float(n * d * classes)},
                                 _timed(lambda: nearest_prototype_distance(X64, classes, 0), warm=i == 0, repeats=3),
                                 (n, d, classes)))
    return points


def _mlp_points() -> dict:
    from core.scorers.dynamics import threshold_sample_cut
    from core.scorers.records import LOOP_DEFAULTS, record_dynamics

    points = []
    loop = {key: value for key, value in LOOP_DEFAULTS.items() if key != "runs"}
    for i, (n, d) in enumerate(MLP_SHAPES):
        X, labels = known_answer(n, d)
        _, y = np.unique(labels, return_inverse=True)
        units = LOOP_DEFAULTS["runs"] * LOOP_DEFAULTS["epochs"] * n * LOOP_DEFAULTS["hidden"] * (d + 5)
        elapsed = _timed(lambda: record_dynamics(X, y, 5, seed=0, device="cpu"), warm=i == 0)
        points.append(({"units": float(units)}, elapsed, (n, d)))
        units = 2 * LOOP_DEFAULTS["epochs"] * n * LOOP_DEFAULTS["hidden"] * (d + 6)
        points.append(({"units": float(units)},
                       _timed(lambda: threshold_sample_cut(X, y, 5, runs=2, seed=0, device="cpu", **loop)), (n, d)))
    return {"mlp": points}


def _pca_points() -> dict:
    from core.data.featurizers import AUTO_DIM, Features, reduce_dimensions
    from core.scorers.cost import pca_units

    points = []
    for i, (n, d) in enumerate(PCA_SHAPES):
        X, _ = known_answer(n, d)
        features = Features(X, [f"f{i}" for i in range(d)])
        elapsed = _timed(lambda: reduce_dimensions(features, "auto"), warm=i == 0)
        points.append((pca_units(n, d, AUTO_DIM), elapsed, (n, d)))
    return {"pca": points}


def _pass_rates() -> dict:
    """Seconds per work unit of each scorer's own pass, shared work done beforehand."""
    from core.data.dataset import Dataset
    from core.scorers import ScoringContext, registered_names, resolve_scorers
    from core.scorers.dynamics import AreaUnderMargin

    rates: dict = {}
    for n, d in PASS_SHAPES:
        X, labels = known_answer(n, d)
        ds = Dataset.from_arrays(X, labels)
        context = ScoringContext(ds, seed=0, cache=False, device="cpu")
        scorers = [s for s in resolve_scorers(registered_names()) if not hasattr(s, "inner_scorer")]
        scorers = [AreaUnderMargin(threshold_runs=0) if s.name == "aum" else s for s in scorers]
        context.plan(scorers)
        context.neighbors(30), context.out_of_fold()
        for scorer in scorers:
            if scorer.needs().get("dynamics"):
                scorer.records(context)  # the shared training loop, memoised in the context
            elapsed = _timed(lambda: scorer.compute(ds, context), repeats=3)
            if not scorer.own_shared_work(n, d, ds.n_classes):  # e.g. prototypes' k-means: priced as its own piece
                rates.setdefault(scorer.name, []).append(elapsed / scorer.own_work(n, d, ds.n_classes))
    return {name: statistics.median(values) for name, values in rates.items()}


def _fit(points: list) -> dict:
    """Seconds per unit (non-negative) and a fixed cost, minimising relative error."""
    from scipy.optimize import nnls

    terms = sorted(points[0][0])
    seconds = np.array([p[1] for p in points])
    design = np.array([[p[0][t] for t in terms] + [1.0] for p in points]) / seconds[:, None]
    scale = np.abs(design).max(axis=0)
    solution, _ = nnls(design / scale, np.ones(len(points)))
    solution = solution / scale
    predicted = np.array([[p[0][t] for t in terms] + [1.0] for p in points]) @ solution
    return {"per": {t: float(c) for t, c in zip(terms, solution[:-1])}, "fixed": float(solution[-1]),
            "points": [{"shape": list(p[2]), "seconds": round(p[1], 4), "fitted": round(float(f), 4)}
                       for p, f in zip(points, predicted)]}


def _torch_import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
             for _ in range(3)]
    return statistics.median(times)


def calibrate(write: bool = True) -> dict:
    """Time every priced piece, fit the coefficients, and (``write``) store them beside the cost model."""
    from core.scorers import cost

    probe_before = statistics.median(cost.probe_seconds() for _ in range(5))
    load_before = os.getloadavg()
    points = {**_graph_points(), **_model_points(), **_mlp_points(), **_pca_points()}
    groups = {group: _fit(group_points) for group, group_points in points.items()}
    rates = _pass_rates()
    probe = statistics.median([probe_before] + [cost.probe_seconds() for _ in range(5)])
    table = {
        "version": 1,
        "calibrated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpu_count": os.cpu_count(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg(),
                    "note": "quiet machine" if max(load_before[0], os.getloadavg()[0]) < 1.5 else "busy machine"},
        "probe_seconds": probe, "torch_import_seconds": _torch_import_seconds(),
        "groups": {g: {"per": fit["per"], "fixed": fit["fixed"]} for g, fit in groups.items()},
        "scorers": {**rates, "default": statistics.median(rates.values())},
    }
    if write:
        with open(cost.COEFFICIENTS_FILE, "w", encoding="utf-8") as handle:
            json.dump(table, handle, indent=1)
            handle.write("\n")
    return {**table, "fit_points": {g: fit["points"] for g, fit in groups.items()}}


def per_scorer_seconds(marks: list) -> dict:
    """Seconds per scorer from ``(time, message)`` progress marks; the first scorer also carries shared work."""
    measured, begun = {}, {}
    for stamp, message in marks:
        if message.startswith("scoring: "):
            begun[message[9:]] = stamp
        elif message.startswith("scored: "):
            measured[message[8:]] = round(stamp - begun[message[8:]], 3)
    return measured


def timed_default(rows: int, features: int) -> dict:
    """One cold run of the default scorers (PCA first when wide); runs inside a fresh subprocess."""
    from core.data.dataset import Dataset
    from core.data.featurizers import Features, reduce_dimensions
    from core.scorers import DEFAULT_SCORERS, compute_scores
    from core.scorers.cost import estimate_seconds

    import sklearn.cluster  # noqa: F401 - imported before the clock, as the app has it imported
    import sklearn.neighbors  # noqa: F401

    X, labels = known_answer(rows, features)
    estimate = estimate_seconds(DEFAULT_SCORERS, rows, features, 5, max_dim="auto")
    start = time.perf_counter()
    reduced = reduce_dimensions(Features(X, [f"f{i}" for i in range(features)]), "auto").X
    reduce_s = time.perf_counter() - start
    marks = []
    compute_scores(Dataset.from_arrays(reduced, labels), DEFAULT_SCORERS, seed=0, cache=False,
                   progress=lambda done, total, message: marks.append((time.perf_counter(), message)))
    seconds = time.perf_counter() - start
    measured = per_scorer_seconds(marks)
    return {"seconds": seconds, "pca_s": reduce_s, "estimate_s": estimate["total"], "features_scored": reduced.shape[1],
            "estimate_scorers_s": {k: round(v, 3) for k, v in estimate["scorers"].items()},
            "measured_scorers_s": measured, "machine_factor": estimate["machine_factor"],
            "neighbors": estimate["neighbors"]}


def estimate_report(shapes: list, run, repeats: int) -> list:
    """Estimate against measurement at each (rows, features); ``run(rows, features)`` is one cold run."""
    report = []
    for rows, features in shapes:
        runs = [run(rows, features) for _ in range(repeats)]
        measured = statistics.median(r["seconds"] for r in runs)
        estimated = statistics.median(r["estimate_s"] for r in runs)
        report.append({"rows": rows, "features": features, "repeats": repeats,
                       "measured_s": round(measured, 3), "estimate_s": round(estimated, 3),
                       "ratio_estimate_over_measured": round(estimated / measured, 3),
                       "measured_all_s": [round(r["seconds"], 3) for r in runs], "last_run": runs[-1],
                       "load_average": os.getloadavg()})
    return report
