"""Which text encoding a table file uses: detected from its bytes, never guessed silently.

Order: a byte-order mark (UTF-8, UTF-16, UTF-32); else strict UTF-8 over the whole file (checked
in chunks, so memory stays flat); else Windows-1252 (a superset of Latin-1's printable
characters, what Excel writes in Western Europe) when its non-ASCII bytes look like accented
letters, with a warning; else a refusal that names ``--encoding`` (the app's Encoding box). Characters are never replaced.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Optional

from core.foundation.errors import Advice, ConfigError, DataFileError

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_CHUNK = 1 << 20
#: Runs of 3+ non-ASCII bytes are typical of other legacy encodings (Cyrillic, CJK), not of
#: Western European words, where accented letters stand alone or in pairs.
_LONG_RUN = re.compile(rb"[\x80-\xff]{3,}")
_HIGH = re.compile(rb"[\x80-\xff]")
_ADVICE = "Give the encoding with --encoding (API: encoding=...), e.g. --encoding {example}, or save the file as UTF-8."
#: The same for the app, whose Data page has an Encoding box above a text table's preview.
_APP_ADVICE = "Choose its encoding in the “Encoding” box (for example {example}), or save the file as UTF-8."


def _advice(problem: str, example: str = "cp1252") -> Advice:
    """``problem`` followed by what to do, worded for each face."""
    return Advice(f"{problem} {_ADVICE.format(example=example)}", app=f"{problem} {_APP_ADVICE.format(example=example)}")


def _chunks(path: Path):
    try:
        with open(path, "rb") as handle:
            while True:
                chunk = handle.read(_CHUNK)
                if not chunk:
                    return
                yield chunk
    except OSError as exc:
        raise DataFileError(f"{path.name} could not be read ({exc.strerror}). Check its permissions.") from None


def _decodes(path: Path, encoding: str) -> Optional[int]:
    """None when the whole file decodes strictly, else the byte offset of the first bad byte."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    try:
        for chunk in _chunks(path):
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return offset + max(exc.start, 0)
    except (UnicodeError, ValueError, TypeError) as exc:  # a codec that fails as a whole (UTF-16 without a BOM)
        problem = f"{path.name} does not decode as {encoding} ({exc})."
        which = "utf-16-le or utf-16-be for UTF-16 without a byte-order mark, utf-8 or cp1252 for most other files."
        raise DataFileError(Advice(f"{problem} Give the right --encoding (API: encoding=...): {which}",
                                   app=f"{problem} Choose another in the “Encoding” box: {which}")) from None
    return None


def _looks_western(path: Path) -> bool:
    high = runs = 0
    for chunk in _chunks(path):
        high += len(_HIGH.findall(chunk))
        runs += sum(len(m) for m in _LONG_RUN.findall(chunk))
    return high > 0 and runs <= 0.2 * high


def detect_encoding(path: Path, encoding: Optional[str] = None) -> tuple[str, list]:
    """``(codec name, warnings)`` for the text file ``path``.

    Raises
    ------
    ConfigError
        When ``encoding`` names no known codec.
    DataFileError
        When the bytes do not decode with ``encoding``, or (without one) are neither UTF-8/16/32
        nor plausibly Windows-1252; the message names ``--encoding``.
    """
    path = Path(path)
    if encoding:
        try:
            info = codecs.lookup(encoding)
        except LookupError:
            raise ConfigError(f"Unknown encoding '{encoding}'. Use a Python codec name such as utf-8, "
                              "utf-16, cp1252 or latin-1.") from None
        if not getattr(info, "_is_text_encoding", True):  # rot13, base64, zlib...: bytes-to-bytes transforms
            raise ConfigError(f"'{encoding}' is not a text encoding. Use a Python codec name such as utf-8, "
                              "utf-16, cp1252 or latin-1.")
        name = info.name
        bad = _decodes(path, name)
        if bad is not None:
            problem = f"{path.name} is not valid {encoding} (byte {bad} cannot be decoded)."
            raise DataFileError(Advice(f"{problem} Give the right --encoding (API: encoding=...).",
                                       app=f"{problem} Choose another in the “Encoding” box, or “auto”."))
        return ("utf-8-sig" if name == "utf-8" else name), []
    head = next(_chunks(path), b"")
    for bom, name in _BOMS:
        if head.startswith(bom):
            bad = _decodes(path, name)
            if bad is not None:
                raise DataFileError(_advice(f"{path.name} starts like {name.upper()} but byte {bad} is not valid {name}."))
            return name, []
    if b"\x00" in head:
        raise DataFileError(_advice(f"{path.name} holds NUL bytes: it looks like UTF-16 or UTF-32 without a byte-order "
                                    "mark, or is not a text file.", example="utf-16-le"))
    bad = _decodes(path, "utf-8")
    if bad is None:
        return "utf-8", []
    if _decodes(path, "cp1252") is None and _looks_western(path):
        problem = f"{path.name} is not valid UTF-8 (byte {bad}); it was read as Windows-1252 (Latin-1)."
        return "cp1252", [Advice(f"{problem} If accented letters look wrong, give the encoding with --encoding.",
                                 app=f"{problem} If accented letters look wrong, choose the encoding in the "
                                     "“Encoding” box and load again.")]
    raise DataFileError(_advice(f"{path.name} is not valid UTF-8 (byte {bad} cannot be decoded) and does not look "
                                "like Windows-1252 either."))
