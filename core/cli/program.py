"""The ``workbench`` command line: the workbench's operations headless, for scripts and pipelines.

    workbench scorers [--json]
    workbench score  DATA --label COL [--id COL] [--scorers a,b|default|all] [--folds K] [--seed N] --out FILE
    workbench curve  DATA --label COL [--id COL] --strategies S1,S2 [--keep 0.1,0.3,...] [--seeds R] --out FILE.csv
    workbench select DATA --label COL [--id COL] --strategy S (--keep F | --threshold T) [--seed N]
                          --out FILE --manifest FILE.json
    workbench apply  MANIFEST.json DATA --out FILE
    workbench columns DATA --label COL [--method M] [--keep-columns N] --out CURVE.csv [--cut CUT.json]
    workbench value-model fit DATA --label COL (--target SCORE | --selection MANIFEST.json) --out MODEL.json
    workbench value-model apply MODEL.json NEW (--keep F | --threshold T) [--strategy S] --out FILE
    workbench app

Error contract: a mistake the user can fix prints one line ``workbench: error: ...`` on stderr
and exits with code 2, without a traceback; no output file is left behind (outputs are written
to a temporary file and renamed), and the input is never overwritten. A bug in the workbench
prints one ``internal error`` line and exits with 1 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import errno
import sys
import textwrap
import traceback
import warnings
from typing import Optional, Sequence

from core import __version__
from core.cli import columns, commands, value_model
from core.foundation import WorkbenchError, WorkbenchWarning
from core.scorers import METADATA_KEYS
from core.selection import aliases, strategy_kinds

EXIT_USAGE = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130

_OUTPUTS = ("Outputs are written to a temporary file and renamed into place, so a failure leaves no partial "
            "file; missing output folders are created; an output equal to an input is refused.")


_FORMULA_HELP = ("CSV/TSV for spreadsheets: prefix text cells that start with = + - @ (and are not plain numbers) "
                 "with ' so a spreadsheet shows them instead of running them as formulas; without it such cells "
                 "are written unchanged, with a warning")


class UsageError(Exception):
    """An argparse usage error, turned into the one-line error contract by :func:`main`."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the usage block and exit
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _wrap(*paragraphs: str) -> str:
    """Descriptions wrapped to the help width (the raw formatter keeps the examples' layout)."""
    return "\n\n".join(textwrap.fill(p, width=98) for p in paragraphs)


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=34, width=100)


def _common() -> argparse.ArgumentParser:
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("output and diagnostics")
    group.add_argument("--quiet", "-q", action="store_true",
                       help="no progress bar and no summary on stdout (warnings and errors still go to stderr)")
    group.add_argument("--debug", action="store_true", help="show tracebacks and library warnings")
    return parent


def _data_options() -> argparse.ArgumentParser:
    parent = _Parser(add_help=False)
    parent.add_argument("data", metavar="DATA",
                        help="CSV/TSV (delimiter sniffed), Parquet, NPZ (X, y), an image folder with class "
                             "subfolders (or a .zip of one), or a CSV with a text column")
    group = parent.add_argument_group("data")
    group.add_argument("--label", default="label", metavar="COL",
                       help="label column (default: label; NPZ and image folders carry their own)")
    group.add_argument("--id", default=None, metavar="COL", help="column of unique row ids (default: row numbers)")
    group.add_argument("--text", default=None, metavar="COL", help="free-text column to embed (default: detected)")
    group.add_argument("--features", default=None, metavar="A,B",
                       help="feature columns (default: every column except label and id)")
    group.add_argument("--max-dim", default="auto", metavar="D",
                       help="PCA for wide data: auto (default: 128 dimensions above 200 columns), D dimensions, "
                            "or 0 to keep every feature")
    group.add_argument("--drop-missing-labels", action="store_true",
                       help="drop rows with a blank label instead of refusing the data")
    group.add_argument("--encoding", default=None, metavar="ENC",
                       help="text encoding of a CSV/TSV (default: detected; UTF-8/16/32 with a byte-order mark, "
                            "UTF-8, else Windows-1252 with a warning), e.g. cp1252, latin-1, utf-16")
    group = parent.add_argument_group("cross-validation")
    group.add_argument("--folds", default=5, metavar="K", help="stratified folds for scores and estimates (default: 5)")
    group.add_argument("--seed", default=0, metavar="N", help="seed of every random choice (default: 0)")
    return parent


def _cluster_options(p) -> None:
    group = p.add_argument_group("large data (DATA a folder or glob of Parquet files; --out a folder)")
    group.add_argument("--cluster", default=None, metavar="ADDRESS",
                       help="attach to a running Dask scheduler (e.g. tcp://host:8786) and run partition by "
                            "partition; without it, a folder or glob of Parquet files runs on a local cluster")
    group.add_argument("--workers", default=2, metavar="N",
                       help="worker processes of the local cluster (default: 2; 0 runs the partitions in this process)")


def strategy_help() -> str:
    """The strategy kinds and their aliases, one line each, from the registry (``core.selection.strategy_kinds()``)."""
    rows = [(kind.syntax, kind.title) for kind in strategy_kinds()]
    rows += [(alias, f"the same as {target}") for alias, target in aliases().items()]
    width = max(len(syntax) for syntax, _ in rows)
    return "strategies:\n" + "\n".join(f"  {syntax:<{width}}  {title}" for syntax, title in rows)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="workbench", formatter_class=_formatter,
                     description=_wrap("Data pruning workbench: score a labelled data set, compare pruning "
                                       "strategies with honest cross-validation, select and export a subset "
                                       "with a manifest."),
                     epilog="Run `workbench COMMAND --help` for options and examples of each command.")
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common, data = _common(), _data_options()

    p = sub.add_parser("scorers", parents=[common], formatter_class=_formatter, help="list the scorers",
                       description="List the registered scorers with their metadata.",
                       epilog="examples:\n  workbench scorers\n  workbench scorers --json | jq '.[].name'")
    p.add_argument("--json", action="store_true",
                   help=f"print a JSON list of objects ({', '.join(METADATA_KEYS)})")

    p = sub.add_parser("samples", parents=[common], formatter_class=_formatter,
                       help="list the bundled sample data sets",
                       description="List the bundled sample data sets with their paths and label columns.",
                       epilog="example:\n  workbench samples --json")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser(
        "score", parents=[data, common], formatter_class=_formatter, help="score every row with scorers",
        description=_wrap("Score every row. Writes one row per input row: id, label, one column per scorer "
                          "named exactly as the scorer, <name>_flag for scorers that flag, then extra columns "
                          "such as duplicate_group. CSV or Parquet, chosen by the extension of --out.", _OUTPUTS),
        epilog="examples:\n"
               "  workbench score data.csv --label species --out scores.csv\n"
               "  workbench score data.parquet --label y --id row_id --scorers el2n,knn_density,label_noise "
               "--folds 5 --seed 0 --out scores.parquet\n"
               "  workbench score images/ --scorers all --out scores.csv")
    p.add_argument("--scorers", default="default", metavar="A,B",
                   help="comma-separated scorer names, 'default' (the cheap set) or 'all'; see `workbench scorers`")
    p.add_argument("--out", required=True, metavar="FILE", help="output .csv or .parquet")
    _cluster_options(p)

    p = sub.add_parser(
        "curve", parents=[data, common], formatter_class=_formatter, help="accuracy vs keep fraction per strategy",
        description=_wrap("Sweep keep fractions per strategy and write a tidy table: strategy, keep_fraction, "
                          "n_kept, accuracy_mean, accuracy_std (cross-validated; random is always included as "
                          "the baseline).", _OUTPUTS),
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

    p = sub.add_parser(
        "select", parents=[data, common], formatter_class=_formatter,
        help="select a subset and write it with a manifest",
        description=_wrap(
            "Select the rows to keep and write them with all original columns in their original order, plus a "
            "JSON manifest (kept ids, data fingerprint, strategy and parameters, scorers, seed, package versions, "
            "timestamp, and the CV estimate against the full data and random subsets of the same size) that "
            "`workbench apply` re-applies exactly. The scorers the strategy needs are computed (or read from "
            "--scores).", _OUTPUTS) + "\n\n" + strategy_help(),
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
    p.add_argument("--formula-safe", action="store_true", help=_FORMULA_HELP)
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
    _cluster_options(p)

    p = sub.add_parser(
        "apply", parents=[common], formatter_class=_formatter, help="re-apply a manifest to data",
        description=_wrap(
            "Re-apply a manifest: write the same kept ids, in the same order, with all original columns. The "
            "data are loaded with the options recorded in the manifest. When their fingerprint differs from the "
            "manifest's, apply refuses (exit code 2) and says what differs, unless --force.", _OUTPUTS),
        epilog=_wrap("--force: keep the rows whose ids are in the manifest (matched by id, in the manifest's "
                     "order); manifest ids missing from the data are skipped and listed in a warning on stderr. "
                     "It is still an error when none of the ids is present.")
        + "\n\nexample:\n  workbench apply manifest.json data.csv --out kept.csv")
    p.add_argument("manifest", metavar="MANIFEST.json", help="manifest written by `workbench select`")
    p.add_argument("data", metavar="DATA", help="the data to apply it to")
    p.add_argument("--out", required=True, metavar="FILE", help="kept rows, .csv or .parquet")
    p.add_argument("--force", action="store_true", help="apply by id even when the data differ (see below)")
    p.add_argument("--formula-safe", action="store_true", help=_FORMULA_HELP)
    p.add_argument("--scores", default=None, metavar="FOLDER",
                   help="partitioned manifests: the scores folder (default: the one the manifest records)")
    _cluster_options(p)

    p = sub.add_parser(
        "app", parents=[common], formatter_class=_formatter, help="launch the Streamlit app",
        description=_wrap("Launch the Streamlit app (streamlit run workbench/app.py). Options after `app` that "
                          "this command does not know are passed on to streamlit."),
        epilog="examples:\n  workbench app\n  workbench app --server.port 8600 --server.headless true")
    p.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    p.add_argument("--server", action="store_true",
                   help="server mode (WORKBENCH_SERVER_MODE=1): no local paths, folder writes or cache settings")
    for module in (columns, value_model):  # each owns its subcommand's options and run()
        module.add_parsers(sub, common=common, data=data, formatter=_formatter)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Workbench warnings (e.g. the disk cache is off) as one ``workbench: warning:`` line."""
    print(f"workbench: warning: {_one_line(message)}", file=sys.stderr, flush=True)


#: Operating-system failures the user can fix (disk full, read-only or forbidden place, name too long).
_USER_OS_ERRORS = {
    errno.ENOSPC: "the disk is full; free some space or write to another disk",
    errno.EDQUOT: "the disk quota is exceeded; free some space or write to another disk",
    errno.EROFS: "the file system is read-only; write somewhere else",
    errno.EACCES: "permission denied; check the file's permissions or write somewhere else",
    errno.EPERM: "the operation is not permitted; check the file's permissions or write somewhere else",
    errno.EFBIG: "the file is too large for this file system; write to another disk",
    errno.ENAMETOOLONG: "a file name is too long; choose a shorter path",
}


def _os_error_line(err: OSError) -> Optional[str]:
    """One line for an :class:`OSError` the user can fix, or None for any other."""
    advice = _USER_OS_ERRORS.get(err.errno)
    if advice is None:
        return None
    where = f" ({err.filename})" if err.filename else ""
    return f"{err.strerror or 'cannot write'}{where}: {advice}. Nothing was written."


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 internal error, 2 usage or data error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        if extra and args.command != "app":
            raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see `workbench {args.command} --help`)")
        with warnings.catch_warnings():
            if not debug:
                warnings.simplefilter("ignore")  # library chatter would break the one-line contract
            warnings.simplefilter("default", WorkbenchWarning)  # ...but what the user should know is shown once
            warnings.showwarning = _show_warning
            return _dispatch(args, extra)
    except UsageError as err:
        print(f"workbench: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except WorkbenchError as err:
        if debug:
            traceback.print_exc()
        print(f"workbench: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nworkbench: interrupted; no output was written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `workbench scorers | head`
        return 0
    except SystemExit as exit_:  # --help and --version
        return exit_.code if isinstance(exit_.code, int) else 0
    except MemoryError:
        print("workbench: error: out of memory; use a machine with more memory, fewer rows (or --max-dim), "
              "or fewer scorers.", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        line = _os_error_line(err)
        if line is None:
            return _internal(err, debug)
        if debug:
            traceback.print_exc()
        print(f"workbench: error: {_one_line(line)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:  # a bug: one line unless --debug
        return _internal(err, debug)


def _internal(err: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    detail = _one_line(f"{type(err).__name__}: {err}")[:300]
    print(f"workbench: internal error: {detail} (re-run with --debug for the traceback)", file=sys.stderr)
    return EXIT_INTERNAL


def _dispatch(args, extra: list) -> int:
    if args.command == "app":
        return commands.cmd_app(args, extra)
    return {
        "scorers": commands.cmd_scorers,
        "samples": commands.cmd_samples,
        "score": commands.cmd_score,
        "curve": commands.cmd_curve,
        "select": commands.cmd_select,
        "apply": commands.cmd_apply,
        "columns": columns.run,
        "value-model": value_model.run,
    }[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
