"""The kept rows as the user will get them: every original column, original order and values.

Score columns come after the original ones when asked for; the bytes of a download are made here
so the app and the files written by the CLI and the API are the same.
"""

from __future__ import annotations

import io
from typing import Optional

import numpy as np
import pandas as pd

from core.data.dataset import Dataset
from core.foundation.errors import ConfigError
from core.outputs.files import escape_formulas, formula_cells, to_parquet
from core.scorers.table import align_scores


def kept_positions(ds: Dataset, sel) -> np.ndarray:
    """Row positions of the kept rows: data order, or the manifest's order after a forced apply."""
    details = getattr(sel, "details", None) or {}
    if details.get("row_order") == "manifest":
        return ds.index_of(list(sel.kept_ids))
    mask = np.asarray(sel.mask, dtype=bool)
    if mask.shape != (ds.n_samples,):
        raise ConfigError(f"The selection has {mask.size} rows but the data have {ds.n_samples}. Select on this data.")
    return np.flatnonzero(mask)


def kept_frame(ds: Dataset, sel, scores: Optional[pd.DataFrame] = None, include_scores: bool = False) -> pd.DataFrame:
    """The kept rows with all original columns in their original order, then score columns if asked.

    Score columns keep the scorer's name (``el2n``, ``label_noise_flag``...); a name that clashes
    with an original column gets the suffix ``_score``.
    """
    positions = kept_positions(ds, sel)
    out = ds.frame.iloc[positions].reset_index(drop=True)
    if include_scores and scores is not None:
        aligned = align_scores(ds, scores).iloc[positions].reset_index(drop=True)
        for column in aligned.columns:
            if column in ("id", "label"):
                continue
            name = column if column not in out.columns else f"{column}_score"
            out[name] = aligned[column].to_numpy()
    return out


def rows_bytes(ds: Dataset, sel, fmt: str = "csv", scores: Optional[pd.DataFrame] = None,
               include_scores: bool = False, drop_columns=(), formula_safe: bool = False) -> bytes:
    """The kept rows as the bytes of a ``"csv"`` or ``"parquet"`` file (what a download gets).

    ``drop_columns``: feature columns a column cut removed (the manifest's ``columns`` block).
    ``formula_safe``: a CSV's text cells a spreadsheet would run as formulas start with ``'``
    (:func:`core.outputs.files.escape_formulas`); off (the default), every value is written as it is.
    """
    frame = _exported(ds, sel, scores, include_scores, drop_columns)
    if fmt == "csv":
        frame = escape_formulas(frame) if formula_safe else frame
        return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    if fmt == "parquet":
        buffer = io.BytesIO()
        to_parquet(frame, buffer, "the kept rows", "Choose CSV instead.")
        return buffer.getvalue()
    raise ConfigError(f"Unknown export format {fmt!r}; use 'csv' or 'parquet'.")


def kept_formula_cells(ds: Dataset, sel, scores: Optional[pd.DataFrame] = None, include_scores: bool = False,
                       drop_columns=()) -> dict:
    """``{column: count}`` of the kept rows' text cells a spreadsheet would run as formulas
    (:func:`core.outputs.files.formula_cells`): what a CSV of :func:`rows_bytes` would hold."""
    return formula_cells(_exported(ds, sel, scores, include_scores, drop_columns))


def _exported(ds: Dataset, sel, scores, include_scores: bool, drop_columns) -> pd.DataFrame:
    """The kept rows' columns as exported: :func:`kept_frame` less the columns a column cut removed."""
    return kept_frame(ds, sel, scores, include_scores).drop(columns=list(drop_columns), errors="ignore")
