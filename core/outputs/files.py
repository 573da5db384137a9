"""Atomic writing of the workbench's output files (tables and JSON) and JSON conversion.

Every write goes to a temporary file in the destination folder that is renamed into place only
once it is complete, so a failure never leaves a partial file and never clobbers an existing
one; several files can be staged and renamed together. Missing destination folders are created.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd

from core.foundation.errors import ConfigError, DataFileError

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: Union[str, Path]) -> str:
    """``"csv"``, ``"tsv"`` or ``"parquet"`` from the file extension; ConfigError otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ConfigError(
            f"{Path(path).name}: cannot write the extension '{suffix or 'none'}'. "
            "End the output file name with .csv or .parquet."
        )
    return TABLE_SUFFIXES[suffix]


def stage(path: Union[str, Path], write) -> str:
    """Call ``write(tmp)`` on a temporary file beside ``path`` (folders created); returns ``tmp``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(f"Cannot create the output folder {path.parent} ({exc.strerror}).") from None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def commit(staged: list) -> None:
    """Rename staged ``(tmp, path)`` pairs into place, only once every one of them was written."""
    for tmp, path in staged:
        os.replace(tmp, path)


def discard(staged: list) -> None:
    for tmp, _ in staged:
        Path(tmp).unlink(missing_ok=True)


def table_writer(frame: pd.DataFrame, path: Union[str, Path]):
    kind = table_format(path)

    def _write(tmp: str) -> None:
        if kind == "parquet":
            try:
                frame.to_parquet(tmp, index=False)
            except (TypeError, ValueError, ImportError) as exc:  # pyarrow's errors subclass these
                reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
                raise DataFileError(f"Cannot write {Path(path).name} as Parquet ({reason}). "
                                    "Write a .csv instead.") from None
        else:
            frame.to_csv(tmp, index=False, sep="\t" if kind == "tsv" else ",", lineterminator="\n")

    return _write


def json_writer(obj: Any):
    text = json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def _write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)

    return _write


def write_table(frame: pd.DataFrame, path: Union[str, Path]) -> Path:
    """Write ``frame`` atomically as CSV, TSV or Parquet (chosen by the extension), without the index."""
    commit([(stage(path, table_writer(frame, path)), path)])
    return Path(path)


def write_json(obj: Any, path: Union[str, Path]) -> Path:
    """Write a JSON document atomically (standard JSON: no NaN or Infinity)."""
    commit([(stage(path, json_writer(obj)), path)])
    return Path(path)


def to_jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays, dataclasses and non-finite floats into plain JSON values."""
    if hasattr(value, "to_dict") and not isinstance(value, (pd.DataFrame, pd.Series, type)):
        return to_jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (pd.DataFrame,)):
        return to_jsonable(value.to_dict(orient="records"))
    if isinstance(value, (list, tuple, np.ndarray, pd.Series, pd.Index)):
        return [to_jsonable(item) for item in list(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
