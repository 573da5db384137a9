"""Pruning curves on the bundled data: random, top-k (hard and easy end), CCS, auto and the literature.

For each data set the default scorers plus those the strategies need are computed once (cached),
then every strategy is swept over keep fractions with several seeds on the same 5 folds. The fast
evaluator gives every point; ``--exact logreg`` adds the same curve scored by logistic regression,
to check that the fast model's conclusions hold for a real one. ``--set literature`` sweeps the
strategies from the pruning literature (CCS, Moderate coresets, the data-maps ambiguous region,
D2 pruning, the label-free ``ccs:pseudo_el2n``, k-center) and ``--leak-free`` scores label-using
scorers per evaluator fold (:func:`core.evaluation.fold_scores`). Each result lists every point's
accuracy minus random's (``vs_random``). Writes ``pruning_<data>.json`` and ``pruning_<data>.png``
(matplotlib) to ``--out-dir`` and prints the JSON.

    python benchmarks/pruning.py
    python benchmarks/pruning.py --data known_answer --exact logreg --seeds 2
    python benchmarks/pruning.py --set literature --keep 0.1,0.3,0.5 --leak-free \
        --data known_answer,digits,penguins,mnist,wordnet_glosses
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core  # noqa: E402
from core.evaluation import fold_scores  # noqa: E402
from core.evaluation.live import LiveEvaluator  # noqa: E402
from core.scorers import DEFAULT_SCORERS  # noqa: E402
from core.search.curves import curve_on_folds as pruning_curve  # noqa: E402
from core.selection import needed_scorers  # noqa: E402


def strategies_for(scorer: str, which: str = "basic") -> list:
    if which == "literature":
        return ["random", f"ccs:{scorer}", "moderate", "ambiguous", f"d2:{scorer}", f"d2:{scorer}:k=10:beta=0",
                "ccs:pseudo_el2n", "kcenter"]
    return ["random", scorer, f"{scorer}:{'low' if core.get_scorer(scorer).keep == 'high' else 'high'}",
            f"ccs:{scorer}", "auto"]


def versus_random(frame) -> dict:
    """``{strategy: {keep: accuracy - random's accuracy}}`` in percentage points."""
    table = frame.pivot_table(index="strategy", columns="keep_fraction", values="accuracy_mean")
    delta = (table - table.loc["random"]) * 100
    return {strategy: {f"{keep:g}": round(float(value), 2) for keep, value in row.items()}
            for strategy, row in delta.iterrows() if strategy != "random"}


def plot(curves: dict, full: dict, title: str, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the JSON is the result; the picture is a convenience
        return False
    fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4.2), squeeze=False)
    for ax, (model, frame) in zip(axes[0], curves.items()):
        for strategy, rows in frame.groupby("strategy", sort=False):
            rows = rows.sort_values("keep_fraction")
            x, mean, std = rows["keep_fraction"], 100 * rows["accuracy_mean"], 100 * rows["accuracy_std"]
            style = {"color": "black", "linestyle": "--"} if strategy == "random" else {}
            ax.plot(x, mean, marker="o", label=strategy, **style)
            ax.fill_between(x, mean - std, mean + std, alpha=0.15, **({"color": "black"} if strategy == "random" else {}))
        ax.axhline(100 * full[model]["accuracy"], color="grey", linewidth=1, label="full data")
        ax.set_xscale("log")
        ax.set_xlabel("keep fraction (log scale)")
        ax.set_ylabel("held-out accuracy, % (mean ± std over folds x seeds)")
        ax.set_title(f"{title}: {model}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def run(data: str, scorer: str, keeps: list, seeds: int, exact: str, out_dir: Path, which: str = "basic",
        leak_free: bool = False) -> dict:
    ds = core.load_sample(data)
    strategies = strategies_for(scorer, which)
    needed = list(dict.fromkeys(n for s in strategies if s != "auto" for n in needed_scorers(s)))
    start = time.perf_counter()
    scores = core.compute_scores(ds, list(dict.fromkeys([*DEFAULT_SCORERS, scorer, *needed])), seed=0)
    score_seconds = time.perf_counter() - start
    evaluators = {"fast": LiveEvaluator(ds, folds=5, seed=0)}
    if exact:
        evaluators[exact] = LiveEvaluator(ds, folds=5, seed=0, model=exact)
    per_fold = fold_scores(ds, needed, fold_of_row=evaluators["fast"].fold_of_row_) if leak_free and needed else None
    curves, full, seconds = {}, {}, {}
    for name, evaluator in evaluators.items():
        start = time.perf_counter()
        curves[name] = pruning_curve(ds, scores, strategies, keeps, seeds=seeds, evaluator=evaluator,
                                     fold_scores=per_fold)
        seconds[name] = round(time.perf_counter() - start, 2)
        full[name] = evaluator.full().to_dict()
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"pruning_{data}.png"
    result = {
        "data": data, "rows": ds.n_samples, "features": ds.n_features, "classes": ds.n_classes,
        "scorer": scorer, "strategies": strategies, "keep_fractions": keeps, "seeds": seeds,
        "score_seconds_busy_machine": round(score_seconds, 2), "curve_seconds_busy_machine": seconds,
        "leak_free": bool(per_fold is not None),
        "vs_random_points": {name: versus_random(frame) for name, frame in curves.items()},
        "models": {name: ev.describe() for name, ev in evaluators.items()},
        "full": {name: {"accuracy": f["accuracy"], "std": f["std"]} for name, f in full.items()},
        "curves": {name: frame.drop(columns=["model"]).to_dict(orient="records") for name, frame in curves.items()},
        "auto_note": "auto points are nested-CV (honest) estimates with the fast model; with an exact "
                     "model, the mask auto chose with the fast model is scored by the exact one",
        "plot": str(png) if plot(curves, full, data, png) else None,
    }
    (out_dir / f"pruning_{data}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="known_answer,digits")
    parser.add_argument("--scorer", default="el2n", help="the score for top-k and CCS")
    parser.add_argument("--keep", default="0.05,0.1,0.2,0.3,0.5,0.7,0.9")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--exact", default="", help="also score with an exact model: logreg, hgb or mlp")
    parser.add_argument("--out-dir", default="benchmarks/results")
    parser.add_argument("--set", default="basic", choices=["basic", "literature"], help="which strategies to sweep")
    parser.add_argument("--leak-free", action="store_true", help="score label-using scorers per evaluator fold")
    args = parser.parse_args(argv)
    keeps = [float(k) for k in args.keep.split(",")]
    results = [run(d, args.scorer, keeps, args.seeds, args.exact, Path(args.out_dir), args.set, args.leak_free)
               for d in args.data.split(",")]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
