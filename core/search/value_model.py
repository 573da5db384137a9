"""A value model: predict a row's value from its features, then select among rows that arrive later.

"Model-based pruning": fit a small model on a scored data set that predicts one score (``el2n``,
``label_noise``...) or the keep/drop decision of a selection from the features alone (optionally
with the label one-hot), report its out-of-fold quality (R² and rank correlation for a score,
AUROC for a decision) so nobody trusts a model that cannot predict, and then score a new batch
without recomputing out-of-fold models or neighbour graphs. The new batch becomes a Dataset whose
predicted column feeds the usual strategy strings (``el2n``, ``ccs:el2n``, ``kept_probability:high``)
or ``cover``: the new rows that best cover what a kept reference set lacks.

A model is saved without pickle: ``<stem>.json`` (version, featurizer parameters, quality) and
``<stem>.npz`` (weights). Data whose columns do not match are refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from core.data.dataset import Dataset, fingerprint_arrays
from core.data.readers import read_path
from core.foundation.errors import ConfigError, DataFileError
from core.search import value_fit
from core.search.row_features import RowFeaturizer
from core.scorers import align_scores, registered_names
from core.selection import check_keep, make_selection, select
from core.selection.algorithms import budget_from_keep, mask_from_positions

FORMAT = "data-pruning-workbench/value-model"
SCHEMA = 1
DECISION_COLUMN = "kept_probability"
MODELS = ("linear", "mlp")
COVER = "cover"

__all__ = ["ValueModel", "fit_value_model", "load_value_model", "cover_gaps", "DECISION_COLUMN", "COVER"]


@dataclass(frozen=True)
class ValueModel:
    """A fitted value model (made by :func:`fit_value_model`, read by :func:`load_value_model`).

    Attributes
    ----------
    target : str
        The score predicted, or ``"kept"`` for a keep/drop decision.
    task : {"regression", "decision"}
    column : str
        Name of the predicted column (the score's name, or ``kept_probability``).
    model : {"linear", "mlp"}
    featurizer : RowFeaturizer
        Turns the original columns of new rows into the training feature matrix.
    use_labels : bool
        Whether the label (one-hot) is an input; new rows then need labels.
    classes : list of str
        Class names of the training data (for the label one-hot and new Datasets).
    weights : dict of name -> ndarray
        Layer weights ``W0, b0, W1, b1, ...`` applied with ReLU between layers.
    quality : dict
        Out-of-fold quality: ``metric`` (r2 or auroc), ``value``, ``std`` over folds, ``spearman``.
    info : dict
        Training data fingerprint, rows, seed, folds, strategy of a decision target.
    """

    target: str
    task: str
    column: str
    model: str
    featurizer: RowFeaturizer
    use_labels: bool
    classes: list
    weights: dict
    quality: dict
    info: dict = field(default_factory=dict)

    def inputs(self, frame: pd.DataFrame) -> np.ndarray:
        """Model inputs of shape (n_rows, n_inputs) for a table with the training columns."""
        X = self.featurizer.transform(frame)
        if not self.use_labels:
            return X
        label = self.featurizer.label_column
        if label not in frame.columns:
            raise DataFileError(f"This value model uses labels, but the new rows have no '{label}' column. "
                                "Add the labels, or fit the model with use_labels=False.")
        return np.hstack([X, _one_hot(frame[label], self.classes)])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted value per row, shape (n_rows,): the score, or the probability of being kept."""
        return value_fit.predict(self.weights, self.inputs(frame), self.task)

    def score(self, data) -> pd.DataFrame:
        """Predictions for new rows as a scores table (indexed by id), ready for :func:`core.select`."""
        ds = self.dataset(data)
        values = self.predict(ds.frame)
        return pd.DataFrame({self.column: values}, index=pd.Index(ds.ids, name="id"))

    def dataset(self, data) -> Dataset:
        """A Dataset of new rows featurized exactly as the training rows (labels optional)."""
        frame = _read_frame(data)
        return new_rows_dataset(frame, self.featurizer, self.classes)

    def select(self, data, strategy: Optional[str] = None, keep: Optional[float] = None,
               threshold: Optional[float] = None, seed: int = 0, *, reference=None):
        """Select among new rows by predicted value.

        Parameters
        ----------
        data : DataFrame or path
            The new rows, with the training data's feature columns (labels optional).
        strategy : str, optional
            Any strategy string over the predicted column (default: keep the high-value end,
            ``"<column>"`` for a registered score, ``"kept_probability:high"`` for a decision), or
            ``"cover"``: the rows farthest from ``reference`` (k-center greedy seeded with it).
        reference : DataFrame or path, optional
            The rows already kept (e.g. an exported subset); needed by ``"cover"``.

        Returns
        -------
        (Dataset, DataFrame, Selection)
            The new rows, their predicted scores, and the selection.
        """
        ds = self.dataset(data)
        scores = pd.DataFrame({self.column: self.predict(ds.frame)}, index=pd.Index(ds.ids, name="id"))
        strategy = strategy or self.default_strategy()
        if strategy.strip() != COVER:
            return ds, scores, select(ds, scores, strategy=strategy, keep=keep, threshold=threshold, seed=seed)
        keep = check_keep(keep)
        if keep is None or reference is None:
            raise ConfigError("Strategy 'cover' needs keep (a fraction) and reference (the rows already kept).")
        X_ref = self.featurizer.transform(_read_frame(reference))
        positions = cover_gaps(ds.X, X_ref, budget_from_keep(keep, ds.n_samples))
        mask = mask_from_positions(positions, ds.n_samples)
        sel = make_selection(ds, mask, COVER, params={"kind": COVER, "reference_rows": int(len(X_ref))},
                             keep=keep, seed=seed)
        return ds, scores, sel

    def default_strategy(self) -> str:
        if self.task == "decision":
            return f"{DECISION_COLUMN}:high"
        return self.column if self.column in registered_names() else f"{self.column}:high"

    # ------------------------------------------------------------------ saving

    def save(self, path) -> Path:
        """Write ``<stem>.json`` and ``<stem>.npz`` (no pickle); returns the JSON path."""
        json_path = Path(path).with_suffix(".json")
        npz_path = json_path.with_suffix(".npz")
        json_path.parent.mkdir(parents=True, exist_ok=True)
        staged_npz, staged_json = (p.with_name(f".{p.name}.partial") for p in (npz_path, json_path))
        with open(staged_npz, "wb") as handle:
            np.savez(handle, **{k: np.asarray(v, dtype=np.float64) for k, v in self.weights.items()})
        document = {
            "format": FORMAT, "schema": SCHEMA, "workbench": _version(), "target": self.target, "task": self.task,
            "column": self.column, "model": self.model, "use_labels": self.use_labels, "classes": self.classes,
            "featurizer": self.featurizer.to_dict(), "layers": sorted(self.weights),
            "weights_file": npz_path.name, "weights_sha256": _sha256(staged_npz),
            "quality": self.quality, "info": self.info,
        }
        staged_json.write_text(json.dumps(document, indent=2, default=_plain), encoding="utf-8")
        staged_npz.replace(npz_path)  # renamed only once both are complete: never half a model
        staged_json.replace(json_path)
        return json_path


def load_value_model(path) -> ValueModel:
    """Read a model written by :meth:`ValueModel.save` (refuses other formats and newer schemas)."""
    json_path = Path(path).with_suffix(".json")
    if not json_path.is_file():
        raise ConfigError(f"{json_path} does not exist. Pass the .json written by `workbench value-model fit`.")
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{json_path.name} is not valid JSON ({exc}). Fit the value model again.") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(f"{json_path.name} is not a value model. Pass the .json written by `workbench value-model fit`.")
    if int(document.get("schema", 0)) > SCHEMA:
        raise ConfigError(f"{json_path.name} has value-model schema {document['schema']}; this workbench reads up "
                          f"to {SCHEMA}. Upgrade the workbench.")
    npz_path = json_path.with_name(document["weights_file"])
    if not npz_path.is_file() or _sha256(npz_path) != document["weights_sha256"]:
        raise ConfigError(f"The weights file {npz_path.name} is missing or does not belong to {json_path.name}. "
                          "Keep the .json and .npz of a value model together.")
    with np.load(npz_path, allow_pickle=False) as stored:
        weights = {name: stored[name] for name in document["layers"]}
    return ValueModel(target=document["target"], task=document["task"], column=document["column"],
                      model=document["model"], featurizer=RowFeaturizer.from_dict(document["featurizer"]),
                      use_labels=bool(document["use_labels"]), classes=list(document["classes"]),
                      weights=weights, quality=document["quality"], info=document.get("info", {}))


# ------------------------------------------------------------------------------------- fitting


def fit_value_model(ds: Dataset, scores=None, target: str = "el2n", *, selection=None, model: str = "linear",
                    use_labels: bool = False, folds: int = 5, seed: int = 0, alpha: float = 1.0,
                    hidden: int = 32) -> ValueModel:
    """Fit a model that predicts a score (or a keep/drop decision) from the features.

    Parameters
    ----------
    ds : Dataset
        Scored data, loaded from a table (tabular, array or embedding features, without ``max_dim``).
    scores : DataFrame, optional
        ``core.compute_scores`` output; needed when ``target`` is a score.
    target : str
        The score column to predict; ignored when ``selection`` is given.
    selection : Selection or ndarray of shape (n_samples,), optional
        Predict this keep/drop decision instead (a logistic model; quality as AUROC).
    model : {"linear", "mlp"}
        Ridge (or logistic) regression, or a one-hidden-layer MLP with ``hidden`` units.
    use_labels : bool
        Add the label (one-hot) to the inputs: label-dependent scores such as ``label_noise``
        become predictable, but new rows then need labels.
    folds, seed : int
        Cross-validation of the reported quality; the seed also seeds the MLP.

    Returns
    -------
    ValueModel
        Fitted on every row; ``quality`` is the out-of-fold estimate.
    """
    if model not in MODELS:
        raise ConfigError(f"Unknown value model '{model}'; choose one of {', '.join(MODELS)}.")
    featurizer = RowFeaturizer.fit(ds)
    X = featurizer.transform(ds.frame)
    classes = [str(c) for c in ds.classes]
    if use_labels:
        X = np.hstack([X, _one_hot(pd.Series(ds.labels).astype(str), classes)])
    y, task, column, info = _target(ds, scores, target, selection)
    quality = value_fit.cross_validated_quality(X, y, task, model, folds, seed, alpha, hidden)
    weights = value_fit.fit_weights(X, y, task, model, seed, alpha, hidden)
    info.update(data_fingerprint=ds.fingerprint, n_rows=ds.n_samples, folds=folds, seed=seed, alpha=alpha,
                hidden=hidden if model == "mlp" else None)
    return ValueModel(target=info["target"], task=task, column=column, model=model, featurizer=featurizer,
                      use_labels=use_labels, classes=classes, weights=weights, quality=quality, info=info)


def _target(ds: Dataset, scores, target: str, selection) -> tuple:
    if selection is not None:
        mask = np.asarray(getattr(selection, "mask", selection))
        if mask.shape != (ds.n_samples,):
            raise ConfigError(f"The selection has {mask.size} rows but the data have {ds.n_samples}; select on this data.")
        if mask.all() or not mask.any():
            raise ConfigError("The selection keeps every row or none, so there is no decision to learn.")
        strategy = getattr(selection, "resolved_strategy", None)
        return mask.astype(float), "decision", DECISION_COLUMN, {"target": "kept", "strategy": strategy}
    if scores is None:
        raise ConfigError(f"Predicting the score '{target}' needs the scores table (core.compute_scores).")
    frame = align_scores(ds, scores)
    if target not in frame.columns:
        names = ", ".join(str(c) for c in frame.columns)
        raise ConfigError(f"No score column '{target}' (scores have: {names}). Pick one of them as the target.")
    values = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ConfigError(f"The score '{target}' has missing values; a value model needs a score on every row.")
    if np.ptp(values) == 0:
        raise ConfigError(f"The score '{target}' is constant, so there is nothing to predict.")
    return values, "regression", str(target), {"target": str(target)}


# ------------------------------------------------------------------------------------- new rows


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


def cover_gaps(X_new: np.ndarray, X_reference: np.ndarray, budget: int, *, chunk: int = 4096) -> np.ndarray:
    """Greedy k-center over new rows, seeded with the rows already kept.

    Parameters
    ----------
    X_new : ndarray of shape (n_new, n_features)
    X_reference : ndarray of shape (n_reference, n_features)
        The kept rows; a new row near one of them adds little.
    budget : int
        New rows to choose.

    Returns
    -------
    ndarray of shape (budget,), int64
        Positions in ``X_new``, in the order chosen (farthest from everything chosen so far first).
    """
    X_new = np.asarray(X_new, dtype=np.float64)
    budget = int(min(max(budget, 0), len(X_new)))
    nearest = np.full(len(X_new), np.inf)
    reference = np.asarray(X_reference, dtype=np.float64)
    for start in range(0, len(reference), chunk):  # chunks keep memory at O(n_new x chunk)
        block = reference[start:start + chunk]
        d2 = (X_new ** 2).sum(1)[:, None] - 2 * X_new @ block.T + (block ** 2).sum(1)[None]
        nearest = np.minimum(nearest, d2.min(axis=1))
    chosen = np.empty(budget, dtype=np.int64)
    for step in range(budget):
        pick = int(np.argmax(nearest)) if np.isfinite(nearest).any() else step
        chosen[step] = pick
        nearest = np.minimum(nearest, ((X_new - X_new[pick]) ** 2).sum(1))
        nearest[chosen[:step + 1]] = -np.inf
    return chosen


def _read_frame(data) -> pd.DataFrame:
    if isinstance(data, Dataset):
        return data.frame
    if isinstance(data, pd.DataFrame):
        return data
    return read_path(data).frame


def _one_hot(labels, classes: list) -> np.ndarray:
    values = pd.Series(labels).astype(str).str.strip().to_numpy()
    return (values[:, None] == np.asarray(classes, dtype=object)[None, :]).astype(np.float64)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _version() -> str:
    from core import __version__

    return __version__
