"""Run the `workbench` command line as a user would, and fingerprint files it must not touch.

:func:`run_main` calls ``core.cli.main(argv)`` in this process (stdout and stderr captured, the
environment and working folder set for the call): the error contract is all in ``main``, so it is
checked there without paying a new Python per case. :func:`run_cli` starts ``python -m core.cli`` in a
subprocess, for the few smoke tests of the real console entry (exit code, nothing written, signals).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    """What a run printed and returned, with the field names of :class:`subprocess.CompletedProcess`."""

    args: list
    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(env: dict):
    saved = {key: os.environ.get(key) for key in [*env, "WORKBENCH_PROGRESS"]}
    os.environ.pop("WORKBENCH_PROGRESS", None)
    os.environ.update({key: str(value) for key, value in env.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_main(*args, cwd=None, env=None) -> CliResult:
    """``core.cli.main(ARGS)`` in this process, from the repository root, without a forced progress bar."""
    from core.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    with _environment(env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        os.chdir(cwd or ROOT)
        try:
            code = main(argv)
        finally:
            os.chdir(previous)
    return CliResult(argv, code, out.getvalue(), err.getvalue())


def run_cli(*args, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    """``python -m core.cli ARGS`` in a subprocess from the repository root, without a forced progress bar."""
    environment = {k: v for k, v in os.environ.items() if k != "WORKBENCH_PROGRESS"}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "core.cli", *map(str, args)], cwd=cwd or ROOT, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def digest(path: Path) -> str:
    """SHA-256 of a file, or of every file under a folder (to prove inputs were not changed)."""
    if path.is_dir():
        return hashlib.sha256(b"".join(sorted(p.read_bytes() for p in path.rglob("*") if p.is_file()))).hexdigest()
    if not path.is_file():
        return "not a regular file"
    return hashlib.sha256(path.read_bytes()).hexdigest()
