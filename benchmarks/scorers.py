"""Time and peak memory of the scorers at 10k and 50k rows x 64 features; prints JSON.

Usage::

    .venv/bin/python benchmarks/scorers.py                      # 10k and 50k rows, 3 repeats
    .venv/bin/python benchmarks/scorers.py --rows 50000 --repeats 3 --no-per-scorer
    .venv/bin/python benchmarks/scorers.py --neighbors --rows 10000,20000,50000,100000,200000
    .venv/bin/python benchmarks/scorers.py --calibrate          # fit core/scorers/cost_coefficients.json
    .venv/bin/python benchmarks/scorers.py --estimate --repeats 1 --shapes 3000x64,20000x64,20000x784,50000x64
    .venv/bin/python benchmarks/scorers.py --versus --rows 50000,200000 --repeats 1

``--calibrate`` and ``--estimate`` are described in ``benchmarks/scorer_cost.py`` (the cost model of
:mod:`core.scorers.cost`: estimate over measured time of the default scorers, ``ratio_estimate_over_measured``).
``--versus`` times the default scorers against a careful scikit-learn + cleanlab pipeline computing
the same quantities (:func:`_careful_default`), alternating cold runs; target (issue 13): ours at most
half its time at 50k x 64 and 200k x 64.

``--neighbors`` times only the neighbour graph (k = 30, what the default scorers ask for): exact
(scikit-learn brute force) against approximate (:func:`core.foundation.neighbors.approximate_knn_graph`),
with recall@10 of the approximate graph against exact neighbours on 1,000 sampled rows. Where a
full exact graph would take too long (``--exact-up-to``) its time is extrapolated from 2,000
query rows (exact cost is linear in the query rows) and marked ``exact_estimated``.

Every measurement runs in a fresh subprocess (cold: no disk cache, nothing memoised, torch
imported) so peak RSS belongs to that measurement alone. Groups run ``--repeats`` times and report
the median; each scorer alone runs once. Data: ``core.data.samples.make_known_answer`` (planted label
noise, duplicates and outliers), features as generated.

Targets (2-core laptop, 50k x 64): model-based together < 20 s, geometry together < 20 s,
training dynamics together < 90 s, peak RSS < 2 GiB, and ``knn_density + label_noise + el2n +
margin`` no slower than a careful user's scikit-learn pipeline for the same four (5-fold
logistic-regression out-of-fold probabilities plus a 10-NN query): ``ratio`` = ours / theirs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from scorer_cost import calibrate, estimate_report, per_scorer_seconds, timed_default  # benchmarks/ is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUPS = {
    "geometry": ["knn_density", "prototypicality", "duplicate", "outlier"],
    "model": ["loss", "margin", "entropy", "least_confidence", "el2n", "grand", "label_noise"],
    "dynamics": ["forgetting", "datamap_confidence", "datamap_variability", "aum", "el2n_early"],
    "valuation": ["knn_shapley"],
    "four": ["knn_density", "label_noise", "el2n", "margin"],
}
TARGETS_S = {"model": 20.0, "geometry": 20.0, "dynamics": 90.0}
RSS_TARGET_MIB = 2048.0


def _data(rows: int, features: int):
    from core.data.samples import make_known_answer

    frame = make_known_answer(n_rows=rows, n_features=features, seed=1)
    X = frame[[f"f{i}" for i in range(features)]].to_numpy("float32")
    return X, frame["label"].to_numpy()


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def knn_shapley_sparse(indices, y, k: int = 10):
    """cleanlab's ``data_shapley_knn`` recursion (Jia et al. 2019, eqs. 18-19), summed per neighbour.

    cleanlab keeps an n x n matrix of per-test-row values (20 GB at 50k rows: the process was
    killed), so the careful pipeline accumulates the same values with ``np.bincount`` in O(n k).
    """
    import numpy as np

    n = len(y)
    match = (y[indices[:, :k]] == y[:, None]).astype(np.float64)
    values = np.zeros((n, k))
    for j in range(k - 2, -1, -1):
        values[:, j] = values[:, j + 1] + match[:, j] - match[:, j + 1]
    scores = np.bincount(indices[:, :k].ravel(), weights=values.ravel(), minlength=n) / (n * k)
    return 0.5 * (scores + 1.0)


def _careful_default(X, labels) -> dict:
    """A careful user's scikit-learn + cleanlab pipeline for the quantities of the default scorers.

    One exact 30-NN graph (scikit-learn brute force, all cores) feeds knn_density (mean distance to
    10 neighbours), LOF (``LocalOutlierFactor``, 20 neighbours, on the precomputed graph), near-duplicates
    (cosine of neighbour pairs, linked pairs closed with scipy's connected components) and
    cleanlab's KNN-Shapley recursion (k = 10, :func:`knn_shapley_sparse`); prototypicality is the distance to the
    nearest of C k-means centroids (3 restarts); label errors are cleanlab's label quality scores
    and ``find_label_issues`` on 5-fold out-of-fold probabilities of a standardised multinomial
    logistic regression (folds in parallel, ``n_jobs=-1``). Our ``label_noise`` also stacks k-NN
    votes onto those probabilities, which this pipeline leaves out (less work for it).
    """
    import numpy as np
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def sparse(distances, indices):
        n, k = indices.shape
        return csr_matrix((distances.ravel(), indices.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))

    start = time.perf_counter()
    _, y = np.unique(labels, return_inverse=True)
    distances, indices = NearestNeighbors(n_neighbors=30, n_jobs=-1).fit(X).kneighbors()  # self excluded
    out = {"knn_density": distances[:, :10].mean(axis=1)}
    graph = sparse(distances, indices)
    out["outlier"] = -LocalOutlierFactor(n_neighbors=20, metric="precomputed").fit(graph).negative_outlier_factor_
    unit = X / np.maximum(np.linalg.norm(X, axis=1), 1e-12)[:, None]
    cosines = np.concatenate([np.einsum("id,ikd->ik", unit[s:s + 8192], unit[indices[s:s + 8192, :10]])
                              for s in range(0, len(X), 8192)])
    spacing = np.median(distances[:, 0])
    linked = (cosines >= 0.95) & (distances[:, :10] <= 0.2 * spacing)
    out["duplicate"] = cosines.max(axis=1)
    out["duplicate_group"] = connected_components(sparse(linked.astype(float), indices[:, :10]), connection="weak")[1]
    out["knn_shapley"] = knn_shapley_sparse(indices, y, k=10)
    out["prototypicality"] = KMeans(n_clusters=int(y.max()) + 1, n_init=3, random_state=0).fit_transform(X).min(axis=1)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    probabilities = cross_val_predict(model, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                                      method="predict_proba", n_jobs=-1)
    out["label_noise"] = 1.0 - get_label_quality_scores(y, probabilities)
    out["label_noise_flag"] = find_label_issues(y, probabilities)
    return {"seconds": time.perf_counter() - start, "peak_rss_mib": _peak_rss_mib()}


def _worker(task: str, rows: int, features: int) -> dict:
    """One cold measurement; runs inside a subprocess."""
    if task == "estimate":
        return timed_default(rows, features)
    X, labels = _data(rows, features)
    if task == "careful":
        return _careful_default(X, labels)
    if task == "baseline":
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.neighbors import NearestNeighbors
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        start = time.perf_counter()
        _, y = np.unique(labels, return_inverse=True)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        probabilities = cross_val_predict(model, X, y, cv=folds, method="predict_proba")
        distances, _ = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X)
        density = distances[:, 1:].mean(axis=1)  # noqa: F841 - the user's knn_density
        error = probabilities.copy()
        error[np.arange(len(y)), y] -= 1.0
        el2n = np.linalg.norm(error, axis=1)  # noqa: F841
        return {"seconds": time.perf_counter() - start, "peak_rss_mib": _peak_rss_mib()}

    from core.data.dataset import Dataset
    from core.scorers import DEFAULT_SCORERS, compute_scores

    # Like the baseline, import scikit-learn before the clock starts: both sides are timed warm.
    import sklearn.linear_model  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import sklearn.neighbors  # noqa: F401

    import sklearn.cluster  # noqa: F401

    names = DEFAULT_SCORERS if task == "default" else GROUPS[task] if task in GROUPS else [task]
    ds = Dataset.from_arrays(X, labels)
    marks = []
    start = time.perf_counter()
    compute_scores(ds, names, seed=0, cache=False,
                   progress=lambda done, total, message: marks.append((time.perf_counter(), message)))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mib": _peak_rss_mib(), "per_scorer": per_scorer_seconds(marks)}


def _run(task: str, rows: int, features: int) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--worker", task, "--rows", str(rows),
               "--features", str(features)]
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(runs: list, key: str) -> float:
    return round(statistics.median(run[key] for run in runs), 3)


def benchmark(rows: int, features: int, repeats: int, per_scorer: bool) -> dict:
    result: dict = {"rows": rows, "features": features, "repeats": repeats, "groups": {}}
    for group in ("geometry", "model", "dynamics", "valuation"):
        runs = [_run(group, rows, features) for _ in range(repeats)]
        result["groups"][group] = {
            "scorers": GROUPS[group], "median_s": _median(runs, "seconds"),
            "all_s": [round(r["seconds"], 3) for r in runs], "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
            "per_scorer_s_last_run": runs[-1]["per_scorer"],
        }
    # Ours and the baseline alternate, so both see the same background load.
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(_run("four", rows, features))
        theirs.append(_run("baseline", rows, features))
    result["four_vs_sklearn"] = {
        "scorers": GROUPS["four"], "ours_median_s": _median(ours, "seconds"),
        "sklearn_median_s": _median(theirs, "seconds"),
        "ratio": round(_median(ours, "seconds") / _median(theirs, "seconds"), 3),
        "ours_all_s": [round(r["seconds"], 3) for r in ours], "sklearn_all_s": [round(r["seconds"], 3) for r in theirs],
    }
    if per_scorer:
        result["per_scorer_alone"] = {}
        for group in ("geometry", "model", "dynamics", "valuation"):
            for name in GROUPS[group]:
                run = _run(name, rows, features)
                result["per_scorer_alone"][name] = {"seconds": round(run["seconds"], 3),
                                                    "peak_rss_mib": round(run["peak_rss_mib"], 1)}
    peak = max([g["peak_rss_mib"] for g in result["groups"].values()]
               + [r["peak_rss_mib"] for r in ours + theirs])
    result["peak_rss_mib"] = round(peak, 1)
    result["targets_met"] = {
        **{f"{group}_under_{int(limit)}s": result["groups"][group]["median_s"] < limit
           for group, limit in TARGETS_S.items()},
        "peak_rss_under_2GiB": peak < RSS_TARGET_MIB,
        "four_no_slower_than_sklearn": result["four_vs_sklearn"]["ratio"] <= 1.0,
    }
    return result


def versus_careful(rows: int, features: int, repeats: int) -> dict:
    """The default scorers against :func:`_careful_default`, alternating cold runs; medians over ``repeats``."""
    ours, theirs, loads = [], [], []
    for _ in range(repeats):
        loads.append(os.getloadavg())
        ours.append(_run("default", rows, features))
        theirs.append(_run("careful", rows, features))
    ratio = _median(ours, "seconds") / _median(theirs, "seconds")
    return {"rows": rows, "features": features, "repeats": repeats, "ours_median_s": _median(ours, "seconds"),
            "careful_sklearn_cleanlab_median_s": _median(theirs, "seconds"), "ratio": round(ratio, 3),
            "target_at_most_half_met": ratio <= 0.5, "ours_all_s": [round(r["seconds"], 3) for r in ours],
            "careful_all_s": [round(r["seconds"], 3) for r in theirs],
            "ours_per_scorer_s_last_run": ours[-1]["per_scorer"],
            "peak_rss_mib": {"ours": max(r["peak_rss_mib"] for r in ours),
                             "careful": max(r["peak_rss_mib"] for r in theirs)},
            "load_average_before_each_pair": loads}


def neighbors_benchmark(rows: int, features: int, repeats: int, exact_up_to: int, k: int = 30) -> dict:
    """Exact against approximate neighbour graph on one size; medians over ``repeats``."""
    import numpy as np

    from core.foundation.neighbors import APPROXIMATE_FROM, approximate_knn_graph, knn_graph, neighbor_recall

    X, _ = _data(rows, features)
    X = np.ascontiguousarray(X, dtype=np.float32)
    exact, approximate, recalls = [], [], []
    estimated = rows > exact_up_to
    for repeat in range(repeats):
        start = time.perf_counter()
        if estimated:
            from sklearn.neighbors import NearestNeighbors

            queries = min(rows, 2000)
            NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X).kneighbors(X[:queries])
            exact.append((time.perf_counter() - start) * rows / queries)
        else:
            knn_graph(X, k, device="cpu")
            exact.append(time.perf_counter() - start)
        start = time.perf_counter()
        graph = approximate_knn_graph(X, k, seed=repeat)
        approximate.append(time.perf_counter() - start)
        recalls.append(neighbor_recall(X, graph, k=10, queries=1000, seed=repeat))
    exact_s, approximate_s = statistics.median(exact), statistics.median(approximate)
    return {"rows": rows, "features": features, "k": k, "repeats": repeats,
            "exact_s": round(exact_s, 3), "exact_estimated": estimated, "exact_all_s": [round(t, 3) for t in exact],
            "approximate_s": round(approximate_s, 3), "approximate_all_s": [round(t, 3) for t in approximate],
            "speedup": round(exact_s / approximate_s, 2), "recall_at_10": round(statistics.median(recalls), 4),
            "recall_at_10_all": [round(r, 4) for r in recalls],
            "used_by_default": "approximate" if rows > APPROXIMATE_FROM else "exact"}


def _cost_reports(args) -> dict:
    report = {"machine": {"cpu_count": os.cpu_count(), "load_average_at_start": os.getloadavg(),
                          "note": "shared machine; other work ran beside these timings"}}
    if args.calibrate:
        report["calibration"] = calibrate()
    if args.estimate:
        shapes = [tuple(int(part) for part in shape.split("x")) for shape in args.shapes.split(",")]
        report["estimate_vs_measured"] = estimate_report(shapes, lambda r, f: _run("estimate", r, f), args.repeats)
    if args.versus:
        report["default_vs_careful_sklearn_cleanlab"] = [versus_careful(int(rows), args.features, args.repeats)
                                                         for rows in args.rows.split(",")]
    report["machine"]["load_average_at_end"] = os.getloadavg()
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="10000,50000", help="comma-separated row counts")
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-per-scorer", dest="per_scorer", action="store_false",
                        help="skip timing each scorer alone")
    parser.add_argument("--neighbors", action="store_true",
                        help="only time exact against approximate neighbour graphs (and their recall@10)")
    parser.add_argument("--exact-up-to", type=int, default=50000,
                        help="with --neighbors: above this many rows extrapolate the exact time from 2,000 queries")
    parser.add_argument("--calibrate", action="store_true",
                        help="time each piece the cost model prices and write core/scorers/cost_coefficients.json")
    parser.add_argument("--estimate", action="store_true",
                        help="the cost model's estimate against the measured default scorers at --shapes")
    parser.add_argument("--shapes", default="3000x64,20000x64,20000x784,50000x64",
                        help="with --estimate: comma-separated ROWSxFEATURES")
    parser.add_argument("--versus", action="store_true",
                        help="the default scorers against a careful scikit-learn + cleanlab pipeline at --rows")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, int(args.rows), args.features)))
        return 0
    if args.calibrate or args.estimate or args.versus:
        print(json.dumps(_cost_reports(args), indent=2))
        return 0
    import torch

    if args.neighbors:
        report = {"machine": {"cpu_count": os.cpu_count(), "load_average_at_start": os.getloadavg()},
                  "neighbors": [neighbors_benchmark(int(rows), args.features, args.repeats, args.exact_up_to)
                                for rows in args.rows.split(",")]}
        report["machine"]["load_average_at_end"] = os.getloadavg()
        print(json.dumps(report, indent=2))
        return 0
    report = {
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "cuda": torch.cuda.is_available(), "load_average_at_start": os.getloadavg()},
        "results": [benchmark(int(rows), args.features, args.repeats, args.per_scorer)
                    for rows in args.rows.split(",")],
    }
    report["machine"]["load_average_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
