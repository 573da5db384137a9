"""Issue 22's targets: duplicate-aware folds, interval coverage, worst class, auto at small budgets.

Sections (JSON on stdout, and to ``--out``):

- ``copies``: a planted-copy set (10 overlapping classes, 30 % of the rows with two near copies)
  and the bundled known_answer set: the full-data CV estimate with plain stratified folds and with
  duplicate groups kept whole, beside the accuracy on a separate test set drawn without copies
  (planted set) - for a 1-nearest-neighbour target and logistic regression.
- ``coverage``: on held-out splits of the bundled and a generated set, for several strategies,
  budgets and seeds, how often the reported 95 % interval (Nadeau-Bengio corrected resampled t,
  :mod:`core.evaluation.figures`) and the old "mean +- std" cover the test accuracy of the model
  trained on the exported subset. Target: >= 90 % for the stated 95 %.
- ``auto``: auto against random (3 draws) at keep 0.1 / 0.3 / 0.5 on held-out splits (test
  accuracy of the target model trained on the whole subset), against the best fixed candidate of
  auto's own pool in hindsight (every candidate's test accuracy at the same keep; ``--no-singles``
  skips it), and the worst-class recall of auto's pick against random's; logistic regression and
  (``--models logreg,mlp``) the MLP target; scores: el2n, margin, knn_density;
  ``--gen-rows``/``--gen-features`` size the generated set (the issue: 20000 x 64).
  ``--value-seeds N`` also reads auto's strategy and every candidate as its mean test accuracy over N
  selection seeds (``by_value``: what choosing the strategy is worth, less one draw's luck, which at 12
  rows per class is a few points); ``--before`` also runs auto with one fold seed at every budget (the
  rule before the small-budget repeated estimate) on the same splits.
- ``noise_small``: auto's nested figure on labels without signal at a small budget (1,200 rows, 10
  classes, keep 0.1: the finalists on several fold seeds) and with one fold seed: both must stay
  within +-0.5 points of chance (mean over draws).
- ``ccs_draw``: ``ccs:el2n`` at keep 0.1 on held-out known_answer splits with today's within-bin
  draw (lowest seeded rank, since 6a8e364) and the earlier one (``rng.choice`` per bin), over
  seeds: whether the draw change explains the point CCS lost.

Caches: every run uses a fresh temporary WORKBENCH_CACHE_DIR (cold).

    python benchmarks/honest.py                                   # default: small sets, logreg (~20-40 min busy)
    python benchmarks/honest.py --skip auto,noise_small           # copies, coverage, ccs_draw only
    python benchmarks/honest.py --skip copies,coverage,ccs_draw,auto   # noise_small only (~10 min busy)
    python benchmarks/honest.py --skip copies,coverage,ccs_draw,noise_small --auto-sets known_answer,digits,generated \
        --gen-rows 20000 --models logreg,mlp --auto-splits 1      # the issue run (hours busy; one split each)
    python benchmarks/honest.py --skip copies,coverage,ccs_draw,noise_small --auto-sets digits --auto-keeps 0.1 \
        --auto-splits 4 --auto-split-start 13 --value-seeds 5 --before   # small budget: repeated CV vs one fold seed
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.cold_cache import cold_cache  # noqa: E402

cold_cache("honest-bench-")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the planted-copy set of the tests

import numpy as np  # noqa: E402

import core  # noqa: E402
from benchmarks.estimate import _mean_se, split, synthetic, test_accuracy  # noqa: E402
from core.data.dataset import Dataset  # noqa: E402
from core.evaluation import LiveEvaluator, fold_scores, selection_estimate  # noqa: E402
from core.evaluation.models import fit_predict  # noqa: E402
from core.search import screening  # noqa: E402
from core.search.auto import auto_select  # noqa: E402
from core.search.pool import auto_candidates  # noqa: E402
from core.selection.algorithms import budget_from_keep, ccs_allocation  # noqa: E402
from test_honest_folds import planted as planted_copies  # noqa: E402

COVERAGE_STRATEGIES = ["random", "el2n", "ccs:el2n", "window:el2n:start=0.5", "ccs:el2n:quota=drop"]


def planted(n_base=1500, n_test=6000):
    """(work Dataset with near copies, separate test Dataset without copies): the test suite's set."""
    work, Xt, yt, _ = planted_copies(n_base=n_base, n_test=n_test)
    return work, Dataset.from_arrays(Xt, yt)


def one_nn(X_train, y_train, X_test):
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(1).fit(X_train, y_train).predict(X_test)


def cv_accuracy(ds, fold_of_row, predict) -> float:
    accs = []
    for f in range(int(fold_of_row.max()) + 1):
        train, test = fold_of_row != f, fold_of_row == f
        accs.append(float(np.mean(predict(ds.X[train], ds.y[train], ds.X[test]) == ds.y[test])))
    return float(np.mean(accs))


def copies_section(seeds=(0, 1, 2)) -> dict:
    out = {}
    work, test = planted()
    for name, ds, held in (("planted", work, test), ("known_answer", core.load_sample("known_answer"), None)):
        started = time.perf_counter()
        grouped_ev = LiveEvaluator(ds, folds=5, seed=0)
        grouped_ev.fold_of_row_  # finds the copy groups (cold cache)
        groups_s = time.perf_counter() - started
        row = {"rows": ds.n_samples, "groups": grouped_ev.fold_info_["groups"],
               "grouped_rows": grouped_ev.fold_info_["grouped_rows"], "groups_seconds": groups_s}
        for target in ("1nn", "logreg"):
            vals = {}
            for rule, grouped in (("grouped", True), ("plain", False)):
                per_seed = []
                for s in seeds:
                    ev = LiveEvaluator(ds, folds=5, seed=s, group_copies=grouped)
                    per_seed.append(cv_accuracy(ds, ev.fold_of_row_, one_nn) if target == "1nn"
                                    else ev.full().accuracy)
                vals[rule] = float(np.mean(per_seed))
            if held is not None:
                pred = (one_nn(ds.X, ds.y, held.X) if target == "1nn"
                        else fit_predict("logreg", ds.X, ds.y, held.X, ds.n_classes, 0, ds.n_samples))
                vals["test"] = float(np.mean(pred == held.y))
                vals["grouped_minus_test_points"] = 100 * (vals["grouped"] - vals["test"])
                vals["plain_minus_test_points"] = 100 * (vals["plain"] - vals["test"])
            vals["plain_minus_grouped_points"] = 100 * (vals["plain"] - vals["grouped"])
            row[target] = vals
        out[name] = row
        print(f"copies {name}: {json.dumps(row)}", file=sys.stderr)
    return out


def datasets(names, gen_rows, gen_features) -> dict:
    out = {}
    for name in names:
        out[name] = synthetic(gen_rows, gen_features) if name == "generated" else core.load_sample(name)
    return out


def prepared(ds, split_seed, scorers=("el2n",)):
    work, test = split(ds, split_seed)
    scores = core.compute_scores(work, list(scorers), seed=0)
    fs = fold_scores(work, list(scorers), folds=5, seed=0)
    return work, test, scores, fs


def coverage_section(sets: dict, split_seeds, keeps=(0.1, 0.3, 0.5)) -> dict:
    rows = []
    for name, ds in sets.items():
        for s in split_seeds:
            work, test, scores, fs = prepared(ds, s)
            ev = LiveEvaluator(work, folds=5, seed=0)
            for strategy in COVERAGE_STRATEGIES:
                for keep in keeps:
                    sel = core.select(work, scores, strategy, keep=keep, seed=0)
                    est, leak_free, _ = selection_estimate(work, sel, scores=scores, evaluator=ev, fold_scores=fs)
                    held = test_accuracy(work, test, sel.mask)
                    lo, hi = est.interval
                    rows.append({"set": name, "split": s, "strategy": strategy, "keep": keep, "estimate": est.accuracy,
                                 "std": est.std, "interval": [lo, hi], "test": held, "leak_free": leak_free,
                                 "covered": bool(lo <= held <= hi),
                                 "std_covered": bool(est.accuracy - est.std <= held <= est.accuracy + est.std)})
            print(f"coverage {name} split {s}: {np.mean([r['covered'] for r in rows]):.3f} so far", file=sys.stderr)
    return {"method": core.evaluation.figures.INTERVAL_METHOD, "stated": 0.95, "target": 0.90,
            "held_out_truth": "the target model (core.evaluation.models, logistic regression fitted to convergence) "
                              "trained on the whole subset, accuracy on the held-out split",
            "coverage": float(np.mean([r["covered"] for r in rows])),
            "coverage_of_mean_plus_minus_std": float(np.mean([r["std_covered"] for r in rows])),
            "coverage_by_set": _share_by(rows, "set"), "coverage_by_keep": _share_by(rows, "keep"),
            "coverage_by_strategy": _share_by(rows, "strategy"),
            "bias_points_by_set_keep": {f"{name}/{keep:g}": float(np.mean([100 * (r["estimate"] - r["test"]) for r in rows
                                                                           if r["set"] == name and r["keep"] == keep]))
                                        for name in sets for keep in keeps},
            "n": len(rows),
            "mean_width_points": float(np.mean([100 * (r["interval"][1] - r["interval"][0]) for r in rows])),
            "mean_bias_points": float(np.mean([100 * (r["estimate"] - r["test"]) for r in rows])), "rows": rows}


def _share_by(rows, key) -> dict:
    """Share of ``rows`` whose interval covered the held-out accuracy, per value of ``key``."""
    return {str(v): float(np.mean([r["covered"] for r in rows if r[key] == v])) for v in dict.fromkeys(r[key] for r in rows)}


def _test_recall(work, test, mask, model) -> np.ndarray:
    pred = fit_predict(model, work.X[mask], work.y[mask], test.X, work.n_classes, 0, work.n_samples)
    counts = np.bincount(test.y, minlength=work.n_classes)
    hits = np.bincount(test.y, weights=pred == test.y, minlength=work.n_classes)
    return hits / np.maximum(counts, 1)


def _accuracy(recall, test) -> float:
    return float(recall @ (np.bincount(test.y, minlength=len(recall)) / len(test.y)))


def _value(work, test, scores, strategy, keep, model, seeds: int) -> float:
    """The strategy's test accuracy averaged over ``seeds`` selection seeds (0, 1, ...): what choosing it is worth,
    less the luck of one draw (a deterministic strategy gives the same mask every time)."""
    return float(np.mean([_accuracy(_test_recall(work, test, core.select(work, scores, strategy, keep=keep, seed=r).mask,
                                                 model), test) for r in range(seeds)]))


def _auto_run(work, test, scores, fs, ev, keep, model, singles: bool, value_seeds: int = 1) -> dict:
    """Auto's pick at ``keep`` against random (3 draws) and, with ``singles``, every pool candidate (test split).

    With ``value_seeds`` > 1 auto's strategy and every single are also read as their mean test accuracy over
    that many selection seeds (``*_value``); random is always the mean of 3 draws."""
    started = time.perf_counter()
    sel = auto_select(work, scores, keep, evaluator=ev, fold_scores=fs)
    seconds = time.perf_counter() - started
    auto_recall = _test_recall(work, test, sel.mask, model)
    rand = [_test_recall(work, test, core.select(work, None, "random", keep=keep, seed=r).mask, model) for r in range(3)]
    run = {"choice": sel.resolved_strategy, "seconds": seconds, "auto": _accuracy(auto_recall, test),
           "random": float(np.mean([_accuracy(r, test) for r in rand])),
           "auto_worst_class": float(auto_recall.min()), "random_worst_class": float(np.mean([r.min() for r in rand])),
           "nested_estimate": sel.details["honest_estimate"]["accuracy"],
           "random_reference_estimate": sel.details["random_reference"]["accuracy"],
           "fold_seeds": sel.details["decision"].get("fold_seeds", 1)}
    if value_seeds > 1:
        run["auto_value"] = _value(work, test, scores, sel.resolved_strategy, keep, model, value_seeds)
    if singles:  # every candidate of auto's pool at the same keep, trained on the whole subset (the exported one)
        run.update(_singles(work, test, scores, keep, model, value_seeds))
        best = max(run["singles"], key=run["singles"].get)
        run["best_single"], run["auto_minus_best_single_points"] = best, 100 * (run["auto"] - run["singles"][best])
    return run


_SINGLES: dict = {}


def _singles(work, test, scores, keep, model, value_seeds) -> dict:
    """Every pool candidate's test accuracy (seed 0) and, with ``value_seeds`` > 1, its value; once per split."""
    key = (work.fingerprint, test.fingerprint, keep, model, value_seeds)
    if key not in _SINGLES:
        pool = [c for c in auto_candidates(work, scores, keep) if c != "random"]
        out = {"singles": {c: _value(work, test, scores, c, keep, model, 1) for c in pool}}
        if value_seeds > 1:
            out["singles_value"] = {c: _value(work, test, scores, c, keep, model, value_seeds) for c in pool}
        _SINGLES[key] = out
    return _SINGLES[key]


def auto_section(sets: dict, split_seeds, models, keeps=(0.1, 0.3, 0.5), singles: bool = True,
                 value_seeds: int = 1, before: bool = False) -> dict:
    """Auto against random and against the best fixed pool candidate in hindsight, per set, target model and keep.

    The best fixed candidate is the one with the best mean test accuracy over the splits; with one
    split it is that split's luckiest candidate (one test split of n rows reads each subset with a
    spread of about sqrt(p (1 - p) / n)), so "auto minus best" is then a pessimistic reading.
    With ``before`` auto also runs with one fold seed at every budget (the rule before the small-budget
    repeated estimate) on the same splits: ``<set>/<model>/one_fold_seed``."""
    out = {}
    rules = {"": screening.SMALL_BUDGET_FOLD_SEEDS, "/one_fold_seed": 1} if before else {"": screening.SMALL_BUDGET_FOLD_SEEDS}
    for name, ds in sets.items():
        for model in models:
            per_keep = {(k, r): [] for k in keeps for r in rules}
            for s in split_seeds:
                work, test, scores, fs = prepared(ds, s, scorers=("el2n", "margin", "knn_density"))
                for rule, fold_seeds in rules.items():
                    screening.SMALL_BUDGET_FOLD_SEEDS = fold_seeds
                    try:
                        for keep in keeps:
                            ev = LiveEvaluator(work, folds=5, seed=0, model=model)
                            per_keep[keep, rule].append(dict(split=s, **_auto_run(work, test, scores, fs, ev, keep,
                                                                                  model, singles, value_seeds)))
                            line = {k: v for k, v in per_keep[keep, rule][-1].items() if not k.startswith("singles")}
                            print(f"auto {name} {model}{rule} split {s} keep {keep}: {json.dumps(line)}", file=sys.stderr)
                    finally:
                        screening.SMALL_BUDGET_FOLD_SEEDS = rules[""]
            for rule in rules:
                out[f"{name}/{model}{rule}"] = {f"keep_{k:g}": _auto_summary(per_keep[k, rule]) for k in keeps}
    return out


def _auto_summary(runs: list) -> dict:
    out = {"auto_minus_random_points": _mean_se([100 * (r["auto"] - r["random"]) for r in runs]),
           "worst_class_auto_minus_random_points": _mean_se([100 * (r["auto_worst_class"] - r["random_worst_class"])
                                                             for r in runs]),
           "choices": [r["choice"] for r in runs], "auto_seconds": [r["seconds"] for r in runs], "runs": runs}
    if all("singles" in r for r in runs):
        common = set.intersection(*(set(r["singles"]) for r in runs))
        mean_test = {c: float(np.mean([r["singles"][c] for r in runs])) for c in sorted(common)}
        best = max(mean_test, key=mean_test.get)
        out["best_fixed_in_hindsight"] = best
        out["auto_minus_best_fixed_points"] = _mean_se([100 * (r["auto"] - r["singles"][best]) for r in runs])
        out["best_fixed_minus_random_points"] = _mean_se([100 * (r["singles"][best] - r["random"]) for r in runs])
    if all("singles_value" in r and "auto_value" in r for r in runs):  # the strategies' worth, less one draw's luck
        value = {c: float(np.mean([r["singles_value"][c] for r in runs])) for c in runs[0]["singles_value"]}
        best = max(value, key=value.get)
        out["by_value"] = {
            "best_fixed_in_hindsight": best,
            "auto_minus_random_points": _mean_se([100 * (r["auto_value"] - r["random"]) for r in runs]),
            "auto_minus_best_fixed_points": _mean_se([100 * (r["auto_value"] - r["singles_value"][best]) for r in runs]),
            "best_fixed_minus_random_points": _mean_se([100 * (r["singles_value"][best] - r["random"]) for r in runs])}
    out["fold_seeds"] = [r.get("fold_seeds", 1) for r in runs]
    return out


def noise_small_section(draws: int = 6, n_rows: int = 1200, classes: int = 10, keep: float = 0.1, first: int = 0,
                        model: str = "logreg") -> dict:
    """Auto's nested figure minus chance on labels without signal at a small budget (12 kept rows per class:
    the finalists are estimated on several fold seeds), and with one fold seed, over ``draws`` draws, for the
    target ``model``."""
    from core.evaluation import fold_scores as make_fold_scores

    scorers = ["el2n", "margin", "knn_density"]
    per_rule = {"repeated": [], "one_fold_seed": []}
    random_ref, seeds_used = [], []
    for d in range(first, first + draws):
        generator = np.random.default_rng(100 + d)
        ds = Dataset.from_arrays(generator.normal(size=(n_rows, 16)), generator.permutation(np.arange(n_rows) % classes))
        scores = core.compute_scores(ds, scorers, seed=0)
        fs = make_fold_scores(ds, scorers, folds=5, seed=0)
        for rule, fold_seeds in (("repeated", screening.SMALL_BUDGET_FOLD_SEEDS), ("one_fold_seed", 1)):
            default = screening.SMALL_BUDGET_FOLD_SEEDS
            screening.SMALL_BUDGET_FOLD_SEEDS = fold_seeds
            try:
                sel = auto_select(ds, scores, keep, evaluator=LiveEvaluator(ds, folds=5, seed=0, model=model),
                                  fold_scores=fs)
            finally:
                screening.SMALL_BUDGET_FOLD_SEEDS = default
            per_rule[rule].append(100 * (sel.details["honest_estimate"]["accuracy"] - 1 / classes))
            if rule == "repeated":
                random_ref.append(100 * (sel.details["random_reference"]["accuracy"] - 1 / classes))
                seeds_used.append(sel.details["decision"]["fold_seeds"])
        print(f"noise_small draw {d}: {json.dumps({k: v[-1] for k, v in per_rule.items()})}", file=sys.stderr)
    return {"rows": n_rows, "classes": classes, "keep": keep, "model": model, "draws": list(range(first, first + draws)),
            "fold_seeds": seeds_used, "per_draw_points": per_rule,
            "one_draw_sampling_spread_points": 100 * float(np.sqrt((1 / classes) * (1 - 1 / classes) / n_rows)),
            "auto_nested_minus_chance_points": {k: _mean_se(v) for k, v in per_rule.items()},
            "random_reference_minus_chance_points": _mean_se(random_ref), "target": "within +-0.5 points"}


def old_ccs_mask(hardness, budget, beta, n_bins, seed) -> np.ndarray:
    """CCS with the within-bin draw used before 6a8e364 (``rng.choice`` per bin); the rest as today."""
    n = len(hardness)
    rng = np.random.default_rng(seed)
    order = np.argsort(-np.where(np.isnan(hardness), np.inf, hardness), kind="stable")
    n_pruned = min(int(np.floor(beta * n)), n - budget)
    pool = np.sort(order[n_pruned:])
    values = hardness[pool]
    edges = np.linspace(values.min(), values.max(), n_bins + 1)
    bin_of = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)
    taken = ccs_allocation(np.bincount(bin_of, minlength=n_bins), budget)
    mask = np.zeros(n, dtype=bool)
    for b, count in enumerate(taken):
        if count:
            mask[rng.choice(pool[bin_of == b], size=int(count), replace=False)] = True
    return mask


def ccs_draw_section(split_seeds, draw_seeds=range(8), keep=0.1) -> dict:
    ds = core.load_sample("known_answer")
    now, before = [], []
    for s in split_seeds:
        work, test, scores, _ = prepared(ds, s)
        hardness = scores["el2n"].to_numpy(dtype=float)
        for seed in draw_seeds:
            now.append(test_accuracy(work, test, core.select(work, scores, "ccs:el2n", keep=keep, seed=seed).mask))
            before.append(test_accuracy(work, test, old_ccs_mask(hardness, budget_from_keep(keep, work.n_samples),
                                                                 0.1, 50, seed)))
    diffs = 100 * (np.array(now) - np.array(before))
    return {"keep": keep, "splits": list(split_seeds), "draw_seeds": len(list(draw_seeds)),
            "now_mean": float(np.mean(now)), "before_mean": float(np.mean(before)),
            "now_minus_before_points": _mean_se(diffs),
            "spread_over_draw_seeds_points": float(100 * np.std(now))}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip", default="", help="comma-separated sections to skip")
    parser.add_argument("--sets", default="known_answer,digits,generated")
    parser.add_argument("--splits", type=int, default=3, help="held-out splits per set")
    parser.add_argument("--auto-splits", type=int, default=2)
    parser.add_argument("--gen-rows", type=int, default=6000, help="rows of the generated set (issue: 20000)")
    parser.add_argument("--gen-features", type=int, default=64)
    parser.add_argument("--models", default="logreg", help="auto's target models: logreg,mlp")
    parser.add_argument("--auto-sets", default="known_answer,generated")
    parser.add_argument("--auto-keeps", default="0.1,0.3,0.5")
    parser.add_argument("--no-singles", action="store_true", help="skip the test accuracy of every pool candidate")
    parser.add_argument("--auto-split-start", type=int, default=11, help="first held-out split seed of the auto section")
    parser.add_argument("--value-seeds", type=int, default=1,
                        help="also read auto's strategy and every single as the mean over this many selection seeds")
    parser.add_argument("--before", action="store_true",
                        help="also run auto with one fold seed at every budget (the rule before repeated small-budget CV)")
    parser.add_argument("--noise-draws", type=int, default=6, help="pure-noise draws of the noise_small section")
    parser.add_argument("--noise-first", type=int, default=0, help="first pure-noise draw (more draws in another run)")
    parser.add_argument("--noise-model", default="logreg", help="auto's target model in the noise_small section")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    result = {"load_average_before": os.getloadavg(), "cpus": os.cpu_count()}
    seeds = [11 + i for i in range(args.splits)]
    sections = {
        "copies": lambda: copies_section(),
        "coverage": lambda: coverage_section(datasets(args.sets.split(","), args.gen_rows, args.gen_features), seeds),
        "ccs_draw": lambda: ccs_draw_section(seeds),
        "noise_small": lambda: noise_small_section(args.noise_draws, first=args.noise_first, model=args.noise_model),
        "auto": lambda: auto_section(datasets(args.auto_sets.split(","), args.gen_rows, args.gen_features),
                                     [args.auto_split_start + i for i in range(args.auto_splits)],
                                     args.models.split(","), tuple(float(k) for k in args.auto_keeps.split(",")),
                                     not args.no_singles, args.value_seeds, args.before),
    }
    for name, run in sections.items():
        if name in skip:
            continue
        started = time.perf_counter()
        result[name] = run()
        result[name + "_seconds"] = time.perf_counter() - started
        result[name + "_load_average"] = os.getloadavg()
    text = json.dumps(result, indent=2, default=float)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
