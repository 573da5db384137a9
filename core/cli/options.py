"""The parser pieces every ``workbench`` command shares: the one-line usage error, the help layout,
the parent parsers of the output and data options, large-data options and the strategy list.

Each command module (:mod:`core.cli.program` lists them) builds its own sub-parser from these.
"""

from __future__ import annotations

import argparse
import textwrap

from core.selection import aliases, strategy_kinds

OUTPUTS = ("Outputs are written to a temporary file and renamed into place, so a failure leaves no partial "
           "file; missing output folders are created; an output equal to an input is refused.")

FORMULA_HELP = ("CSV/TSV for spreadsheets: prefix text cells that start with = + - @ (and are not plain numbers) "
                "with ' so a spreadsheet shows them instead of running them as formulas; without it such cells "
                "are written unchanged, with a warning")

__all__ = ["UsageError", "Parser", "wrap", "formatter", "common_options", "data_options", "cluster_options",
           "strategy_help", "OUTPUTS", "FORMULA_HELP"]


class UsageError(Exception):
    """An argparse usage error, turned into the one-line error contract by :func:`core.cli.main`."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the usage block and exit
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def wrap(*paragraphs: str) -> str:
    """Descriptions wrapped to the help width (the raw formatter keeps the examples' layout)."""
    return "\n\n".join(textwrap.fill(p, width=98) for p in paragraphs)


def formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=34, width=100)


def common_options() -> argparse.ArgumentParser:
    parent = Parser(add_help=False)
    group = parent.add_argument_group("output and diagnostics")
    group.add_argument("--quiet", "-q", action="store_true",
                       help="no progress bar and no summary on stdout (warnings and errors still go to stderr)")
    group.add_argument("--debug", action="store_true", help="show tracebacks and library warnings")
    return parent


def data_options() -> argparse.ArgumentParser:
    parent = Parser(add_help=False)
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


def cluster_options(p) -> None:
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
