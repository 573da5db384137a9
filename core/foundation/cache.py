"""On-disk cache of expensive results (scores, maps, curves), keyed by data fingerprint.

The location is ``$WORKBENCH_CACHE_DIR`` when set, else ``~/.cache/data-pruning-workbench``.

Safe to share and safe to lose:

* Entries are stored in formats that cannot execute code when read: NumPy arrays as NPZ (read
  with ``allow_pickle=False``), tables as Parquet, small values as JSON. Nothing is pickled, so a
  cache folder someone else can write to can at worst make the workbench recompute.
* Every entry ``<key>.<ext>`` has a sidecar ``<key>.<ext>.sha256`` holding the SHA-256 of the
  payload (and of the entry's small JSON metadata). An entry that does not verify (flipped bytes,
  a torn or foreign file) is a miss: the value is recomputed and stored again.
* Writes go to a temporary file that is renamed into place; failing to cache never fails the
  computation. A cache folder that cannot be used (it is a file, or not writable) turns the disk
  cache off for the process with one :class:`CacheWarning`.

What can be stored (:func:`save`): a NumPy array (not of dtype object), a DataFrame with string
column names, a JSON-able value, or a dataclass whose fields are arrays, ``None``, scalars,
strings or dicts of arrays (``ScoreResult``, ``NeighborGraph``, ``OutOfFold``,
``DynamicsRecords``). A dataclass comes back only through ``load(kind, key, cls=ThatClass)``:
the caller names the class, the file never does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np

from core.foundation.errors import ConfigError, WorkbenchWarning

_ENV = "WORKBENCH_CACHE_DIR"
#: Bump when the entry layout changes; older entries are then misses.
FORMAT_VERSION = 2
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")
_SUFFIXES = (".npz", ".parquet", ".json")
_warned: set = set()
_warn_lock = threading.Lock()


class CacheWarning(WorkbenchWarning):
    """The disk cache is off for this process (its folder cannot be used)."""


def _configured_root() -> Path:
    return Path(os.environ.get(_ENV) or os.path.join(Path.home(), ".cache", "data-pruning-workbench")).expanduser()


def _prepare(root: Path) -> Optional[str]:
    """Create ``root``; the reason it cannot be used, or None when it can."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return "it exists and is not a folder"
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if not root.is_dir():
        return "it is not a folder"
    if not os.access(root, os.W_OK | os.X_OK):
        return "it is not writable"
    return None


def cache_dir() -> Path:
    """The cache folder (created on first use).

    Raises
    ------
    ConfigError
        When the folder cannot be created or written (the message says how to fix it).
    """
    root = _configured_root()
    reason = _prepare(root)
    if reason:
        raise ConfigError(f"The cache folder {root} cannot be used ({reason}). "
                          f"Set {_ENV} to a writable folder.")
    return root


def usable_dir() -> Optional[Path]:
    """The cache folder, or None (with one :class:`CacheWarning` per folder) when it cannot be used."""
    root = _configured_root()
    reason = _prepare(root)
    if reason is None:
        return root
    with _warn_lock:
        first = str(root) not in _warned
        _warned.add(str(root))
    if first:
        warnings.warn(f"the cache folder {root} cannot be used ({reason}); continuing without a disk cache "
                      f"(set {_ENV} to a writable folder to keep results between runs).", CacheWarning, stacklevel=3)
    return None


def cache_key(*parts: Any) -> str:
    """A stable hex key from JSON-able parts (fingerprint, name, parameters, seed...)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _folder(kind: str, key: str, create: bool) -> Optional[Path]:
    if not (_NAME.match(kind) and _NAME.match(key)):
        raise ValueError(f"cache kind and key must be plain names, not {kind!r}/{key!r}")
    root = usable_dir()
    if root is None:
        return None
    folder = root / kind
    if create:
        try:
            folder.mkdir(exist_ok=True)
        except OSError:
            return None
    return folder


# ------------------------------------------------------------------------------------------ codecs
def _encode(value: Any) -> Optional[tuple[str, bytes, dict]]:
    """(suffix, payload, meta) for a storable value, or None when it cannot be stored safely."""
    import pandas as pd

    if isinstance(value, np.ndarray):
        payload = _npz_bytes({"array": value})
        return None if payload is None else (".npz", payload, {"type": "array"})
    if isinstance(value, pd.DataFrame):
        return _encode_frame(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_record(value)
    try:
        text = json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return ".json", text.encode("utf-8"), {"type": "json"}


def _npz_bytes(arrays: dict) -> Optional[bytes]:
    buffer = io.BytesIO()
    try:
        np.savez(buffer, allow_pickle=False, **arrays)
    except (ValueError, TypeError):  # object arrays would need pickle: not cached
        return None
    return buffer.getvalue()


def _encode_frame(frame) -> Optional[tuple[str, bytes, dict]]:
    if not all(isinstance(c, str) for c in frame.columns):
        return None
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=True)
    except Exception:  # pyarrow refuses mixed object columns in many ways: not cached
        return None
    meta = {"type": "frame", "index_object": frame.index.dtype == object,
            "object_columns": [c for c in frame.columns if frame[c].dtype == object]}
    return ".parquet", buffer.getvalue(), meta


def _encode_record(record) -> Optional[tuple[str, bytes, dict]]:
    arrays, fields = {}, {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if isinstance(value, np.ndarray):
            arrays[field.name], fields[field.name] = value, "array"
        elif isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in value.items()):
            fields[field.name] = {"dict": sorted(value)}
            arrays.update({f"{field.name}.{k}": v for k, v in value.items()})
        elif value is None or isinstance(value, (bool, int, float, str, np.generic)):
            fields[field.name] = {"value": value.item() if hasattr(value, "item") else value}
        else:
            return None
    payload = _npz_bytes(arrays)
    if payload is None:
        return None
    return ".npz", payload, {"type": "record", "class": type(record).__name__, "fields": fields}


def _decode(payload: bytes, meta: dict, cls: Optional[type]) -> Any:
    kind = meta.get("type")
    if kind == "json":
        return json.loads(payload.decode("utf-8"))
    if kind == "frame":
        return _decode_frame(payload, meta)
    with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if kind == "array":
        return arrays["array"]
    if kind == "record" and cls is not None and meta.get("class") == cls.__name__:
        return _decode_record(arrays, meta["fields"], cls)
    return None


def _decode_frame(payload: bytes, meta: dict):
    import pandas as pd

    frame = pd.read_parquet(io.BytesIO(payload))
    if meta.get("index_object"):
        frame.index = frame.index.astype(object)
    for column in meta.get("object_columns", []):
        frame[column] = frame[column].astype(object)
    return frame


def _decode_record(arrays: dict, fields: dict, cls: type):
    if sorted(fields) != sorted(f.name for f in dataclasses.fields(cls)):
        return None  # the class changed since the entry was written
    values = {}
    for name, spec in fields.items():
        if spec == "array":
            values[name] = arrays[name]
        elif "dict" in spec:
            values[name] = {k: arrays[f"{name}.{k}"] for k in spec["dict"]}
        else:
            values[name] = spec["value"]
    return cls(**values)


# ------------------------------------------------------------------------------------ load / save
def _digest(payload: bytes, meta: dict) -> str:
    text = json.dumps(meta, sort_keys=True)
    return hashlib.sha256(payload + b"\0" + text.encode("utf-8")).hexdigest()


def _read_entry(folder: Path, key: str) -> Optional[tuple[bytes, dict]]:
    for suffix in _SUFFIXES:
        path = folder / f"{key}{suffix}"
        try:
            sidecar = json.loads((folder / f"{key}{suffix}.sha256").read_text("utf-8"))
            payload = path.read_bytes()
        except (OSError, ValueError):
            continue
        if not isinstance(sidecar, dict) or not isinstance(sidecar.get("meta"), dict):
            continue
        meta = sidecar["meta"]
        if sidecar.get("version") == FORMAT_VERSION and sidecar.get("sha256") == _digest(payload, meta):
            return payload, meta
    return None


def load(kind: str, key: str, cls: Optional[type] = None) -> Optional[Any]:
    """The cached value, or None on a miss (absent, unverifiable, unreadable, or cache off).

    Parameters
    ----------
    kind, key : str
        Plain names (letters, digits, ``_ - .``); ``key`` usually comes from :func:`cache_key`.
    cls : dataclass type, optional
        Needed to read back a dataclass record; the entry must have been saved from this class.
    """
    folder = _folder(kind, key, create=False)
    if folder is None:
        return None
    entry = _read_entry(folder, key)
    if entry is None:
        return None
    try:
        return _decode(*entry, cls)
    except Exception:  # a verified but undecodable entry (e.g. written by a newer version) is a miss
        return None


def contains(kind: str, key: str) -> bool:
    """Whether an entry seems stored (its files exist; not verified: :func:`load` verifies). Cheap."""
    folder = _folder(kind, key, create=False)
    return folder is not None and any((folder / f"{key}{suffix}.sha256").exists() for suffix in _SUFFIXES)


def save(kind: str, key: str, value: Any) -> bool:
    """Store ``value`` atomically; True when stored. Failing to cache never fails the computation."""
    encoded = _encode(value)
    folder = _folder(kind, key, create=True) if encoded is not None else None
    if folder is None:
        return False
    suffix, payload, meta = encoded
    sidecar = json.dumps({"version": FORMAT_VERSION, "sha256": _digest(payload, meta), "meta": meta})
    try:
        for other in _SUFFIXES:  # one format per key: a stale entry of another type must not win
            if other != suffix:
                (folder / f"{key}{other}.sha256").unlink(missing_ok=True)
        _write_atomic(folder / f"{key}{suffix}", payload)
        _write_atomic(folder / f"{key}{suffix}.sha256", sidecar.encode("utf-8"))
    except OSError:
        return False
    return True


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def clear(kind: Optional[str] = None) -> None:
    """Remove cached entries (all, or one kind); does nothing when the cache is off."""
    root = usable_dir()
    if root is None:
        return
    folders = [root / kind] if kind else [p for p in root.iterdir() if p.is_dir() and p.name != "uploads"]
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.is_file() and (entry.name.endswith(_SUFFIXES + (".sha256", ".part", ".pkl"))):
                entry.unlink(missing_ok=True)
