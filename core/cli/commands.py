"""What each ``workbench`` subcommand does; :mod:`core.cli` parses the command line and calls these.

Each command validates every option and path first (cheap, well under a second), then loads the
data, computes, and writes its outputs atomically at the very end, so a failure at any step
leaves no output file behind and never touches the input.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import pandas as pd

from core import workflows
from core.cli import partitioned, support
from core.cli.columns import read_cut
from core.data import list_samples, load_dataset
from core.evaluation import MODELS as EVALUATION_MODELS
from core.evaluation import LiveEvaluator, estimator_from_text
from core.foundation import ConfigError, DataFileError, to_jsonable
from core.outputs import require_mlflow, tracking_uri, write_table
from core.scorers import DEFAULT_SCORERS, METADATA_KEYS, align_scores, compute_scores, list_scorers
from core.selection import Recipe



def _out(args, text: str) -> None:
    """A result line on stdout (suppressed by --quiet)."""
    if not args.quiet:
        print(text, flush=True)


def warn(text: str) -> None:
    """A warning on stderr, always shown: it says something the user should know about the data."""
    print(f"workbench: warning: {' '.join(str(text).split())}", file=sys.stderr, flush=True)


def _registry() -> tuple:
    """(name -> metadata, default scorer names) from the scorer registry."""
    registry = {row["name"]: row for row in list_scorers()}
    defaults = [n for n in DEFAULT_SCORERS if n in registry]
    return registry, defaults


def _progress(args):
    return support.make_progress(args.quiet)


def _close(bar) -> None:
    if bar is not None:
        bar.close()


def _load(args):
    """Load DATA with the data options shared by score, curve and select; print loading warnings."""
    options = {
        "label": args.label,
        "id": args.id,
        "features": support.split_list(args.features) or None,
        "text": args.text,
        "max_dim": args.max_dim,
        "drop_missing_labels": args.drop_missing_labels,
        "encoding": getattr(args, "encoding", None),
    }
    # an option the user did not give is left to the library's default, so every face loads alike
    options = {key: value for key, value in options.items() if value is not None or key == "label"}
    # every class needs a row in each fold, so the fold count is the minimum class size
    ds = load_dataset(args.data, min_rows_per_class=args.folds, **options)
    for message in ds.warnings:
        warn(message)
    return ds


def _check_common(args) -> None:
    if getattr(args, "scores", None):
        support.check_input(args.scores, "--scores")
    args.folds = support.parse_positive_int(args.folds, "--folds", minimum=2)
    args.seed = support.parse_positive_int(args.seed, "--seed", minimum=0, maximum=support.MAX_SEED)
    if args.max_dim is not None and args.max_dim != "auto":
        args.max_dim = support.parse_positive_int(args.max_dim, "--max-dim", minimum=0)
    support.check_input(args.data)


def _compute(ds, names: list, args, bar) -> Optional[pd.DataFrame]:
    if not names:
        return None

    return compute_scores(ds, names, seed=args.seed, progress=bar, folds=args.folds)


# ------------------------------------------------------------------------------------ scorers
def cmd_scorers(args) -> int:

    rows = list_scorers()
    if args.json:
        print(json.dumps([to_jsonable({k: row.get(k) for k in METADATA_KEYS}) for row in rows], indent=2))
        return 0
    width = max([len(r["name"]) for r in rows] + [4])
    print(f"{'name':<{width}}  {'family':<9}  {'cost':<6}  keep  flags  higher means / description")
    for row in rows:
        print(f"{row['name']:<{width}}  {row['family']:<9}  {str(row.get('cost', '')):<6}  {row['keep']:<4}  "
              f"{'yes' if row['flags'] else 'no':<5}  {row['higher_means']}: {row['description']}")
    return 0


def cmd_samples(args) -> int:

    rows = list_samples()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<14} {row['path']}  (--label {row['label']}"
              f"{' --id ' + row['id'] if row['id'] else ''}; {row['rows']} rows) {row['title']}")
    return 0


# -------------------------------------------------------------------------------------- score
def score_table(ds, scores: pd.DataFrame, names: list) -> pd.DataFrame:
    """``id``, ``label``, one column per scorer, ``<name>_flag`` columns, then extra columns."""
    aligned = align_scores(ds, scores)
    table = pd.DataFrame({"id": ds.ids, "label": ds.labels})
    score_columns = [n for n in names if n in aligned.columns]
    flag_columns = [f"{n}_flag" for n in names if f"{n}_flag" in aligned.columns]
    extras = [c for c in aligned.columns if c not in score_columns + flag_columns and c not in ("id", "label")]
    for column in score_columns + flag_columns + extras:
        table[column] = aligned[column].to_numpy()
    return table


def cmd_score(args) -> int:
    if partitioned.wanted(args):
        return partitioned.cmd_score(args)
    _check_common(args)
    out = support.check_output(args.out, option="--out", inputs=[("DATA", args.data)])
    names = support.resolve_scorer_names(args.scorers)
    ds = _load(args)
    bar = _progress(args)
    try:
        scores = _compute(ds, names, args, bar)
    finally:
        _close(bar)

    write_table(score_table(ds, scores, names), out)
    _out(args, f"Scored {ds.n_samples} rows with {len(names)} scorer(s) ({', '.join(names)}); wrote {out}.")
    return 0


# -------------------------------------------------------------------------------------- curve
def _read_scores(path: str) -> pd.DataFrame:
    frame, warnings = support.read_scores_file(path)  # junk cells counted, a mostly-junk column refused
    for message in warnings:
        warn(message)
    return frame


CURVE_COLUMNS = ["strategy", "keep_fraction", "n_kept", "accuracy_mean", "accuracy_std", "leak_free"]


def cmd_curve(args) -> int:
    _check_common(args)
    out = support.check_output(args.out, option="--out", inputs=[("DATA", args.data), ("--scores", args.scores)])
    keeps = support.parse_fractions(args.keep)
    seeds = support.parse_positive_int(args.seeds, "--seeds")
    strategies = support.split_strategies(args.strategies)
    _, defaults = _registry()
    names: list = []
    for strategy in strategies:
        names += support.check_strategy(strategy, defaults, budget=False)
    names = list(dict.fromkeys(names))
    ds = _load(args)
    bar = _progress(args)
    try:
        scores = _read_scores(args.scores) if args.scores else _compute(ds, names, args, bar)
        curve = workflows.pruning_curve(ds, scores, strategies, keeps, seeds=seeds, folds=args.folds,
                                        seed=args.seed, progress=bar)
    finally:
        _close(bar)
    table = curve[[c for c in CURVE_COLUMNS if c in curve.columns]].reset_index(drop=True)  # random first, then the strategies as given
    write_table(table, out)
    _out(args, f"Pruning curve of {len(table['strategy'].unique())} strategies x {len(keeps)} keep fractions "
               f"({seeds} seed(s), {args.folds}-fold CV); wrote {out}.")
    return 0


# ------------------------------------------------------------------------------------- select
def cmd_select(args) -> int:
    if partitioned.wanted(args):
        return partitioned.cmd_select(args)
    _check_common(args)
    keep = support.parse_fraction(args.keep) if args.keep is not None else None
    threshold = support.parse_number(args.threshold, "--threshold")
    cut = _column_cut(args)
    inputs = [("DATA", args.data), ("--scores", args.scores)]
    out = support.check_output(args.out, option="--out", inputs=inputs)
    manifest = support.check_output(args.manifest, option="--manifest", inputs=inputs, kind="json")
    support.check_distinct([("--out", args.out), ("--manifest", args.manifest)])
    _, defaults = _registry()
    recipe = Recipe.of(args.strategy, keep, threshold, args.seed)  # parsed once: carried to selection and estimate
    names = list(defaults) if recipe.searched else list(recipe.needed_scorers)
    own = estimator_from_text(args.eval_model, args.eval_params) if ":" in (args.eval_model or "") else None
    if args.eval_model and own is None and args.eval_model not in EVALUATION_MODELS:
        raise ConfigError(f"--eval-model {args.eval_model} is not a model of the estimate; "
                          f"choose one of {', '.join(EVALUATION_MODELS)} or give your own as module:Class.")
    if args.eval_params and own is None:
        raise ConfigError("--eval-params goes with a module:Class --eval-model.")
    if args.scorers and args.scores:
        raise ConfigError("Give --scores (reuse a file) or --scorers (compute these), not both.")
    if args.scorers:
        names = list(dict.fromkeys(names + support.resolve_scorer_names(args.scorers)))
    ds = _load(args)

    bar = _progress(args)
    try:
        scores = _read_scores(args.scores) if args.scores else _compute(ds, names, args, bar)
        model = {"model": args.eval_model} if args.eval_model else {}  # else the library's default target model
        model = {"estimator": own} if own is not None else model
        evaluator = LiveEvaluator(ds, folds=args.folds, seed=args.seed, **model)
        sel = workflows.select(ds, scores, recipe, evaluator=evaluator, progress=bar)
        if sel.n_kept == 0:
            raise ConfigError(f"The strategy kept no rows (threshold {threshold}). "
                              "Choose a threshold inside the score range.")
        comparison = workflows.estimate(ds, sel, scores=scores, evaluator=evaluator, progress=bar)
    finally:
        _close(bar)
    document = workflows.export(ds, sel, out, manifest=manifest, scores=scores, include_scores=args.include_scores,
                                formula_safe=args.formula_safe,
                                estimate=comparison, columns=cut, mlflow=args.mlflow, origin="cli")
    _report_selection(args, ds, sel, document, out, manifest)
    if args.mlflow:
        store = tracking_uri(None if args.mlflow is True else args.mlflow)
        _out(args, f"Logged the selection as an MLflow run in {store}.")
    return 0


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
    _out(args, f"Kept {sel.n_kept} of {ds.n_samples} rows ({100 * sel.n_kept / ds.n_samples:.1f}%) with "
               f"{sel.strategy}{chosen}; wrote {out} and {manifest}.")
    estimate = document.get("estimate") or {}
    if estimate.get("summary"):
        _out(args, f"CV estimate: {estimate['summary']}")
    losing = workflows.estimate_warning(estimate)
    if losing:
        warn(losing)
    honest = (sel.details or {}).get("honest_estimate")
    if honest and honest.get("accuracy") is not None:
        # the figure above scores auto's pick on the folds it was picked on; say what a fresh fold gives
        _out(args, f"Honest estimate of auto (nested CV, choice never saw the scoring fold): "
                   f"{100 * honest['accuracy']:.1f}% ± {100 * honest['std']:.1f}; the figure above is optimistic.")


# -------------------------------------------------------------------------------------- apply
def cmd_apply(args) -> int:
    if partitioned.wanted_apply(args):
        return partitioned.cmd_apply(args)
    support.check_input(args.manifest, "MANIFEST")
    support.check_input(args.data)
    support.check_output(args.out, option="--out", inputs=[("DATA", args.data), ("MANIFEST", args.manifest)])

    sel, ds = workflows.apply_and_export(args.manifest, args.data, args.out, force=args.force,
                                         formula_safe=args.formula_safe)
    details = sel.details
    if details.get("forced"):
        missing, repeated = details.get("missing_ids") or [], details.get("duplicate_ids") or []
        differ = ("the data differ from the manifest's (" + "; ".join(details.get("differences", [])) + "); "
                  if not details.get("fingerprint_matches", True) else "")
        warn(f"--force: {differ}kept the {sel.n_kept} rows whose ids are in the manifest"
             + (f"; skipped {len(missing)} manifest id(s) not in the data: {missing[:20]}" if missing else "")
             + (f"; kept {len(repeated)} repeated id(s) once: {repeated[:20]}" if repeated else "") + ".")
    _out(args, f"Applied {Path(args.manifest).name}: kept {sel.n_kept} of {ds.n_samples} rows "
               f"({sel.resolved_strategy}); wrote {args.out}.")
    return 0


# ---------------------------------------------------------------------------------------- app
def _address_option(extra: list) -> list:
    """``--server.address`` for streamlit: loopback unless the operator chose an address.

    The operator chooses with ``--server.address`` (passed on as given), ``WORKBENCH_ADDRESS`` or
    Streamlit's own ``STREAMLIT_SERVER_ADDRESS``; the app then offers local files only on loopback.
    """
    if any(item == "--server.address" or item.startswith("--server.address=") for item in extra):
        return []
    if os.environ.get("STREAMLIT_SERVER_ADDRESS", "").strip():
        return []
    return ["--server.address", os.environ.get("WORKBENCH_ADDRESS", "").strip() or "127.0.0.1"]


def app_path() -> Path:
    return Path(__file__).resolve().parents[2] / "workbench" / "app.py"


def cmd_app(args, extra: list) -> int:
    script = app_path()
    if not script.is_file():
        raise DataFileError(f"The app is not here ({script} is missing). "
                            "Run `workbench app` from a checkout of the repository.")
    command = [sys.executable, "-m", "streamlit", "run", str(script), *_address_option(extra), *extra]
    if args.server:  # the operator's choice, read once by the app (workbench/settings.py)
        os.environ["WORKBENCH_SERVER_MODE"] = "1"
    if args.dry_run:
        print(("WORKBENCH_SERVER_MODE=1 " if os.environ.get("WORKBENCH_SERVER_MODE") == "1" else "") + " ".join(command))
        return 0
    # Replace this process with Streamlit (no child is left behind: SIGTERM, SIGINT and the
    # parent's death reach the server itself), run from the repository root so
    # .streamlit/config.toml (theme, upload limits, server mode) applies.
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(script.parent.parent)
    os.execv(sys.executable, command)
    return 0  # not reached: execv does not return
