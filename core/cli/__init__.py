"""The `workbench` command line: one parser, a dispatch table of commands, one error contract."""

import os
import signal
import sys

INTERRUPTED_LINE = "\nworkbench: interrupted; no output was written."


def _interrupted_while_loading(kind, value, trace, previous=sys.excepthook):
    """A Ctrl-C during the first second of a run (the library loading): the CLI's one line, exit 130."""
    if issubclass(kind, KeyboardInterrupt):
        print(INTERRUPTED_LINE, file=sys.stderr, flush=True)
        os._exit(130)
    previous(kind, value, trace)


_hook, sys.excepthook = sys.excepthook, _interrupted_while_loading
from core.cli.program import main  # noqa: E402  (loads the library; the hook stays only if this is interrupted)

sys.excepthook = _hook


def entry() -> int:
    """The ``workbench`` console script: :func:`main`, then Ctrl-C ignored while the interpreter shuts down (the
    outputs are complete by then; an interrupt there would exit 130 with no message over finished work)."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


__all__ = ["main", "entry"]
