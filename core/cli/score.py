"""``workbench score``: score every row and write one row per input row (partitioned DATA:
:mod:`core.cli.partitioned`)."""

from __future__ import annotations

import pandas as pd

from core.cli import partitioned, steps, support
from core.cli.options import OUTPUTS, cluster_options, wrap
from core.outputs import write_table
from core.scorers import LargeData, align_scores

NAME = "score"

__all__ = ["NAME", "add_parsers", "run", "score_table"]


def add_parsers(sub, *, common, data, formatter) -> None:
    p = sub.add_parser(
        NAME, parents=[data, common], formatter_class=formatter, help="score every row with scorers",
        description=wrap("Score every row. Writes one row per input row: id, label, one column per scorer "
                         "named exactly as the scorer, <name>_flag for scorers that flag, then extra columns "
                         "such as duplicate_group. CSV or Parquet, chosen by the extension of --out.", OUTPUTS),
        epilog="examples:\n"
               "  workbench score data.csv --label species --out scores.csv\n"
               "  workbench score data.parquet --label y --id row_id --scorers el2n,knn_density,label_noise "
               "--folds 5 --seed 0 --out scores.parquet\n"
               "  workbench score images/ --scorers all --out scores.csv")
    p.add_argument("--scorers", default="default", metavar="A,B",
                   help="comma-separated scorer names, 'default' (the cheap set) or 'all'; see `workbench scorers`")
    p.add_argument("--out", required=True, metavar="FILE", help="output .csv or .parquet")
    p.add_argument("--search", default="auto", metavar="METHOD",
                   help="how the approximate neighbour graph is found (above 20,000 rows): 'auto' (the default: "
                        "chosen by row count), 'ivf' or 'hnsw' on one machine, 'ivf' or 'nndescent' on partitioned "
                        "data; the scorer records say which was used, with its measured recall")
    cluster_options(p)


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


def run(args) -> int:
    if partitioned.wanted(args):
        return partitioned.run_score(args)
    steps.check_data_options(args)
    LargeData(search=args.search)  # an unknown --search: one line naming the choices, before any work
    out = support.check_output(args.out, option="--out", inputs=[("DATA", args.data)])
    names = support.resolve_scorer_names(args.scorers)
    ds = steps.load_data(args)
    bar = steps.progress(args)
    try:
        scores = steps.compute(ds, names, args, bar)
    finally:
        steps.close(bar)
    write_table(score_table(ds, scores, names), out)
    steps.say(args, f"Scored {ds.n_samples} rows with {len(names)} scorer(s) ({', '.join(names)}); wrote {out}.")
    return 0
