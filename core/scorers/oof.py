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
