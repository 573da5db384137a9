"""Does our live figure rank pruned subsets as the user's own estimator does? (issue 23, item 2)

For each target (a random forest; a pipeline of a standard scaler and histogram gradient
boosting) and each data set, the default scorers are computed once, and every strategy of
``core.evaluation.panel_strategies`` (random; each scorer's high end, low end and CCS: 19 strategies
over the 6 default scorers) selects a subset at keep 0.1 and 0.3. Each subset is then estimated
twice on the same 5 folds and the same kept training rows:

- ``live``: our live figure (``core.LiveEvaluator``: warm-started logistic regression, the app's
  slider figure);
- ``exact``: a fresh clone of the user's estimator fitted per fold (``LiveEvaluator(estimator=...)``).

The rank agreement of the two over the strategies (Spearman and Kendall, per keep; the app uses the
lowest Spearman over the keeps and calls the live figure faithful from 0.9,
``core.evaluation.FAITHFUL``) is what the app shows. The same masks go to both figures, so only
the model differs (the honest, fold-wise selection is a separate matter: it changes both sides alike).
``seconds_full`` is the wall time of one 5-fold estimate of the estimator on the full data (the
app's "fast enough" test, ``workbench.target_form.LIVE_SECONDS``). Cold: the disk cache is a fresh
temporary folder. Every entry carries the 1-minute load average before and after. Prints JSON.

    nice -n 10 .venv/bin/python benchmarks/target_agreement.py
    nice -n 10 .venv/bin/python benchmarks/target_agreement.py --rows 4000 --features 32 --keep 0.1 0.3
    nice -n 10 .venv/bin/python benchmarks/target_agreement.py --sets known_answer   # one set per process

Measured: see the README section "Use it in your own pipeline" and /work/notes/pipeline.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cold_cache import cold_cache  # noqa: E402


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _say(what: str):
    """Progress on stderr (the JSON goes to stdout)."""
    return lambda done, total, message: print(f"{what}: {done}/{total} {message} (load {_load()})",
                                              file=sys.stderr, flush=True)


def targets() -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "random_forest": RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1),
        "gradient_boosting_pipeline": make_pipeline(StandardScaler(), HistGradientBoostingClassifier(random_state=0)),
    }


def masks_of(ds, scores, keeps) -> dict:
    import core
    from core.evaluation import panel_strategies
    from core.selection import score_names

    masks = {}
    for keep in keeps:
        for strategy in panel_strategies(score_names(scores.columns)):
            masks[(keep, strategy)] = core.select(ds, scores, strategy, keep=keep, seed=0).mask
    return masks


def run(ds, keeps, folds: int) -> dict:
    import core
    from core.evaluation import measure_agreement

    before = _load()
    start = time.perf_counter()
    scores = core.compute_scores(ds, "default", seed=0, folds=folds)
    masks = masks_of(ds, scores, keeps)
    live = core.LiveEvaluator(ds, folds=folds, seed=0)
    out = {"rows": ds.n_samples, "features": ds.n_features, "strategies": len(masks) // len(keeps),
           "scoring_seconds": round(time.perf_counter() - start, 1), "targets": {}}
    for name, estimator in targets().items():
        full = core.LiveEvaluator(ds, folds=folds, seed=0, fold_of_row=live.fold_of_row_, estimator=estimator)
        tick = time.perf_counter()
        full_accuracy = full.full().accuracy
        seconds_full = time.perf_counter() - tick
        found = measure_agreement(live, estimator, masks, progress=_say(f"{name} on {ds.n_samples} rows"))
        out["targets"][name] = {
            "spearman_min": round(found["spearman"], 3), "kendall_min": round(found["kendall"], 3),
            "faithful": found["faithful"],
            "by_keep": {str(k): {m: round(v, 3) if isinstance(v, float) else v for m, v in a.items()}
                        for k, a in found["by_keep"].items()},
            "seconds_full": round(seconds_full, 2), "seconds_exact_fits": round(found["seconds"], 1),
            "full_accuracy": round(full_accuracy, 4),
            "rows": [{**r, "live": round(r["live"], 4), "exact": round(r["exact"], 4)} for r in found["rows"]],
        }
    out["load_before"], out["load_after"] = before, _load()
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4000, help="rows of the generated set")
    parser.add_argument("--features", type=int, default=32, help="features of the generated set")
    parser.add_argument("--keep", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--sets", nargs="+", default=["known_answer", "generated"])
    args = parser.parse_args(argv)
    cold_cache("target_agreement_")
    import core

    report = {"keeps": args.keep, "folds": args.folds, "cache": "cold (fresh temporary folder)"}
    for name in args.sets:
        if name == "generated":
            frame = core.make_known_answer(n_rows=args.rows, n_features=args.features, seed=1)
            features = [c for c in frame.columns if c.startswith("f") and c[1:].isdigit()]  # not the planted truth
            ds = core.load_dataset(frame, label="label", id="id", features=features)
        else:
            ds = core.load_sample(name)
        report[name] = run(ds, args.keep, args.folds)
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
