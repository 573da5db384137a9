"""The Map page's scatter as a Streamlit component whose coordinates travel once.

``st.plotly_chart`` sends the whole figure on every rerun: at 200k points a threshold move would
resend several megabytes of coordinates to repaint a colour. Here the coordinates of a layout are
written once into the component's folder as a binary file (float32 x, y in draw order) and the
browser fetches it by name (and keeps it: the component server marks such files cacheable); every
render then carries only one colour code per point, packed to 1, 2, 4 or 8 bits. The page reads
events back (a lasso or box, a clicked point) and decides everything else in Python.

The points are drawn by the component's own few lines of WebGL (``map_component/map.js``), not by
plotly.js: in headless Chromium with software WebGL, parsing plotly.js took about 1 s and its
``scattergl`` first build and paint 2.5 s at 100k points, against well under a second for the whole
first draw here. The row ids of the drawn points (for hover) are a second file, fetched at the first hover.

The folder is a private temporary one per process, named by nothing a visitor types; coordinate
files are named by a digest of the data fingerprint, the layout and a per-process secret, so one
visitor cannot fetch another's map by guessing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from core.foundation import process_folder

_SOURCE = Path(__file__).with_name("map_component")
_SECRET = secrets.token_hex(16)
_KEEP_FILES = 24  # coordinate files kept in the folder (oldest removed first)
_LOCK = threading.Lock()
_STATE: dict = {}


def _folder() -> Path:
    """The component's served folder: the page and script, and the coordinate and id files."""
    with _LOCK:
        if "folder" not in _STATE:
            folder = process_folder("workbench-map-")
            for name in ("index.html", "map.js"):
                shutil.copyfile(_SOURCE / name, folder / name)
            _STATE["folder"] = folder
        return _STATE["folder"]


def _component():
    folder = _folder()
    with _LOCK:
        if "component" not in _STATE:
            import streamlit.components.v1 as components

            _STATE["component"] = components.declare_component("workbench_map", path=str(folder))
        return _STATE["component"]


def _name(prefix: str, suffix: str, tag: str) -> str:
    return prefix + hashlib.sha256(f"{_SECRET}:{prefix}:{tag}".encode()).hexdigest()[:24] + suffix


def _write_once(name: str, content) -> str:
    """Write ``content()`` (bytes) once under ``name`` in the served folder (atomically); the name."""
    folder = _folder()
    path = folder / name
    if not path.exists():
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(content())
        os.replace(temporary, path)
        prefix, suffix = name.split("-")[0] + "-", path.suffix
        files = sorted(folder.glob(f"{prefix}*{suffix}"), key=lambda p: p.stat().st_mtime)
        for old in files[:-_KEEP_FILES]:
            old.unlink(missing_ok=True)
    return name


def coordinates_file(coords: np.ndarray, order: np.ndarray, tag: str) -> str:
    """Write ``coords[order]`` (float32 x, y interleaved) once; the file's name in the served folder.

    ``tag`` names the layout (fingerprint, method, seed): the same tag gives the same file.
    """
    return _write_once(_name("xy-", ".bin", f"{tag}:{len(order)}"),
                       lambda: np.ascontiguousarray(np.asarray(coords, dtype=np.float32)[order]).tobytes())


ID_NUMBERS = b"F64-IDS\n"  # the ids file's first bytes when it holds float64 numbers (else it is a JSON list)


def ids_file(ids: np.ndarray, order: np.ndarray, tag: str) -> tuple[str, Callable[[], str]]:
    """(the name of the file holding the row ids of ``order`` in draw order; the function that writes it
    once). Whole-number ids are float64 after an 8-byte header (:data:`ID_NUMBERS`; exact below 2**53: 0.07 s
    at 200k rows); other ids a JSON list of text (about 0.3 s at 200k rows). Call the writer after
    :func:`draw`: the browser fetches the ids at the first hover only (and asks again if they are not
    there yet), so they never delay the first draw.
    """
    name = _name("ids-", ".bin", f"{tag}:{len(order)}")

    def content() -> bytes:
        shown = np.asarray(ids, dtype=object)[order]
        if len(shown) and pd.api.types.infer_dtype(shown, skipna=False) == "integer":
            numbers = np.asarray(shown, dtype=np.float64)
            if np.abs(numbers).max() < 2 ** 53:
                return ID_NUMBERS + numbers.tobytes()
        return json.dumps([str(v) for v in shown]).encode()

    return name, lambda: _write_once(name, content)


def pack_codes(codes: np.ndarray) -> tuple[str, int]:
    """(base64 text, bits per code): the codes packed 1, 2, 4 or 8 bits each, first code in the low bits."""
    codes = np.asarray(codes, dtype=np.uint8)
    top = int(codes.max(initial=0))
    bits = 1 if top < 2 else 2 if top < 4 else 4 if top < 16 else 8
    per = 8 // bits
    padded = np.zeros(-(-len(codes) // per) * per, dtype=np.uint8)
    padded[:len(codes)] = codes
    grid = padded.reshape(-1, per).astype(np.uint16)
    packed = (grid << (bits * np.arange(per, dtype=np.uint16))).sum(axis=1).astype(np.uint8)
    return base64.b64encode(packed.tobytes()).decode("ascii"), bits


def unpack_codes(text: str, bits: int, n: int) -> np.ndarray:
    """The inverse of :func:`pack_codes` (what the browser does), for tests."""
    packed = np.frombuffer(base64.b64decode(text), dtype=np.uint8)
    per = 8 // bits
    codes = (packed[:, None] >> (bits * np.arange(per, dtype=np.uint8))) & ((1 << bits) - 1)
    return codes.reshape(-1)[:n]


def draw(*, xy: str, codes: np.ndarray, palette: list, names: list, layers: list, legend: dict, title: str,
         area: Optional[dict], key: str, ids: Optional[str] = None, sizes: Optional[list] = None,
         height: int = 620, marker_size: float = 4) -> Optional[dict]:
    """Draw the map; the last event the user made on it (``{"kind": ..., "nonce": ...}``) or None.

    Parameters
    ----------
    xy : str
        A name from :func:`coordinates_file`.
    ids : str, optional
        A name from :func:`ids_file` (hover then shows each point's row id).
    codes : ndarray of shape (n_drawn,), uint8
        Colour code of each point in draw order (an index into ``palette`` and ``names``).
    layers : list of lists of codes
        Drawn bottom to top (within a layer, in draw order).
    legend : dict
        ``{"items": [{"name", "label", "colour", "count", "share"}], "notes": [str], "scale": [colours]}``.
    sizes : list of float, optional
        Point diameter (pixels) per code; None: ``marker_size`` for every point.
    area : dict, optional
        The selected area (``{"x": [...], "y": [...]}``) drawn as a dotted outline.
    """
    text, bits = pack_codes(codes)
    return _component()(xy=xy, n=int(len(codes)), codes=text, bits=bits, palette=list(palette),
                        names=[str(n) for n in names], layers=[[int(c) for c in layer] for layer in layers],
                        legend=legend, title=title, area=area, ids=ids, height=int(height),
                        sizes=[float(v) for v in sizes] if sizes else None, marker_size=marker_size,
                        drawn=int(len(codes)), key=key, default=None)
