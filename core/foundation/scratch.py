"""Temporary folders that live as long as the process that made them.

One rule for every such folder (the app's uploads and map files, a test run's cache, a benchmark's cold
cache): made empty with :func:`tempfile.mkdtemp`, removed when the process exits, and only by that process
(a forked child that runs exit handlers, as multiprocessing's may, leaves it alone).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path


def process_folder(prefix: str) -> Path:
    """A new empty folder under the temporary directory, removed when this process exits."""
    folder, owner = Path(tempfile.mkdtemp(prefix=prefix)), os.getpid()

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
    return folder
