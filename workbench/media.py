"""Thumbnails and snippets of rows: PNG images for image sets, short text for text sets."""

from __future__ import annotations

import io

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


def snippet(text, length: int = 160) -> str:
    """The first ``length`` characters of a text, on one line."""
    text = " ".join(str(text).split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def caption(ds, position: int, detail: str = "") -> str:
    """A row's caption (markdown): its label on one line, then its id and ``detail`` on the next, so
    a narrow thumbnail's caption breaks between the parts and a row can be looked up by its id."""
    label = " ".join(str(ds.labels[position]).split()) or "(no label)"
    second = f"id `{ds.ids[position]}`" + (f" · {detail}" if detail else "")
    return f"**{label}**  \n{second}"


def has_images(ds) -> bool:
    return getattr(ds, "images", None) is not None
