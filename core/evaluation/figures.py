"""What one cross-validated estimate reports: :class:`Estimate`, its interval and its worst class.

Beside the mean accuracy and its spread (standard deviation over folds), every estimate carries

* an **interval**: the Nadeau-Bengio corrected resampled t interval (Nadeau & Bengio 2003,
  "Inference for the generalization error"). The folds' accuracies are not independent (their
  training sets overlap), so the plain ``std / sqrt(K)`` is too small; the correction inflates the
  variance to ``(1/K + n_test/n_train) s^2`` (``s`` the sample standard deviation over the K folds,
  ``n_test/n_train = 1/(K-1)`` for K-fold CV) and the interval is ``mean +- t_{K-1} sqrt(that)``.
  Its coverage of accuracy on unseen data is measured in ``benchmarks/honest.py``;
* the **worst class**: the class with the lowest held-out recall (per-class accuracy), its recall
  and that recall's spread over folds, because a subset can keep the mean and lose a class;
* the **kept share per class**: the share of each class's training rows the subset kept (mean
  over folds), which says which classes a strategy thinned most.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

INTERVAL_LEVEL = 0.95
INTERVAL_METHOD = ("Nadeau-Bengio corrected resampled t: mean +- t(K-1) x sqrt((1/K + 1/(K-1)) x s^2) over the "
                   "K folds' accuracies (s: their sample standard deviation), a 95% interval")


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
        Class name -> held-out recall of that class (accuracy on its rows), mean over folds.
    n_kept, n_input : int
        Rows kept and rows in the data (for per-fold masks, the mean kept per fold, scaled to the
        whole data).
    model, budget : str
        Which model and which training budget produced the numbers.
    repeats : int
        Random subsets averaged (1 for a single mask).
    note : str
        What kind of figure this is, e.g. "instant first figure" for the ridge.
    interval : list of two floats, or None
        The 95 % corrected resampled t interval of the accuracy (:data:`INTERVAL_METHOD`).
    worst_class : str or None
        The class with the lowest mean recall; ``worst_class_accuracy`` is that recall and
        ``worst_class_std`` its spread over folds.
    kept_share : dict
        Class name -> share of that class's training rows kept (mean over folds); empty when
        unknown.
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
    note: str = ""
    interval: Optional[list] = None
    worst_class: Optional[str] = None
    worst_class_accuracy: Optional[float] = None
    worst_class_std: Optional[float] = None
    kept_share: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.interval is None:
            self.interval = corrected_interval(self.fold_accuracies)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (f"{100 * self.accuracy:.1f}% ± {100 * self.std:.1f} ({self.n_kept}/{self.n_input} rows kept; "
                f"{self.model})")


def corrected_interval(fold_accuracies, level: float = INTERVAL_LEVEL) -> Optional[list]:
    """[lo, hi]: the corrected resampled t interval of the mean of K-fold accuracies (None below 2 folds)."""
    from scipy.stats import t as student_t

    values = np.asarray([v for v in fold_accuracies if v is not None and np.isfinite(v)], dtype=float)
    k = len(values)
    if k < 2:
        return None
    variance = (1.0 / k + 1.0 / (k - 1)) * values.var(ddof=1)
    half = float(student_t.ppf(0.5 + level / 2, k - 1) * np.sqrt(variance))
    mean = float(values.mean())
    return [max(0.0, mean - half), min(1.0, mean + half)]


def summarise(fold_acc, class_acc, classes, n_kept, n_input, model, budget, repeats=1, note="",
              kept_share=None) -> Estimate:
    """Estimate from accuracies shaped (repeats, folds) and (repeats, folds, classes)."""
    fold_acc = np.atleast_2d(fold_acc)
    class_acc = np.asarray(class_acc, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_fold_class = np.nanmean(class_acc, axis=0)  # (folds, classes)
        per_class = np.nanmean(per_fold_class, axis=0)
    worst = worst_class(per_class, per_fold_class, classes)
    return Estimate(
        accuracy=float(np.nanmean(fold_acc)),
        std=float(np.nanstd(fold_acc)),
        fold_accuracies=[float(v) for v in np.nanmean(fold_acc, axis=0)],
        per_class={str(c): (None if np.isnan(a) else float(a)) for c, a in zip(classes, per_class)},
        n_kept=int(n_kept), n_input=int(n_input), model=model, budget=budget, repeats=int(repeats),
        repeat_accuracies=[float(v) for v in np.nanmean(fold_acc, axis=1)] if repeats > 1 else [],
        note=note, worst_class=worst[0], worst_class_accuracy=worst[1], worst_class_std=worst[2],
        kept_share=kept_share or {},
    )


def worst_class(per_class, per_fold_class, classes) -> tuple:
    """(name, mean recall, spread over folds) of the class with the lowest mean recall."""
    per_class = np.asarray(per_class, dtype=float)
    if not len(per_class) or np.isnan(per_class).all():
        return None, None, None
    c = int(np.nanargmin(per_class))
    column = np.asarray(per_fold_class, dtype=float)[:, c]
    return str(classes[c]), float(per_class[c]), float(np.nanstd(column)) if np.isfinite(column).any() else None


def kept_share(fold_masks: np.ndarray, fold_of_row: np.ndarray, y: np.ndarray, classes) -> dict:
    """Class name -> share of that class's training rows kept, mean over folds."""
    fold_masks = np.asarray(fold_masks, dtype=bool)
    C = len(classes)
    shares = []
    same = fold_masks.strides[0] == 0
    for f in range(fold_masks.shape[0]):
        train = fold_of_row != f
        total = np.bincount(y[train], minlength=C)
        kept = np.bincount(y[train], weights=fold_masks[0 if same else f][train], minlength=C)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares.append(np.where(total > 0, kept / np.maximum(total, 1), np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(np.array(shares), axis=0)
    return {str(c): (None if np.isnan(s) else float(s)) for c, s in zip(classes, mean)}
