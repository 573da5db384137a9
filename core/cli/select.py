"""``workbench select``: keep rows by a strategy and write them with a manifest (partitioned DATA:
:mod:`core.cli.partitioned`)."""

from __future__ import annotations

from typing import Optional

from core import workflows
from core.cli import partitioned, steps, support
from core.cli.columns import read_cut
from core.cli.options import FORMULA_HELP, OUTPUTS, cluster_options, strategy_help, wrap
from core.evaluation import MODELS as EVALUATION_MODELS
from core.evaluation import LiveEvaluator, estimator_from_text
from core.foundation import ConfigError
from core.outputs import require_mlflow, tracking_uri
from core.selection import Recipe

NAME = "select"

__all__ = ["NAME", "add_parsers", "run"]


def add_parsers(sub, *, common, data, formatter) -> None:
    p = sub.add_parser(
        NAME, parents=[data, common], formatter_class=formatter,
        help="select a subset and write it with a manifest",
        description=wrap(
            "Select the rows to keep and write them with all original columns in their original order, plus a "
            "JSON manifest (kept ids, data fingerprint, strategy and parameters, scorers, seed, package versions, "
            "timestamp, and the CV estimate against the full data and random subsets of the same size) that "
            "`workbench apply` re-applies exactly. The scorers the strategy needs are computed (or read from "
            "--scores).", OUTPUTS) + "\n\n" + strategy_help(),
        epilog="examples:\n"
               "  workbench select data.csv --label y --strategy ccs:el2n --keep 0.3 --out kept.csv "
               "--manifest kept.json\n"
               "  workbench select data.csv --label y --strategy label_noise --threshold 0.5 --out kept.parquet "
               "--manifest m.json\n"
               "  workbench score data.csv --label y --out s.csv && "
               "workbench select data.csv --label y --scores s.csv --strategy auto --keep 0.5 --out k.csv "
               "--manifest m.json")
    p.add_argument("--strategy", required=True, metavar="S", help="strategy string (see above)")
    # whether a budget applies is the strategy grammar's call (core.selection.check_budget), not the parser's
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--keep", metavar="F", help="fraction of rows to keep, in (0, 1], where the strategy needs one")
    budget.add_argument("--threshold", metavar="T",
                        help="keep rows on the kept side of T (single-score strategies only)")
    p.add_argument("--out", required=True, metavar="FILE", help="kept rows, .csv or .parquet")
    p.add_argument("--manifest", required=True, metavar="FILE.json", help="where the manifest goes")
    p.add_argument("--scores", default=None, metavar="FILE",
                   help="reuse scores written by `workbench score` on this data")
    p.add_argument("--scorers", default=None, metavar="A,B",
                   help="compute these scorers too (recorded, and appended with --include-scores)")
    p.add_argument("--include-scores", action="store_true", help="append the score columns to the kept rows")
    p.add_argument("--formula-safe", action="store_true", help=FORMULA_HELP)
    p.add_argument("--eval-model", default=None, metavar="MODEL",
                   help="target model of the CV estimate (default: the library's, logistic regression); "
                        "see core.evaluation.MODELS, or your own classifier as module:Class "
                        "(e.g. sklearn.ensemble:RandomForestClassifier)")
    p.add_argument("--eval-params", default=None, metavar="JSON",
                   help="parameters of a module:Class --eval-model, as a JSON object")
    p.add_argument("--columns", default=None, metavar="CUT.json",
                   help="use only the feature columns of a cut written by `workbench columns --cut`; the manifest "
                        "records it and `apply` writes the same rows and columns")
    p.add_argument("--mlflow", nargs="?", const=True, default=None, metavar="URI",
                   help="log the selection as an MLflow run: to URI, or to ./mlruns (local, offline) when no URI "
                        "is given; needs the 'tracking' extra")
    cluster_options(p)


def run(args) -> int:
    if partitioned.wanted(args):
        return partitioned.run_select(args)
    steps.check_data_options(args)
    keep = support.parse_fraction(args.keep) if args.keep is not None else None
    threshold = support.parse_number(args.threshold, "--threshold")
    cut = _column_cut(args)
    inputs = [("DATA", args.data), ("--scores", args.scores)]
    out = support.check_output(args.out, option="--out", inputs=inputs)
    manifest = support.check_output(args.manifest, option="--manifest", inputs=inputs, kind="json")
    support.check_distinct([("--out", args.out), ("--manifest", args.manifest)])
    recipe = Recipe.of(args.strategy, keep, threshold, args.seed)  # parsed once: carried to selection and estimate
    names = steps.default_scorers() if recipe.searched else list(recipe.needed_scorers)
    model = _target_model(args)
    if args.scorers and args.scores:
        raise ConfigError("Give --scores (reuse a file) or --scorers (compute these), not both.")
    if args.scorers:
        names = list(dict.fromkeys(names + support.resolve_scorer_names(args.scorers)))
    ds = steps.load_data(args)
    bar = steps.progress(args)
    try:
        scores = steps.reuse_scores(args.scores, ds) if args.scores else steps.compute(ds, names, args, bar)
        evaluator = LiveEvaluator(ds, folds=args.folds, seed=args.seed, **model)
        sel = workflows.select(ds, scores, recipe, evaluator=evaluator, progress=bar)
        if sel.n_kept == 0:
            raise ConfigError(f"The strategy kept no rows (threshold {threshold}). "
                              "Choose a threshold inside the score range.")
        comparison = workflows.estimate(ds, sel, scores=scores, evaluator=evaluator, progress=bar)
    finally:
        steps.close(bar)
    document = workflows.export(ds, sel, out, manifest=manifest, scores=scores, include_scores=args.include_scores,
                                formula_safe=args.formula_safe,
                                estimate=comparison, columns=cut, mlflow=args.mlflow, origin="cli")
    _report_selection(args, ds, sel, document, out, manifest)
    if args.mlflow:
        store = tracking_uri(None if args.mlflow is True else args.mlflow)
        steps.say(args, f"Logged the selection as an MLflow run in {store}.")
    return 0


def _target_model(args) -> dict:
    """The estimate's target model from ``--eval-model``/``--eval-params``, checked before any work:
    ``{"estimator": own}``, ``{"model": name}``, or ``{}`` for the library's default."""
    own = estimator_from_text(args.eval_model, args.eval_params) if ":" in (args.eval_model or "") else None
    if args.eval_model and own is None and args.eval_model not in EVALUATION_MODELS:
        raise ConfigError(f"--eval-model {args.eval_model} is not a model of the estimate; "
                          f"choose one of {', '.join(EVALUATION_MODELS)} or give your own as module:Class.")
    if args.eval_params and own is None:
        raise ConfigError("--eval-params goes with a module:Class --eval-model.")
    if own is not None:
        return {"estimator": own}
    return {"model": args.eval_model} if args.eval_model else {}


def _column_cut(args) -> Optional[dict]:
    """``--columns CUT.json`` as the features to load (and the cut to record); checks ``--mlflow`` early."""
    if getattr(args, "mlflow", None):
        require_mlflow()  # before any work: the install hint, not a failure after scoring
    if not getattr(args, "columns", None):
        return None
    if args.features:
        raise ConfigError("Give --features or --columns (a column cut), not both.")
    cut = read_cut(args.columns)
    args.features = ",".join(cut["kept"])
    return cut


def _report_selection(args, ds, sel, document: dict, out, manifest) -> None:
    chosen = f" (auto chose {sel.resolved_strategy})" if sel.resolved_strategy != sel.strategy else ""
    steps.say(args, f"Kept {sel.n_kept} of {ds.n_samples} rows ({100 * sel.n_kept / ds.n_samples:.1f}%) with "
                    f"{sel.strategy}{chosen}; wrote {out} and {manifest}.")
    estimate = document.get("estimate") or {}
    if estimate.get("summary"):
        steps.say(args, f"CV estimate: {estimate['summary']}")
    losing = workflows.estimate_warning(estimate)
    if losing:
        steps.warn(losing)
    honest = (sel.details or {}).get("honest_estimate")
    if honest and honest.get("accuracy") is not None:
        # the figure above scores auto's pick on the folds it was picked on; say what a fresh fold gives
        steps.say(args, f"Honest estimate of auto (nested CV, choice never saw the scoring fold): "
                        f"{100 * honest['accuracy']:.1f}% ± {100 * honest['std']:.1f}; the figure above is optimistic.")
