"""Featurize rows that arrive later exactly as a Dataset's rows were featurized.

The loader's tabular featurizer fits its parameters (medians, means, spreads, category levels) on
the data it loads, so new rows loaded on their own would be scaled differently. A
:class:`RowFeaturizer` recovers those parameters from a Dataset's original rows, stores them as
plain JSON, and applies them to new rows; it also maps each original column to the feature
columns made from it (a one-hot block, a missing-value indicator), which column pruning
(:mod:`core.columns`) ranks. The value model (rows that arrive later) is its other user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from core.data.dataset import Dataset, fingerprint_arrays
from core.foundation.errors import ConfigError, DataFileError

NUMERIC_SHARE_FOR_COERCION = 0.8  # the loader's rule for a mostly numeric text column
_SUPPORTED_KINDS = ("tabular", "array", "embedding")

__all__ = ["RowFeaturizer", "new_rows_dataset"]


@dataclass(frozen=True)
class RowFeaturizer:
    """Per-column featurizer parameters recovered from a Dataset.

    Attributes
    ----------
    specs : tuple of dict
        One per original column that made features: ``{"column", "kind": "numeric", "median",
        "mean", "std", "missing": None | [mean, std]}``, ``{"column", "kind": "categorical",
        "levels"}`` or ``{"column", "kind": "raw"}`` (embedding columns, used as they are).
    label_column, id_column : str or None
    """

    specs: tuple
    label_column: str
    id_column: Optional[str] = None

    @property
    def columns(self) -> list:
        """The original columns new rows must have."""
        return [spec["column"] for spec in self.specs]

    @property
    def names(self) -> list:
        """One name per output feature (the Dataset's ``feature_names``)."""
        return [name for spec in self.specs for name in _spec_names(spec)]

    @classmethod
    def fit(cls, ds) -> "RowFeaturizer":
        """Recover the featurizer of ``ds`` (raises ConfigError when it cannot be reproduced)."""
        settings = ds.settings or {}
        if ds.kind not in _SUPPORTED_KINDS or settings.get("pca_dim"):
            why = "PCA-reduced features (max_dim)" if settings.get("pca_dim") else f"{ds.kind} features"
            raise ConfigError(f"This works on tables of numeric or categorical columns, not on {why}. "
                              "Load the data without max_dim (a table of pixel columns with featurizer='tabular'), "
                              "or use precomputed embedding columns.")
        columns = settings.get("features") or [c for c in ds.frame.columns if c not in (ds.label_column, ds.id_column)]
        names = set(ds.feature_names)
        specs = [spec for column in columns if (spec := _fit_column(ds.frame[column], str(column), ds.kind, names))]
        out = cls(specs=tuple(specs), label_column=ds.label_column, id_column=ds.id_column)
        if out.names != list(ds.feature_names) or not np.allclose(out.transform(ds.frame), ds.X, atol=1e-3):
            raise ConfigError("The features of this data cannot be reproduced column by column "
                              "(a featurizer this workbench does not know made them). Reload the data as a table.")
        return out

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Features of shape (n_rows, n_features) for rows with the training columns."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataFileError(
                f"The new rows lack {len(missing)} column(s) the model was trained on: {missing[:8]}. "
                "Give them the same columns as the training data."
            )
        blocks = [_apply_column(frame[spec["column"]], spec) for spec in self.specs]
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))

    def groups(self) -> dict:
        """Original column -> positions of the feature columns made from it, in the data's column order."""
        groups, start = {}, 0
        for spec in self.specs:
            width = len(_spec_names(spec))
            groups[spec["column"]] = list(range(start, start + width))
            start += width
        return groups

    def to_dict(self) -> dict:
        return {"specs": [dict(spec) for spec in self.specs], "label_column": self.label_column,
                "id_column": self.id_column}

    @classmethod
    def from_dict(cls, document: dict) -> "RowFeaturizer":
        return cls(specs=tuple(document["specs"]), label_column=document["label_column"],
                   id_column=document.get("id_column"))


def _spec_names(spec: dict) -> list:
    column = spec["column"]
    if spec["kind"] == "categorical":
        return [f"{column}={level}" for level in spec["levels"]]
    if spec["kind"] == "numeric" and spec["missing"] is not None:
        return [column, f"{column}__missing"]
    return [column]


def _as_numbers(series: pd.Series) -> Optional[np.ndarray]:
    """Float values with NaN for missing, or None when the column is categorical."""
    if pd.api.types.is_bool_dtype(series):
        return None
    if not pd.api.types.is_numeric_dtype(series):
        coerced = pd.to_numeric(series, errors="coerce")
        present = int(series.notna().sum())
        if present == 0 or coerced.notna().sum() / present < NUMERIC_SHARE_FOR_COERCION:
            return None
        series = coerced
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isinf(values), np.nan, values)


def _fit_column(series: pd.Series, column: str, kind: str, names: set) -> Optional[dict]:
    if kind == "embedding":
        return {"column": column, "kind": "raw"} if column in names else None
    values = _as_numbers(series)
    if values is not None and column in names:
        missing = np.isnan(values)
        median = float(np.nanmedian(values))
        filled = np.where(missing, median, values)
        indicator = None
        if f"{column}__missing" in names:
            indicator = [float(missing.mean()), float(missing.astype(float).std())]
        return {"column": column, "kind": "numeric", "median": median, "mean": float(filled.mean()),
                "std": float(filled.std()) or 1.0, "missing": indicator}
    prefix = f"{column}="
    levels = [name[len(prefix):] for name in sorted(names) if name.startswith(prefix)]
    return {"column": column, "kind": "categorical", "levels": sorted(levels)} if levels else None


def _apply_column(series: pd.Series, spec: dict) -> np.ndarray:
    kind = spec["kind"]
    if kind == "raw":
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isfinite(values), values, 0.0)[:, None]
    if kind == "categorical":
        text = series.astype("object").where(series.notna(), "<missing>").astype(str).to_numpy()
        return (text[:, None] == np.asarray(spec["levels"], dtype=object)[None, :]).astype(np.float64)
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.where(np.isinf(values), np.nan, values)
    missing = np.isnan(values)
    out = [(np.where(missing, spec["median"], values) - spec["mean"]) / spec["std"]]
    if spec["missing"] is not None:
        mean, std = spec["missing"]
        out.append((missing.astype(np.float64) - mean) / (std or 1.0))
    return np.column_stack(out)


def new_rows_dataset(frame: pd.DataFrame, featurizer: RowFeaturizer, classes: list) -> Dataset:
    """A Dataset of new rows featurized with the training parameters; unlabelled rows get one class."""
    X = featurizer.transform(frame).astype(np.float32)
    label, id_column = featurizer.label_column, featurizer.id_column
    if id_column is not None and id_column in frame.columns:
        ids = frame[id_column].to_numpy(dtype=object)
        if pd.Index(ids).has_duplicates:
            raise DataFileError(f"Id column '{id_column}' of the new rows has duplicate values; ids must be unique.")
    else:
        ids = np.arange(len(frame)).astype(object)
    if label in frame.columns and frame[label].notna().all():
        values = frame[label].astype(str).str.strip().to_numpy()
        row_classes, y = np.unique(values, return_inverse=True)
    else:  # unlabelled: selection by predicted value still works; class-aware strategies see one class
        row_classes, y = np.asarray(["(unlabelled)"]), np.zeros(len(frame), dtype=np.int64)
    settings = {"featurizer": "value-model", "features": list(featurizer.columns), "label": label, "id": id_column}
    return Dataset(frame=frame, ids=ids, y=y.astype(np.int64), classes=row_classes, X=X,
                   feature_names=list(featurizer.names), label_column=label, id_column=id_column, kind="tabular",
                   fingerprint=fingerprint_arrays(X, y, ids, row_classes, settings), settings=settings)
