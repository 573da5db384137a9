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
import logging
import signal
import sys
import threading
import traceback
import warnings
from contextlib import contextmanager
from typing import Optional, Sequence

from core import __version__
from core.cli import INTERRUPTED_LINE, app, apply, columns, curve, samples, score, scorers, select, value_model
from core.cli.options import Parser, UsageError, common_options, data_options, formatter, wrap
from core.foundation import WorkbenchError, WorkbenchWarning

EXIT_USAGE = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130

#: Every subcommand, in the order ``workbench --help`` lists them. Each is a module with ``NAME``,
#: ``add_parsers(sub, *, common, data, formatter)`` and ``run(args) -> int``; one that sets
#: ``PASSES_ON_UNKNOWN`` receives the options it does not know as ``args.passed_on``.
COMMANDS = (scorers, samples, score, curve, select, apply, app, columns, value_model)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="workbench", formatter_class=formatter,
                    description=wrap("Data pruning workbench: score a labelled data set, compare pruning "
                                     "strategies with honest cross-validation, select and export a subset "
                                     "with a manifest."),
                    epilog="Run `workbench COMMAND --help` for options and examples of each command.")
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    common, data = common_options(), data_options()
    for command in COMMANDS:
        command.add_parsers(sub, common=common, data=data, formatter=formatter)
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


@contextmanager
def _quiet_interrupts():
    """A Ctrl-C during the command is one line: the first one also silences what Dask and asyncio print
    while a local cluster shuts down part-way (worker errors, unretrieved task exceptions, the cluster's
    exit handler), which are tracebacks the user did nothing to cause. Main thread, default handler only."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return

    def interrupted(signum, frame):
        for name in ("distributed", "asyncio", "tornado"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        sys.unraisablehook = lambda unraisable: None  # an exit handler's error after the interrupt
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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
        command = _command(args.command)
        if extra and not getattr(command, "PASSES_ON_UNKNOWN", False):
            raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see `workbench {args.command} --help`)")
        args.passed_on = extra
        with warnings.catch_warnings():
            if not debug:
                warnings.simplefilter("ignore")  # library chatter would break the one-line contract
            warnings.simplefilter("default", WorkbenchWarning)  # ...but what the user should know is shown once
            warnings.showwarning = _show_warning
            with _quiet_interrupts():
                return command.run(args)
    except UsageError as err:
        print(f"workbench: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except WorkbenchError as err:
        if debug:
            traceback.print_exc()
        print(f"workbench: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(INTERRUPTED_LINE, file=sys.stderr)
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


def _command(name: str):
    """The command module of a subcommand name."""
    return {command.NAME: command for command in COMMANDS}[name]


if __name__ == "__main__":
    sys.exit(main())
