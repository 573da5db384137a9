"""Model-based scorers: functions of one set of cross-fitted out-of-fold probabilities.

``p`` below is the row's out-of-fold probability vector (:mod:`core.scorers.oof`) and ``y`` its
given label. Every scorer here reads the same ``p``, computed once per call.
"""

from __future__ import annotations

import numpy as np

from core.scorers.base import Scorer, ScoreResult, register
from core.scorers.oof import OutOfFold

_TINY = 1e-12


class _ModelScorer(Scorer):
    family = "model"
    cost = "medium"
    needs_labels = True

    def needs(self) -> dict:
        return {"oof": True}

    def _compute(self, ds, context) -> ScoreResult:
        return self._from_probabilities(context.out_of_fold(), ds.y)

    def _from_probabilities(self, oof: OutOfFold, y: np.ndarray) -> ScoreResult:  # pragma: no cover
        raise NotImplementedError


def true_class_probability(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``p[i, y[i]]`` for every row."""
    return p[np.arange(len(y)), y]


def largest_other_probability(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``max_{j != y[i]} p[i, j]`` for every row (0 with a single class)."""
    others = p.copy()
    others[np.arange(len(y)), y] = -np.inf
    return np.maximum(others.max(axis=1), 0.0) if p.shape[1] > 1 else np.zeros(len(y))


def error_vector_norm(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """EL2N of Paul et al. (2021): ``||p - onehot(y)||_2`` per row."""
    error = p.copy()
    error[np.arange(len(y)), y] -= 1.0
    return np.linalg.norm(error, axis=1)


@register
class Loss(_ModelScorer):
    name = "loss"
    description = "Cross-entropy of the given label under out-of-fold predictions."
    higher_means = "harder (the proxy finds the label unlikely)"
    keep = "high"
    hard = "high"

    def _from_probabilities(self, oof, y):
        return ScoreResult(-np.log(np.maximum(true_class_probability(oof.probabilities, y), _TINY)))


@register
class Margin(_ModelScorer):
    name = "margin"
    description = "Probability of the given label minus the largest other class probability (out-of-fold)."
    higher_means = "easier (more confidently the given label); negative when another class wins"
    keep = "low"
    hard = "low"

    def _from_probabilities(self, oof, y):
        p = oof.probabilities
        return ScoreResult(true_class_probability(p, y) - largest_other_probability(p, y))


@register
class Entropy(_ModelScorer):
    name = "entropy"
    description = "Entropy of the out-of-fold class probabilities (natural log)."
    higher_means = "more uncertain"
    keep = "high"
    hard = "high"

    def _from_probabilities(self, oof, y):
        p = oof.probabilities
        return ScoreResult(-(p * np.log(np.maximum(p, _TINY))).sum(axis=1))


@register
class LeastConfidence(_ModelScorer):
    name = "least_confidence"
    description = "One minus the largest out-of-fold class probability."
    higher_means = "more uncertain"
    keep = "high"
    hard = "high"

    def _from_probabilities(self, oof, y):
        return ScoreResult(1.0 - oof.probabilities.max(axis=1))


@register
class EL2N(_ModelScorer):
    name = "el2n"
    description = "EL2N: L2 norm of out-of-fold probabilities minus the one-hot label (Paul et al. 2021)."
    higher_means = "harder (larger prediction error)"
    keep = "high"
    hard = "high"

    def _from_probabilities(self, oof, y):
        return ScoreResult(error_vector_norm(oof.probabilities, y))


@register
class GraNd(_ModelScorer):
    """GraNd restricted to the last layer (Paul et al. 2021).

    For a softmax layer ``z = W h + b`` the cross-entropy gradient with respect to ``(W, b)`` is
    the outer product ``(p - onehot(y)) [h; 1]``, so its norm is ``||p - onehot(y)|| * sqrt(||h||^2
    + 1)``. ``h`` is the proxy's last-layer input: standardised features for logistic regression
    (and the kNN proxy), hidden activations for the MLP.
    """

    name = "grand"
    description = "Last-layer gradient norm of the cross-entropy (GraNd), from out-of-fold predictions."
    higher_means = "harder (larger gradient)"
    keep = "high"
    hard = "high"

    def _from_probabilities(self, oof, y):
        return ScoreResult(error_vector_norm(oof.probabilities, y) * np.sqrt(oof.feature_norms**2 + 1.0))


# --- confident learning (Northcutt, Jiang and Chuang 2021) ---------------------------------------


def class_thresholds(p: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class thresholds ``t_j``: mean ``p[:, j]`` over rows labelled ``j``, shape (n_classes,)."""
    totals = np.bincount(y, weights=true_class_probability(p, y), minlength=n_classes)
    counts = np.bincount(y, minlength=n_classes)
    return np.where(counts > 0, totals / np.maximum(counts, 1), 1.0)


def confident_joint(p: np.ndarray, y: np.ndarray, n_classes: int, *, calibrate: bool = True) -> np.ndarray:
    """The confident joint ``C[given, true]``, shape (n_classes, n_classes).

    A row counts towards ``C[y, j]`` when ``p[j] >= t_j`` for some class ``j``; with several such
    classes the arg-max class wins. Calibration rescales each given-label row of the joint to
    that label's row count (the paper's Eq. 3).
    """
    thresholds = class_thresholds(p, y, n_classes)
    above = p >= thresholds - 1e-6
    confident_count = above.sum(axis=1)
    guess = np.where(confident_count > 1, p.argmax(axis=1), above.argmax(axis=1))
    counted = confident_count > 0
    joint = np.bincount(y[counted] * n_classes + guess[counted], minlength=n_classes**2)
    joint = joint.reshape(n_classes, n_classes).astype(np.float64)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1.0))  # every class has a clean example
    if calibrate:
        label_counts = np.bincount(y, minlength=n_classes)
        joint = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-12) * label_counts[:, None]
    return joint


def find_label_issues(p: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Flags by *prune by noise rate* (confident learning), shape (n_samples,) bool.

    For every off-diagonal cell ``(given k, true j)`` of the calibrated confident joint, flag its
    (rounded) count of rows labelled ``k`` with the largest ``p[j] - p[k]``. At least one row per
    class is left unflagged, and a row whose arg-max prediction is its given label is never flagged.
    """
    joint = np.rint(confident_joint(p, y, n_classes))
    flags = np.zeros(len(y), dtype=bool)
    for given in range(n_classes):
        members = np.flatnonzero(y == given)
        off_diagonal = joint[given].copy()
        off_diagonal[given] = 0.0
        budget = max(len(members) - 1, 0)
        if off_diagonal.sum() > budget:  # leave at least one row of the class unflagged
            off_diagonal = np.floor(off_diagonal * budget / off_diagonal.sum())
        for true in np.flatnonzero(off_diagonal > 0):
            count = int(off_diagonal[true])
            gap = p[members, true] - p[members, given]
            flags[members[np.argsort(-gap, kind="stable")[:count]]] = True
    flags &= p.argmax(axis=1) != y
    return flags


def label_issue_scores(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How likely each row's label is wrong, in [0, 1]: ``(1 - normalised margin) / 2``.

    The normalised margin ``p[y] - max_{j != y} p[j]`` is one of confident learning's label
    quality scores (cleanlab's ``"normalized_margin"``). We measured it against self-confidence
    and against both on threshold-adjusted probabilities (``p - t`` and ``p / t``) on the
    known-answer set: subtracting the per-class thresholds cost 0.015-0.02 AUROC there, so the
    thresholds act through the flags (:func:`find_label_issues`), not the ranking.
    """
    margin = true_class_probability(p, y) - largest_other_probability(p, y)
    return (1.0 - margin) / 2.0


@register
class LabelNoise(_ModelScorer):
    name = "label_noise"
    description = "Confident learning: how likely the given label is wrong; flags likely label errors."
    higher_means = "more likely mislabeled"
    keep = "low"
    hard = "high"
    flags = True

    def _from_probabilities(self, oof, y):
        p, n_classes = oof.probabilities, oof.probabilities.shape[1]
        return ScoreResult(label_issue_scores(p, y), flags=find_label_issues(p, y, n_classes))
