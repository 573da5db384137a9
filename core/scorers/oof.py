"""Cross-fitted (out-of-fold) class probabilities from a proxy model.

Every model-based scorer reads the same probabilities, so they are computed once per call:
each row's probabilities come from a model that never saw that row. Proxy models:

``"logreg"`` (default)
    Multinomial logistic regression with an L2 penalty equal to scikit-learn's default (C = 1),
    on features standardised with the training fold's mean and spread, fitted full-batch with
    L-BFGS on float32 arrays. Later folds start from the previous fold's solution, which roughly
    halves the iterations without changing the optimum.
``"mlp"``
    The one-hidden-layer torch MLP of :mod:`core.scorers.training`, one per fold (CUDA if present).
``"knn"``
    Leave-one-out votes of the k nearest neighbours on the shared neighbour graph (every row is
    its own held-out fold, so ``folds`` does not apply), smoothed towards the class frequencies.

Besides probabilities the result carries, per row, the norm of the input to the proxy's last
(softmax) layer, which GraNd needs: the standardised features for ``logreg`` and ``knn``, the
hidden activations for ``mlp``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.foundation.errors import ConfigError
from core.foundation.progress import CancelToken, ProgressFn, check_cancelled, report, scaled
from core.foundation.mlp import standardiser

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


def stratified_folds(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled stratified (train, test) splits; fewer folds when the smallest class is tiny."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(y).min()) if len(y) else 0
    n_splits = max(2, min(int(folds), smallest))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a class smaller than the fold count
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=int(seed) % (2**32))
        return list(splitter.split(np.zeros(len(y)), y))


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
    splits = stratified_folds(y, folds, seed)
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
            from core.foundation.mlp import predict_logits, train_proxy

            net = train_proxy(X[train], y[train], n_classes, epochs=20, seed=seed + fold, device=device,
                              progress=fold_progress, cancel=cancel)
            logits, norms = predict_logits(net, X[test], device=device, with_features=True)
            probabilities[test] = _softmax(logits.astype(np.float64))
            feature_norms[test] = norms
        report(progress, fold + 1, len(splits), f"out-of-fold {model}, fold {fold + 1}/{len(splits)}")
    return OutOfFold(probabilities, feature_norms, model, len(splits))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def fit_softmax_regression(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    inverse_regularization: float = 1.0,
    max_iter: int = 200,
    init: Optional[np.ndarray] = None,
    cancel: Optional[CancelToken] = None,
) -> np.ndarray:
    """Multinomial logistic regression, objective equal to scikit-learn's ``LogisticRegression``.

    Minimises ``mean cross-entropy + ||W||^2 / (2 * C * n)`` (bias not penalised) with L-BFGS.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    inverse_regularization : float
        scikit-learn's ``C``.

    Returns
    -------
    weights : ndarray of shape (n_features + 1, n_classes)
        The last row is the bias.
    """
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    n_samples, n_features = X.shape
    design = np.empty((n_samples, n_features + 1), dtype=np.float32)
    design[:, :-1] = X
    design[:, -1] = 1.0
    rows = np.arange(n_samples)
    penalty = 1.0 / (inverse_regularization * n_samples)
    shape = (n_features + 1, n_classes)

    def objective(flat: np.ndarray):
        weights = flat.reshape(shape).astype(np.float32)
        logits = design @ weights
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        totals = exp.sum(axis=1, keepdims=True)
        log_likelihood = (logits[rows, y] - np.log(totals[:, 0])).sum(dtype=np.float64)
        exp /= totals
        exp[rows, y] -= 1.0  # now p - onehot(y): the gradient of the loss wrt the logits
        gradient = (design.T @ exp).astype(np.float64) / n_samples
        coefficients = flat.reshape(shape)[:-1]
        gradient[:-1] += penalty * coefficients
        loss = -log_likelihood / n_samples + 0.5 * penalty * float((coefficients**2).sum())
        return loss, gradient.ravel()

    start = np.zeros(shape) if init is None else np.asarray(init, dtype=np.float64)
    # The products are thin (n x d times d x classes): BLAS threads only wait on each other, and
    # on a busy two-core machine one thread was 3-7 times faster (measured at 10k and 50k rows).
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            objective, start.ravel(), jac=True, method="L-BFGS-B",
            callback=lambda _: check_cancelled(cancel),
            options={"maxiter": max_iter, "gtol": 1e-5, "ftol": 1e-10},
        )
    return result.x.reshape(shape)


def softmax_regression_proba(X: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Class probabilities of a fitted :func:`fit_softmax_regression` model, shape (n, n_classes)."""
    return _softmax(X.astype(np.float64) @ weights[:-1] + weights[-1])


def _knn_votes(X: np.ndarray, y: np.ndarray, n_classes: int, neighbors, k: int = 10) -> OutOfFold:
    if neighbors is None:
        raise ValueError("the knn proxy needs the neighbour graph")
    graph = neighbors.first(k)
    cells = np.repeat(np.arange(len(y)) * n_classes, graph.k) + y[graph.indices].ravel()
    votes = np.bincount(cells, minlength=len(y) * n_classes).reshape(len(y), n_classes).astype(np.float64)
    prior = np.bincount(y, minlength=n_classes) / len(y)
    # One pseudo-vote spread as the class frequencies keeps probabilities off exact zero.
    probabilities = (votes + prior) / (graph.k + 1.0)
    mean, scale = standardiser(X)
    norms = np.linalg.norm((X - mean) / scale, axis=1).astype(np.float64)
    return OutOfFold(probabilities, norms, "knn", len(y))
