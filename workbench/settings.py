"""Operator settings: read from the environment once, when the app process starts; never written.

``WORKBENCH_SERVER_MODE=1``
    The app is served to others (``workbench app --server`` sets it). Off in server mode: Data >
    Local path and Data > Scored partitions (reading or listing files of the server), Export >
    Write to a folder and Export > Write the selection for the full data, and the cache settings. Uploads stay, bounded by ``server.maxUploadSize`` in
    ``.streamlit/config.toml`` (megabytes).
``WORKBENCH_UMAP``
    When the UMAP map starts: ``load`` (as soon as data load, the default), ``map`` (when the Map
    page opens) or ``off``.
``WORKBENCH_PRELOAD``
    The bundled sample offered on first open (``known_answer``); empty for none.
``WORKBENCH_CACHE_DIR``
    The disk cache folder (read by ``core``); shown in local mode, never changed by a session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Operator:
    server_mode: bool
    umap: str
    preload: str
    cache_dir: str


@lru_cache(maxsize=1)
def operator() -> Operator:
    """The settings of this app process (read once; tests call ``operator.cache_clear()``)."""
    umap = os.environ.get("WORKBENCH_UMAP", "load").strip().lower()
    return Operator(
        server_mode=os.environ.get("WORKBENCH_SERVER_MODE", "").strip().lower() in TRUE,
        umap=umap if umap in ("load", "map", "off") else "load",
        preload=os.environ.get("WORKBENCH_PRELOAD", "known_answer").strip(),
        cache_dir=os.environ.get("WORKBENCH_CACHE_DIR", "").strip(),
    )


def server_mode() -> bool:
    return operator().server_mode


def local_files_allowed() -> bool:
    """Whether a visitor may read or write files of this machine by path (local mode only)."""
    return not operator().server_mode
