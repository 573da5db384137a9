"""Safe reading of what users upload: zip archives of image folders, and images themselves.

A zip is checked before anything is written (declared sizes, compression ratio, member count,
encryption, compression method, unsafe paths) and again while each member is extracted (the
bytes actually produced, which a forged header cannot hide). Platform clutter (``__MACOSX/``,
``._*`` resource forks, ``.DS_Store``, ``Thumbs.db``) is skipped, and only image files are
extracted at all. Images larger than :data:`MAX_IMAGE_PIXELS` are refused from their header,
before their pixels are decoded.

Limits can be changed with environment variables (a server can lower them):
``WORKBENCH_MAX_EXTRACT_MB`` (total uncompressed size, default 2048),
``WORKBENCH_MAX_ZIP_RATIO`` (uncompressed / compressed per member, default 200),
``WORKBENCH_MAX_ZIP_MEMBERS`` (default 200000), ``WORKBENCH_MAX_IMAGE_MEGAPIXELS`` (default 50).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from core.foundation.errors import DataFileError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
CLUTTER_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX"}
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "Deflate", zipfile.ZIP_BZIP2: "bzip2",
            zipfile.ZIP_LZMA: "LZMA"}
_CHUNK = 1 << 20


def _limit(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def max_extract_bytes() -> int:
    return int(_limit("WORKBENCH_MAX_EXTRACT_MB", 2048) * 1024 * 1024)


def max_ratio() -> float:
    return _limit("WORKBENCH_MAX_ZIP_RATIO", 200)


def max_members() -> int:
    return int(_limit("WORKBENCH_MAX_ZIP_MEMBERS", 200_000))


def max_image_pixels() -> int:
    return int(_limit("WORKBENCH_MAX_IMAGE_MEGAPIXELS", 50) * 1_000_000)


def is_clutter(parts) -> bool:
    """True for platform clutter: ``__MACOSX/...``, ``._name`` resource forks, ``.DS_Store``..."""
    return any(part in CLUTTER_NAMES or part.startswith("._") for part in parts)


def _check_member(archive_name: str, member: zipfile.ZipInfo) -> None:
    name = member.filename
    if member.flag_bits & 0x1:
        raise DataFileError(f"{archive_name} is encrypted (password-protected). "
                            "Re-create the zip without a password and upload it again.")
    if member.compress_type not in _METHODS:
        if member.compress_type == 9:
            raise DataFileError(
                f"{archive_name} uses Deflate64 compression (what Windows writes for large folders), which "
                "cannot be read here. Re-create it with standard Deflate (e.g. `zip -r data.zip folder`, or "
                "7-Zip with the Deflate method), or load the unzipped folder.")
        raise DataFileError(f"{archive_name} uses an unsupported compression method (number "
                            f"{member.compress_type}, in {name}). Re-create it with standard Deflate.")
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DataFileError(f"{archive_name} contains an unsafe path ({name}). Re-create the zip.")
    ratio = member.file_size / max(member.compress_size, 1)
    if member.file_size > _CHUNK and ratio > max_ratio():
        raise DataFileError(
            f"{archive_name}: {name} would expand {ratio:.0f}-fold ({member.file_size:,} bytes), more than the "
            f"{max_ratio():.0f}-fold limit for a zip member. This looks like a zip bomb; upload the real images.")


def _wanted(members: list) -> list:
    """The image members worth extracting (no folders, no clutter, no other files)."""
    wanted = []
    for member in members:
        parts = PurePosixPath(member.filename.replace("\\", "/")).parts
        if member.is_dir() or not parts or is_clutter(parts):
            continue
        if PurePosixPath(parts[-1]).suffix.lower() in IMAGE_SUFFIXES:
            wanted.append(member)
    return wanted


def safe_extract(path: Path, target: Path) -> int:
    """Extract the image files of the zip ``path`` into ``target`` within the limits; bytes written.

    Raises
    ------
    DataFileError
        For an unreadable, encrypted, Deflate64 or otherwise unsupported archive, an unsafe path,
        too many members, or an expansion past the size or ratio limits (checked both from the
        declared sizes before extracting and from the bytes actually produced while extracting).
    """
    name = Path(path).name
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > max_members():
                raise DataFileError(f"{name} has {len(members):,} entries, more than the {max_members():,} "
                                    "allowed. Upload fewer files or a smaller folder.")
            for member in members:
                _check_member(name, member)
            wanted = _wanted(members)
            declared = sum(m.file_size for m in wanted)
            if declared > max_extract_bytes():
                raise DataFileError(_too_big(name, declared))
            return _extract_members(archive, wanted, name, Path(target))
    except zipfile.BadZipFile:
        raise DataFileError(f"{name} is not a readable zip archive. Re-create it and upload again.") from None
    except (NotImplementedError, RuntimeError) as exc:  # e.g. a method zipfile knows but cannot decode
        raise DataFileError(f"{name} cannot be extracted ({exc}). Re-create it with standard Deflate.") from None


def _too_big(name: str, size: int) -> str:
    return (f"{name} expands to more than {max_extract_bytes() / 2**20:,.0f} MB ({size / 2**20:,.0f} MB of images). "
            "Upload a smaller archive, or raise WORKBENCH_MAX_EXTRACT_MB if this is expected.")


def _extract_members(archive: zipfile.ZipFile, members: list, name: str, target: Path) -> int:
    written, root = 0, target.resolve()
    for member in members:
        destination = (target / member.filename.replace("\\", "/")).resolve()
        if root not in destination.parents:
            raise DataFileError(f"{name} contains an unsafe path ({member.filename}). Re-create the zip.")
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            written = _copy_member(archive, member, destination, name, written)
        except zipfile.BadZipFile:  # zipfile stops at the declared size, then the CRC fails
            raise DataFileError(_forged(name, member)) from None
    return written


def _forged(name: str, member: zipfile.ZipInfo) -> str:
    return (f"{name}: {member.filename} does not match its header (more bytes than it declares, or a wrong "
            "checksum). The archive is damaged or forged; re-create it.")


def _copy_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, destination: Path, name: str, written: int) -> int:
    """Stream one member to ``destination``, counting the bytes actually produced."""
    produced = 0
    with archive.open(member) as source, open(destination, "wb") as sink:
        while True:
            chunk = source.read(_CHUNK)
            if not chunk:
                return written
            produced += len(chunk)
            written += len(chunk)
            if written > max_extract_bytes():
                raise DataFileError(_too_big(name, written))
            if produced > member.file_size:
                raise DataFileError(_forged(name, member))
            sink.write(chunk)


def load_image(file: Path, size: int) -> np.ndarray:
    """A grey-scale ``(size, size)`` float32 image in [0, 1], scaled to fit and centred.

    Raises
    ------
    DataFileError
        When the file is not a readable image or has more pixels than :func:`max_image_pixels`.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            if image.width * image.height > max_image_pixels():
                raise DataFileError(_too_many_pixels(file, f"{image.width}x{image.height} pixels"))
            image = image.convert("L")
            # scale to fit the canvas both ways: a small 8x8 digit must fill it, not sit in a corner
            scale = size / max(image.width, image.height)
            new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(new_size, Image.Resampling.BILINEAR if scale > 1 else Image.Resampling.LANCZOS)
            canvas = Image.new("L", (size, size), 0)
            canvas.paste(image, ((size - image.width) // 2, (size - image.height) // 2))
            return np.asarray(canvas, dtype=np.float32) / 255.0
    except Image.DecompressionBombError:
        raise DataFileError(_too_many_pixels(file, "too many pixels")) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise DataFileError(f"{file.name} is not a readable image. Remove it or replace it with a PNG or JPEG.") from None


def _too_many_pixels(file: Path, what: str) -> str:
    return (f"{file.name} has {what}, more than the {max_image_pixels() / 1e6:.0f}-megapixel limit (a decompression "
            "bomb, or a photo far larger than needed). Downscale it, or raise WORKBENCH_MAX_IMAGE_MEGAPIXELS.")
