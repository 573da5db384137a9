"""The estimate users decide by: slider latency, fidelity, bias on pure noise, and auto's choices.

Sections (JSON on stdout, and to ``--out``):

- ``latency``: a slider dragged over a difficulty score at 60k x 64 (10 classes), top-k by the
  score (and CCS for logistic regression). Each move runs the leak-free path: per fold, select
  among the other folds with their fold-wise scores, then the target model's estimate. p50/p95 per target model (``logreg`` is the default and has the
  0.5 s target; ``ridge`` is the instant first figure; ``knn`` also reports its one-off
  neighbour lists; ``mlp`` is the exact model, a few moves only).
- ``fidelity``: on two bundled sets and a generated set, a third of the rows is held out as a
  test split the workbench never sees. For >= 12 strategies at keep 0.1 and 0.3, the Spearman
  correlation between the live leak-free estimate and the test accuracy of the target model
  (logistic regression fitted to convergence, :mod:`core.evaluation.models`: the model the live
  figure fits) trained on the subset (all-rows scores, as exported). The ridge figure and the
  optimistic all-rows estimate are reported beside it.
- ``bias``: pure-noise labels (10,000 rows, two balanced classes, 8 independent draws): each
  strategy's leak-free estimate minus chance, mean and standard error over the draws (and the
  all-rows estimate's, for contrast); auto's nested estimate on the first draws.
- ``auto``: on ``--splits`` held-out splits per set (the first is fidelity's), the test accuracy
  of auto's choice against random and against the best single candidate in hindsight (best mean
  test accuracy over the splits), at keep 0.1 / 0.3 / 0.5: mean gap and its standard error.

    python benchmarks/estimate.py                    # default run (15-30 minutes on the busy 2-core machine)
    python benchmarks/estimate.py --skip fidelity,auto     # latency and bias only (about 8 minutes)
    python benchmarks/estimate.py --gen-rows 50000 --big --models logreg,ridge,knn,mlp   # the full issue run
    python benchmarks/estimate.py --skip latency,fidelity,bias --sets known_answer,mnist --splits 5   # auto only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core  # noqa: E402
from core.data.dataset import Dataset  # noqa: E402
from core.data.samples import load_sample, make_known_answer  # noqa: E402
from core.evaluation import FoldScores, LiveEvaluator, fold_masks, fold_scores, selection_estimate  # noqa: E402
from core.evaluation.models import fit_predict  # noqa: E402
from core.foundation.folds import stratified_folds  # noqa: E402
from core.foundation.seeds import rng  # noqa: E402
from core.search.auto import auto_select  # noqa: E402
from core.search.pool import auto_candidates  # noqa: E402

SCORERS = ["label_noise", "el2n", "margin", "entropy", "knn_shapley", "knn_density", "prototypicality",
           "outlier", "duplicate"]
STRATEGIES = ["random", "el2n", "el2n:low", "ccs:el2n", "ccs:el2n:beta=0.3", "margin", "margin:high",
              "label_noise", "label_noise:high", "ccs:label_noise", "knn_shapley", "knn_shapley:low",
              "knn_density", "knn_density:low", "prototypicality", "outlier:high", "drop-flagged:label_noise",
              "kcenter"]


def _quantiles(values) -> dict:
    values = np.asarray(values, dtype=float)
    return {"p50_s": float(np.median(values)), "p95_s": float(np.quantile(values, 0.95)), "n": int(len(values))}


def synthetic(n_rows: int, n_features: int, seed: int = 1) -> Dataset:
    frame = make_known_answer(n_rows=n_rows, n_features=n_features, seed=seed)
    columns = [c for c in frame.columns if c.startswith("f") and c[1:].isdigit()]
    return Dataset.from_arrays(frame[columns].to_numpy(), frame["label"].to_numpy())


def difficulty_fold_scores(ds: Dataset, ev: LiveEvaluator) -> FoldScores:
    """An el2n-like score per fold (distance to the class mean of the fold's training rows)."""
    frames = []
    for f in range(ev.n_folds):
        train = np.flatnonzero(ev.fold_of_row_ != f)
        X, y = ds.X[train], ds.y[train]
        centre = np.stack([X[y == c].mean(axis=0) for c in range(ds.n_classes)])
        frames.append(pd.DataFrame({"el2n": np.linalg.norm(X - centre[y], axis=1)}, index=pd.Index(ds.ids[train], name="id")))
    return FoldScores(frames, ev.fold_of_row_, ["el2n"], [], ds.fingerprint)


def slider(ds: Dataset, model: str, moves: int, strategy: str = "el2n:low", check: bool = True) -> dict:
    ev = LiveEvaluator(ds, folds=5, seed=0, model=model)
    started = time.perf_counter()
    ev.prepare()
    prepare_s = time.perf_counter() - started
    fs = difficulty_fold_scores(ds, ev)
    keeps = np.concatenate([np.linspace(0.5, 0.3, moves // 2 + 1)[1:], np.linspace(0.31, 0.4, moves - moves // 2)])
    masks, _ = fold_masks(ds, strategy, fold_scores=fs, keep=0.5)
    ev.estimate_folds(masks)  # the slider's starting position
    select_s, estimate_s, random_s = [], [], []
    for keep in keeps:
        t0 = time.perf_counter()
        masks, _ = fold_masks(ds, strategy, fold_scores=fs, keep=float(keep))
        t1 = time.perf_counter()
        ev.estimate_folds(masks)
        t2 = time.perf_counter()
        select_s.append(t1 - t0)
        estimate_s.append(t2 - t1)
        if model in ("logreg", "ridge") and len(random_s) < 3:
            t3 = time.perf_counter()
            ev.random(int(masks[0].sum() / 0.8), repeats=5)
            random_s.append(time.perf_counter() - t3)
    total = np.add(select_s, estimate_s)
    agreement = None
    if model == "logreg" and check:  # the warm-started figure against scikit-learn on the same kept rows
        exact = LiveEvaluator(ds, folds=5, seed=0, model="logreg", exact=True).estimate_folds(masks)
        agreement = 100 * abs(ev.estimate_folds(masks).accuracy - exact.accuracy)
    return {"model": ev.describe(), "strategy": strategy, "prepare_s": prepare_s, "move": _quantiles(total),
            "points_from_scikit_learn_at_last_position": agreement,
            "select_per_fold_part": _quantiles(select_s), "estimate_part": _quantiles(estimate_s),
            "random_reference_5_subsets": _quantiles(random_s) if random_s else None}


def latency(n_rows: int, n_features: int, moves: int, models, check: bool = True) -> dict:
    ds = synthetic(n_rows, n_features)
    out = {"shape": [n_rows, n_features], "classes": ds.n_classes}
    for model in models:
        out[model] = slider(ds, model, moves if model != "mlp" else 2, check=check)
        print(f"latency {n_rows}x{n_features} {model}: {out[model]['move']}", file=sys.stderr)
    if "logreg" in models:  # CCS re-draws rows inside its bins at every budget: more changes per move
        out["logreg_ccs"] = slider(ds, "logreg", moves, "ccs:el2n", check=check)
        print(f"latency {n_rows}x{n_features} logreg ccs: {out['logreg_ccs']['move']}", file=sys.stderr)
    return out


def split(ds: Dataset, seed: int = 11):
    part = stratified_folds(ds.y, 3, seed)
    return ds.take(np.flatnonzero(part != 0)), ds.take(np.flatnonzero(part == 0))


def test_accuracy(work: Dataset, test: Dataset, mask: np.ndarray, model: str = "logreg") -> float:
    """Accuracy on ``test`` of the target model trained on the kept rows of ``work``: the exact model of
    :mod:`core.evaluation.models` (for logistic regression the model the live figure fits, to convergence)."""
    pred = fit_predict(model, work.X[mask], work.y[mask], test.X, work.n_classes, 0, work.n_samples)
    return float(np.mean(pred == test.y))


def _select(ds, scores, strategy, keep, seed=0):
    return core.select(ds, scores, strategy, keep=None if strategy.startswith("drop-flagged") else keep, seed=seed)


def prepared(name: str, ds: Dataset, split_seed: int = 11) -> dict:
    started = time.perf_counter()
    work, test = split(ds, split_seed)
    scores = core.compute_scores(work, SCORERS, seed=0)
    fs = fold_scores(work, SCORERS, folds=5, seed=0)
    return {"name": name, "work": work, "test": test, "scores": scores, "fold_scores": fs,
            "scoring_s": time.perf_counter() - started, "split_seed": split_seed, "ds": ds}


def fidelity(data: dict, keeps=(0.1, 0.3)) -> dict:
    from scipy.stats import spearmanr

    work, test, scores, fs = data["work"], data["test"], data["scores"], data["fold_scores"]
    ev = LiveEvaluator(work, folds=5, seed=0)
    out = {"rows": [work.n_samples, test.n_samples], "features": work.n_features, "scoring_s": data["scoring_s"]}
    for keep in keeps:
        started = time.perf_counter()
        live, optimistic, ridge, held_out = [], [], [], []
        for strategy in STRATEGIES:
            sel = _select(work, scores, strategy, keep)
            live.append(selection_estimate(work, sel, scores=scores, evaluator=ev, fold_scores=fs)[0].accuracy)
            optimistic.append(ev.estimate(sel.mask).accuracy)
            ridge.append(ev.first_paint(sel.mask).accuracy)
            held_out.append(test_accuracy(work, test, sel.mask))
        out[f"keep_{keep:g}"] = {
            "spearman_live_leak_free": float(spearmanr(live, held_out).statistic),
            "spearman_all_rows_scores": float(spearmanr(optimistic, held_out).statistic),
            "spearman_ridge_first_figure": float(spearmanr(ridge, held_out).statistic),
            "strategies": len(STRATEGIES), "seconds": time.perf_counter() - started,
            "table": [{"strategy": s, "live": a, "all_rows": b, "ridge": c, "test": d}
                      for s, a, b, c, d in zip(STRATEGIES, live, optimistic, ridge, held_out)],
        }
        print(f"fidelity {data['name']} keep {keep}: {out[f'keep_{keep:g}']['spearman_live_leak_free']:.3f}", file=sys.stderr)
    return out


def noise_draw(n_rows: int, draw: int) -> Dataset:
    """Pure noise: 8 normal features and balanced binary labels that carry no signal (one draw)."""
    gen = rng(draw, "pure-noise")
    return Dataset.from_arrays(gen.normal(size=(n_rows, 8)), np.repeat([0, 1], n_rows // 2)[gen.permutation(n_rows)])


def bias_draw(ds: Dataset, auto: bool) -> dict:
    """Each strategy's leak-free and all-rows estimate minus chance on one noise draw (points)."""
    scores = core.compute_scores(ds, SCORERS, seed=0)
    fs = fold_scores(ds, SCORERS, folds=5, seed=0)
    ev = LiveEvaluator(ds, folds=5, seed=0)
    out = {"leak_free": {}, "all_rows": {}}
    for strategy in STRATEGIES:
        sel = _select(ds, scores, strategy, 0.5)
        out["leak_free"][strategy] = 100 * (selection_estimate(ds, sel, scores=scores, evaluator=ev,
                                                               fold_scores=fs)[0].accuracy - 0.5)
        out["all_rows"][strategy] = 100 * (selection_estimate(ds, sel, scores=scores, evaluator=ev)[0].accuracy - 0.5)
    out["random_reference"] = 100 * (ev.random(ds.n_samples // 2, 5).accuracy - 0.5)
    if auto:
        honest = auto_select(ds, scores, 0.5, evaluator=ev, fold_scores=fs).details["honest_estimate"]
        out["auto_nested"] = 100 * (honest["accuracy"] - 0.5)
    return out


def _mean_se(values) -> dict:
    values = np.asarray(values, dtype=float)
    se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else None  # JSON: null
    return {"mean_points": float(values.mean()), "se_points": se}


def bias(n_rows: int = 10000, draws: int = 8, auto_draws: int = 3) -> dict:
    """Mean estimate minus chance over independent pure-noise draws, with its standard error.

    One draw's estimate has a sampling spread of sqrt(0.25 / n_rows) (0.5 points at 10,000 rows)
    whatever the strategy, so a single draw cannot tell a 0.5-point bias from luck; the mean over
    ``draws`` draws can (standard error about 0.5 / sqrt(draws) points). A strategy is flagged
    only if its mean lies beyond +-0.5 points by more than two standard errors.
    """
    runs = []
    for d in range(draws):
        started = time.perf_counter()
        runs.append(bias_draw(noise_draw(n_rows, d), auto=d < auto_draws))
        print(f"bias draw {d + 1}/{draws}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    table = []
    for strategy in STRATEGIES:
        free = _mean_se([r["leak_free"][strategy] for r in runs])
        leaky = _mean_se([r["all_rows"][strategy] for r in runs])
        table.append({"strategy": strategy, "leak_free": free, "all_rows": leaky,
                      "beyond_target": abs(free["mean_points"]) - 2 * (free["se_points"] or 0.0) > 0.5})
    worst = max(table, key=lambda r: abs(r["leak_free"]["mean_points"]))
    return {"rows": n_rows, "draws": draws, "keep": 0.5,
            "one_draw_sampling_spread_points": 100 * float(np.sqrt(0.25 / n_rows)),
            "max_abs_mean_leak_free_points": abs(worst["leak_free"]["mean_points"]), "worst": worst["strategy"],
            "max_abs_mean_all_rows_points": max(abs(r["all_rows"]["mean_points"]) for r in table),
            "strategies_beyond_target": [r["strategy"] for r in table if r["beyond_target"]],
            "random_reference": _mean_se([r["random_reference"] for r in runs]),
            "auto_nested": _mean_se([r["auto_nested"] for r in runs if "auto_nested" in r]),
            "auto_draws": min(auto_draws, draws), "table": table}


def auto_split(data: dict, keeps) -> dict:
    """On one held-out split, per keep: the test accuracy of auto's choice, of random, of every candidate."""
    work, test, scores, fs = data["work"], data["test"], data["scores"], data["fold_scores"]
    ev = LiveEvaluator(work, folds=5, seed=0)
    out = {}
    for keep in keeps:
        started = time.perf_counter()
        sel = auto_select(work, scores, keep, evaluator=ev, fold_scores=fs)
        auto_s = time.perf_counter() - started
        randoms = [test_accuracy(work, test, _select(work, None, "random", keep, seed).mask) for seed in range(5)]
        singles = {s: test_accuracy(work, test, core.select(work, scores, s, keep=keep, seed=0).mask)
                   for s in auto_candidates(work, scores, keep) if s != "random"}  # auto's own pool
        out[keep] = {"choice": sel.resolved_strategy, "auto": test_accuracy(work, test, sel.mask),
                     "random": float(np.mean(randoms)), "singles": singles, "auto_seconds": auto_s,
                     "nested_estimate": sel.details["honest_estimate"]["accuracy"]}
        print(f"auto {data['name']} split {data['split_seed']} keep {keep}: {sel.resolved_strategy} "
              f"{100 * (out[keep]['auto'] - max(singles.values())):+.2f} from the split's best, {auto_s:.0f} s",
              file=sys.stderr)
    return out


def auto_versus(name: str, ds: Dataset, splits: int, first: dict = None, keeps=(0.1, 0.3, 0.5),
                base_seed: int = 11) -> dict:
    """auto against random and the best single candidate in hindsight, over ``splits`` held-out splits.

    One test split of n rows reads each subset's accuracy with a spread of about
    sqrt(p (1 - p) / n) (1.3 points on 1,000 rows), and the best of ~45 candidates on that same
    split is the luckiest of them, so one split cannot resolve a 0.3-point gap. The best single
    strategy in hindsight is the one with the best *mean* test accuracy over the splits; the gap
    to each split's own maximum (luck included) is reported beside it. Gaps: mean and standard
    error over splits, in points.
    """
    seeds = [base_seed + i for i in range(splits)]
    runs = [auto_split(first if first and first["split_seed"] == s else prepared(name, ds, split_seed=s), keeps)
            for s in seeds]
    out = {"splits": splits, "split_seeds": seeds}
    for keep in keeps:
        per = [r[keep] for r in runs]
        common = set.intersection(*(set(p["singles"]) for p in per))
        mean_test = {s: float(np.mean([p["singles"][s] for p in per])) for s in sorted(common)}
        best = max(mean_test, key=mean_test.get)
        out[f"keep_{keep:g}"] = {
            "auto_test": float(np.mean([p["auto"] for p in per])), "random_test": float(np.mean([p["random"] for p in per])),
            "best_single_in_hindsight": best, "best_single_test": mean_test[best],
            "auto_minus_best_points": _mean_se([100 * (p["auto"] - p["singles"][best]) for p in per]),
            "auto_minus_random_points": _mean_se([100 * (p["auto"] - p["random"]) for p in per]),
            "auto_minus_each_splits_max_points": _mean_se([100 * (p["auto"] - max(p["singles"].values())) for p in per]),
            "each_splits_max_minus_best_points": _mean_se([100 * (max(p["singles"].values()) - p["singles"][best])
                                                           for p in per]),  # the test split's luck alone
            "choices": [p["choice"] for p in per], "each_splits_best": [max(p["singles"], key=p["singles"].get) for p in per],
            "auto_seconds": [p["auto_seconds"] for p in per], "nested_estimates": [p["nested_estimate"] for p in per],
            "per_split": [{"split": seed, "auto": p["auto"], "random": p["random"], "singles": p["singles"]}
                          for seed, p in zip(seeds, per)],  # to pool runs over more splits
        }
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-rows", type=int, default=60000)
    parser.add_argument("--moves", type=int, default=12)
    parser.add_argument("--models", default="logreg,ridge,knn", help="add mlp for the exact MLP (minutes per move)")
    parser.add_argument("--gen-rows", type=int, default=6000, help="rows of the generated set (issue: 50000)")
    parser.add_argument("--big", action="store_true", help="also slider latency at 20k x 784 and 100k x 128")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip")
    parser.add_argument("--sets", default="known_answer,mnist,generated", help="data sets of fidelity and auto")
    parser.add_argument("--splits", type=int, default=3, help="held-out splits per set in the auto section")
    parser.add_argument("--first-split", type=int, default=11, help="seed of the auto section's first split")
    parser.add_argument("--bias-rows", type=int, default=10000)
    parser.add_argument("--bias-draws", type=int, default=8, help="independent pure-noise draws (mean +- SE)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    os.environ.setdefault("WORKBENCH_CACHE_DIR", str(Path.home() / ".cache" / "workbench-bench-estimate"))
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                          "note": "timings on a shared machine; compare medians"}}
    started = time.perf_counter()
    if "latency" not in skip:
        result["latency"] = [latency(args.latency_rows, 64, args.moves, args.models.split(","))]
        if args.big:
            result["latency"] += [latency(20000, 784, args.moves, ["logreg", "ridge"], check=False),
                                  latency(100000, 128, args.moves, ["logreg", "ridge"], check=False)]
    sets = []
    if not {"fidelity", "auto"} <= skip:
        makers = {"known_answer": lambda: load_sample("known_answer"), "mnist": lambda: load_sample("mnist"),
                  "generated": lambda: synthetic(args.gen_rows, 64, seed=5)}
        sets = [prepared(name if name != "generated" else f"generated_{args.gen_rows}x64", makers[name]())
                for name in args.sets.split(",")]
    if "fidelity" not in skip:
        result["fidelity"] = {d["name"]: fidelity(d) for d in sets}
    if "bias" not in skip:
        result["bias"] = bias(args.bias_rows, args.bias_draws)
    if "auto" not in skip:
        result["auto"] = {d["name"]: auto_versus(d["name"], d["ds"], args.splits, first=d,
                                                  base_seed=args.first_split) for d in sets}
    result["seconds"] = time.perf_counter() - started
    text = json.dumps(result, indent=2, default=float)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
