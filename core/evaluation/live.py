"""Honest accuracy estimates for a kept subset, live (fast ridge) or exact (slower models).

Every estimate uses the same stratified K folds of the Dataset: for each fold the model trains on
the *kept rows of the other folds* and is scored on *every row of the held-out fold*, so pruning
never touches the test rows. The full-data reference and random subsets of the same size use the
same folds. The default ``model="fast"`` is a closed-form ridge classifier (see
:mod:`core.fastridge`) that answers a slider move in milliseconds; ``"logreg"``, ``"hgb"`` and
``"mlp"`` are exact evaluators that run on demand with progress.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

import numpy as np

from core.evaluation import models as exact_models
from core.foundation.errors import ConfigError
from core.evaluation.ridge import FoldRidge
from core.foundation.progress import check_cancelled, report

FAST_MODEL = "fast: closed-form ridge classifier (one-vs-rest least squares on features standardised on the kept rows, alpha={alpha})"
FAST_BUDGET = "closed-form solve (no epochs or steps)"
MODELS = ("fast",) + tuple(exact_models.MODELS)


@dataclass
class Estimate:
    """Cross-validated accuracy of a model trained on a kept subset.

    Attributes
    ----------
    accuracy : float
        Mean held-out accuracy over folds (and over repeats for random subsets).
    std : float
        Spread: standard deviation over folds (over repeats x folds for random subsets).
    fold_accuracies : list of float
        One per fold (for random subsets, the mean over repeats of each fold).
    per_class : dict
        Class name -> held-out accuracy on that class, mean over folds.
    n_kept, n_input : int
        Rows kept and rows in the data.
    model, budget : str
        Which model and which training budget produced the numbers.
    repeats : int
        Random subsets averaged (1 for a single mask).
    """

    accuracy: float
    std: float
    fold_accuracies: list
    per_class: dict
    n_kept: int
    n_input: int
    model: str
    budget: str
    repeats: int = 1
    repeat_accuracies: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"{100 * self.accuracy:.1f}% ± {100 * self.std:.1f} ({self.n_kept}/{self.n_input} rows kept; {self.model})"


def make_folds(y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Fold code per row from ``StratifiedKFold(folds, shuffle=True, random_state=seed)``."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ConfigError(f"folds must be an integer of at least 2, got {folds!r}.")
    if folds > len(y):
        raise ConfigError(f"folds={folds} is more than the {len(y)} rows; use fewer folds.")
    fold_of_row = np.zeros(len(y), dtype=np.int64)
    with warnings.catch_warnings():  # tiny classes are allowed: they just miss some folds
        warnings.simplefilter("ignore", UserWarning)
        try:
            splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
        except ValueError as err:
            raise ConfigError(f"Cannot make {folds} stratified folds: {err}. Use fewer folds.") from None
    for f, (_, test) in enumerate(splits):
        fold_of_row[test] = f
    return fold_of_row


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


def _summarise(fold_acc, class_acc, classes, n_kept, n_input, model, budget, repeats=1) -> Estimate:
    """Estimate from accuracies shaped (repeats, folds) and (repeats, folds, classes)."""
    fold_acc = np.atleast_2d(fold_acc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_class = np.nanmean(class_acc.reshape(-1, class_acc.shape[-1]), axis=0)
    return Estimate(
        accuracy=float(np.nanmean(fold_acc)),
        std=float(np.nanstd(fold_acc)),
        fold_accuracies=[float(v) for v in np.nanmean(fold_acc, axis=0)],
        per_class={str(c): (None if np.isnan(a) else float(a)) for c, a in zip(classes, per_class)},
        n_kept=int(n_kept), n_input=int(n_input), model=model, budget=budget, repeats=int(repeats),
        repeat_accuracies=[float(v) for v in np.nanmean(fold_acc, axis=1)] if repeats > 1 else [],
    )


class LiveEvaluator:
    """Cross-validated accuracy of a kept mask, cached by mask.

    Parameters
    ----------
    ds : Dataset
    folds : int
        Stratified folds, fixed per (data, folds, seed).
    seed : int
        Seeds the folds, the random references and the exact models.
    model : {"fast", "logreg", "hgb", "mlp"}
        ``"fast"`` (default) is the closed-form ridge made for slider speed.
    alpha : float
        Ridge penalty of the fast model, on standardised features.

    Examples
    --------
    >>> ev = LiveEvaluator(ds, folds=5, seed=0)
    >>> ev.estimate(sel.mask).accuracy, ev.full().accuracy, ev.random(sel.n_kept).accuracy
    """

    def __init__(self, ds, folds: int = 5, seed: int = 0, model: str = "fast", *, alpha: float = 1.0):
        if model not in MODELS:
            raise ConfigError(f"Unknown evaluator model '{model}'; choose one of {', '.join(MODELS)}.")
        self.ds = ds
        self.folds = folds
        self.seed = seed
        self.model = model
        self.alpha = alpha
        self._lock = threading.RLock()
        self._engine = None
        self._cache: OrderedDict = OrderedDict()
        self._random_cache: dict = {}

    # ------------------------------------------------------------------ set-up

    @property
    def fold_of_row_(self) -> np.ndarray:
        """Fold code per row (the same for every estimate of this evaluator)."""
        self._prepare()
        return self._fold_of_row

    def _prepare(self) -> None:
        if self._engine is not None:
            return
        with self._lock:
            if self._engine is None:
                self._fold_of_row = make_folds(self.ds.y, self.folds, self.seed)
                self._engine = FoldRidge(self.ds.X, self.ds.y, self._fold_of_row, self.ds.n_classes, self.alpha) \
                    if self.model == "fast" else "exact"

    @property
    def model_description(self) -> str:
        if self.model == "fast":
            return FAST_MODEL.format(alpha=self.alpha)
        return exact_models.MODELS[self.model][1]

    @property
    def budget_description(self) -> str:
        return FAST_BUDGET if self.model == "fast" else exact_models.MODELS[self.model][2]

    def describe(self) -> str:
        """One line a user can read: which model, which budget, which folds."""
        return f"{self.model_description}; {self.budget_description}; {self.folds} stratified folds (seed {self.seed})"

    # ------------------------------------------------------------------ estimates

    def _raw(self, mask: np.ndarray, progress=None, cancel=None) -> dict:
        self._prepare()
        if self.model == "fast":
            with self._lock:
                return self._engine.evaluate(mask)
        return exact_fold_results(self.ds, mask, self._fold_of_row, self.model, self.seed, progress, cancel)

    def estimate(self, mask, progress=None, cancel=None) -> Estimate:
        """Held-out accuracy of the model trained on the kept rows of the training folds.

        Parameters
        ----------
        mask : ndarray of shape (n_samples,), dtype bool, or a Selection
            True for kept rows.
        """
        mask = _as_mask(mask, self.ds.n_samples)
        key = hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=16).digest()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        raw = self._raw(mask, progress, cancel)
        est = _summarise(raw["fold_accuracy"], raw["class_accuracy"][None], self.ds.classes,
                         mask.sum(), len(mask), self.model_description, self.budget_description)
        with self._lock:
            self._cache[key] = est
            while len(self._cache) > 512:
                self._cache.popitem(last=False)
        return est

    def fold_accuracies(self, mask) -> np.ndarray:
        """Held-out accuracy per fold, shape (folds,)."""
        return np.asarray(self.estimate(mask).fold_accuracies)

    def predictions(self, mask) -> np.ndarray:
        """Out-of-fold predicted class codes per row, shape (n_samples,) (fast model only)."""
        mask = _as_mask(mask, self.ds.n_samples)
        self._prepare()
        if self.model != "fast":
            raise ConfigError("predictions() is available for the fast evaluator only.")
        with self._lock:
            return self._engine.evaluate(mask, with_predictions=True)["predictions"]

    def full(self, progress=None, cancel=None) -> Estimate:
        """The reference: every row kept."""
        return self.estimate(np.ones(self.ds.n_samples, dtype=bool), progress, cancel)

    def random_masks(self, n_kept: int, repeats: int = 5) -> list:
        """The random subsets used as the reference for ``n_kept`` rows.

        Repeat ``r`` keeps the first ``n_kept`` rows of a fixed permutation, so references for
        neighbouring sizes share rows and update incrementally as a slider moves.
        """
        n = self.ds.n_samples
        n_kept = int(min(max(n_kept, 0), n))
        masks = []
        for r in range(repeats):
            order = np.random.default_rng([int(self.seed), r, 104729]).permutation(n)
            mask = np.zeros(n, dtype=bool)
            mask[order[:n_kept]] = True
            masks.append(mask)
        return masks

    def random(self, n_kept: int, repeats: int = 5, progress=None, cancel=None) -> Estimate:
        """Random subsets of ``n_kept`` rows on the same folds; spread over repeats x folds."""
        key = (int(n_kept), int(repeats))
        if key in self._random_cache:
            return self._random_cache[key]
        fold_acc, class_acc = [], []
        for r, mask in enumerate(self.random_masks(n_kept, repeats)):
            check_cancelled(cancel)
            report(progress, r, repeats, f"random subset {r + 1} of {repeats}")
            raw = self._raw(mask, None, cancel)
            fold_acc.append(raw["fold_accuracy"])
            class_acc.append(raw["class_accuracy"])
        report(progress, repeats, repeats, "random subsets done")
        est = _summarise(np.array(fold_acc), np.array(class_acc), self.ds.classes, n_kept,
                         self.ds.n_samples, self.model_description, self.budget_description, repeats)
        self._random_cache[key] = est
        return est

    def compare(self, mask, repeats: int = 5) -> dict:
        """The selection next to the full data and random subsets of the same size."""
        mask = _as_mask(mask, self.ds.n_samples)
        sel, full = self.estimate(mask), self.full()
        rand = self.random(int(mask.sum()), repeats)
        return {
            "selection": sel.to_dict(), "full": full.to_dict(), "random": rand.to_dict(),
            "vs_random": sel.accuracy - rand.accuracy, "vs_full": sel.accuracy - full.accuracy,
            "model": self.model_description, "budget": self.budget_description,
            "folds": self.folds, "seed": self.seed,
            "summary": (f"{100 * sel.accuracy:.1f}% ± {100 * sel.std:.1f} with {sel.n_kept} of {sel.n_input} rows; "
                        f"random subsets of that size: {100 * rand.accuracy:.1f}% ± {100 * rand.std:.1f}; "
                        f"full data: {100 * full.accuracy:.1f}% ± {100 * full.std:.1f} "
                        f"({self.folds}-fold CV, {self.model_description.split(' (')[0]})."),
        }


def exact_fold_results(ds, mask, fold_of_row, model: str, seed: int, progress=None, cancel=None) -> dict:
    """Per-fold accuracies of an exact model (the same shape as the fast engine's output)."""
    n_folds, C = int(fold_of_row.max()) + 1, ds.n_classes
    fold_acc, class_acc = np.zeros(n_folds), np.full((n_folds, C), np.nan)
    for f in range(n_folds):
        check_cancelled(cancel)
        report(progress, f, n_folds, f"training {model} on fold {f + 1} of {n_folds}")
        test = fold_of_row == f
        train = ~test & mask
        pred = exact_models.fit_predict(model, ds.X[train], ds.y[train], ds.X[test], C, seed + f,
                                        int((~test).sum()), cancel)
        correct = pred == ds.y[test]
        fold_acc[f] = correct.mean()
        totals = np.bincount(ds.y[test], minlength=C)
        hits = np.bincount(ds.y[test], weights=correct, minlength=C)
        class_acc[f] = np.where(totals > 0, hits / np.maximum(totals, 1), np.nan)
    report(progress, n_folds, n_folds, f"{model} done")
    return {"fold_accuracy": fold_acc, "class_accuracy": class_acc}


def evaluate_exact(ds, mask, model: str = "logreg", folds: int = 5, seed: int = 0,
                   progress=None, cancel=None) -> Estimate:
    """Cross-validated accuracy of an exact model on the same folds as :class:`LiveEvaluator`.

    Parameters
    ----------
    model : {"logreg", "hgb", "mlp"}
        Logistic regression, histogram gradient boosting, or a one-hidden-layer torch MLP
        trained for a fixed number of steps (compute-matched to the full training fold).
    """
    if model not in exact_models.MODELS:
        raise ConfigError(f"Unknown exact model '{model}'; choose one of {', '.join(exact_models.MODELS)}.")
    return LiveEvaluator(ds, folds=folds, seed=seed, model=model).estimate(mask, progress, cancel)
