"""``workbench value-model fit|apply``: learn a row's value from scored data, then select among new rows.

    workbench value-model fit DATA --label COL [--id COL] (--target SCORE | --selection MANIFEST.json)
                              [--scores FILE] [--model linear|mlp] [--use-labels] --out MODEL.json
    workbench value-model apply MODEL.json NEW [--strategy S] (--keep F | --threshold T)
                              [--reference KEPT.csv] [--scores-out FILE] --out FILE

``fit`` writes ``MODEL.json`` and ``MODEL.npz`` (no pickle) and prints the out-of-fold quality;
``apply`` scores the new rows without recomputing out-of-fold models or neighbour graphs and
writes the kept ones with all their original columns.
"""

from __future__ import annotations

import sys

from core import workflows
from core.cli import support
from core.data import load_dataset, read_path
from core.foundation import ConfigError
from core.outputs import apply_manifest, read_manifest, write_table
from core.scorers import compute_scores
from core.search import fit_value_model, load_value_model

MODELS = ("linear", "mlp")
#: Below these, the model's predictions are little better than chance: say so.
WEAK = {"r2": 0.1, "auroc": 0.6}

__all__ = ["add_parsers", "run"]


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
    fit.add_argument("--out", required=True, metavar="MODEL.json", help="the model (.json, with a .npz beside it)")
    apply = actions.add_parser("apply", parents=[common], formatter_class=formatter,
                               help="score new rows and select among them")
    apply.add_argument("model", metavar="MODEL.json", help="written by `workbench value-model fit`")
    apply.add_argument("data", metavar="NEW", help="the new rows: the training data's columns, labels optional")
    apply.add_argument("--strategy", default=None, metavar="S",
                       help="a strategy over the predicted column (default: keep the high-value end), or 'cover'")
    budget = apply.add_mutually_exclusive_group()
    budget.add_argument("--keep", metavar="F", help="fraction of new rows to keep, in (0, 1]")
    budget.add_argument("--threshold", metavar="T", help="keep rows on the kept side of T")
    apply.add_argument("--reference", default=None, metavar="KEPT",
                       help="the rows already kept (needed by --strategy cover)")
    apply.add_argument("--seed", default=0, metavar="N", help="seed of tie-breaking and random choices")
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
    ds = load_dataset(args.data, label=args.label, id=args.id, features=support.split_list(args.features) or None,
                      min_rows_per_class=folds, drop_missing_labels=args.drop_missing_labels, max_dim=0)
    if args.selection:
        selection, scores = apply_manifest(read_manifest(args.selection), ds), None
    else:
        selection = None
        scores = _read_scores(args.scores) if args.scores else compute_scores(
            ds, [args.target], seed=seed, folds=folds, progress=support.make_progress(args.quiet))
    model = fit_value_model(ds, scores, args.target or "kept", selection=selection, model=args.model,
                            use_labels=args.use_labels, folds=folds, seed=seed)
    path = model.save(out)
    quality = model.quality
    _say(args, f"Value model of {model.target} ({model.model}) on {ds.n_samples} rows: {quality['summary']}; "
               f"wrote {path} and {path.with_suffix('.npz').name}.")
    if quality["value"] < WEAK[quality["metric"]]:
        print(f"workbench: warning: the model barely predicts {model.target} ({quality['summary']}); "
              "do not select new rows by it. Try --model mlp, --use-labels or another target.", file=sys.stderr)
    return 0


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
    ds, predicted, sel = model.select(new, args.strategy, keep=keep, threshold=threshold, seed=seed,
                                      reference=reference)
    if sel.n_kept == 0:
        raise ConfigError("No new row was kept; choose a threshold inside the predicted range or a larger --keep.")
    if args.scores_out:
        write_table(predicted.reset_index(), args.scores_out)
    workflows.export(ds, sel, out)
    how = (f"farthest from the {len(reference)} reference rows" if sel.strategy == "cover"
           else f"{sel.strategy} on the predicted {model.column} (model quality: {model.quality['summary']})")
    _say(args, f"Kept {sel.n_kept} of {ds.n_samples} new rows, {how}; wrote {out}.")
    return 0


def _read_scores(path: str):
    frame = read_path(path, text_columns=["id", "label"]).frame
    if "id" not in frame.columns:
        raise ConfigError(f"--scores {path} has no 'id' column. Pass a file written by `workbench score`.")
    return frame.drop(columns=[c for c in ("label",) if c in frame.columns])


def _say(args, text: str) -> None:
    if not args.quiet:
        print(text, flush=True)
