"""A value model: predict a row's value from its features, then select among rows that arrive later.

"Model-based pruning": fit a small model on a scored data set that predicts one score (``el2n``,
``label_noise``...) or the keep/drop decision of a selection from the features alone (optionally
with the label one-hot), report its out-of-fold quality (R² and rank correlation for a score,
AUROC for a decision) so nobody trusts a model that cannot predict, and then score a new batch
without recomputing out-of-fold models or neighbour graphs. The new batch becomes a Dataset whose
predicted column feeds the usual strategy strings (``el2n``, ``ccs:el2n``, ``kept_probability:high``)
or ``cover``: the new rows that best cover what a kept reference set lacks.

Before it prunes anything the model proves itself: a backtest on the scored data
(:mod:`core.value.backtest`) measures its selections against random rows of the same count,
and the default strategy at each keep fraction is the best of a few candidates there (CCS over the
predicted column, its declared end, random). A new batch's distance from the scored data is
reported (:mod:`core.value.drift`).

A model is saved without pickle: ``<stem>.json`` (version, featurizer parameters, quality,
backtest) and ``<stem>.npz`` (weights, and a sample of at most 2,000 featurized scored rows for
the drift check). Data whose columns do not match are refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from core.data.dataset import Dataset
from core.data.readers import read_path
from core.data.row_features import RowFeaturizer, new_rows_dataset
from core.foundation import stratified_folds
from core.foundation.errors import ConfigError, DataFileError
from core.evaluation.groups import copy_groups
from core.scorers import align_scores
from core.selection import check_keep, make_selection, select
from core.selection.algorithms import budget_from_keep, mask_from_positions
from core.value import backtest as value_backtest
from core.value import drift as value_drift
from core.value import fit as value_fit
from core.value.drift import cover_gaps

FORMAT = "data-pruning-workbench/value-model"
SCHEMA = 2  # 2: backtest, drift reference and a backtested default strategy
REFERENCE_ARRAY = "drift_reference"
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
    backtest : dict
        :func:`core.value.backtest.run_backtest` on the scored data (empty: not backtested).
    reference : ndarray of shape (n_reference, n_features), optional
        A sample of the scored rows' features; ``info["drift_threshold"]`` is the 95th percentile
        of their nearest-neighbour distance (see :mod:`core.value.drift`).
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
    backtest: dict = field(default_factory=dict)
    reference: Optional[np.ndarray] = None

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
            Any strategy string over the predicted column, or ``"cover"``: the rows farthest from
            ``reference`` (k-center greedy seeded with it). Default: :meth:`default_strategy` at
            ``keep`` (the backtest's best candidate).
        reference : DataFrame or path, optional
            The rows already kept (e.g. an exported subset); needed by ``"cover"``.

        Returns
        -------
        (Dataset, DataFrame, Selection)
            The new rows, their predicted scores, and the selection.
        """
        ds = self.dataset(data)
        scores = pd.DataFrame({self.column: self.predict(ds.frame)}, index=pd.Index(ds.ids, name="id"))
        strategy = strategy or self.default_strategy(keep)
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

    def candidates(self) -> list:
        """The strategies a backtest compares (CCS over the predicted column first)."""
        return value_backtest.candidate_strategies(self.column, self.task)

    def default_strategy(self, keep: Optional[float] = None) -> str:
        """The backtest's choice at the nearest backtested keep (the most accurate candidate that beats random,
        its gain beyond its uncertainty, else random); without a
        leak-free backtest there, CCS over the predicted column: it follows the score's declared
        ends and covers its distribution, so it cannot collapse onto one end."""
        blocks = [b for b in (self.backtest or {}).get("keeps", []) if b.get("default")]
        if blocks:
            wanted = 0.5 if keep is None else float(keep)
            return min(blocks, key=lambda b: abs(b["keep"] - wanted))["default"]
        return self.candidates()[0]

    def backtest_of(self, strategy: str, keep: Optional[float]) -> Optional[dict]:
        """What the backtest says of ``strategy`` at the nearest backtested keep, or None if not backtested.

        Returns
        -------
        dict or None
            ``keep``, ``entry`` (accuracy, std, gain, its uncertainty, verdict), ``random``, ``leak_free``,
            ``loses`` (below random in a leak-free backtest, clearly or not: a backtest's value models learn
            from part of the batch and understate a real collapse, so a gain below zero warns even when the
            verdict is "no clear difference") and a one-line ``text``.
        """
        found = value_backtest.entry_for(self.backtest, strategy, keep)
        if found is None:
            return None
        block, entry = found
        leak_free = bool(self.backtest.get("leak_free"))
        return {"keep": block["keep"], "entry": entry, "random": block["random"], "leak_free": leak_free,
                "loses": leak_free and entry["strategy"] != value_backtest.RANDOM and entry["gain"] < 0,
                "text": value_backtest.describe_entry(block, entry, leak_free)}

    def drift(self, data) -> Optional[dict]:
        """How far new rows lie from the scored data (:func:`core.value.drift.drift_report`);
        None for a model saved without a reference sample."""
        if self.reference is None:
            return None
        X = self.featurizer.transform(_read_frame(data))
        return value_drift.drift_report(X, self.reference, float(self.info.get("drift_threshold", 0.0)))

    # ------------------------------------------------------------------ saving

    def save(self, path) -> Path:
        """Write ``<stem>.json`` and ``<stem>.npz`` (no pickle); returns the JSON path."""
        json_path = Path(path).with_suffix(".json")
        npz_path = json_path.with_suffix(".npz")
        json_path.parent.mkdir(parents=True, exist_ok=True)
        staged_npz, staged_json = (p.with_name(f".{p.name}.partial") for p in (npz_path, json_path))
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in self.weights.items()}
        if self.reference is not None:
            arrays[REFERENCE_ARRAY] = np.asarray(self.reference, dtype=np.float32)
        with open(staged_npz, "wb") as handle:
            np.savez(handle, **arrays)
        document = {
            "format": FORMAT, "schema": SCHEMA, "workbench": _version(), "target": self.target, "task": self.task,
            "column": self.column, "model": self.model, "use_labels": self.use_labels, "classes": self.classes,
            "featurizer": self.featurizer.to_dict(), "layers": sorted(self.weights),
            "weights_file": npz_path.name, "weights_sha256": _sha256(staged_npz),
            "quality": self.quality, "info": self.info, "backtest": self.backtest,
            "default_strategies": {f"{b['keep']:g}": b.get("default") for b in self.backtest.get("keeps", [])},
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
        reference = stored[REFERENCE_ARRAY] if REFERENCE_ARRAY in stored.files else None
    return ValueModel(target=document["target"], task=document["task"], column=document["column"],
                      model=document["model"], featurizer=RowFeaturizer.from_dict(document["featurizer"]),
                      use_labels=bool(document["use_labels"]), classes=list(document["classes"]),
                      weights=weights, quality=document["quality"], info=document.get("info", {}),
                      backtest=document.get("backtest") or {}, reference=reference)


# ------------------------------------------------------------------------------------- fitting


def fit_value_model(ds: Dataset, scores=None, target: str = "el2n", *, selection=None, model: str = "linear",
                    use_labels: bool = False, folds: int = 5, seed: int = 0, alpha: float = 1.0,
                    hidden: int = 32, backtest: bool = True, keeps=value_backtest.KEEPS,
                    strategy: Optional[str] = None, evaluator_model: str = "logreg", repeats: int = 5,
                    progress=None, cancel=None) -> ValueModel:
    """Fit a model that predicts a score (or a keep/drop decision) from the features, and backtest it.

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
        Cross-validation of the reported quality and the backtest's evaluator folds (those of
        ``LiveEvaluator(ds, folds, seed)``); the seed also seeds the MLP.
    backtest : bool
        Measure the model's selections against random rows on the scored data
        (:func:`core.value.backtest.run_backtest`) at ``keeps`` for the candidate strategies
        (and ``strategy`` if given), with ``evaluator_model`` as the target model and ``repeats``
        random draws; per keep the best candidate that beats random (else random) becomes the default.

    Returns
    -------
    ValueModel
        Fitted on every row; ``quality`` is the out-of-fold estimate, ``backtest`` the backtest.
    """
    if model not in MODELS:
        raise ConfigError(f"Unknown value model '{model}'; choose one of {', '.join(MODELS)}.")
    featurizer = RowFeaturizer.fit(ds)
    X = featurizer.transform(ds.frame)
    classes = [str(c) for c in ds.classes]
    reference, threshold = value_drift.reference_sample(X, seed)
    if use_labels:
        X = np.hstack([X, _one_hot(pd.Series(ds.labels).astype(str), classes)])
    y, task, column, info = _target(ds, scores, target, selection)
    quality = value_fit.cross_validated_quality(X, y, task, model, folds, seed, alpha, hidden,
                                                groups=copy_groups(ds))  # copies on one side of each fold
    weights = value_fit.fit_weights(X, y, task, model, seed, alpha, hidden)
    info.update(data_fingerprint=ds.fingerprint, n_rows=ds.n_samples, folds=folds, seed=seed, alpha=alpha,
                hidden=hidden if model == "mlp" else None, drift_threshold=threshold)
    report = {}
    if backtest:
        report = _backtest(ds, X, y, task, column, info, scores, selection,
                           dict(model=model, alpha=alpha, hidden=hidden, seed=seed, keeps=keeps,
                                evaluator_model=evaluator_model, repeats=repeats),
                           strategy, folds, progress, cancel)
    return ValueModel(target=info["target"], task=task, column=column, model=model, featurizer=featurizer,
                      use_labels=use_labels, classes=classes, weights=weights, quality=quality, info=info,
                      backtest=report, reference=reference)


def _backtest(ds, X, y, task, column, info, scores, selection, options, strategy, folds, progress, cancel) -> dict:
    """The backtest of the candidate strategies (and ``strategy``) on the evaluator's folds."""
    groups = copy_groups(ds)  # the evaluator's folds: copies of a row on one side of every fold
    fold_of_row = stratified_folds(ds.y, folds, options["seed"], groups=groups)
    return value_backtest.run_backtest(
        ds, X, y, fold_of_row, groups=groups, task=task, target=info["target"] if task == "regression" else "kept",
        column=column,
        scores=scores, selection=selection, strategies=value_backtest.candidate_strategies(column, task, strategy),
        progress=progress, cancel=cancel, **options)


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
