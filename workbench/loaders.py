"""Loading data for the Data page: uploads saved to disk, raw previews for column choices."""

from __future__ import annotations

import hashlib
import re
import tempfile
import threading
from pathlib import Path
from typing import Optional

import pandas as pd
import streamlit as st

import core
from core.data import TABLE_SUFFIXES, read_path
from core.foundation import process_folder

FEATURIZERS = ["auto", "tabular", "text", "embedding", "image"]
TEXT_METHODS = ["auto", "minilm", "tfidf"]
UPLOAD_TYPES = ["csv", "tsv", "txt", "parquet", "pq", "npz", "zip"]
#: The Encoding box of a text table: "auto" (UTF-8 or its byte-order mark, else Windows-1252 with a note), then
#: the codecs tables most often come in. Offered as a list: a visitor names no codec the server would look up.
ENCODINGS = ["auto", "utf-8", "cp1252", "latin-1", "utf-16-le", "utf-16-be", "iso-8859-2", "cp1250", "cp1251",
             "koi8-r", "shift_jis", "euc-jp", "gb18030", "big5", "euc-kr", "cp1256", "iso-8859-7"]


def upload_limit_mb() -> int:
    """The upload bound in megabytes: ``server.maxUploadSize`` in ``.streamlit/config.toml``."""
    return int(st.get_option("server.maxUploadSize"))


_UPLOADS: dict = {}
_UPLOADS_LOCK = threading.Lock()


def _uploads_folder() -> Path:
    """This server process's folder for uploads, made on first use and removed when the process exits:
    a visitor's data does not outlive the server that received it."""
    with _UPLOADS_LOCK:
        if "path" not in _UPLOADS:
            _UPLOADS["path"] = process_folder("workbench-uploads-")
        return _UPLOADS["path"]


def save_upload(uploaded) -> Path:
    """Write an uploaded file into this server's uploads folder (by content hash) so loaders can read a path.

    The data set keeps pointing at this copy while the server runs; manifests record its file name as
    the source.
    """
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = _uploads_folder() / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / upload_file_name(uploaded.name)
    if not path.exists() or path.stat().st_size != len(data):
        path.write_bytes(data)
    return path


_SERVER_PATH = re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + r"/(?:[^\s'\"]*/)?([^/\s'\"]+)")


def hide_server_paths(text: str) -> str:
    """``text`` with this server's temporary paths (uploads, unpacked archives) cut to their last part: a
    message about an upload names the file, not where the server keeps it."""
    return _SERVER_PATH.sub(r"\1", str(text))


#: The longest upload file name kept (bytes of UTF-8): file systems refuse names over 255 bytes.
NAME_BYTES = 120


def upload_file_name(name: str) -> str:
    """The uploaded file's own name, as a name this server can write: its folder parts dropped and a stem
    too long for the file system shortened (its extension, which decides how it is read, kept)."""
    path = Path(Path(str(name)).name or "upload")
    suffixes = "".join(path.suffixes[-2:]) if len("".join(path.suffixes[-2:])) <= 16 else path.suffix[:16]
    stem = path.name[: len(path.name) - len(suffixes)] if suffixes else path.name
    while len((stem + suffixes).encode("utf-8")) > NAME_BYTES:
        stem = stem[:-1]
    return (stem or "upload") + suffixes


@st.cache_resource(show_spinner=False, max_entries=4)
def _raw(path: str, mtime: float, encoding: Optional[str]):
    return read_path(path, encoding=encoding)


def is_text_table(path: Path) -> bool:
    """Whether ``path`` is read as a text table, whose encoding the user may have to name."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def raw_preview(path: Path, encoding: Optional[str] = None):
    """What the reader finds in ``path`` (table, implied label/id columns), cached by mtime and encoding."""
    path = Path(path).expanduser()
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _raw(str(path), mtime, encoding)


@st.cache_resource(show_spinner=False, max_entries=6)
def _load(path: str, mtime: float, options_key: str, options: dict):
    return core.load_dataset(path, **options)


def load(path: Path, options: dict):
    """``core.load_dataset`` on a path, cached by path, modification time and options."""
    path = Path(path).expanduser()
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _load(str(path), mtime, repr(sorted(options.items())), options)


@st.cache_resource(show_spinner=False, max_entries=8)
def _sample(name: str, options_key: str, options: dict):
    return core.load_sample(name, **options)


def load_sample(name: str, options: Optional[dict] = None):
    """A bundled sample with optional featurizer options (cached per server process)."""
    options = options or {}
    return _sample(name, repr(sorted(options.items())), options)


def guess_label(frame: pd.DataFrame, hint: Optional[str]) -> str:
    columns = list(frame.columns)
    for candidate in (hint, "label", "labels", "target", "class", "y", "species", "category"):
        if candidate in columns:
            return candidate
    return columns[-1]


def guess_id(frame: pd.DataFrame, hint: Optional[str]) -> Optional[str]:
    columns = list(frame.columns)
    for candidate in (hint, "id", "ID", "Id", "row_id", "uid"):
        if candidate in columns:
            return candidate
    return None
