"""Thumbnails and snippets of rows: PNG images for image sets, short text for text sets."""

from __future__ import annotations

import base64
import io
from typing import Optional

import numpy as np


def thumbnail_png(image: np.ndarray, size: int = 56) -> bytes:
    """PNG bytes of one image in [0, 1], shape (h, w) or (h, w, 3), upscaled without blur."""
    from PIL import Image

    pixels = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    picture = Image.fromarray((pixels * 255).astype(np.uint8))
    scale = max(1, size // max(picture.size))
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail_uri(image: np.ndarray, size: int = 56) -> str:
    """A ``data:`` URI of :func:`thumbnail_png` (for HTML reports)."""
    return "data:image/png;base64," + base64.b64encode(thumbnail_png(image, size)).decode()


def snippet(text, length: int = 160) -> str:
    """The first ``length`` characters of a text, on one line."""
    text = " ".join(str(text).split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def row_text(ds, position: int, length: int = 160) -> Optional[str]:
    """The text of a row of a text data set, shortened, or None for other kinds."""
    if ds.text_column is None:
        return None
    return snippet(ds.frame[ds.text_column].iloc[int(position)], length)


def has_images(ds) -> bool:
    return getattr(ds, "images", None) is not None
