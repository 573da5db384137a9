"""Atomic writing of the workbench's output files (tables and JSON) and JSON conversion.

Every write goes to a temporary file in the destination folder that is renamed into place only
once it is complete, so a failure never leaves a partial file and never clobbers an existing
one; several files can be staged and renamed together. Missing destination folders are created.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import stat
import tempfile
import warnings
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd

from core.foundation.encoding import to_jsonable  # noqa: F401  (json_writer's converter)
from core.foundation.errors import ConfigError, DataFileError, WorkbenchWarning

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
    """Call ``write(tmp)`` on a temporary file beside ``path`` (folders created); returns ``tmp``.

    The temporary file's name carries this process id, so a later write of the same output removes
    what a killed writer left (:func:`_remove_orphans`).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(f"Cannot create the output folder {path.parent} ({exc.strerror}).") from None
    _remove_orphans(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp")
    except OSError as exc:
        raise DataFileError(f"Cannot write into {path.parent} ({exc.strerror or exc}): choose an output "
                            "in a folder you can write to.") from None
    try:
        os.fchmod(fd, _file_mode(path))  # mkstemp makes 0600: give the mode a plain open() would
    finally:
        os.close(fd)
    try:
        write(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _file_mode(path: Path) -> int:
    """The permissions ``path`` should get: those of the file it replaces, else 0666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def staging_folder(out: Path) -> Path:
    """An empty hidden folder beside ``out`` to write a folder output into, then rename to ``out``: with the
    permissions ``mkdir`` would give (``mkdtemp`` makes 0700, which would hide the output from the group)."""
    folder = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    os.chmod(folder, 0o777 & ~_umask())
    return folder


def _umask() -> int:
    """This process's umask, read without changing it (os.umask sets it, which other threads would see)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _remove_orphans(path: Path) -> None:
    """Remove temporary files of ``path`` left by writers that were killed (their process is gone)."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*-*.tmp"):
        pid = leftover.name[len(path.name) + 2:].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            leftover.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: alive
        return True
    return True


def commit(staged: list) -> None:
    """Rename staged ``(tmp, path)`` pairs into place, only once every one of them was written."""
    for tmp, path in staged:
        os.replace(tmp, path)


def discard(staged: list) -> None:
    for tmp, _ in staged:
        Path(tmp).unlink(missing_ok=True)


#: A spreadsheet runs a cell that starts with one of these as a formula (CSV/formula injection).
FORMULA_PREFIXES = ("=", "+", "-", "@")


def formula_cells(frame: pd.DataFrame) -> dict:
    """``{column: count}`` of text cells a spreadsheet would run as formulas.

    A text cell counts when it starts with ``= + - @`` and is not a plain number (``-1.5`` is
    harmless; ``=HYPERLINK(...)`` or ``-2+3`` are not). Numeric columns never count.
    """
    found = {}
    for column in frame.columns:
        series = frame[column]
        if not (series.dtype == object or pd.api.types.is_string_dtype(series)):
            continue
        mask = _formula_mask(series)
        if mask.any():
            found[str(column)] = int(mask.sum())
    return found


def _formula_mask(series: pd.Series) -> np.ndarray:
    text = series.astype("string")
    starts = text.str.startswith(FORMULA_PREFIXES).fillna(False).to_numpy(dtype=bool)
    if not starts.any():
        return starts
    numeric = pd.to_numeric(text.where(starts), errors="coerce").notna().to_numpy()
    return starts & ~numeric


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose formula-like text cells (see :func:`formula_cells`) start with ``'``.

    This is the usual spreadsheet escape (OWASP's advice for CSV injection): the spreadsheet
    shows the text instead of running it. Only those cells change; every other value is kept.
    """
    out = frame.copy()
    for column in formula_cells(frame):
        mask = _formula_mask(frame[column])
        values = frame[column].astype(object).to_numpy(copy=True)
        values[mask] = ["'" + str(v) for v in values[mask]]
        out[column] = values
    return out


def _warn_formulas(frame: pd.DataFrame, path: Union[str, Path]) -> None:
    found = formula_cells(frame)
    if found:
        listed = ", ".join(f"{c} ({n})" for c, n in list(found.items())[:5])
        warnings.warn(f"{Path(path).name} has {sum(found.values())} cell(s) starting with = + - @ in column(s) "
                      f"{listed}; a spreadsheet may run them as formulas. The values are written unchanged: open "
                      "the file as text, or write it with --formula-safe (API: formula_safe=True), which prefixes "
                      "those cells with '.", WorkbenchWarning, stacklevel=3)


def to_parquet(frame: pd.DataFrame, target, name: str, instead: str) -> None:
    """``frame`` as Parquet into ``target`` (a path or a buffer), or one :class:`DataFileError` naming what
    Parquet cannot hold (a column mixing numbers and text, say) and ``instead``, what to do."""
    try:
        frame.to_parquet(target, index=False)
    except (TypeError, ValueError, ImportError) as exc:  # pyarrow's errors subclass these
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataFileError(f"Cannot write {name} as Parquet ({reason}). {instead}") from None


def table_writer(frame: pd.DataFrame, path: Union[str, Path], *, formula_safe: bool = False):
    """A ``write(tmp)`` callable for :func:`stage`.

    For CSV/TSV, ``formula_safe`` escapes formula-like text cells (see :func:`escape_formulas`);
    without it they are written unchanged and a :class:`WorkbenchWarning` says so.
    """
    kind = table_format(path)
    if kind != "parquet":
        if formula_safe:
            frame = escape_formulas(frame)
        else:
            _warn_formulas(frame, path)

    def _write(tmp: str) -> None:
        if kind == "parquet":
            to_parquet(frame, tmp, Path(path).name, "Write a .csv instead.")
        else:
            frame.to_csv(tmp, index=False, sep="\t" if kind == "tsv" else ",", lineterminator="\n")

    return _write


def json_writer(obj: Any):
    text = json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def _write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)

    return _write


def write_table(frame: pd.DataFrame, path: Union[str, Path], *, formula_safe: bool = False) -> Path:
    """Write ``frame`` atomically as CSV, TSV or Parquet (chosen by the extension), without the index.

    ``formula_safe`` escapes formula-like text cells of a CSV/TSV (see :func:`table_writer`).
    """
    commit([(stage(path, table_writer(frame, path, formula_safe=formula_safe)), path)])
    return Path(path)


def write_json(obj: Any, path: Union[str, Path]) -> Path:
    """Write a JSON document atomically (standard JSON: no NaN or Infinity)."""
    commit([(stage(path, json_writer(obj)), path)])
    return Path(path)
