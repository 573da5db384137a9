"""The manifest's schema, checked before anything in a manifest is used.

A manifest may come from anyone (e-mailed, edited, generated), so :func:`validate_manifest` checks
its shape first - nesting depth, required keys and their types, the load options it will pass to
``load_dataset`` (known names, right types, sane ranges), the kept ids (scalars, no repeats) - and
raises :class:`ManifestError` with the offending key and what to do.
"""

from __future__ import annotations

from typing import Any

from core.foundation.errors import ManifestError

MAX_DEPTH = 32
_ADVICE = "Use the manifest written by `workbench select`, unedited."
_NUMBER = (int, float)
_REQUIRED = {"kept_ids": list, "n_input": int, "n_kept": int, "strategy": str, "data_fingerprint": str,
             "version": dict}
_OPTIONAL = {"seed": (int, type(None)), "data": (dict, type(None)), "resolved_strategy": (str, type(None)),
             "params": (dict, type(None)), "keep": (int, float, type(None)), "threshold": (int, float, type(None)),
             "format": (str, type(None))}


def _text_or_none(value) -> bool:
    return value is None or isinstance(value, str)


def _names_or_none(value) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _int_in(low: int, high: int):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


#: load_dataset options a manifest may carry, each with its check.
LOAD_OPTIONS = {
    "label": lambda v: isinstance(v, str),
    "id": _text_or_none,
    "features": _names_or_none,
    "text": _text_or_none,
    "featurizer": lambda v: v in ("auto", "tabular", "text", "embedding", "image"),
    "text_method": lambda v: v in ("auto", "minilm", "tfidf"),
    "image_size": _int_in(1, 1024),
    "max_dim": lambda v: v is None or v == "auto" or _int_in(1, 1_000_000)(v),
    "drop_missing_labels": lambda v: isinstance(v, bool),
    "min_rows_per_class": _int_in(1, 1_000_000),
    "encoding": _text_or_none,
    "seed": _int_in(0, 2**32 - 1),
}


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, without recursion (a hostile file may nest 100 000 deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def _is_type(value, types) -> bool:
    if isinstance(value, bool):  # JSON true/false are not numbers here
        return bool in (types if isinstance(types, tuple) else (types,))
    return isinstance(value, types)


def validate_manifest(document: Any, name: str = "the manifest") -> dict:
    """``document`` when it has the manifest's shape; ManifestError naming what is wrong otherwise."""
    if not isinstance(document, dict):
        raise ManifestError(f"{name} is not a workbench manifest (a JSON object is expected). {_ADVICE}")
    if _depth(document) > MAX_DEPTH:
        raise ManifestError(f"{name} is nested more than {MAX_DEPTH} levels deep, which no manifest is. {_ADVICE}")
    missing = [key for key in _REQUIRED if key not in document]
    if missing:
        raise ManifestError(f"{name} is not a workbench manifest (missing {', '.join(missing)}). {_ADVICE}")
    for key, types in list(_REQUIRED.items()) + list(_OPTIONAL.items()):
        if key in document and not _is_type(document[key], types):
            raise ManifestError(f"{name}: '{key}' has the wrong type ({type(document[key]).__name__}). {_ADVICE}")
    if document["n_input"] < 0 or document["n_kept"] < 0:
        raise ManifestError(f"{name}: n_input and n_kept must not be negative. {_ADVICE}")
    _check_ids(document["kept_ids"], document["n_kept"], name)
    _check_load_options(document.get("data") or {}, name)
    return document


def _check_ids(ids: list, n_kept: int, name: str) -> None:
    if len(ids) != n_kept:
        raise ManifestError(f"{name} is damaged: n_kept ({n_kept}) does not match the {len(ids)} kept_ids. {_ADVICE}")
    bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, (str, int, float))]
    if bad:
        raise ManifestError(f"{name}: kept_ids must be strings or numbers, not {type(bad[0]).__name__} "
                            f"({str(bad[0])[:40]}). {_ADVICE}")


def _check_load_options(data: dict, name: str) -> None:
    options = data.get("load_options")
    if options is None:
        return
    if not isinstance(options, dict):
        raise ManifestError(f"{name}: data.load_options must be an object. {_ADVICE}")
    unknown = sorted(set(options) - set(LOAD_OPTIONS))
    if unknown:
        raise ManifestError(f"{name}: unknown load option(s) {unknown}; known are {sorted(LOAD_OPTIONS)}. {_ADVICE}")
    for key, value in options.items():
        if not LOAD_OPTIONS[key](value):
            raise ManifestError(f"{name}: load option '{key}' has an invalid value ({str(value)[:60]!r}). {_ADVICE}")


def duplicated_ids(ids: list) -> list:
    """Ids that appear more than once (compared as text, as apply matches them), in first-seen order."""
    seen, repeated = set(), []
    for value in ids:
        key = str(value)
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated
