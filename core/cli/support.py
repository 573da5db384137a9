"""Helpers of the ``workbench`` CLI: the stderr progress bar, path checks and option parsing.

Everything here is cheap and runs before any heavy work, so that a wrong option fails in well
under a second, before data are loaded or scores computed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd

from core.data import NA_STRINGS, read_path
from core.foundation import ConfigError, DataFileError
from core.scorers import resolve_scorers
from core.selection import check_budget, get_kind, needed_scorers, parse_strategy
from core.outputs import table_format

# Set to 1 to draw progress bars even when stderr is not a terminal (CI logs, tests).
PROGRESS_ENV = "WORKBENCH_PROGRESS"
#: Seeds reach NumPy and scikit-learn, which take 32-bit unsigned seeds.
MAX_SEED = 2**32 - 1


# ------------------------------------------------------------------------------------- progress
class ProgressBar:
    """A small tqdm-style bar on stderr, usable as a ``core`` progress callback.

    ``bar(done, total, message)`` redraws one line in place at most ten times a second.
    """

    def __init__(self, stream=None, *, width: int = 24, min_interval: float = 0.1):
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.min_interval = min_interval
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False
        self._total, self._done = 0, 0

    def __call__(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if self._drawn and (total != self._total or done < self._done):
            self.close()  # a new phase (e.g. the curve after the scores) gets its own line
        self._total, self._done = total, done
        finished = total > 0 and done >= total
        if not finished and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        fraction = min(1.0, done / total) if total else 0.0
        filled = int(round(fraction * self.width))
        elapsed = now - self.started
        line = f"\r{message[:40]:<40} |{'#' * filled}{'.' * (self.width - filled)}| {fraction:4.0%} {elapsed:5.1f}s"
        self.stream.write(line)
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line so later messages start on a fresh one."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def make_progress(quiet: bool) -> Optional[ProgressBar]:
    """A bar when stderr is a terminal (or ``WORKBENCH_PROGRESS=1``) and not ``--quiet``; else None."""
    if quiet:
        return None
    forced = os.environ.get(PROGRESS_ENV, "").strip() in ("1", "true", "yes")
    interactive = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    return ProgressBar() if forced or interactive else None


# ---------------------------------------------------------------------------------------- paths
def check_input(path: str, what: str = "DATA") -> Path:
    """The input path, which must exist (checked before anything is imported or computed)."""
    candidate = Path(path).expanduser()
    if not candidate.exists():
        raise DataFileError(f"{what} {path} does not exist. Check the path.")
    return candidate


def _same_path(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(path: str, *, option: str, inputs: Sequence[tuple], kind: str = "table") -> Path:
    """Refuse an output that would overwrite an input, has a wrong extension or cannot be created.

    Parameters
    ----------
    path : str
        The output path given on the command line.
    option : str
        Its option name, for messages (``--out``, ``--manifest``).
    inputs : sequence of (name, path)
        Paths that must never be written, e.g. ``[("DATA", args.data)]``.
    kind : {"table", "json", "csv"}
    """
    out = Path(path).expanduser()
    if kind == "json":
        if out.suffix.lower() != ".json":
            raise ConfigError(f"{option} {path}: the manifest must be a .json file.")
    else:
        table_format(out)
    for name, other in inputs:
        if other is not None and _same_path(out, Path(other).expanduser()):
            raise ConfigError(f"{option} {path} is the same file as {name}; the input is never overwritten. "
                              "Write somewhere else.")
    if out.is_dir():
        example = Path(path) / ("kept" + (out.suffix or ".csv"))
        raise ConfigError(f"{option} {path} is a folder. Give a file name, e.g. {example}.")
    ancestor = out.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"{option} {path}: {ancestor} is a file, so the output folder cannot be created.")
    if not os.access(ancestor, os.W_OK):
        raise ConfigError(f"{option} {path}: the folder {ancestor} is not writable. Choose another output folder.")
    return out


def check_distinct(outputs: Iterable[tuple]) -> None:
    """Two outputs of one command must be different files."""
    seen: list = []
    for option, path in outputs:
        if path is None:
            continue
        for other_option, other in seen:
            if _same_path(Path(path).expanduser(), Path(other).expanduser()):
                raise ConfigError(f"{option} and {other_option} are the same file ({path}). Give them different names.")
        seen.append((option, path))


# -------------------------------------------------------------------------------------- options
def parse_fraction(text: str, option: str = "--keep") -> float:
    """A keep fraction in (0, 1]."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value <= 1:  # NaN fails this too
        raise ConfigError(f"{option} must be a fraction in (0, 1], got '{text}'; e.g. {option} 0.3 keeps 30% of rows.")
    return value


def parse_fractions(text: str, option: str = "--keep") -> list:
    """Comma-separated keep fractions, sorted and de-duplicated."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise ConfigError(f"{option} needs at least one fraction, e.g. {option} 0.1,0.3,0.5.")
    return sorted({parse_fraction(p, option) for p in parts})


def parse_number(text: Optional[str], option: str) -> Optional[float]:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{option} must be a number, got '{text}'.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{option} must be a finite number, got '{text}'.")
    return value


def parse_positive_int(text, option: str, minimum: int = 1, maximum: Optional[int] = None) -> int:
    try:
        value = int(str(text))
    except ValueError:
        raise ConfigError(f"{option} must be a whole number, got '{text}'.") from None
    if value < minimum:
        raise ConfigError(f"{option} must be at least {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{option} must be between {minimum} and {maximum}, got {value}.")
    return value


def split_list(text: Optional[str]) -> list:
    return [p.strip() for p in str(text or "").split(",") if p.strip()]


def split_strategies(text: str) -> list:
    """Strategies separated by commas (or by ``;`` when one of them contains commas).

    A comma-separated term with ``=`` right after a ``scorecard:`` strategy belongs to it, so
    ``scorecard:el2n=2,margin=1,random`` reads as two strategies.
    """
    if ";" in text:
        parts = [p.strip() for p in text.split(";") if p.strip()]
    else:
        parts = []
        for token in (t.strip() for t in text.split(",")):
            if not token:
                continue
            head = token.partition(":")[0]
            if parts and parts[-1].startswith("scorecard:") and "=" in token and get_kind(head) is None:
                parts[-1] += "," + token
            else:
                parts.append(token)
    if not parts:
        raise ConfigError("--strategies needs at least one strategy, e.g. --strategies random,el2n,ccs:el2n.")
    return list(dict.fromkeys(parts))


def check_strategy(strategy: str, defaults: Sequence[str], *, keep=None, threshold=None, budget: bool = True) -> list:
    """Validate a strategy string before any work (the grammar decides) and return the scorers it needs.

    ``budget=False`` skips the keep/threshold check (the curve sweeps its own keep fractions).
    Strategies chosen by a search (``auto``) need the default scorers.
    """
    spec = parse_strategy(strategy)
    if budget:
        check_budget(spec, keep, threshold)
    if get_kind(spec.kind).searched:
        return list(defaults)
    return needed_scorers(spec)


def resolve_scorer_names(text: Optional[str]) -> list:
    """``--scorers`` (``default``, ``all`` or ``a,b``) as names, by the one resolver: core.scorers.resolve_scorers."""
    names = [n.strip() for n in str(text or "").split(",")]
    if len(names) > 1 and {"all", "default"} & set(names):
        word = "all" if "all" in names else "default"
        raise ConfigError(f"--scorers: '{word}' stands alone; give --scorers {word}, or list scorers by name "
                          "(see `workbench scorers`).")
    try:
        return [scorer.name for scorer in resolve_scorers(text or "default")]
    except ConfigError as err:
        raise ConfigError(f"--scorers: {err} Or give 'default' or 'all'; see `workbench scorers`.") from None


# ---------------------------------------------------------------------------------- scores file
#: A score column of a --scores file is refused when more than this share of its filled cells is not a number.
MOST_JUNK = 0.5


def read_scores_file(path: str) -> tuple:
    """``(frame, warnings, labels)``: a ``--scores`` file (from ``workbench score``) with numeric score columns,
    and its ``label`` column as text (None without one), for checking it against the data's.

    Ids are read as written (``007`` stays ``007``). A cell of a score column that is not a number
    (nor True/False, nor empty or NA-like) is junk: it is read as missing and a warning counts it;
    a column that is mostly junk is refused, because its scores would rank rows by what is left.
    """
    file = check_input(path, "--scores")
    frame = read_path(file, text_columns=["id", "label"]).frame
    if "id" not in frame.columns:
        raise DataFileError(f"--scores {path} has no 'id' column. Pass a file written by `workbench score`.")
    labels = frame.set_index("id")["label"].astype(str) if "label" in frame.columns else None
    frame = frame.drop(columns=[c for c in ("label",) if c in frame.columns])
    warnings = []
    for column in [c for c in frame.columns if c != "id"]:
        numbers, junk, filled, examples = _numeric_cells(frame[column])
        if not filled:  # a strategy would rank every row the same and keep whichever come first
            raise DataFileError(f"--scores {path}: column '{column}' holds no values. Score the data again with "
                                "`workbench score`.")
        if not junk:
            continue
        if junk > MOST_JUNK * filled:
            raise DataFileError(f"--scores {path}: column '{column}' is mostly not numbers ({junk} of {filled} filled "
                                f"cells, e.g. {examples}). Score the data again with `workbench score`.")
        warnings.append(f"--scores {path}: {junk} of {filled} filled cells of column '{column}' are not numbers "
                        f"(e.g. {examples}); they are read as missing.")
        frame[column] = numbers
    return frame, warnings, labels


def check_scores_labels(path: str, labels, ds) -> None:
    """DataFileError when the scores file's labels differ from the data's on shared ids: scores that read the
    labels (el2n, label_noise...) were computed on other data."""
    if labels is None:
        return
    data = pd.Series(np.asarray(ds.classes, dtype=object)[ds.y], index=pd.Index(ds.ids).astype(str)).astype(str)
    shared = labels.index.astype(str).intersection(data.index)
    scored = labels.set_axis(labels.index.astype(str))
    scored = scored[~scored.index.duplicated()]
    a, b = scored.loc[shared].str.strip(), data.loc[shared].str.strip()
    same_number = pd.to_numeric(a, errors="coerce").to_numpy() == pd.to_numeric(b, errors="coerce").to_numpy()
    differ = int(((a.to_numpy() != b.to_numpy()) & ~same_number).sum()) if len(shared) else 0
    if differ:
        raise DataFileError(f"--scores {path}: {differ} of {len(shared)} rows have another label than in the data; "
                            "these scores were computed on other labels. Score this data again with `workbench score`.")


def _numeric_cells(series: pd.Series) -> tuple:
    """``(numbers, junk count, filled count, junk examples)`` of one score column."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return series, 0, int(series.notna().sum()), []
    text = series.astype("string").str.strip()
    truth = text.str.lower().map({"true": 1.0, "false": 0.0})
    numbers = pd.to_numeric(text.where(truth.isna()), errors="coerce").fillna(truth)
    filled = text.notna() & ~text.isin(NA_STRINGS)
    junk = filled & numbers.isna()
    return numbers.astype(float), int(junk.sum()), int(filled.sum()), list(pd.unique(text[junk]))[:3]
