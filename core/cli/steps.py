"""The steps the data commands share once their options are checked: load DATA with the data
options, compute or read scores, a progress bar, and the result and warning lines."""

from __future__ import annotations

import sys
from typing import Optional

import pandas as pd

from core.cli import support
from core.data import load_dataset
from core.scorers import DEFAULT_SCORERS, LargeData, compute_scores, registered_names

__all__ = ["say", "warn", "default_scorers", "progress", "close", "check_data_options", "load_data", "compute",
           "reuse_scores"]


def say(args, text: str) -> None:
    """A result line on stdout (suppressed by --quiet)."""
    if not args.quiet:
        print(text, flush=True)


def warn(text: str) -> None:
    """A warning on stderr, always shown: it says something the user should know about the data."""
    print(f"workbench: warning: {' '.join(str(text).split())}", file=sys.stderr, flush=True)


def default_scorers() -> list:
    """The default scorer names that are registered."""
    registered = set(registered_names())
    return [n for n in DEFAULT_SCORERS if n in registered]


def progress(args):
    return support.make_progress(args.quiet)


def close(bar) -> None:
    if bar is not None:
        bar.close()


def check_data_options(args) -> None:
    """The data and cross-validation options (and ``--scores``), checked before anything loads."""
    if getattr(args, "scores", None):
        support.check_input(args.scores, "--scores")
    args.folds = support.parse_positive_int(args.folds, "--folds", minimum=2)
    args.seed = support.parse_positive_int(args.seed, "--seed", minimum=0, maximum=support.MAX_SEED)
    if args.max_dim is not None and args.max_dim != "auto":
        args.max_dim = support.parse_positive_int(args.max_dim, "--max-dim", minimum=0)
    support.check_input(args.data)


def load_data(args):
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


def compute(ds, names: list, args, bar) -> Optional[pd.DataFrame]:
    if not names:
        return None
    large = LargeData(search=getattr(args, "search", "auto"))  # `workbench score --search`; others: the default
    return compute_scores(ds, names, seed=args.seed, progress=bar, folds=args.folds, large=large)


def reuse_scores(path: str, ds=None) -> pd.DataFrame:
    """A scores file given with ``--scores``: junk cells counted in a warning, a mostly-junk column refused, and
    (with the data set ``ds``) labels that differ from the data's refused."""
    frame, warnings, labels = support.read_scores_file(path)
    if ds is not None:
        support.check_scores_labels(path, labels, ds)
    for message in warnings:
        warn(message)
    return frame
