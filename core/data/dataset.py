"""The :class:`Dataset`: original rows, ids, labels and a float32 feature matrix.

A Dataset is what every scorer, strategy and evaluator consumes. The original rows are kept
untouched so that an export writes exactly what the user loaded, and the content fingerprint is
the key of every on-disk cache and is recorded in manifests.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import pandas as pd


@dataclass(eq=False)
class Dataset:
    """A labelled data set ready for scoring.

    Attributes
    ----------
    frame : DataFrame of shape (n_samples, n_columns)
        The original rows, untouched, in the order they were loaded. For image folders and NPZ
        files this is a table built from the file (paths or array columns).
    ids : ndarray of shape (n_samples,)
        A stable, unique id per row (object dtype: str or int values).
    y : ndarray of shape (n_samples,), dtype int64
        Label codes ``0 .. n_classes - 1``; ``classes[y]`` gives the original labels.
    classes : ndarray of shape (n_classes,)
        The class names, sorted.
    X : ndarray of shape (n_samples, n_features), dtype float32
        Features made by a featurizer; finite everywhere.
    feature_names : list of str
        One name per column of ``X``.
    label_column : str
        Name of the label column in ``frame``.
    id_column : str or None
        Name of the id column in ``frame``, or None when ids are row numbers.
    kind : {"tabular", "text", "image", "embedding", "array"}
        Which featurizer made ``X``.
    fingerprint : str
        Hex digest of the data, labels, ids and featurizer settings. It changes if and only if one
        of those changes.
    warnings : list of str
        Plain-language notes about what loading did (imputed values, coerced columns, dropped rows).
    settings : dict
        The featurizer settings that made ``X`` (recorded in manifests).
    source : str or None
        Path the data was loaded from, if any.
    images : ndarray of shape (n_samples, height, width) or None
        Grey-scale or RGB pixel arrays in [0, 1] for thumbnails, when the data are images.
    text_column : str or None
        The text column, when the data are text (for snippets in galleries).
    """

    frame: pd.DataFrame
    ids: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    X: np.ndarray
    feature_names: list
    label_column: str
    id_column: Optional[str]
    kind: str
    fingerprint: str
    warnings: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    source: Optional[str] = None
    images: Optional[np.ndarray] = None
    text_column: Optional[str] = None

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        return int(len(self.classes))

    @property
    def labels(self) -> np.ndarray:
        """Original label values per row."""
        return self.classes[self.y]

    @property
    def feature_reduction(self) -> Optional[dict]:
        """How wide features were reduced for scoring, estimates and maps, or None if they were not.

        Returns
        -------
        dict or None
            ``{"method": "pca", "input_dim": d_in, "output_dim": d_out, "explained_variance": r}``
            with ``r`` in [0, 1]; the original columns are still in :attr:`frame`.
        """
        if not self.settings.get("pca_dim"):
            return None
        return {"method": "pca", "input_dim": self.settings.get("pca_input_dim"),
                "output_dim": int(self.settings["pca_dim"]),
                "explained_variance": self.settings.get("pca_explained_variance")}

    def class_counts(self) -> pd.Series:
        """Rows per class, indexed by class name."""
        counts = np.bincount(self.y, minlength=self.n_classes)
        return pd.Series(counts, index=pd.Index(self.classes, name="class"), name="rows")

    def id_index(self) -> pd.Index:
        """The ids as a pandas Index, made once per ids array: its type is inferred once and its hash table
        kept (matching a scores table's ids against 50,000 object ids cost 15 ms a call otherwise, several
        times per slider move)."""
        cached = self.__dict__.get("_id_index")
        if cached is None or cached[0] is not self.ids:
            cached = (self.ids, pd.Index(self.ids))
            self.__dict__["_id_index"] = cached
        return cached[1]

    def positions_in(self, index: pd.Index) -> np.ndarray:
        """Where each of this data set's ids sits in ``index`` (-1 where it is absent), remembered for the
        last index asked: the app matches the same score table's ids on every slider move."""
        cached = self.__dict__.get("_positions_in")
        if cached is None or cached[0] is not index or cached[1] is not self.ids:
            positions = index.get_indexer(self.id_index())
            positions.setflags(write=False)  # shared by every call that asks for the same index
            cached = (index, self.ids, positions)
            self.__dict__["_positions_in"] = cached
        return cached[2]

    def index_of(self, ids) -> np.ndarray:
        """Row positions of the given ids (raises KeyError for unknown ids)."""
        lookup = self.id_index()
        positions = lookup.get_indexer(pd.Index(np.asarray(ids, dtype=object)))
        if (positions < 0).any():
            missing = np.asarray(ids, dtype=object)[positions < 0][:5]
            raise KeyError(f"unknown ids: {list(missing)}")
        return positions

    def take(self, positions) -> "Dataset":
        """The Dataset restricted to the rows at ``positions`` (in that order).

        Used to score and select on the training folds only. Classes are kept as they are (so
        label codes mean the same in both), and the fingerprint derives from this one's and the
        positions, so caches of the part never collide with the whole.

        Parameters
        ----------
        positions : array-like of int of shape (n_rows,)
        """
        positions = np.asarray(positions, dtype=np.int64)
        digest = hashlib.sha256(self.fingerprint.encode())
        digest.update(np.ascontiguousarray(positions).tobytes())
        images = self.images[positions] if self.images is not None else None
        return Dataset(frame=self.frame.iloc[positions].reset_index(drop=True), ids=self.ids[positions],
                       y=self.y[positions], classes=self.classes, X=np.ascontiguousarray(self.X[positions]),
                       feature_names=list(self.feature_names), label_column=self.label_column,
                       id_column=self.id_column, kind=self.kind, fingerprint=digest.hexdigest(),
                       warnings=list(self.warnings), settings=dict(self.settings), source=self.source,
                       images=images, text_column=self.text_column)

    def __repr__(self) -> str:
        return (
            f"Dataset(kind={self.kind!r}, n_samples={self.n_samples}, n_features={self.n_features}, "
            f"n_classes={self.n_classes}, fingerprint={self.fingerprint[:12]!r})"
        )

    @classmethod
    def from_arrays(cls, X, y, ids=None, *, classes=None, kind: str = "array") -> "Dataset":
        """Build a Dataset straight from arrays (tests, benchmarks, notebooks).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels of any hashable type; they are encoded to codes ``0 .. n_classes - 1``.
        ids : array-like of shape (n_samples,), optional
            Defaults to ``0 .. n_samples - 1``.
        """
        X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
        y_raw = np.asarray(y)
        if classes is None:
            classes, codes = np.unique(y_raw, return_inverse=True)
        else:
            classes = np.asarray(classes)
            codes = np.searchsorted(classes, y_raw)
        ids = np.arange(len(X)) if ids is None else np.asarray(ids)
        ids = ids.astype(object)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        frame.insert(0, "label", y_raw)
        settings = {"featurizer": kind}
        return cls(
            frame=frame,
            ids=ids,
            y=codes.astype(np.int64),
            classes=classes,
            X=X,
            feature_names=list(frame.columns[1:]),
            label_column="label",
            id_column=None,
            kind=kind,
            fingerprint=fingerprint_arrays(X, codes, ids, classes, settings),
            settings=settings,
        )


def _update_with_array(digest, array: np.ndarray) -> None:
    array = np.asarray(array)
    if array.dtype == object:
        digest.update(pd.util.hash_array(array.astype(str)).tobytes())
    else:
        digest.update(str(array.dtype).encode())
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())


def fingerprint_arrays(X, y, ids, classes, settings: dict[str, Any]) -> str:
    """Fingerprint of features, labels, ids, class names and featurizer settings."""
    digest = hashlib.sha256()
    for array in (X, y, ids, np.asarray(classes, dtype=object)):
        _update_with_array(digest, array)
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def fingerprint_frame(frame: pd.DataFrame, extra: dict[str, Any]) -> str:
    """Fingerprint of a table's contents and column names plus loading settings."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(_hashable(frame), index=False).values.tobytes())
    digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _hashable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with cells that are vectors (Parquet ``list<double>`` embeddings) replaced by their bytes."""
    vectors = [c for c in frame.columns if frame[c].dtype == object and len(frame)
               and isinstance(frame[c].iloc[0], (list, tuple, np.ndarray))]
    if not vectors:
        return frame
    as_bytes = {c: frame[c].map(lambda v: np.asarray(v).dtype.str.encode() + np.asarray(v).tobytes()) for c in vectors}
    return frame.assign(**as_bytes)
