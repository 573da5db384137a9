"""Columns whose cells are numeric vectors (Parquet ``list<float>``, the usual embedding layout).

Hugging Face and Spark write an embedding as one column of equal-length lists. The table keeps
that column as it is (so exports hold it unchanged); the featurizers see one float column per
position, named ``<column>_<i>``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.foundation.errors import DataFileError


def is_vector_column(series: pd.Series) -> bool:
    """True when the cells are lists or 1-d arrays (judged by the first non-missing cell)."""
    if series.dtype != object or len(series) == 0:
        return False
    first = series.iloc[0]
    return isinstance(first, (list, tuple, np.ndarray))


def _stack(series: pd.Series) -> np.ndarray:
    name = series.name
    lengths = series.map(lambda v: len(v) if isinstance(v, (list, tuple, np.ndarray)) else -1).to_numpy()
    if (lengths < 0).any():
        row = int(np.flatnonzero(lengths < 0)[0])
        raise DataFileError(f"Column '{name}' holds vectors but row {row + 1} does not (it is missing or a "
                            "single value). Every row needs a vector of the same length.")
    if len(set(lengths.tolist())) != 1:
        raise DataFileError(f"Column '{name}' holds vectors of different lengths ({sorted(set(lengths.tolist()))[:5]}). "
                            "Every row needs a vector of the same length.")
    try:
        return np.stack([np.asarray(v, dtype=np.float32) for v in series.to_numpy()])
    except (TypeError, ValueError):
        raise DataFileError(f"Column '{name}' holds vectors of something other than numbers. "
                            "Use numeric vectors (e.g. list<float>).") from None


def expand_vector_columns(frame: pd.DataFrame, columns: list) -> tuple[pd.DataFrame, list]:
    """``(frame, columns)`` with every vector column among ``columns`` spread into float columns.

    Returns the inputs unchanged when there is no vector column.
    """
    vectors = [c for c in columns if is_vector_column(frame[c])]
    if not vectors:
        return frame, columns
    parts, names = [], []
    for column in columns:
        if column in vectors:
            block = _stack(frame[column])
            spread = [f"{column}_{i}" for i in range(block.shape[1])]
            parts.append(pd.DataFrame(block, columns=spread, index=frame.index))
            names += spread
        else:
            parts.append(frame[[column]])
            names.append(column)
    return pd.concat(parts, axis=1), names


def vectors_as_bytes(frame: pd.DataFrame, columns: list) -> pd.DataFrame:
    """``frame`` with vector columns replaced by their float32 bytes (hashable, for fingerprints)."""
    vectors = [c for c in columns if is_vector_column(frame[c])]
    if not vectors:
        return frame
    return frame.assign(**{c: frame[c].map(lambda v: np.asarray(v, dtype=np.float32).tobytes()) for c in vectors})
