"""Readers: turn a path into a table (and pixel arrays for images), never writing to the input.

Each reader raises :class:`core.errors.DataFileError` with a message that names the file and says
what to do, instead of letting pandas, pyarrow or Pillow tracebacks reach the user.

Faithful to the user's bytes: a text file's encoding is detected (a BOM for UTF-8/UTF-16/UTF-32,
else strict UTF-8, else Windows-1252 for Western European text, with a warning) or refused with a
message naming ``--encoding``; characters are never replaced. The columns named by
``text_columns`` (the label, the id and every column that is not a feature) are read as the exact
text of their cells: ``007`` stays ``007`` and ``NA``, ``null``, ``None`` or ``n/a`` stay strings.
A text (non-numeric) feature column is kept as its exact text too, so exports give its cells back
unchanged; ``RawData.na_text`` names those columns, whose NA-like cells the featurizers treat as
missing. A ``;``-, tab- or ``|``-separated file whose numbers are written with a decimal comma
(``3,14``) is read with ``decimal=","`` and a warning says so.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

import numpy as np
import pandas as pd

from core.data.archives import IMAGE_SUFFIXES, is_clutter, load_image, safe_extract
from core.data.encodings import detect_encoding
from core.foundation.errors import Advice, DataFileError

TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SUPPORTED = "CSV/TSV, Parquet, NPZ (arrays X and y), a folder of images in class subfolders, or a .zip of one"
#: The cells pandas reads as missing by default; only feature columns treat them as missing.
NA_STRINGS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
              "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]

#: Which columns to read as exact text, given the file's column names (after stripping blanks).
TextColumns = Union[None, Iterable[str], Callable[[list], Iterable[str]]]


@dataclass
class RawData:
    """What a reader found: a table, and for images the pixel arrays."""

    frame: pd.DataFrame
    kind_hint: Optional[str] = None  # "image" or "array" when the format decides the featurizer
    images: Optional[np.ndarray] = None  # (n, h, w) or (n, h, w, 3), floats in [0, 1]
    label: Optional[str] = None  # label column the format implies (NPZ, image folders)
    id: Optional[str] = None
    features: Optional[list] = None
    warnings: list = field(default_factory=list)  # what the user should know (encoding guessed, ...)
    na_text: list = field(default_factory=list)  # text feature columns kept exact: NA-like cells mean missing


def read_path(path, *, image_size: int = 32, encoding: Optional[str] = None,
              text_columns: TextColumns = None) -> RawData:
    """Read a file or folder into a :class:`RawData`.

    Parameters
    ----------
    path : str or Path
    image_size : int
        Side of the square canvas images are drawn on.
    encoding : str, optional
        Encoding of a text table; detected when None.
    text_columns : names, or callable ``columns -> names``, optional
        Columns of a text table to read as exact text (see the module notes).
    """
    path = Path(path).expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataFileError(f"{path} does not exist. Check the path, or pick a bundled sample.") from None
    except OSError as exc:
        raise DataFileError(f"{path} cannot be read ({exc.strerror}). Check its permissions.") from None
    if stat.S_ISDIR(info.st_mode):
        return read_image_folder(path, image_size=image_size)
    if not stat.S_ISREG(info.st_mode):
        what = "a pipe" if stat.S_ISFIFO(info.st_mode) else "a device or socket"
        raise DataFileError(f"{path} is {what}, not a regular file. Save the data to a file and load that.")
    if info.st_size == 0:
        raise DataFileError(f"{path.name} is empty (0 bytes). Export the data again and reload it.")
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return read_table(path, encoding=encoding, text_columns=text_columns)
    if suffix in PARQUET_SUFFIXES:
        return RawData(read_parquet(path))
    if suffix == ".npz":
        return read_npz(path)
    if suffix == ".zip":
        return read_image_zip(path, image_size=image_size)
    raise DataFileError(f"{path.name}: the format '{suffix or 'no extension'}' is not supported. Use {SUPPORTED}.")


def _sniff_delimiter(sample: str) -> str:
    """The delimiter (, ; tab |) that splits the first lines into the same number (>1) of fields.

    Linear in the sample (``csv.Sniffer`` can take minutes on one very long line).
    """
    lines = sample.splitlines()[:20]
    if len(lines) > 1 and len(sample) >= 65536:
        lines = lines[:-1]  # the sample may end in the middle of a line
    best, best_fields = ",", 1
    for delimiter in ",;\t|":
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delimiter) if row]
        except csv.Error:
            continue
        if counts and min(counts) > 1 and len(set(counts)) == 1 and counts[0] > best_fields:
            best, best_fields = delimiter, counts[0]
    return best


def read_csv(path, *, encoding: Optional[str] = None, text_columns: TextColumns = None) -> pd.DataFrame:
    """Read a delimited text file into a frame (see :func:`read_table`)."""
    return read_table(path, encoding=encoding, text_columns=text_columns).frame


def read_table(path, *, encoding: Optional[str] = None, text_columns: TextColumns = None) -> RawData:
    """Read a delimited text file; the delimiter (, ; tab |) is sniffed from the first lines."""
    path = Path(path)
    chosen, warnings = detect_encoding(path, encoding)
    with _opened(path, chosen) as handle:
        sample = handle.read(65536)
    if not sample.strip():
        raise DataFileError(f"{path.name} has no content (only blank lines). Export the data again and reload it.")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff_delimiter(sample)
    header = _header(sample, delimiter)
    names = _unique_names([name.strip() for name in header])
    text = set(text_columns(names) if callable(text_columns) else (text_columns or ()))
    warnings += _duplicate_warnings(path, [name.strip() for name in header])
    decimal, thousands = _decimal_mark(sample, delimiter, [i for i, name in enumerate(names) if name not in text])
    if decimal == ",":
        warnings.append(f"{path.name} writes numbers with a decimal comma ('{_DELIMITER_NAMES[delimiter]}'-"
                        "separated, e.g. 3,14): they were read as numbers. Exports write them with a decimal point.")
    options = {"dtype": {i: str for i, name in enumerate(names) if name in text},
               "keep_default_na": False, "decimal": decimal, "thousands": thousands,
               "na_values": {i: NA_STRINGS for i, name in enumerate(names) if name not in text}}
    frame = _parse(path, delimiter, chosen, options)
    if len(frame) == 0:
        raise DataFileError(f"{path.name} has a header but no rows. Add data rows and reload it.")
    frame.columns = names if len(names) == frame.shape[1] else _unique_names([str(c).strip() for c in frame.columns])
    na_text = _text_features(frame, text)
    if na_text:  # read again as exact text, so exports give back "NA", "null", "n/a" as written
        positions = [frame.columns.get_loc(c) for c in na_text]
        exact = _parse(path, delimiter, chosen, {"dtype": str, "keep_default_na": False, "usecols": positions})
        for position, column in zip(positions, na_text):
            frame[column] = exact.iloc[:, sorted(positions).index(position)].to_numpy()
    return RawData(frame, warnings=warnings, na_text=na_text)


_DELIMITER_NAMES = {",": ",", ";": ";", "\t": "tab", "|": "|"}
_COMMA_NUMBER = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)?,\d+([eE][+-]?\d+)?$")
_POINT_NUMBER = re.compile(r"^[+-]?\d*\.\d+([eE][+-]?\d+)?$")
_GROUPED_NUMBER = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")  # 1.234 or 1.234,5: '.' groups thousands


def _decimal_mark(sample: str, delimiter: str, columns: list) -> tuple:
    """``(decimal, thousands)``: ``(",", ".")`` or ``(",", None)`` when a non-comma-separated sample's
    numbers use a decimal comma (``3,14``, ``1.234,5``) and none a decimal point; else ``(".", None)``."""
    if delimiter == "," or not columns:
        return ".", None
    lines = sample.splitlines()[1:200]
    if len(sample) >= 65536:
        lines = lines[:-1]
    try:
        rows = [row for row in csv.reader(lines, delimiter=delimiter) if row]
    except csv.Error:
        return ".", None
    comma = point = grouped = 0
    for row in rows:
        for i in columns:
            cell = row[i].strip() if i < len(row) else ""
            comma += bool(_COMMA_NUMBER.match(cell))
            grouped += bool(_GROUPED_NUMBER.match(cell))
            point += bool(_POINT_NUMBER.match(cell)) and not _GROUPED_NUMBER.match(cell)
    if comma == 0 or point > 0:
        return ".", None
    return ",", ("." if grouped else None)


def _parse(path: Path, delimiter: str, encoding: str, options: dict) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=delimiter, encoding=encoding, **options)
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path.name} has no columns. Check that it is a CSV with a header row.") from None
    except UnicodeDecodeError:
        problem = f"{path.name} is not valid {encoding} text."
        raise DataFileError(Advice(f"{problem} Give its encoding with --encoding (API: encoding=...), e.g. --encoding "
                                   "cp1252.", app=f"{problem} Choose its encoding in the “Encoding” box.")) from None
    except (pd.errors.ParserError, ValueError) as exc:
        ragged = _ragged_line(path, delimiter, encoding)
        first = ragged or (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise DataFileError(f"{path.name} is not a well-formed CSV ({first}). Fix the file or export it again.") from None


def _ragged_line(path: Path, delimiter: str, encoding: str, limit: int = 1_000_000):
    """``"line N has M fields; the header has K"`` for the first row whose field count differs from the
    header's (None if none in the first ``limit`` rows, or the file cannot be read as CSV)."""
    try:
        with open(path, newline="", encoding=encoding, errors="replace") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            for row in reader:
                if reader.line_num > limit:
                    return None
                if row and len(row) != len(header or []):
                    return f"line {reader.line_num} has {len(row)} fields; the header has {len(header)}"
    except (OSError, csv.Error, UnicodeError):
        return None
    return None


def _text_features(frame: pd.DataFrame, text: set) -> list:
    """Feature columns pandas read as text (or found wholly missing): kept as the exact text of their cells."""
    return [c for c in frame.columns if c not in text
            and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])
                 or (frame[c].dtype.kind == "f" and frame[c].isna().all()))]


def _unique_names(names: list) -> list:
    """Names made unique as pandas does (``x``, ``x.1``, ``x.2``), also when only blanks told them apart."""
    seen: set = set()
    out = []
    for name in names:
        candidate, count = name, 0
        while candidate in seen:
            count += 1
            candidate = f"{name}.{count}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _opened(path: Path, encoding: str):
    try:
        return open(path, "r", encoding=encoding, newline="")
    except OSError as exc:
        raise DataFileError(f"{path.name} could not be read ({exc.strerror}). Check its permissions.") from None


def _header(sample: str, delimiter: str) -> list:
    try:
        return next(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter), [])
    except csv.Error:
        return []


def _duplicate_warnings(path: Path, names: list) -> list:
    repeated = {name: count for name, count in Counter(names).items() if count > 1}
    if not repeated:
        return []
    listed = ", ".join(f"'{name}' x{count}" for name, count in list(repeated.items())[:5])
    return [f"{path.name} has duplicate column names ({listed}); the repeats are read as '<name>.1', '<name>.2'. "
            "Rename them in the file to choose which is which."]


def read_parquet(path) -> pd.DataFrame:
    """A Parquet file as a frame; an index written by pandas (e.g. the id) becomes a column again."""
    path = Path(path)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a damaged file
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataFileError(f"{path.name} is not a readable Parquet file ({reason}). Export it again.") from None
    if len(frame) == 0:
        raise DataFileError(f"{path.name} has columns but no rows. Add data rows and reload it.")
    if not isinstance(frame.index, pd.RangeIndex) or any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _npz_arrays(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception:
        raise DataFileError(f"{path.name} is not a readable NPZ archive. Save it with numpy.savez(X=..., y=...).") from None
    missing = [key for key in ("X", "y") if key not in arrays]
    if missing:
        raise DataFileError(
            f"{path.name} has arrays {sorted(arrays)} but needs 'X' and 'y' (missing: {missing}). "
            "Save it with numpy.savez(path, X=features, y=labels)."
        )
    for key in ("X", "y", "ids"):
        if key in arrays and arrays[key].ndim == 0:
            raise DataFileError(f"{path.name}: '{key}' is a single value (a 0-d array), not one entry per row. "
                                "Save arrays with a first axis of rows.")
    if not (np.issubdtype(arrays["X"].dtype, np.number) or arrays["X"].dtype == bool):
        raise DataFileError(f"{path.name}: X has dtype {arrays['X'].dtype}; it must hold numbers.")
    return arrays


def read_npz(path) -> RawData:
    """NPZ with ``X`` (n, d) or images (n, h, w[, 3]), ``y`` (n,) and optional ``ids`` (n,)."""
    path = Path(path)
    arrays = _npz_arrays(path)
    X, y = arrays["X"], np.asarray(arrays["y"]).ravel()
    if len(X) == 0:
        raise DataFileError(f"{path.name}: X has no rows. Save a non-empty array.")
    if len(X) != len(y):
        raise DataFileError(f"{path.name}: X has {len(X)} rows but y has {len(y)}. They must match.")
    images = None
    if X.ndim in (3, 4):
        images = X.astype(np.float32)
        if images.max(initial=0) > 1.0:
            images = images / 255.0
    flat = X.reshape(len(X), -1)
    frame = pd.DataFrame(flat, columns=[f"x{i}" for i in range(flat.shape[1])])
    features = list(frame.columns)
    frame.insert(0, "label", y)
    id_column = None
    if "ids" in arrays:
        ids = np.asarray(arrays["ids"]).ravel()
        if len(ids) != len(X):
            raise DataFileError(f"{path.name}: ids has {len(ids)} entries but X has {len(X)} rows.")
        frame.insert(0, "id", ids)
        id_column = "id"
    return RawData(frame, kind_hint="image" if images is not None else "array", images=images,
                   label="label", id=id_column, features=features)


def _class_files(folder: Path, class_dir: Path) -> list:
    """The image files under one class folder; an unreadable folder is an error, never skipped."""
    files = []
    for current, subfolders, names in os.walk(class_dir, onerror=_walk_error(folder)):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and not is_clutter([d]))
        for name in sorted(names):
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                files.append(Path(current) / name)
    return sorted(files)


def _walk_error(folder: Path):
    def _raise(exc: OSError):
        where = Path(exc.filename).relative_to(folder) if exc.filename else folder
        raise DataFileError(f"The folder {where} in {folder.name} cannot be read ({exc.strerror}), so its "
                            "images would be missing. Fix its permissions, or remove it.") from None

    return _raise


def read_image_folder(folder: Path, *, image_size: int = 32) -> RawData:
    """A folder whose subfolders are class names and contain PNG/JPEG files."""
    folder = Path(folder)
    rows, pixels = [], []
    try:
        class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
                            and not is_clutter([p.name]))
    except OSError as exc:
        raise DataFileError(f"{folder} cannot be read ({exc.strerror}). Check its permissions.") from None
    for class_dir in class_dirs:
        if not os.access(class_dir, os.R_OK | os.X_OK):
            _walk_error(folder)(PermissionError(13, "Permission denied", str(class_dir)))
        for file in _class_files(folder, class_dir):
            rows.append({"path": str(file.relative_to(folder)), "label": class_dir.name})
            pixels.append(load_image(file, image_size))
    if not rows:
        raise DataFileError(
            f"{folder} has no images in class subfolders. Arrange it as {folder.name}/<class>/<image>.png "
            f"(formats: {', '.join(sorted(IMAGE_SUFFIXES))})."
        )
    frame = pd.DataFrame(rows)
    return RawData(frame, kind_hint="image", images=np.stack(pixels), label="label", id="path", features=[])


def read_image_zip(path: Path, *, image_size: int = 32) -> RawData:
    """A .zip of an image folder (one top folder or class folders at the root), extracted safely."""
    with tempfile.TemporaryDirectory() as tmp:
        safe_extract(path, Path(tmp))
        root = Path(tmp)
        entries = [p for p in root.iterdir() if not p.name.startswith(".") and not is_clutter([p.name])]
        if len(entries) == 1 and entries[0].is_dir() and any(q.is_dir() for q in entries[0].iterdir()):
            root = entries[0]
        return read_image_folder(root, image_size=image_size)


def read_bytes(data: bytes, name: str, *, image_size: int = 32, encoding: Optional[str] = None) -> RawData:
    """Read an uploaded file's bytes (the app's upload widget) by its file name's extension."""
    suffix = Path(name).suffix.lower()
    if not data:
        raise DataFileError(f"{name} is empty (0 bytes). Export the data again and upload it.")
    if suffix in TABLE_SUFFIXES | PARQUET_SUFFIXES | {".npz", ".zip"}:
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / Path(name).name
            file.write_bytes(data)
            return read_path(file, image_size=image_size, encoding=encoding)
    raise DataFileError(f"{name}: the format '{suffix or 'no extension'}' is not supported. Use {SUPPORTED}.")
