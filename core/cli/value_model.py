"""``workbench value-model fit|apply``: learn a row's value from scored data, then select among new rows.

    workbench value-model fit DATA --label COL [--id COL] (--target SCORE | --selection MANIFEST.json)
                              [--scores FILE] [--model linear|mlp] [--use-labels] [--keep F,F,...]
                              [--strategy S] [--no-backtest] --out MODEL.json
    workbench value-model apply MODEL.json NEW [--strategy S] (--keep F | --threshold T) [--strict]
                              [--reference KEPT.csv] [--scores-out FILE] --out FILE

``fit`` writes ``MODEL.json`` and ``MODEL.npz`` (no pickle) and prints the out-of-fold quality and
the backtest: what the model's selections are worth on the scored data against random rows of the
same count, per keep fraction, and the default strategy it chose there. ``apply`` scores the new
rows without recomputing out-of-fold models or neighbour graphs, prints the backtest of what it
applies and how far the batch lies from the scored data, warns (or with ``--strict`` refuses,
writing nothing) when the backtest says the selection loses to random, and writes the kept rows
with all their original columns.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pandas as pd

from core import workflows
from core.cli import support
from core.data import load_dataset, read_path
from core.foundation import ConfigError, ManifestError
from core.outputs import apply_manifest, read_manifest, write_table
from core.scorers import compute_scores
from core.selection import parse_strategy
from core.value import BACKTEST_KEEPS, DECISION_COLUMN, describe_backtest, fit_value_model, load_value_model

MODELS = ("linear", "mlp")
#: Below these, the model's predictions are little better than chance: say so.
WEAK = {"r2": 0.1, "auroc": 0.6}

NAME = "value-model"

__all__ = ["NAME", "add_parsers", "run"]


def add_parsers(sub, *, common, data, formatter) -> None:
    """Add ``value-model`` with its ``fit`` and ``apply`` subcommands to the ``workbench`` parser."""
    top = sub.add_parser(
        "value-model", parents=[common], formatter_class=formatter,
        help="predict a row's value from its features; select among new rows",
        description="Model-based pruning for data that arrive later: `fit` learns a score (or the keep/drop "
                    "decision of a manifest) from the features, with its cross-validated quality; `apply` "
                    "scores a new batch and selects among it with the usual strategies.",
        epilog="examples:\n"
               "  workbench value-model fit old.csv --label y --target knn_shapley --model mlp --use-labels "
               "--out value.json\n"
               "  workbench value-model fit old.csv --label y --selection kept.json --out value.json\n"
               "  workbench value-model apply value.json new.csv --keep 0.3 --out new_kept.csv\n"
               "  workbench value-model apply value.json new.csv --strategy cover --reference kept.csv "
               "--keep 0.1 --out additions.csv")
    actions = top.add_subparsers(dest="value_action", metavar="ACTION", parser_class=type(top))
    fit = actions.add_parser("fit", parents=[data, common], formatter_class=formatter,
                             help="fit a value model on scored data")
    target = fit.add_mutually_exclusive_group(required=True)
    target.add_argument("--target", metavar="SCORE", help="the score to predict, e.g. knn_shapley or el2n")
    target.add_argument("--selection", metavar="MANIFEST.json",
                        help="predict this manifest's keep/drop decision instead")
    fit.add_argument("--scores", default=None, metavar="FILE", help="scores written by `workbench score` on DATA")
    fit.add_argument("--model", default="linear", choices=MODELS, help="ridge/logistic (default) or a small MLP")
    fit.add_argument("--use-labels", action="store_true",
                     help="use the label as an input too (label-dependent scores; new rows then need labels)")
    fit.add_argument("--keep", default=",".join(f"{k:g}" for k in BACKTEST_KEEPS), metavar="F,F",
                     help="keep fractions the backtest measures (default: 0.3,0.5,0.8)")
    fit.add_argument("--strategy", default=None, metavar="S",
                     help="also backtest this strategy over the predicted column (beside CCS over it, its declared "
                          "end and random)")
    fit.add_argument("--no-backtest", action="store_true",
                     help="skip the backtest (apply then cannot say whether the selection beats random)")
    fit.add_argument("--out", required=True, metavar="MODEL.json", help="the model (.json, with a .npz beside it)")
    apply = actions.add_parser("apply", parents=[common], formatter_class=formatter,
                               help="score new rows and select among them")
    apply.add_argument("model", metavar="MODEL.json", help="written by `workbench value-model fit`")
    apply.add_argument("data", metavar="NEW", help="the new rows: the training data's columns, labels optional")
    apply.add_argument("--strategy", default=None, metavar="S",
                       help="a strategy over the predicted column (default: the backtest's best at this keep), "
                            "or 'cover'")
    budget = apply.add_mutually_exclusive_group()
    budget.add_argument("--keep", metavar="F", help="fraction of new rows to keep, in (0, 1]")
    budget.add_argument("--threshold", metavar="T", help="keep rows on the kept side of T")
    apply.add_argument("--reference", default=None, metavar="KEPT",
                       help="the rows already kept (needed by --strategy cover)")
    apply.add_argument("--seed", default=0, metavar="N", help="seed of tie-breaking and random choices")
    apply.add_argument("--strict", action="store_true",
                       help="refuse (exit 2, nothing written) unless the backtest shows this strategy at this keep "
                            "at least level with random")
    apply.add_argument("--scores-out", default=None, metavar="FILE", help="also write id + predicted value per row")
    apply.add_argument("--out", required=True, metavar="FILE", help="kept new rows, .csv or .parquet")


def run(args) -> int:
    """Dispatch ``value-model fit`` / ``value-model apply``."""
    if args.value_action == "fit":
        return _fit(args)
    if args.value_action == "apply":
        return _apply(args)
    raise ConfigError("value-model needs an action: fit or apply (see `workbench value-model --help`).")


def _fit(args) -> int:
    support.check_input(args.data)
    for option, path in (("--scores", args.scores), ("--selection", args.selection)):
        if path:
            support.check_input(path, option)
    out = support.check_output(args.out, option="--out", inputs=[("DATA", args.data)], kind="json")
    folds = support.parse_positive_int(args.folds, "--folds", minimum=2)
    seed = support.parse_positive_int(args.seed, "--seed", minimum=0, maximum=support.MAX_SEED)
    keeps = support.parse_fractions(args.keep)
    if args.strategy:  # checked before any scoring: the backtest would fail on it only after minutes
        parse_strategy(args.strategy, [args.target or DECISION_COLUMN])
    manifest = read_manifest(args.selection) if args.selection else None
    if manifest is not None:
        ds, selection = _selection_data(args.data, manifest, folds)
    else:
        ds, selection = _load_table(args.data, label=args.label, id=args.id, features=support.split_list(
            args.features) or None, min_rows_per_class=folds, drop_missing_labels=args.drop_missing_labels), None
    progress = support.make_progress(args.quiet)
    scores = _read_scores(args.scores) if args.scores else None
    if scores is None and selection is None:
        scores = compute_scores(ds, [args.target], seed=seed, folds=folds, progress=progress)
    model = fit_value_model(ds, scores, args.target or "kept", selection=selection, model=args.model,
                            use_labels=args.use_labels, folds=folds, seed=seed, backtest=not args.no_backtest,
                            keeps=keeps, strategy=args.strategy, progress=progress)
    path = model.save(out)
    quality = model.quality
    _say(args, f"Value model of {model.target} ({model.model}) on {ds.n_samples} rows: {quality['summary']}; "
               f"wrote {path} and {path.with_suffix('.npz').name}.")
    for line in _backtest_lines(model):
        _say(args, line)
    if quality["value"] < WEAK[quality["metric"]]:
        print(f"workbench: warning: the model barely predicts {model.target} ({quality['summary']}); "
              "do not select new rows by it. Try --model mlp, --use-labels or another target.", file=sys.stderr)
    return 0


def _selection_data(data: str, manifest: dict, folds: int) -> tuple:
    """The data a manifest was made from, featurized for a value model, and its keep/drop decision.

    The data are loaded with the loading options the manifest records (label, id, features,
    encoding...), every feature kept (``max_dim=0``: a value model reads the original columns);
    the decision is the manifest re-applied, matched by id when the features differ (PCA)."""
    options = dict((manifest.get("data") or {}).get("load_options") or {})
    options.update(min_rows_per_class=folds)
    ds = _load_table(data, **options)
    if manifest.get("data_fingerprint") == ds.fingerprint:
        return ds, apply_manifest(manifest, ds)
    try:
        made_on = apply_manifest(manifest, data)  # loaded exactly as the selection was made: fingerprint checked
    except ManifestError as err:  # its advice names apply's --force, which value-model fit has not
        raise ManifestError(str(err).split(" Apply it to", 1)[0] + " Pass the file the selection was made from "
                            "as DATA.") from None
    positions = pd.Index(ds.ids).get_indexer(pd.Index(made_on.kept_ids))
    if (positions < 0).any():
        raise ConfigError("The manifest's kept ids are not all in the data loaded for the value model; "
                          "pass the file the selection was made from.")
    mask = np.zeros(ds.n_samples, dtype=bool)
    mask[positions] = True
    return ds, replace(made_on, mask=mask, kept_ids=ds.ids[mask], data_fingerprint=ds.fingerprint,
                       n_input=ds.n_samples, n_kept=int(mask.sum()))


def _load_table(data, **options):
    """The data with one feature per original column, as a value model reads new rows: every column
    kept (``max_dim=0``), and a table of pixel columns read as the numbers it holds, not as images."""
    options.update(max_dim=0)
    ds = load_dataset(data, **options)
    columns = (ds.settings or {}).get("features") or []
    if ds.kind == "image" and columns and all(c in ds.frame.columns for c in columns):
        ds = load_dataset(data, **dict(options, featurizer="tabular"))
    return ds


def _backtest_lines(model) -> list:
    """The backtest per keep: every candidate's accuracy beside random, and the default chosen."""
    backtest = model.backtest
    if not backtest:
        return ["Not backtested (--no-backtest): apply cannot say whether its selection beats random."]
    lines = [f"Backtest on the scored data: each of {backtest['folds']} evaluator folds in turn is the new batch "
             f"(predicted by value models cross-fitted in {backtest.get('inner_folds', 2)} parts), "
             f"against random rows of the same count ({backtest['repeats']} draws); target model: "
             f"{backtest['evaluator']}; {backtest['targets']}:"]
    if not backtest["leak_free"]:
        lines.append("  optimistic, not leak-free: the figures below choose nothing and give no verdict.")
    for block in backtest["keeps"]:
        for entry in block["strategies"]:
            if entry["strategy"] != "random":
                lines.append("  " + describe_backtest(block, entry, backtest["leak_free"]))
        chosen = block["default"] or model.default_strategy(block["keep"])
        beat = [e["strategy"] for e in block["strategies"] if e.get("verdict") == "beats random"]
        why = (f" ({', '.join(beat)} beat random rows here but keeps one end of the predicted value only, which can "
               "collapse on a new batch: never the default)" if beat else
               " (no strategy over the predicted value beat random rows here)")
        lines.append(f"  default at keep {block['keep']:g}: {chosen}" + (why if chosen == "random" else ""))
    return lines


def _apply(args) -> int:
    support.check_input(args.model, "MODEL")
    support.check_input(args.data, "NEW")
    inputs = [("NEW", args.data), ("MODEL", args.model), ("--reference", args.reference)]
    out = support.check_output(args.out, option="--out", inputs=inputs)
    if args.scores_out:
        support.check_output(args.scores_out, option="--scores-out", inputs=inputs)
        support.check_distinct([("--out", args.out), ("--scores-out", args.scores_out)])
    if args.reference:
        support.check_input(args.reference, "--reference")
    keep = support.parse_fraction(args.keep) if args.keep is not None else None
    threshold = support.parse_number(args.threshold, "--threshold")
    seed = support.parse_positive_int(args.seed, "--seed", minimum=0, maximum=support.MAX_SEED)
    model = load_value_model(args.model)
    new = read_path(args.data).frame
    reference = read_path(args.reference).frame if args.reference else None
    # a threshold is a value of the predicted score: its declared end reads it (CCS and random take a keep)
    strategy = args.strategy or (model.candidates()[1] if threshold is not None else model.default_strategy(keep))
    proof = _proof(model, strategy, keep, threshold, args.strict)
    drift = model.drift(new)
    ds, predicted, sel = model.select(new, strategy, keep=keep, threshold=threshold, seed=seed, reference=reference)
    if sel.n_kept == 0:
        raise ConfigError("No new row was kept; choose a threshold inside the predicted range or a larger --keep.")
    if args.scores_out:
        write_table(predicted.reset_index(), args.scores_out)
    workflows.export(ds, sel, out)
    how = (f"farthest from the {len(reference)} reference rows" if sel.strategy == "cover"
           else f"{sel.strategy} on the predicted {model.column} (model quality: {model.quality['summary']})")
    _say(args, f"Kept {sel.n_kept} of {ds.n_samples} new rows, {how}; wrote {out}.")
    _say(args, proof)
    if drift is not None:
        _say(args, f"Drift: {drift['summary']}")
        if drift["outside"]:
            print(f"workbench: warning: the new rows lie outside what the value model saw ({100 * drift['share']:.0f}% "
                  "beyond the scored data's 95th-percentile neighbour distance); its predictions there are "
                  "extrapolations.", file=sys.stderr)
    return 0


def _proof(model, strategy: str, keep, threshold, strict: bool) -> str:
    """The backtest line of what apply runs; a warning (or, strict, a refusal) when it loses to random."""
    found = model.backtest_of(strategy, keep) if threshold is None else None
    if found is None:
        why = "a threshold" if threshold is not None else f"strategy '{strategy}' at keep {keep}"
        if strict:
            raise ConfigError(f"--strict: the value model's backtest does not cover {why}; fit it with --keep "
                              f"{keep if keep is not None else 'F'} --strategy '{strategy}', or drop --strict.")
        return f"Not backtested: {why} (fit with --keep/--strategy to measure it against random)."
    if strict and not found["leak_free"]:
        raise ConfigError("--strict: the value model's backtest is optimistic (its targets saw the batch's labels), "
                          "so it proves nothing; fit it with --scores, or drop --strict.")
    if found["loses"]:
        entry = found["entry"]
        message = (f"the backtest puts {strategy} at keep {found['keep']:g} below random rows of the same count "
                   f"({100 * entry['gain']:+.1f} ± {100 * _uncertainty(entry):.1f} points: {entry['verdict']})")
        if strict:
            raise ConfigError(f"--strict: {message}; nothing written. Use the default strategy or random.")
        print(f"workbench: warning: {message}; the default strategy ({model.default_strategy(keep)}) would not.",
              file=sys.stderr)
    return f"Backtest: {found['text']}."


def _uncertainty(entry: dict) -> float:
    """What the verdict weighed the gain against: its 95 % interval (a model file from before the
    interval was recorded has only the spread)."""
    return entry.get("uncertainty", entry["spread"])


def _read_scores(path: str):
    frame = read_path(path, text_columns=["id", "label"]).frame
    if "id" not in frame.columns:
        raise ConfigError(f"--scores {path} has no 'id' column. Pass a file written by `workbench score`.")
    return frame.drop(columns=[c for c in ("label",) if c in frame.columns])


def _say(args, text: str) -> None:
    if not args.quiet:
        print(text, flush=True)
