"""On-disk cache of expensive results (scores, maps, curves), keyed by data fingerprint.

The location is ``$WORKBENCH_CACHE_DIR`` when set, else ``~/.cache/data-pruning-workbench``.
Writes go to a temporary file that is renamed into place, so a crash never leaves a torn entry,
and an unreadable entry is treated as a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Optional

_ENV = "WORKBENCH_CACHE_DIR"


def cache_dir() -> Path:
    """The cache folder (created on first use)."""
    root = os.environ.get(_ENV) or os.path.join(Path.home(), ".cache", "data-pruning-workbench")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(*parts: Any) -> str:
    """A stable hex key from JSON-able parts (fingerprint, name, parameters, seed...)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _path(kind: str, key: str) -> Path:
    folder = cache_dir() / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key}.pkl"


def load(kind: str, key: str) -> Optional[Any]:
    """The cached object, or None on a miss (or an unreadable entry)."""
    path = _path(kind, key)
    if not path.exists():
        return None
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except Exception:  # a torn or stale entry is a miss, never an error for the user
        return None


def save(kind: str, key: str, value: Any) -> None:
    """Store ``value`` atomically. Failing to cache never fails the computation."""
    path = _path(kind, key)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass


def clear(kind: Optional[str] = None) -> None:
    """Remove cached entries (all, or one kind)."""
    root = cache_dir()
    folders = [root / kind] if kind else [p for p in root.iterdir() if p.is_dir()]
    for folder in folders:
        for entry in folder.glob("*.pkl"):
            entry.unlink(missing_ok=True)
