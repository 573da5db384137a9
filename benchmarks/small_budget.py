"""How many fold seeds auto's small-budget choice needs: the evidence behind ``SMALL_BUDGET_FOLD_SEEDS``.

Per held-out split of a bundled set (2/3 work, 1/3 test), at one keep fraction:

1. every candidate of auto's pool is estimated leak-free at the exported size
   (:meth:`CandidateTable.at_exported_size`) on 5 sets of folds (fold seed 0 = auto's own folds, then
   :meth:`CandidateTable.on_fold_seed`, fold-wise scores made again for each);
2. every candidate's *value* on the test third: the test accuracy of the target model trained on its
   subset, averaged over 5 selection seeds (what choosing the strategy is worth, less one draw's luck);
3. auto's decision rule (quick screen = fold seed s's figures, short list of 6 + random + the best
   coverage-aware one, then :func:`core.search.auto.choose`) replayed with k = 1, 2, 3, 5 fold seeds, for
   every start seed and every combination of the other seeds, and the value of its pick.

The figure per k is the pick's value minus random's, averaged over fold-seed draws (the luck of which
folds auto happened to use is averaged out), then over splits (mean and standard error), paired against
k = 1, and against the best fixed candidate in hindsight (best mean value over the splits).
The rule was chosen on splits 11, 12, 17-24 and reported on 13-16 (README, notes/smallbudget.md).
Caches: a fresh temporary WORKBENCH_CACHE_DIR (cold).

    python benchmarks/small_budget.py --splits 11,12,17,18,19,20,21,22,23,24   # decision splits (~15 min busy)
    python benchmarks/small_budget.py --splits 13,14,15,16                     # report splits
    python benchmarks/small_budget.py --splits 67,...,86 --raw raw.json       # keep every candidate's figures
    python benchmarks/small_budget.py --replay raw.json other.json            # alternative rules on them
    python benchmarks/small_budget.py --model mlp --splits 37,...,56 --raw mlp.json   # values with the MLP
    python benchmarks/small_budget.py --model mlp --target-seeds 5 --splits 147,...,166 --raw t5.json
        # ... and the MLP's own figures on 5 sets of folds (replayed: its finalists on 1-5 sets)

``--model M``: the values are M's test accuracies, the candidates' figures stay logistic (so the replayed rules
choose by a logistic proxy, as in selection via proxy, Coleman et al. 2020: what auto does for an MLP target
below ``PROXY_ROWS_PER_CLASS``; the summary's k = 1 row is the proxy on the one set auto uses above
``SMALL_BUDGET_ROWS_PER_CLASS``), and M's own figures on fold seed 0 are kept too, so the replay also gives the
rule on M's own figures (a logistic screen, then M's figures for the short list: what auto does above
``PROXY_ROWS_PER_CLASS``). ``--target-seeds N`` keeps M's figures on N sets of folds, and the replay then gives
that rule with M's finalists estimated on 1..N sets, averaged over which sets are drawn.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.cold_cache import cold_cache  # noqa: E402

cold_cache("small-budget-bench-")

import numpy as np  # noqa: E402

import core  # noqa: E402
from benchmarks.estimate import _mean_se, split, test_accuracy  # noqa: E402
from core.evaluation import LiveEvaluator, fold_scores  # noqa: E402
from core.search.auto import choose  # noqa: E402
from core.search.pool import auto_candidates  # noqa: E402
from core.search.screening import FINALISTS, CandidateTable, shortlist, with_label_free  # noqa: E402

SCORERS = ["el2n", "margin", "knn_density"]
FOLD_SEEDS = 5
SELECTION_SEEDS = 5


def collect(ds, split_seed: int, keep: float, model: str = "logreg", target_seeds: int = 1) -> dict:
    """Per candidate: leak-free per-fold figures on each fold seed, and its value on the test split.

    With another target ``model``: the value is that model's test accuracy, the logistic figures are
    kept (``cv``), and the target model's own figures on the first ``target_seeds`` fold seeds are added
    (``cv_target``, shape (seeds, folds) per candidate)."""
    work, test = split(ds, split_seed)
    scores = core.compute_scores(work, SCORERS, seed=0)
    fs = with_label_free(work, scores, fold_scores(work, SCORERS, folds=5, seed=0))
    candidates = auto_candidates(work, scores, keep)
    value = {c: float(np.mean([test_accuracy(work, test, core.select(work, None if c == "random" else scores, c,
                                                                      keep=keep, seed=r).mask, model)
                               for r in range(SELECTION_SEEDS)])) for c in candidates}
    base = CandidateTable(work, scores, keep, 0, LiveEvaluator(work, folds=5, seed=0), fs).at_exported_size()
    cv = {c: [] for c in candidates}
    for k in range(FOLD_SEEDS):
        table = base if k == 0 else base.on_fold_seed(k)
        for c in candidates:
            cv[c].append(np.asarray(table.accuracies(c), dtype=float))
    out = {"split": split_seed, "model": model, "value": value, "cv": {c: np.vstack(v) for c, v in cv.items()}}
    if model != "logreg":  # the target model's own figures on the first ``target_seeds`` sets of folds
        target = {c: [] for c in candidates}
        for k in range(max(int(target_seeds), 1)):
            table = base if k == 0 else base.on_fold_seed(k)
            evaluator = LiveEvaluator(work, folds=5, seed=table.evaluator.seed, model=model)
            for c in candidates:
                target[c].append(np.asarray(table.accuracies(c, evaluator=evaluator), dtype=float))
        out["cv_target"] = {c: np.vstack(v) for c, v in target.items()}
    return out


def pick(cv: dict, seeds) -> str:
    """Auto's rule on these fold seeds: screen on the first, short list, choose on all of them."""
    screen = {c: cv[c][seeds[0]] for c in cv if c != "random"}
    names = shortlist(screen, np.arange(len(next(iter(screen.values())))), FINALISTS)
    return choose({c: cv[c][list(seeds)].ravel() for c in names})


def draws(k: int):
    """Every start seed with every combination of k - 1 other seeds."""
    for start in range(FOLD_SEEDS):
        for rest in itertools.combinations([s for s in range(FOLD_SEEDS) if s != start], k - 1):
            yield (start, *rest)


def summarise(runs: list, ks=(1, 2, 3, 5)) -> dict:
    common = set.intersection(*(set(r["value"]) for r in runs))
    mean_value = {c: float(np.mean([r["value"][c] for r in runs])) for c in common}
    best = max(mean_value, key=mean_value.get)
    per_k = {k: np.array([100 * np.mean([r["value"][pick(r["cv"], d)] for d in draws(k)]) for r in runs]) for k in ks}
    random_ = np.array([100 * r["value"]["random"] for r in runs])
    best_ = np.array([100 * r["value"][best] for r in runs])
    return {"splits": [r["split"] for r in runs], "best_fixed_in_hindsight": best,
            "best_fixed_minus_random_points": _mean_se(best_ - random_),
            "by_fold_seeds": {str(k): {"pick_minus_random_points": _mean_se(v - random_),
                                       "minus_one_fold_seed_points": _mean_se(v - per_k[ks[0]]),
                                       "pick_minus_best_fixed_points": _mean_se(v - best_)} for k, v in per_k.items()},
            "picks_on_fold_seed_0": {str(k): [pick(r["cv"], (0, *range(1, k))) for r in runs] for k in ks}}


def _prefer(default: str, bar_se: float):
    """Alternative rule: the best mean over the fold seeds, unless ``default`` is within ``bar_se`` standard
    errors of it (then ``default``); random's own one-SE rule otherwise."""
    def rule(cv: dict, seeds) -> str:
        table = {c: cv[c][list(seeds)].ravel() for c in cv}
        best = max(table, key=lambda c: table[c].mean())
        if default not in table or best == default:
            return choose(table)
        diff = table[best] - table[default]
        return best if diff.mean() > bar_se * diff.std(ddof=1) / np.sqrt(len(diff)) else default
    return rule


#: Rules replayed by ``--replay`` beside auto's own (none adopted: see the README's small-budget notes).
RULES = {
    "auto (screen, short list, one SE over random)": pick,
    "every candidate on every fold seed, no screen": lambda cv, seeds: choose({c: cv[c][list(seeds)].ravel() for c in cv}),
    "class-proportional candidates only": lambda cv, seeds: choose(
        {c: cv[c][list(seeds)].ravel() for c in cv if c == "random" or c.endswith(":quota=proportional")}),
    "prefer ccs:el2n:quota=proportional unless beaten by 1 SE": _prefer("ccs:el2n:quota=proportional", 1.0),
    "prefer random:quota=proportional unless beaten by 1 SE": _prefer("random:quota=proportional", 1.0),
}


def _target_pick(run: dict, seeds=(0,)) -> str:
    """Auto's rule for a target model: screen on the logistic figures of the first of ``seeds`` (auto screens
    with a capped logistic model), then choose on the target model's figures on all of them."""
    cv = {c: np.asarray(v, dtype=float) for c, v in run["cv"].items()}
    screen = {c: cv[c][seeds[0]] for c in cv if c != "random"}
    names = shortlist(screen, np.arange(len(next(iter(screen.values())))), FINALISTS)
    return choose({c: np.atleast_2d(np.asarray(run["cv_target"][c], dtype=float))[list(seeds)].ravel()
                   for c in names})


def replay(paths: list) -> dict:
    """Every rule of :data:`RULES` on the ``--raw`` files' figures: its pick's value against random's and
    against the best fixed candidate in hindsight (5 fold seeds, averaged over which seed screens)."""
    out = {}
    for path in paths:
        runs = json.loads(Path(path).read_text())
        for r in runs:
            r["cv"] = {c: np.asarray(v, dtype=float) for c, v in r["cv"].items()}
        common = set.intersection(*(set(r["value"]) for r in runs))
        best = max(common, key=lambda c: np.mean([r["value"][c] for r in runs]))
        random_ = np.array([100 * r["value"]["random"] for r in runs])
        best_ = np.array([100 * r["value"][best] for r in runs])
        rows = {}
        for name, rule in RULES.items():
            v = np.array([100 * np.mean([r["value"][rule(r["cv"], d)] for d in draws(FOLD_SEEDS)]) for r in runs])
            rows[name] = {"pick_minus_random_points": _mean_se(v - random_),
                          "pick_minus_best_fixed_points": _mean_se(v - best_)}
        if all("cv_target" in r for r in runs):  # another target model: auto's rule for it on its own figures
            v = np.array([100 * r["value"][_target_pick(r)] for r in runs])
            rows["target model's finalists on fold seed 0 (auto with one set of folds)"] = {
                "pick_minus_random_points": _mean_se(v - random_), "pick_minus_best_fixed_points": _mean_se(v - best_)}
            seeds = min(np.atleast_2d(np.asarray(r["cv_target"]["random"])).shape[0] for r in runs)
            for k in range(1 if seeds > 1 else 2, seeds + 1):  # every start seed and combination, as ``draws``
                picks = [d for d in draws(k) if max(d) < seeds]
                v = np.array([100 * np.mean([r["value"][_target_pick(r, d)] for d in picks]) for r in runs])
                rows[f"target model's finalists on {k} fold seeds"] = {
                    "pick_minus_random_points": _mean_se(v - random_),
                    "pick_minus_best_fixed_points": _mean_se(v - best_)}
        out[path] = {"splits": [r["split"] for r in runs], "best_fixed_in_hindsight": best,
                     "best_fixed_minus_random_points": _mean_se(best_ - random_), "rules": rows}
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="digits")
    parser.add_argument("--keep", type=float, default=0.1)
    parser.add_argument("--model", default="logreg",
                        help="target model of the values (and of cv_target, on --target-seeds sets of folds); "
                             "the rule's figures stay logistic")
    parser.add_argument("--splits", default="13,14,15,16")
    parser.add_argument("--target-seeds", type=int, default=1,
                        help="with --model: the target model's own figures on this many fold seeds (up to 5)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--raw", default=None,
                        help="also write every split's per-candidate figures (JSON) to replay other rules offline")
    parser.add_argument("--replay", nargs="+", default=None, metavar="RAW",
                        help="only replay the alternative rules (RULES) on --raw files written earlier")
    args = parser.parse_args(argv)
    if args.replay:
        result = replay(args.replay)
        print(json.dumps(result, indent=2, default=float))
        return result
    started, load = time.perf_counter(), os.getloadavg()
    ds = core.load_sample(args.set)
    runs = []
    for s in [int(x) for x in args.splits.split(",")]:
        runs.append(collect(ds, s, args.keep, args.model, args.target_seeds))
        print(f"split {s} collected ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if args.raw:
        Path(args.raw).write_text(json.dumps([{"split": r["split"], "value": r["value"],
                                               "cv": {c: v.tolist() for c, v in r["cv"].items()},
                                               **({"cv_target": {c: np.asarray(v).tolist()
                                                                 for c, v in r["cv_target"].items()}}
                                                  if "cv_target" in r else {})} for r in runs]))
    result = {"set": args.set, "keep": args.keep, "model": args.model, "load_average_before": load, **summarise(runs),
              "seconds": time.perf_counter() - started, "load_average_after": os.getloadavg()}
    text = json.dumps(result, indent=2, default=float)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
