"""Readers: turn a path into a table (and pixel arrays for images), never writing to the input.

Each reader raises :class:`core.errors.DataFileError` with a message that names the file and says
what to do, instead of letting pandas, pyarrow or Pillow tracebacks reach the user.
"""

from __future__ import annotations

import csv
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from core.foundation.errors import DataFileError

TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
SUPPORTED = "CSV/TSV, Parquet, NPZ (arrays X and y), a folder of images in class subfolders, or a .zip of one"


@dataclass
class RawData:
    """What a reader found: a table, and for images the pixel arrays."""

    frame: pd.DataFrame
    kind_hint: Optional[str] = None  # "image" or "array" when the format decides the featurizer
    images: Optional[np.ndarray] = None  # (n, h, w) or (n, h, w, 3), floats in [0, 1]
    label: Optional[str] = None  # label column the format implies (NPZ, image folders)
    id: Optional[str] = None
    features: Optional[list] = None


def read_path(path, *, image_size: int = 32) -> RawData:
    """Read a file or folder into a :class:`RawData`."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataFileError(f"{path} does not exist. Check the path, or pick a bundled sample.")
    if path.is_dir():
        return read_image_folder(path, image_size=image_size)
    if path.stat().st_size == 0:
        raise DataFileError(f"{path.name} is empty (0 bytes). Export the data again and reload it.")
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return RawData(read_csv(path))
    if suffix in PARQUET_SUFFIXES:
        return RawData(read_parquet(path))
    if suffix == ".npz":
        return read_npz(path)
    if suffix == ".zip":
        return read_image_zip(path, image_size=image_size)
    raise DataFileError(f"{path.name}: the format '{suffix or 'no extension'}' is not supported. Use {SUPPORTED}.")


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_csv(path) -> pd.DataFrame:
    """Read a delimited text file; the delimiter (, ; tab |) is sniffed from the first lines."""
    path = Path(path)
    try:
        with open(path, "r", encoding="utf-8-sig", errors="replace", newline="") as handle:
            sample = handle.read(65536)
    except OSError as exc:
        raise DataFileError(f"{path.name} could not be read ({exc.strerror}). Check its permissions.") from None
    if not sample.strip():
        raise DataFileError(f"{path.name} has no content (only blank lines). Export the data again and reload it.")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff_delimiter(sample)
    try:
        frame = pd.read_csv(path, sep=delimiter, encoding="utf-8-sig", encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path.name} has no columns. Check that it is a CSV with a header row.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataFileError(f"{path.name} is not a well-formed CSV ({first}). Fix the file or export it again.") from None
    if len(frame) == 0:
        raise DataFileError(f"{path.name} has a header but no rows. Add data rows and reload it.")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_parquet(path) -> pd.DataFrame:
    path = Path(path)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a damaged file
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataFileError(f"{path.name} is not a readable Parquet file ({reason}). Export it again.") from None
    if len(frame) == 0:
        raise DataFileError(f"{path.name} has columns but no rows. Add data rows and reload it.")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def read_npz(path) -> RawData:
    """NPZ with ``X`` (n, d) or images (n, h, w[, 3]), ``y`` (n,) and optional ``ids`` (n,)."""
    path = Path(path)
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


def _load_image(file: Path, size: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            image = image.convert("L")
            # scale to fit the canvas both ways: a small 8x8 digit must fill it, not sit in a corner
            scale = size / max(image.width, image.height)
            new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(new_size, Image.Resampling.BILINEAR if scale > 1 else Image.Resampling.LANCZOS)
            canvas = Image.new("L", (size, size), 0)
            canvas.paste(image, ((size - image.width) // 2, (size - image.height) // 2))
            return np.asarray(canvas, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError):
        raise DataFileError(f"{file.name} is not a readable image. Remove it or replace it with a PNG or JPEG.") from None


def read_image_folder(folder: Path, *, image_size: int = 32) -> RawData:
    """A folder whose subfolders are class names and contain PNG/JPEG files."""
    folder = Path(folder)
    rows, pixels = [], []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for file in sorted(class_dir.rglob("*")):
            if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
                rows.append({"path": str(file.relative_to(folder)), "label": class_dir.name})
                pixels.append(_load_image(file, image_size))
    if not rows:
        raise DataFileError(
            f"{folder} has no images in class subfolders. Arrange it as {folder.name}/<class>/<image>.png "
            f"(formats: {', '.join(sorted(IMAGE_SUFFIXES))})."
        )
    frame = pd.DataFrame(rows)
    return RawData(frame, kind_hint="image", images=np.stack(pixels), label="label", id="path", features=[])


def read_image_zip(path: Path, *, image_size: int = 32) -> RawData:
    """A .zip of an image folder (one top folder or class folders at the root)."""
    try:
        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as tmp:
            for member in archive.infolist():
                target = (Path(tmp) / member.filename).resolve()
                if not str(target).startswith(str(Path(tmp).resolve())):
                    raise DataFileError(f"{path.name} contains an unsafe path ({member.filename}). Re-create the zip.")
            archive.extractall(tmp)
            root = Path(tmp)
            entries = [p for p in root.iterdir() if not p.name.startswith((".", "__MACOSX"))]
            if len(entries) == 1 and entries[0].is_dir() and any(q.is_dir() for q in entries[0].iterdir()):
                root = entries[0]
            return read_image_folder(root, image_size=image_size)
    except zipfile.BadZipFile:
        raise DataFileError(f"{path.name} is not a readable zip archive. Re-create it and upload again.") from None


def read_bytes(data: bytes, name: str, *, image_size: int = 32) -> RawData:
    """Read an uploaded file's bytes (the app's upload widget) by its file name's extension."""
    suffix = Path(name).suffix.lower()
    if not data:
        raise DataFileError(f"{name} is empty (0 bytes). Export the data again and upload it.")
    if suffix in TABLE_SUFFIXES | PARQUET_SUFFIXES | {".npz", ".zip"}:
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / Path(name).name
            file.write_bytes(data)
            return read_path(file, image_size=image_size)
    raise DataFileError(f"{name}: the format '{suffix or 'no extension'}' is not supported. Use {SUPPORTED}.")

