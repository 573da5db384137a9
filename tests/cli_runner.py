"""Run the `workbench` command line in a subprocess, as a user would, and fingerprint files it must not touch."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    """``python -m core.cli ARGS`` from the repository root, without a forced progress bar."""
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
