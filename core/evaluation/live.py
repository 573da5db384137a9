"""Cross-validated accuracy of a kept subset, with the model the user trains.

Every estimate uses the same stratified K folds of the Dataset: fold ``f``'s model trains on the
*kept rows outside fold f* and is scored on *every row of fold f*, so pruning never touches the
test rows. The full-data reference and random subsets of the same size use the same folds.

Each fold may have its own training mask (:meth:`LiveEvaluator.estimate_folds`): that is how a
leak-free estimate keeps, for fold ``f``, the rows chosen by scores that never saw fold ``f``'s
labels (see :mod:`core.evaluation.foldwise`). :meth:`LiveEvaluator.estimate` is the special case
of one mask for every fold.

The target model is the user's choice (:mod:`core.evaluation.engines`): logistic regression by
default (warm-started, the same optimum as scikit-learn's), k-nearest neighbours, a small MLP or
gradient boosting. The closed-form ridge (``model="ridge"``) is only an instant first figure and
says so.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from core.evaluation import models as exact_models
from core.evaluation.engines import DESCRIPTIONS, MODELS, ExactEngine, make_engine
from core.evaluation.figures import Estimate, kept_share, summarise
from core.evaluation.groups import GIVEN_RULE, evaluation_folds
from core.evaluation.live_references import RandomReferences
from core.evaluation.live_variants import SameFoldVariants
from core.evaluation.target import EstimatorEngine, check_estimator, describe_estimator
from core.foundation.errors import ConfigError
from core.foundation.folds import stratified_folds
from core.foundation.progress import check_cancelled, report

ALIASES = {"fast": "ridge"}  # the old name of the closed-form figure
_CACHE_SIZE = 4096  # per-fold results kept (a few bytes each)


def make_folds(y: np.ndarray, folds: int = 5, seed: int = 0, groups=None) -> np.ndarray:
    """Fold code per row: :func:`core.foundation.folds.stratified_folds` (the one fold maker).

    ``groups`` (e.g. :func:`core.evaluation.groups.copy_groups`) keeps each group on one side;
    ``LiveEvaluator(ds, folds, seed).fold_of_row_`` is this with the data's duplicate groups.
    """
    return stratified_folds(y, folds, seed, groups=groups)


def _as_mask(mask, n: int) -> np.ndarray:
    mask = getattr(mask, "mask", mask)  # a Selection works too
    mask = np.asarray(mask)
    if mask.shape != (n,):
        raise ConfigError(f"The mask has shape {mask.shape}, but the data has {n} rows; use a mask made for this data.")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise ConfigError("The mask must be boolean (True = keep) or 0/1.")
        mask = mask.astype(bool)
    return mask


def _key(mask: np.ndarray) -> bytes:
    return hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=16).digest()


class LiveEvaluator(SameFoldVariants, RandomReferences):
    """Cross-validated accuracy of kept masks with one target model, cached by mask.

    Split by concept: this class holds the folds and the estimates; the random references are
    :class:`~core.evaluation.live_references.RandomReferences`, the screening twin, the background
    twin, the first figure and plain folds :class:`~core.evaluation.live_variants.SameFoldVariants`.

    Parameters
    ----------
    ds : Dataset
    folds : int
        Stratified folds, fixed per (data, folds, seed).
    seed : int
        Seeds the folds, the random references and the stochastic models.
    model : {"logreg", "knn", "mlp", "hgb", "ridge"}
        The target model (see :mod:`core.evaluation.engines`). ``"logreg"`` (default) answers a
        slider move in a fraction of a second; ``"ridge"`` (alias ``"fast"``) is the instant
        first figure, not a model anyone trains.
    alpha : float
        Ridge penalty of the ridge figure.
    exact : bool
        Train every fold from scratch with the reference implementation (scikit-learn's
        ``LogisticRegression`` for ``"logreg"``) instead of the warm-started engine.
    max_iter : int, optional
        Caps the logistic fits (a quick, approximate screen; see :meth:`screening`).
    fold_of_row : ndarray of shape (n_samples,), optional
        Explicit fold codes ``0 .. folds - 1`` instead of stratified folds from ``seed`` (the
        inner folds of a nested search).
    group_copies : bool
        Keep each duplicate group (exact and near copies found without labels, the duplicate
        scorer's rule: :mod:`core.evaluation.groups`) on one side of every fold (default). With
        False the folds are stratified by label only and a row's copy can be held out while the
        row trains, which counts memorisation as accuracy.
    estimator : scikit-learn classifier or pipeline, optional
        Your own target model: every estimate trains a fresh clone of it per fold
        (:mod:`core.evaluation.target`); ``model`` stays the built-in model that searches and the
        first figure use.

    Examples
    --------
    >>> ev = LiveEvaluator(ds, folds=5, seed=0)
    >>> ev.estimate(sel.mask).accuracy, ev.full().accuracy, ev.random(sel.n_kept).accuracy
    """

    def __init__(self, ds, folds: int = 5, seed: int = 0, model: str = "logreg", *, alpha: float = 1.0,
                 exact: bool = False, max_iter=None, fold_of_row=None, group_copies: bool = True, estimator=None):
        model = ALIASES.get(model, model)
        self.estimator = None if estimator is None else check_estimator(estimator)
        if model not in MODELS:
            raise ConfigError(f"Unknown evaluator model '{model}'; choose one of {', '.join(MODELS)}.")
        if exact and model not in exact_models.MODELS:
            raise ConfigError(f"There is no exact '{model}' model; choose one of {', '.join(exact_models.MODELS)}.")
        self.ds, self.folds, self.seed, self.model, self.alpha, self.exact = ds, folds, seed, model, alpha, exact
        self.max_iter, self.group_copies = max_iter, bool(group_copies)
        self._screen = None
        if fold_of_row is not None:
            self._fold_of_row = np.asarray(fold_of_row, dtype=np.int64)
            self._fold_info = {"rule": GIVEN_RULE, "grouped": None, "groups": None, "grouped_rows": None}
        self._lock = threading.RLock()
        self._engine = None
        self._first_paint = None
        self._fold_cache: OrderedDict = OrderedDict()
        self._random_cache: dict = {}

    # ------------------------------------------------------------------ set-up

    @property
    def fold_of_row_(self) -> np.ndarray:
        """Fold code per row (the same for every estimate of this evaluator)."""
        if not hasattr(self, "_fold_of_row"):
            self._fold_of_row, self._fold_info = evaluation_folds(self.ds, self.folds, self.seed,
                                                                  group_copies=self.group_copies)
        return self._fold_of_row

    @property
    def fold_info_(self) -> dict:
        """How the folds were made: ``rule`` (words), ``grouped``, ``groups`` and ``grouped_rows``."""
        self.fold_of_row_
        return dict(self._fold_info)

    @property
    def n_folds(self) -> int:
        return int(self.fold_of_row_.max()) + 1

    def prepare(self, progress=None, cancel=None) -> "LiveEvaluator":
        """Build the engine now (kNN computes its neighbour lists here), with progress."""
        with self._lock:
            if self._engine is None:
                fold_of_row = self.fold_of_row_
                if self.estimator is not None:
                    self._engine = EstimatorEngine(self.ds, fold_of_row, self.seed, estimator=self.estimator)
                elif self.exact:
                    self._engine = ExactEngine(self.ds, fold_of_row, self.seed, model=self.model)
                else:
                    self._engine = make_engine(self.model, self.ds, fold_of_row, self.seed, alpha=self.alpha,
                                               max_iter=self.max_iter, progress=progress, cancel=cancel)
        return self

    @property
    def model_description(self) -> str:
        if self.estimator is not None:
            return describe_estimator(self.estimator)
        text = DESCRIPTIONS[self.model][0].format(alpha=self.alpha)
        return text + (" (exact reference implementation)" if self.exact else "")

    @property
    def budget_description(self) -> str:
        if self.estimator is not None:
            return "a fresh clone fitted per fold on the kept training rows, as you configured it"
        if self.max_iter is not None:
            return f"quick first pass: at most {self.max_iter} optimisation steps per fold (approximate)"
        return exact_models.MODELS[self.model][2] if self.exact else DESCRIPTIONS[self.model][1]

    def describe(self) -> str:
        """One line a user can read: which model, which budget, which folds."""
        return f"{self.model_description}; {self.budget_description}; {self.folds} stratified folds (seed {self.seed})"

    # ------------------------------------------------------------------ estimates

    def _fold_result(self, f: int, train_mask: np.ndarray, progress=None, cancel=None) -> tuple:
        """(accuracy, per-class accuracy) of fold ``f`` trained on ``train_mask`` outside it."""
        fold_of_row = self.fold_of_row_
        test = fold_of_row == f
        train_rows = np.flatnonzero(train_mask & ~test)
        key = (f, _key(train_mask & ~test))
        with self._lock:
            hit = self._fold_cache.get(key)
            if hit is not None:
                self._fold_cache.move_to_end(key)
                return hit
            self.prepare(progress, cancel)
            test_rows = np.flatnonzero(test)
            pred = self._engine.predict(f, train_rows, test_rows, progress, cancel)
            truth = self.ds.y[test_rows]
            correct = pred == truth
            C = self.ds.n_classes
            totals = np.bincount(truth, minlength=C)
            hits = np.bincount(truth, weights=correct, minlength=C)
            with np.errstate(invalid="ignore", divide="ignore"):
                per_class = np.where(totals > 0, hits / np.maximum(totals, 1), np.nan)
            result = (float(correct.mean()) if len(truth) else np.nan, per_class)
            self._fold_cache[key] = result
            while len(self._fold_cache) > _CACHE_SIZE:
                self._fold_cache.popitem(last=False)
            return result

    def _prefetch(self, fold_masks: np.ndarray, progress=None, cancel=None, folds=None) -> None:
        """Let an engine that can (logistic) fit the folds not cached yet side by side."""
        with self._lock:
            self.prepare(progress, cancel)
            prefetch = getattr(self._engine, "prefetch", None)
            if prefetch is None:
                return
            work = []
            for f in range(len(fold_masks)) if folds is None else folds:
                test = self.fold_of_row_ == f
                train = fold_masks[f] & ~test
                if (f, _key(train)) not in self._fold_cache:
                    work.append((f, np.flatnonzero(train), np.flatnonzero(test)))
            if len(work) > 1:
                prefetch(work, cancel)

    def fold_results(self, fold_masks, progress=None, cancel=None, folds=None) -> tuple:
        """Per-fold accuracies (F,) and per-class accuracies (F, C) for per-fold training masks.

        ``folds``: estimate these folds only (a quick screen); the others are NaN.
        """
        fold_masks = np.asarray(fold_masks, dtype=bool)
        F = self.n_folds
        wanted = list(range(F)) if folds is None else sorted(folds)
        acc, per_class = np.zeros(F), np.zeros((F, self.ds.n_classes))
        if folds is not None:
            acc[:], per_class[:] = np.nan, np.nan
        self._prefetch(fold_masks, progress, cancel, wanted)
        for i, f in enumerate(wanted):
            check_cancelled(cancel)
            report(progress, i, len(wanted), f"training {self.model} on fold {f + 1} of {F}")
            acc[f], per_class[f] = self._fold_result(f, fold_masks[f], progress, cancel)
        report(progress, len(wanted), len(wanted), f"{self.model} done")
        return acc, per_class

    def estimate(self, mask, progress=None, cancel=None) -> Estimate:
        """Held-out accuracy of the model trained on the kept rows of the training folds.

        Parameters
        ----------
        mask : ndarray of shape (n_samples,), dtype bool, or a Selection
            True for kept rows; the same mask serves every fold.
        """
        mask = _as_mask(mask, self.ds.n_samples)
        return self.estimate_folds(np.broadcast_to(mask, (self.n_folds, len(mask))), progress, cancel)

    def estimate_folds(self, fold_masks, progress=None, cancel=None, *, note: str = "") -> Estimate:
        """Held-out accuracy when fold ``f`` trains on the kept rows of ``fold_masks[f]`` outside fold f.

        Parameters
        ----------
        fold_masks : ndarray of shape (n_folds, n_samples), dtype bool
            Row ``f`` is fold f's training mask (its entries inside fold f are ignored).
        """
        fold_masks = np.asarray(fold_masks, dtype=bool)
        n = self.ds.n_samples
        if fold_masks.shape != (self.n_folds, n):
            raise ConfigError(f"fold_masks must have shape ({self.n_folds}, {n}), got {fold_masks.shape}.")
        acc, per_class = self.fold_results(fold_masks, progress, cancel)
        n_kept = _kept_count(fold_masks, self.fold_of_row_)
        share = kept_share(fold_masks, self.fold_of_row_, self.ds.y, self.ds.classes)
        return summarise(acc, per_class[None], self.ds.classes, n_kept, n, self.model_description,
                         self.budget_description, note=note, kept_share=share)

    def fold_accuracies(self, mask) -> np.ndarray:
        """Held-out accuracy per fold, shape (folds,)."""
        return np.asarray(self.estimate(mask).fold_accuracies)

    def predictions(self, mask) -> np.ndarray:
        """Out-of-fold predicted class codes per row, shape (n_samples,)."""
        mask = _as_mask(mask, self.ds.n_samples)
        self.prepare()
        out = np.zeros(self.ds.n_samples, dtype=np.int64)
        with self._lock:
            for f in range(self.n_folds):
                test = self.fold_of_row_ == f
                test_rows = np.flatnonzero(test)
                out[test_rows] = self._engine.predict(f, np.flatnonzero(mask & ~test), test_rows)
        return out

    def full(self, progress=None, cancel=None) -> Estimate:
        """The reference: every row kept."""
        return self.estimate(np.ones(self.ds.n_samples, dtype=bool), progress, cancel)



def _kept_count(fold_masks: np.ndarray, fold_of_row: np.ndarray) -> int:
    """Rows kept, for per-fold masks: the mean kept per training fold scaled to all rows."""
    if fold_masks.shape[0] == 0:
        return 0
    first = fold_masks[0]
    if fold_masks.strides[0] == 0 or all(np.array_equal(first, m) for m in fold_masks[1:]):
        return int(first.sum())
    F = fold_masks.shape[0]
    shares = [fold_masks[f][fold_of_row != f].mean() for f in range(F)]
    return int(round(float(np.mean(shares)) * len(fold_of_row)))


def evaluate_exact(ds, mask, model: str = "logreg", folds: int = 5, seed: int = 0,
                   progress=None, cancel=None, *, estimator=None) -> Estimate:
    """Cross-validated accuracy of an exact model on the same folds as :class:`LiveEvaluator`.

    Parameters
    ----------
    model : {"logreg", "hgb", "mlp"}
        scikit-learn's logistic regression, histogram gradient boosting, or a one-hidden-layer
        torch MLP trained for a fixed number of steps (compute-matched to the full training fold).
    estimator : scikit-learn classifier or pipeline, optional
        Your own model instead (a fresh clone per fold); ``model`` is then ignored.
    """
    if estimator is not None:
        return LiveEvaluator(ds, folds=folds, seed=seed, estimator=estimator).estimate(mask, progress, cancel)
    if model not in exact_models.MODELS:
        raise ConfigError(f"Unknown exact model '{model}'; choose one of {', '.join(exact_models.MODELS)}.")
    return LiveEvaluator(ds, folds=folds, seed=seed, model=model, exact=True).estimate(mask, progress, cancel)
