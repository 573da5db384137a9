"""Cross-fitted (out-of-fold) class probabilities from a proxy model.

Every model-based scorer reads the same probabilities, so they are computed once per call:
each row's probabilities come from a model that never saw that row. Proxy models:

``"logreg"`` (default)
    Multinomial logistic regression with an L2 penalty equal to scikit-learn's default (C = 1),
    on features standardised with the training fold's mean and spread, fitted full-batch with
    L-BFGS on float32 arrays. Later folds start from the previous fold's solution, which roughly
    halves the iterations without changing the optimum.
``"mlp"``
    The one-hidden-layer torch MLP of :mod:`core.foundation.mlp`, one per fold (CUDA if present).
``"knn"``
    Leave-one-out votes of the k nearest neighbours on the shared neighbour graph (every row is
    its own held-out fold, so ``folds`` does not apply), smoothed towards the class frequencies.

Besides probabilities the result carries, per row, the norm of the input to the proxy's last
(softmax) layer, which GraNd needs: the standardised features for ``logreg`` and ``knn``, the
hidden activations for ``mlp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.data.partitions import row_uniforms
from core.foundation.errors import ConfigError
from core.foundation.folds import fold_splits, stratified_folds
from core.foundation.linear import fit_softmax_regression, softmax, softmax_regression_proba, standardiser
from core.foundation.mlp import predict_logits, train_proxy
from core.foundation.progress import CancelToken, ProgressFn, check_cancelled, report, scaled
from core.foundation.seeds import derive_seed

PROXY_MODELS = ("logreg", "mlp", "knn")


@dataclass
class OutOfFold:
    """Out-of-fold predictions.

    Attributes
    ----------
    probabilities : ndarray of shape (n_samples, n_classes), float64
        Rows sum to one.
    feature_norms : ndarray of shape (n_samples,), float64
        Norm of the last layer's input per row (without the bias term).
    model : str
    folds : int
        Folds actually used (``n_samples`` for the leave-one-out ``knn`` proxy).
    """

    probabilities: np.ndarray
    feature_norms: np.ndarray
    model: str
    folds: int


def out_of_fold(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    model: str = "logreg",
    folds: int = 5,
    seed: int = 0,
    device: Optional[str] = None,
    neighbors=None,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
) -> OutOfFold:
    """Out-of-fold probabilities of ``model`` for every row.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), int codes ``0 .. n_classes - 1``
    model : {"logreg", "mlp", "knn"}
    neighbors : NeighborGraph, optional
        Required for ``model="knn"``.
    """
    if model not in PROXY_MODELS:
        raise ConfigError(f"Unknown proxy model {model!r}; choose one of {', '.join(PROXY_MODELS)}.")
    X = np.asarray(X, dtype=np.float32)
    if model == "knn":
        return _knn_votes(X, y, n_classes, neighbors)
    splits = fold_splits(stratified_folds(y, _usable_folds(y, folds), seed))
    probabilities = np.zeros((len(y), n_classes))
    feature_norms = np.zeros(len(y))
    warm_start = None
    for fold, (train, test) in enumerate(splits):
        check_cancelled(cancel)
        fold_progress = scaled(progress, fold / len(splits), (fold + 1) / len(splits))
        if model == "logreg":
            mean, scale = standardiser(X[train])
            weights = fit_softmax_regression(
                (X[train] - mean) / scale, y[train], n_classes, init=warm_start, cancel=cancel
            )
            warm_start = weights
            test_features = (X[test] - mean) / scale
            probabilities[test] = softmax_regression_proba(test_features, weights)
            feature_norms[test] = np.linalg.norm(test_features, axis=1)
        else:
            net = train_proxy(X[train], y[train], n_classes, epochs=20, seed=derive_seed(seed, "oof", fold),
                              device=device, progress=fold_progress, cancel=cancel)
            logits, norms = predict_logits(net, X[test], device=device, with_features=True)
            probabilities[test] = softmax(logits.astype(np.float64))
            feature_norms[test] = norms
        report(progress, fold + 1, len(splits), f"out-of-fold {model}, fold {fold + 1}/{len(splits)}")
    return OutOfFold(probabilities, feature_norms, model, len(splits))


def _usable_folds(y: np.ndarray, folds: int) -> int:
    """Fewer folds when the smallest class is tiny, so most folds train on every class."""
    smallest = int(np.bincount(y).min()) if len(y) else 0
    return max(2, min(int(folds), smallest))


def neighbour_vote_probabilities(y: np.ndarray, indices: np.ndarray, n_classes: int) -> np.ndarray:
    """Leave-one-out class probabilities from the labels of each row's listed neighbours.

    Parameters
    ----------
    y : ndarray of shape (n_samples,), int codes
    indices : ndarray of shape (n_samples, k)
        Each row's nearest *other* rows, so a row never votes for itself.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        ``(votes + prior) / (k + 1)``: one pseudo-vote spread as the class frequencies keeps
        probabilities off exact zero.
    """
    n_samples, k = indices.shape
    cells = np.repeat(np.arange(n_samples) * n_classes, k) + y[indices].ravel()
    votes = np.bincount(cells, minlength=n_samples * n_classes).reshape(n_samples, n_classes).astype(np.float64)
    prior = np.bincount(y, minlength=n_classes) / n_samples
    return (votes + prior) / (k + 1.0)


def _knn_votes(X: np.ndarray, y: np.ndarray, n_classes: int, neighbors, k: int = 10) -> OutOfFold:
    if neighbors is None:
        raise ValueError("the knn proxy needs the neighbour graph")
    probabilities = neighbour_vote_probabilities(y, neighbors.first(k).indices, n_classes)
    mean, scale = standardiser(X)
    norms = np.linalg.norm((X - mean) / scale, axis=1).astype(np.float64)
    return OutOfFold(probabilities, norms, "knn", len(y))


# --- out-of-fold models fitted on a stratified sample (large data, one machine or a cluster) -------


@dataclass
class FoldModels:
    """One standardiser and softmax regression per fold, fitted on the sample rows of the other folds.

    Attributes
    ----------
    means, scales : ndarray of shape (folds, n_features)
    weights : ndarray of shape (folds, n_features + 1, n_classes)
    sample_rows : int
        Rows the models were fitted on (all folds together).
    """

    means: np.ndarray
    scales: np.ndarray
    weights: np.ndarray
    sample_rows: int


def fit_sample_mask(y: np.ndarray, positions: np.ndarray, class_counts: np.ndarray, max_rows: int,
                    seed: int, min_per_class: int = 50) -> np.ndarray:
    """Which rows join the stratified fitting sample, shape (n_rows,) bool.

    Every class is sampled at the rate ``max_rows / n`` (at least ``min_per_class`` rows of a small
    class), and a row's draw is a hash of the seed and its global position, so rows read partition
    by partition on a cluster give the sample one process gives.

    Parameters
    ----------
    y : ndarray of shape (n_rows,), int codes
    positions : ndarray of shape (n_rows,)
        Global row positions of these rows.
    class_counts : ndarray of shape (n_classes,)
        Rows per class in the *whole* data set.
    """
    total = max(int(np.sum(class_counts)), 1)
    counts = np.maximum(np.asarray(class_counts, dtype=np.float64), 1.0)
    rates = np.minimum(1.0, np.maximum(max_rows / total, min_per_class / counts))
    return row_uniforms(seed, positions, 1) < rates[y]


def fit_sample_rows(y: np.ndarray, n_classes: int, max_rows: int, seed: int) -> int:
    """How many rows :func:`sampled_out_of_fold` fits its models on (all folds together), for the records."""
    return int(fit_sample_mask(y, np.arange(len(y)), np.bincount(y, minlength=n_classes), max_rows, seed).sum())


def row_folds(positions: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold of every row (0 .. folds - 1), a hash of the seed and its global position."""
    return np.minimum((row_uniforms(seed, positions, 2) * folds).astype(np.int64), folds - 1)


def fit_fold_models(X: np.ndarray, y: np.ndarray, fold: np.ndarray, n_classes: int, folds: int, *,
                    progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None) -> FoldModels:
    """Softmax regressions, model ``f`` fitted on the rows whose fold is not ``f`` (warm-started).

    Parameters
    ----------
    X : ndarray of shape (n_sample, n_features)
        The fitting sample.
    y, fold : ndarray of shape (n_sample,)
    """
    X = np.asarray(X, dtype=np.float32)
    means, scales, weights, warm_start = [], [], [], None
    for f in range(folds):
        check_cancelled(cancel)
        train = fold != f
        mean, scale = standardiser(X[train])
        warm_start = fit_softmax_regression((X[train] - mean) / scale, y[train], n_classes, init=warm_start,
                                            cancel=cancel)
        means.append(mean), scales.append(scale), weights.append(warm_start)
        report(progress, f + 1, folds, f"out-of-fold models on a {len(y):,}-row sample, fold {f + 1}/{folds}")
    return FoldModels(np.stack(means), np.stack(scales), np.stack(weights), int(len(y)))


def apply_fold_models(models: FoldModels, X: np.ndarray, fold: np.ndarray,
                      chunk_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Each row's probabilities from the model of its own fold, which never saw the row.

    Returns
    -------
    probabilities : ndarray of shape (n_rows, n_classes), float64
    feature_norms : ndarray of shape (n_rows,), float64
    """
    n_classes = models.weights.shape[2]
    probabilities = np.empty((len(fold), n_classes))
    feature_norms = np.empty(len(fold))
    for start in range(0, len(fold), chunk_size):
        rows = slice(start, min(start + chunk_size, len(fold)))
        chunk, chunk_fold = np.asarray(X[rows], dtype=np.float32), fold[rows]
        for f in np.unique(chunk_fold):
            mine = np.flatnonzero(chunk_fold == f)
            features = (chunk[mine] - models.means[f]) / models.scales[f]
            probabilities[start + mine] = softmax_regression_proba(features, models.weights[f])
            feature_norms[start + mine] = np.linalg.norm(features, axis=1)
    return probabilities, feature_norms


def sampled_out_of_fold(X: np.ndarray, y: np.ndarray, n_classes: int, *, max_rows: int, folds: int = 5,
                        seed: int = 0, progress: Optional[ProgressFn] = None,
                        cancel: Optional[CancelToken] = None) -> OutOfFold:
    """Out-of-fold logistic probabilities with the fold models fitted on a stratified sample.

    For data too large to fit ``folds`` models on all rows: about ``max_rows`` rows
    (:func:`fit_sample_mask`) are split into folds by :func:`row_folds`; every row, sampled or not,
    is predicted by the model of its own fold, which was fitted without it. ``X`` is read in
    chunks, so it may be a memory map.
    """
    positions = np.arange(len(y))
    in_sample = np.flatnonzero(fit_sample_mask(y, positions, np.bincount(y, minlength=n_classes), max_rows, seed))
    fold = row_folds(positions, folds, seed)
    models = fit_fold_models(np.asarray(X[in_sample]), y[in_sample], fold[in_sample], n_classes, folds,
                             progress=scaled(progress, 0.0, 0.9), cancel=cancel)
    probabilities, feature_norms = apply_fold_models(models, X, fold)
    report(progress, 1, 1, "out-of-fold probabilities of every row")
    return OutOfFold(probabilities, feature_norms, "logreg", folds)


# --- out-of-fold probabilities for every evaluator fold at once (fold-wise scores) ---------------


def pairwise_out_of_fold(X: np.ndarray, y: np.ndarray, n_classes: int, fold_of_row: np.ndarray, *,
                         outer=None, fit_rows: Optional[int] = None, seed: int = 0,
                         progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Out-of-fold logistic probabilities of the rows outside each evaluator fold, without its labels.

    For evaluator fold ``f`` the rows outside it are cross-fitted with the *other evaluator folds*
    as the inner folds: a row of fold ``g`` is predicted by the model fitted on the rows outside
    ``{f, g}``, which saw neither fold ``f``'s labels nor the row's own. That model is the same
    for ``(f, g)`` and ``(g, f)``, so ``K (K - 1) / 2`` fits serve all ``K`` folds (instead of
    ``K`` times the inner folds). Each fit starts from zero: every other pair's model saw fold
    ``f``'s or fold ``g``'s labels, so starting from it would let them in through the optimiser's
    stopping point.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), int codes
    fold_of_row : ndarray of shape (n_samples,)
        Evaluator fold codes ``0 .. K - 1``, ``K >= 3``.
    outer : iterable of int, optional
        The evaluator folds wanted (default all); only their pairs are fitted.
    fit_rows : int, optional
        Above this many rows per fit, each model is fitted on a stratified sample of about this
        size (:func:`fit_sample_mask`) and still predicts every row of its fold.

    Returns
    -------
    dict of int to OutOfFold
        ``result[f]`` covers the rows outside fold ``f``, in row order; ``folds`` is ``K - 1``.
    """
    X = np.asarray(X, dtype=np.float32)
    fold_of_row = np.asarray(fold_of_row)
    n_folds = int(fold_of_row.max()) + 1
    if n_folds < 3:
        raise ValueError("pairwise cross-fitting needs at least three evaluator folds")
    outer = sorted(set(range(n_folds) if outer is None else (int(f) for f in outer)))
    fitting = _fitting_rows(len(y), n_folds, fit_rows, seed)
    pairs = [(f, g) for f in range(n_folds) for g in range(f + 1, n_folds) if f in outer or g in outer]
    positions = {f: np.cumsum(fold_of_row != f) - 1 for f in outer}
    results = {f: OutOfFold(np.zeros((int(np.sum(fold_of_row != f)), n_classes)),
                            np.zeros(int(np.sum(fold_of_row != f))), "logreg", n_folds - 1) for f in outer}
    for done, (f, g) in enumerate(pairs):
        check_cancelled(cancel)
        train = np.flatnonzero((fold_of_row != f) & (fold_of_row != g) & fitting)
        design = X[train]  # a copy: standardised in place
        mean, scale = standardiser(design)
        design -= mean
        design /= scale
        weights = fit_softmax_regression(design, y[train], n_classes, cancel=cancel)
        del design
        for held_out, without in ((g, f), (f, g)):  # the model predicts g's rows for f and f's rows for g
            if without in results:
                rows = np.flatnonzero(fold_of_row == held_out)
                features = X[rows]
                features -= mean
                features /= scale
                results[without].probabilities[positions[without][rows]] = softmax_regression_proba(features, weights)
                results[without].feature_norms[positions[without][rows]] = np.linalg.norm(features, axis=1)
        report(progress, done + 1, len(pairs), f"out-of-fold models without two folds, {done + 1}/{len(pairs)}")
    return results


def _fitting_rows(n_rows: int, n_folds: int, fit_rows: Optional[int], seed: int) -> np.ndarray:
    """Rows the pairwise models may fit on: all, or a hashed sample when a fit would exceed ``fit_rows``.

    The sample reads no labels (a stratified one would count every fold's labels), so which rows
    fit the models of fold ``f`` never depends on fold ``f``'s labels.
    """
    share = (n_folds - 2) / n_folds  # of the rows, outside two folds
    if not fit_rows or n_rows * share <= fit_rows:
        return np.ones(n_rows, dtype=bool)
    return row_uniforms(seed, np.arange(n_rows), 1) < fit_rows / (n_rows * share)
