"""Does the value model's backtest tell the truth? Backtest verdicts against the real outcome on new rows; prints JSON.

    WORKBENCH_CACHE_DIR=$(mktemp -d) .venv/bin/python benchmarks/value_backtest.py \
        [--sets known_answer,mnist,generated] [--targets el2n,knn_shapley] [--keeps 0.3,0.5,0.8] \
        [--generated-rows 10000] [--split-seed 0] [--use-labels] [--out benchmarks/results/value_backtest.json]
    WORKBENCH_CACHE_DIR=$(mktemp -d) .venv/bin/python benchmarks/value_backtest.py --issue-table

Each data set is split (stratified) into an "old" part (40 %, scored and used to fit the value model,
as `workbench value-model fit` does: linear model, default backtest), a "new" batch (40 %) and a test
set (20 %). For every keep fraction and every candidate strategy over the predicted score (CCS over
it, its declared end - the old default -, random) and the backtest's chosen default, the kept new
rows train the target model (logistic regression, C=1, on standardised features, as the workbench's
default target) and it is tested on the test set, beside 5 random draws of the same count from the
new rows (mean and standard deviation). The backtest never sees the new rows or the test set.

Reported per case: the backtest's gain over random and its verdict (beats random: gain > 0), the
real gain and whether it beats random, and whether they agree; the default's real accuracy beside
random's with random's spread. ``mnist`` is the bundled 5,000 digits as a table of 784 pixel
columns (as the issue's image table); ``generated`` is ``core.make_known_answer`` at
``--generated-rows`` rows. ``--issue-table`` reruns the issue's table instead: a 24k-row pixel table
(``benchmarks/search.py``'s generator), the first 10k rows scored, the next 10k the new batch,
4k test rows, keep 0.3, each command line's kept rows trained and tested. Cold by default: scores
and fold-wise scores are computed in the cache folder given (use a fresh one for timings).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

import core
from core.evaluation import make_folds
from core.search import fit_value_model

RANDOM_DRAWS = 5


def _table(name: str, generated_rows: int) -> tuple:
    """(frame, label, id, features) of a data set as a plain table."""
    if name == "generated":
        frame = core.make_known_answer(n_rows=generated_rows, seed=1)
        return frame, "label", "id", [c for c in frame.columns if c.startswith("f") and c[1:].isdigit()]
    if name == "mnist":
        ds = core.load_sample("mnist")
        with np.load(next(s["path"] for s in core.list_samples() if s["name"] == "mnist")) as stored:
            pixels = stored["X"].reshape(len(stored["X"]), -1).astype(np.float32)
        columns = [f"p{i}" for i in range(pixels.shape[1])]
        frame = pd.DataFrame(pixels, columns=columns)
        frame.insert(0, "id", np.arange(len(frame)))
        frame["label"] = np.asarray(ds.labels).astype(str)
        return frame, "label", "id", columns
    ds = core.load_sample(name)
    return ds.frame, ds.label_column, ds.id_column, list(ds.settings["features"])


def _accuracy(X_train, y_train, X_test, y_test) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X_train)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(X_train), y_train)
    return float((model.predict(scaler.transform(X_test)) == y_test).mean())


def _real(model, new_frame, test_frame, label, keep, strategy, seed) -> float:
    X_new, X_test = model.featurizer.transform(new_frame), model.featurizer.transform(test_frame)
    mask = model.select(new_frame, strategy, keep=keep, seed=seed)[2].mask
    return _accuracy(X_new[mask], new_frame[label].astype(str).to_numpy()[mask], X_test,
                     test_frame[label].astype(str).to_numpy())


def _random(new_frame, test_frame, label, featurizer, n_kept, seed) -> np.ndarray:
    X_new, X_test = featurizer.transform(new_frame), featurizer.transform(test_frame)
    y_new, y_test = new_frame[label].astype(str).to_numpy(), test_frame[label].astype(str).to_numpy()
    out = []
    for r in range(RANDOM_DRAWS):
        rows = np.random.default_rng([seed, r]).permutation(len(new_frame))[:n_kept]
        out.append(_accuracy(X_new[rows], y_new[rows], X_test, y_test))
    return np.asarray(out)


def run_case(name, target, keeps, generated_rows, split_seed, use_labels) -> list:
    frame, label, id_column, features = _table(name, generated_rows)
    y = pd.Series(frame[label]).astype(str).to_numpy()
    part = make_folds(y, 5, split_seed)
    old_frame, new_frame, test_frame = (frame[np.isin(part, codes)].reset_index(drop=True)
                                        for codes in ([0, 1], [2, 3], [4]))
    old = core.load_dataset(old_frame, label=label, id=id_column, features=features, max_dim=0,
                            featurizer="tabular")  # pixel columns as numbers, as `value-model fit` reads them
    start = time.perf_counter()
    scores = core.compute_scores(old, [target], seed=0)
    scored = time.perf_counter() - start
    model = fit_value_model(old, scores, target, use_labels=use_labels, keeps=keeps, seed=0)
    fitted = time.perf_counter() - start - scored
    rows = []
    for block in model.backtest["keeps"]:
        keep = block["keep"]
        n_kept = max(1, round(keep * len(new_frame)))
        rand = _random(new_frame, test_frame, label, model.featurizer, n_kept, split_seed)
        default = model.default_strategy(keep)
        for entry in block["strategies"]:
            strategy = entry["strategy"]
            real = float(rand.mean()) if strategy == "random" else _real(model, new_frame, test_frame, label, keep,
                                                                          strategy, 0)
            real_gain = real - float(rand.mean())
            rows.append({"set": name, "target": target, "keep": keep, "strategy": strategy,
                         "is_default": strategy == default, "declared_end": strategy in (target, f"{target}:high"),
                         "backtest_accuracy": entry["accuracy"], "backtest_random": block["random"]["accuracy"],
                         "backtest_gain": entry["gain"], "backtest_spread": entry["spread"],
                         "backtest_verdict": entry["verdict"], "backtest_beats": entry["gain"] > 0,
                         "real_accuracy": real, "real_random": float(rand.mean()), "real_random_std": float(rand.std()),
                         "real_gain": real_gain, "real_beats": real_gain > 0,
                         "agree": (entry["gain"] > 0) == (real_gain > 0) if strategy != "random" else None,
                         "default_within_spread": (real_gain >= -float(rand.std())) if strategy == default else None})
    for row in rows:
        row.update(old_rows=len(old_frame), new_rows=len(new_frame), test_rows=len(test_frame),
                   quality=model.quality["summary"], seconds_scores=round(scored, 1),
                   seconds_fit_and_backtest=round(fitted, 1))
    return rows


def summarise(rows: list) -> dict:
    """Agreement counts: per strategy kind, and over the declared end (the old default) by set x keep."""
    frame = pd.DataFrame(rows)
    scored = frame[frame["strategy"] != "random"]
    clear = scored[(scored["real_gain"].abs() > scored["real_random_std"])]
    defaults = frame[frame["is_default"]]
    return {
        "cases": int(len(scored)),
        "agree": int(scored["agree"].sum()),
        "agree_declared_end": f"{int(scored[scored['declared_end']]['agree'].sum())} of "
                              f"{int(scored['declared_end'].sum())}",
        "agree_ccs": f"{int(scored[scored['strategy'].str.startswith('ccs:')]['agree'].sum())} of "
                     f"{int(scored['strategy'].str.startswith('ccs:').sum())}",
        "agree_where_real_gain_beyond_random_spread": f"{int(clear['agree'].sum())} of {len(clear)}",
        "default_within_random_spread": f"{int(defaults['default_within_spread'].sum())} of {len(defaults)}",
        "default_worst_real_gain_points": round(100 * float(defaults["real_gain"].min()), 2),
    }


def issue_table(rows: int, test_rows: int, keep: float) -> dict:
    """The issue's protocol: a pixel table, the first half scored, the second half the new batch, a separate
    test set; the subsets each command line keeps, trained and tested like the issue's logistic regression."""
    from search import pixel_table  # benchmarks/search.py: 10-class pixel-like table, 5 % flipped labels

    frame = pixel_table(rows + test_rows, 784).assign(id=lambda f: np.arange(len(f)))
    old_frame = frame.iloc[:rows // 2].reset_index(drop=True)
    new_frame = frame.iloc[rows // 2:rows].reset_index(drop=True)
    test_frame = frame.iloc[rows:].reset_index(drop=True)
    columns = [f"p{i}" for i in range(784)]
    old = core.load_dataset(old_frame, label="label", id="id", features=columns, max_dim=0, featurizer="tabular")
    out, start = {"rows": {"old": len(old_frame), "new": len(new_frame), "test": len(test_frame)}}, time.perf_counter()
    scores = core.compute_scores(old, ["knn_shapley", "el2n"], seed=0)
    out["seconds_scores"] = round(time.perf_counter() - start, 1)
    n_kept = round(keep * len(new_frame))
    models = {}
    for target in ("knn_shapley", "el2n"):
        start = time.perf_counter()
        models[target] = fit_value_model(old, scores, target, keeps=(keep,), seed=0)
        out[f"seconds_fit_and_backtest_{target}"] = round(time.perf_counter() - start, 1)
    rand = _random(new_frame, test_frame, "label", models["el2n"].featurizer, n_kept, 0)
    out["random"] = {"accuracy": float(rand.mean()), "std": float(rand.std()), "draws": RANDOM_DRAWS}
    for target, model in models.items():
        for strategy in model.candidates()[:2] + [model.default_strategy(keep)]:
            found = model.backtest_of(strategy, keep)
            out[f"{target} / {strategy}" + (" (default)" if strategy == model.default_strategy(keep) else "")] = {
                "real": _real(model, new_frame, test_frame, "label", keep, strategy, 0),
                "backtest_gain": found["entry"]["gain"], "backtest_verdict": found["entry"]["verdict"],
                "apply_warns": found["loses"]}
    kept_old = core.select(old, scores, "knn_shapley", keep=keep).mask  # "the old half's kept rows"
    X_new, X_test = (models["knn_shapley"].featurizer.transform(f) for f in (new_frame, test_frame))
    y_new, y_test = (f["label"].astype(str).to_numpy() for f in (new_frame, test_frame))
    mask = models["knn_shapley"].select(new_frame, "cover", keep=keep, reference=old_frame[kept_old])[2].mask
    out["knn_shapley / cover --reference (old kept rows)"] = {"real": _accuracy(X_new[mask], y_new[mask], X_test,
                                                                                y_test)}
    out["load_average"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="known_answer,mnist,generated")
    parser.add_argument("--targets", default="el2n,knn_shapley")
    parser.add_argument("--keeps", default="0.3,0.5,0.8")
    parser.add_argument("--generated-rows", type=int, default=10_000)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--use-labels", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--issue-table", action="store_true",
                        help="only the issue's table: 20k-row pixel table halves + 4k test rows, keep 0.3")
    args = parser.parse_args()
    if args.issue_table:
        print(json.dumps(issue_table(20_000, 4_000, 0.3), indent=1, default=float))
        return
    keeps = tuple(float(k) for k in args.keeps.split(","))
    rows = []
    for name in args.sets.split(","):
        for target in args.targets.split(","):
            rows += run_case(name, target, keeps, args.generated_rows, args.split_seed, args.use_labels)
            print(json.dumps({"done": name, "target": target, **summarise(rows)}), flush=True)
    result = {"summary": summarise(rows), "load_average": os.getloadavg(), "split_seed": args.split_seed,
              "use_labels": args.use_labels, "rows": rows}
    text = json.dumps(result, indent=1, default=float)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
