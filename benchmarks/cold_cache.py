"""A cold cache folder for one benchmark run: created empty, removed when the process exits.

Benchmarks that must not hit an earlier run's cache point ``WORKBENCH_CACHE_DIR`` at a fresh folder; made
with :func:`tempfile.mkdtemp` alone, every run left its folder behind (34 MB for one ``honest.py`` run).
"""

from __future__ import annotations

import os

from core.foundation import process_folder


def cold_cache(prefix: str, *, set_env: bool = True, keep_given: bool = False) -> str:
    """A new empty folder, removed at exit; with ``set_env`` it becomes ``WORKBENCH_CACHE_DIR``.

    ``keep_given``: when ``WORKBENCH_CACHE_DIR`` is already set (the user chose a cache), use that folder
    and leave it alone.
    """
    given = os.environ.get("WORKBENCH_CACHE_DIR")
    if keep_given and given:
        return given
    folder = str(process_folder(prefix))
    if set_env:
        os.environ["WORKBENCH_CACHE_DIR"] = folder
    return folder
