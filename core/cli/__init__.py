"""The `workbench` command line: one parser, a dispatch table of commands, one error contract."""

from core.cli.program import main

__all__ = ["main"]
