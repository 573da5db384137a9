"""``workbench columns``: which feature columns can go without losing accuracy.

    workbench columns DATA --label COL [--id COL] [--method consensus|permutation|mutual_info|l1]
                      [--keep-columns N | --points P] --out CURVE.csv [--ranking FILE] [--cut CUT.json]

Ranks the original feature columns, writes the cross-validated estimate as the least important
columns are dropped (beside the full-columns reference and random column subsets of the same
size), and picks a cut: the given number of columns, or the fewest within ``--points`` accuracy
points of all columns. ``--cut`` writes the manifest's ``columns`` block (kept and dropped
columns, the estimate at the cut), which ``workbench select --columns CUT.json`` records so that
``apply`` reproduces both the rows and the columns.
"""

from __future__ import annotations

import json

import pandas as pd

from core.cli import support
from core.data import load_dataset
from core.foundation import ConfigError, to_jsonable
from core.outputs import write_json, write_table
from core.columns import column_curve, columns_block, kept_columns, suggest_cut

NAME = "columns"
METHODS = ("consensus", "permutation", "mutual_info", "l1")

__all__ = ["NAME", "add_parsers", "run", "read_cut"]


def add_parsers(sub, *, common, data, formatter) -> None:
    """Add ``columns`` to the ``workbench`` parser."""
    p = sub.add_parser(
        NAME, parents=[data, common], formatter_class=formatter,
        help="rank feature columns and find how many can go",
        description="Rank the feature columns (permutation importance under the CV folds, mutual information, "
                    "an L1 path), write the CV estimate as the least important columns are dropped next to the "
                    "full-columns reference and random column subsets, and pick a cut.",
        epilog="examples:\n"
               "  workbench columns data.csv --label y --out column_curve.csv --cut cut.json\n"
               "  workbench columns data.csv --label y --keep-columns 12 --ranking ranking.csv --out curve.csv "
               "--cut cut.json\n"
               "  workbench select data.csv --label y --columns cut.json --strategy ccs:el2n --keep 0.5 "
               "--out kept.csv --manifest kept.json")
    p.add_argument("--method", default="consensus", choices=METHODS, help="the ranking that orders the drops")
    cut = p.add_mutually_exclusive_group()
    cut.add_argument("--keep-columns", default=None, metavar="N", help="keep the N most important columns")
    cut.add_argument("--points", default="0.5", metavar="P",
                     help="else keep the fewest columns within P accuracy points of all columns (default: 0.5)")
    p.add_argument("--out", required=True, metavar="CURVE.csv", help="the curve, .csv or .parquet")
    p.add_argument("--ranking", default=None, metavar="FILE", help="also write the ranking table")
    p.add_argument("--cut", default=None, metavar="CUT.json", help="write the chosen cut (kept/dropped columns)")


def run(args) -> int:
    support.check_input(args.data)
    inputs = [("DATA", args.data)]
    out = support.check_output(args.out, option="--out", inputs=inputs)
    outputs = [("--out", args.out)]
    if args.ranking:
        support.check_output(args.ranking, option="--ranking", inputs=inputs)
        outputs.append(("--ranking", args.ranking))
    if args.cut:
        support.check_output(args.cut, option="--cut", inputs=inputs, kind="json")
        outputs.append(("--cut", args.cut))
    support.check_distinct(outputs)
    folds = support.parse_positive_int(args.folds, "--folds", minimum=2)
    seed = support.parse_positive_int(args.seed, "--seed", minimum=0, maximum=support.MAX_SEED)
    points = support.parse_number(args.points, "--points") if args.keep_columns is None else None
    if points is not None and not 0 <= points <= 100:
        raise ConfigError(f"--points must be between 0 and 100 accuracy points, got {args.points}.")
    ds = load_dataset(args.data, label=args.label, id=args.id, features=support.split_list(args.features) or None,
                      min_rows_per_class=folds, drop_missing_labels=args.drop_missing_labels, max_dim=0)
    bar = support.make_progress(args.quiet)
    try:
        curve = column_curve(ds, method=args.method, folds=folds, seed=seed, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    ranking = curve.attrs["ranking"]
    n_keep = (support.parse_positive_int(args.keep_columns, "--keep-columns", maximum=len(ranking))
              if args.keep_columns is not None else suggest_cut(curve, points))
    kept = kept_columns(ranking, n_keep, args.method)
    write_table(frame_of(curve), out)
    if args.ranking:
        write_table(ranking.reset_index(), args.ranking)
    if args.cut:
        write_json(to_jsonable(columns_block(ds, kept, method=args.method, curve=curve)), args.cut)
    if not args.quiet:
        row = curve[curve["n_columns"] == n_keep].iloc[0]
        print(f"Keep {n_keep} of {len(ranking)} columns: {100 * row['accuracy_mean']:.1f}% ± "
              f"{100 * row['accuracy_std']:.1f} (random columns of that size {100 * row['random_mean']:.1f}% ± "
              f"{100 * row['random_std']:.1f}; all columns {100 * row['full_mean']:.1f}% ± "
              f"{100 * row['full_std']:.1f}; {folds}-fold CV). Kept: {','.join(kept)}. Wrote {out}.", flush=True)
    return 0


def read_cut(path) -> dict:
    """A cut written by ``workbench columns --cut`` (for ``select --columns``)."""
    file = support.check_input(path, "--columns")
    try:
        block = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(f"--columns {path} is not a column cut. Pass the file written by `workbench columns --cut`.")
    if (not isinstance(block, dict) or not isinstance(block.get("kept"), list) or not block["kept"]
            or not all(isinstance(name, str) and name for name in block["kept"])):
        raise ConfigError(f"--columns {path} is not a column cut (its \"kept\" must list column names). Pass the "
                          "file written by `workbench columns --cut`.")
    return block


def frame_of(curve) -> pd.DataFrame:
    """The curve as written (the dropped columns joined by ';')."""
    return curve.assign(dropped=[";".join(columns) for columns in curve["dropped"]])
