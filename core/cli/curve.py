"""``workbench curve``: cross-validated accuracy against the keep fraction, per strategy, beside random."""

from __future__ import annotations

from core import workflows
from core.cli import steps, support
from core.cli.options import OUTPUTS, strategy_help, wrap
from core.outputs import write_table

NAME = "curve"
CURVE_COLUMNS = ["strategy", "keep_fraction", "n_kept", "accuracy_mean", "accuracy_std", "leak_free"]

__all__ = ["NAME", "add_parsers", "run", "CURVE_COLUMNS"]


def add_parsers(sub, *, common, data, formatter) -> None:
    p = sub.add_parser(
        NAME, parents=[data, common], formatter_class=formatter, help="accuracy vs keep fraction per strategy",
        description=wrap("Sweep keep fractions per strategy and write a tidy table: strategy, keep_fraction, "
                         "n_kept, accuracy_mean, accuracy_std (cross-validated; random is always included as "
                         "the baseline).", OUTPUTS),
        epilog="examples:\n"
               "  workbench curve data.csv --label y --strategies el2n,ccs:el2n --out curve.csv\n"
               "  workbench curve data.csv --label y --strategies 'ccs:el2n:beta=0.2;scorecard:el2n=2,margin=1' "
               "--keep 0.1,0.3,0.5 --seeds 3 --out curve.csv\n"
               "strategies are comma-separated; use ';' when one of them contains a comma.\n\n" + strategy_help())
    p.add_argument("--strategies", required=True, metavar="S1,S2",
                   help="strategy strings (see `workbench select --help`)")
    p.add_argument("--keep", default="0.1,0.2,0.3,0.5,0.7,0.9", metavar="F1,F2",
                   help="keep fractions in (0, 1] (default: 0.1,0.2,0.3,0.5,0.7,0.9)")
    p.add_argument("--seeds", default=3, metavar="R", help="seeds averaged for random choices (default: 3)")
    p.add_argument("--scores", default=None, metavar="FILE",
                   help="reuse scores written by `workbench score` on this data")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="output .csv (or .parquet)")


def run(args) -> int:
    steps.check_data_options(args)
    out = support.check_output(args.out, option="--out", inputs=[("DATA", args.data), ("--scores", args.scores)])
    keeps = support.parse_fractions(args.keep)
    seeds = support.parse_positive_int(args.seeds, "--seeds")
    strategies = support.split_strategies(args.strategies)
    defaults = steps.default_scorers()
    names: list = []
    for strategy in strategies:
        names += support.check_strategy(strategy, defaults, budget=False)
    names = list(dict.fromkeys(names))
    ds = steps.load_data(args)
    bar = steps.progress(args)
    try:
        scores = steps.reuse_scores(args.scores, ds) if args.scores else steps.compute(ds, names, args, bar)
        curve = workflows.pruning_curve(ds, scores, strategies, keeps, seeds=seeds, folds=args.folds,
                                        seed=args.seed, progress=bar)
    finally:
        steps.close(bar)
    # random first, then the strategies as given
    table = curve[[c for c in CURVE_COLUMNS if c in curve.columns]].reset_index(drop=True)
    write_table(table, out)
    steps.say(args, f"Pruning curve of {len(table['strategy'].unique())} strategies x {len(keeps)} keep fractions "
                    f"({seeds} seed(s), {args.folds}-fold CV); wrote {out}.")
    return 0
