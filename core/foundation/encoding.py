"""Plain JSON values from what the library produces (numpy scalars and arrays, records, frames)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd


def to_jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays, records with ``to_dict``, dataclasses and frames into JSON values.

    Non-finite floats become None (JSON has no NaN); anything else unknown becomes its ``str``.
    """
    if hasattr(value, "to_dict") and not isinstance(value, (pd.DataFrame, pd.Series, type)):
        return to_jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, pd.DataFrame):
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
