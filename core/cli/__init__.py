"""The `workbench` command line: one parser, a dispatch table of commands, one error contract."""

import sys

INTERRUPTED_LINE = "\nworkbench: interrupted; no output was written."


def main(argv=None) -> int:
    """Run the CLI (:func:`core.cli.program.main`); a Ctrl-C while its modules load is the same one line."""
    try:
        from core.cli.program import main as run
    except KeyboardInterrupt:  # the first second of a run imports the library
        print(INTERRUPTED_LINE, file=sys.stderr)
        return 130
    return run(argv)


def entry() -> int:
    """The ``workbench`` console script: :func:`main`, then Ctrl-C ignored while the interpreter shuts down (the
    outputs are complete by then; an interrupt there would exit 130 with no message over finished work)."""
    import signal

    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


__all__ = ["main", "entry"]
