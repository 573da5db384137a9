"""Fitting the small models behind a value model, as plain weight arrays.

A fitted model is a list of layers ``W0, b0, W1, b1, ...`` (ReLU between layers; identity or
logistic output), with the input standardisation folded into the first layer, so it can be saved
as NPZ and evaluated with numpy alone. Quality is measured out of fold before the final fit.
"""

from __future__ import annotations

import warnings

import numpy as np

from core.foundation import derive_seed, fold_splits, single_threaded, standardiser, stratified_folds

__all__ = ["fit_weights", "cross_validated_quality"]


def _estimator(task: str, model: str, seed: int, alpha: float, hidden: int):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    if model == "linear":
        return Ridge(alpha=alpha) if task == "regression" else LogisticRegression(C=1.0 / alpha, max_iter=1000)
    if task == "regression":
        return MLPRegressor(hidden_layer_sizes=(hidden,), alpha=1e-3, max_iter=300, early_stopping=True,
                            n_iter_no_change=15, random_state=derive_seed(seed))
    # no early stopping on accuracy: with a rare class it stops before the model ranks anything
    return MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1e-2, max_iter=200, random_state=derive_seed(seed))


def fit_weights(X, y, task: str, model: str, seed: int = 0, alpha: float = 1.0, hidden: int = 32) -> dict:
    """Fit on every row; returns ``{"W0": (n_inputs, width), "b0": (width,), ...}`` ending in one output.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_inputs)
    y : ndarray of shape (n_samples,)
        A score (``task="regression"``) or 0/1 kept decisions (``task="decision"``).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mean, scale = standardiser(X, tolerance=1e-12)  # the tolerance these fits always used
    y_mean, y_scale = (float(y.mean()), float(y.std()) or 1.0) if task == "regression" else (0.0, 1.0)
    target = (y - y_mean) / y_scale if task == "regression" else y.astype(int)
    estimator = _estimator(task, model, seed, alpha, hidden)
    with warnings.catch_warnings(), single_threaded("blas"):  # a capped iteration count is a budget
        warnings.simplefilter("ignore")
        estimator.fit((X - mean) / scale, target)
    if model == "linear":
        layers = [(np.asarray(estimator.coef_, dtype=np.float64).reshape(-1, 1),
                   np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64)).reshape(1))]
    else:
        layers = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
                  for W, b in zip(estimator.coefs_, estimator.intercepts_)]
    first_W, first_b = layers[0]
    layers[0] = (first_W / scale[:, None], first_b - (mean / scale) @ first_W)  # raw inputs in
    last_W, last_b = layers[-1]
    layers[-1] = (last_W * y_scale, last_b * y_scale + y_mean)  # the score's own units out
    weights = {}
    for i, (W, b) in enumerate(layers):
        weights[f"W{i}"], weights[f"b{i}"] = W, b
    return weights


def predict(weights: dict, X, task: str) -> np.ndarray:
    """Predicted score, or probability of being kept, per row: shape (n_samples,)."""
    out = np.asarray(X, dtype=np.float64)
    n_layers = len(weights) // 2
    for layer in range(n_layers):
        out = out @ weights[f"W{layer}"] + weights[f"b{layer}"]
        if layer < n_layers - 1:
            out = np.maximum(out, 0.0)
    out = out[:, 0]
    return 1.0 / (1.0 + np.exp(-np.clip(out, -50, 50))) if task == "decision" else out


def _splits(y: np.ndarray, task: str, folds: int, seed: int, groups=None) -> list:
    """(train, test) rows per fold: the library's stratified folds for 0/1 decisions; plain
    shuffled k-fold for a continuous score, which has no classes to stratify on. With ``groups``
    (the data's duplicate groups) holding copies, each group stays on one side of every fold."""
    if groups is not None and len(np.unique(groups)) < len(y):
        labels = y.astype(int) if task == "decision" else np.zeros(len(y), dtype=int)
        return fold_splits(stratified_folds(labels, folds, seed, groups=groups))
    if task == "decision":
        return fold_splits(stratified_folds(y.astype(int), folds, seed))
    from sklearn.model_selection import KFold

    return list(KFold(folds, shuffle=True, random_state=derive_seed(seed)).split(y))


def cross_validated_quality(X, y, task: str, model: str, folds: int = 5, seed: int = 0, alpha: float = 1.0,
                            hidden: int = 32, groups=None) -> dict:
    """Out-of-fold quality of the model: R² and Spearman for a score, AUROC for a decision.

    Returns
    -------
    dict
        ``metric`` ("r2" or "auroc"), ``value`` (mean over folds), ``std`` (over folds),
        ``fold_values``, ``spearman`` (rank correlation, mean over folds; what a top-k cut relies on),
        ``folds`` and a one-line ``summary``.
    """
    from scipy.stats import spearmanr
    from sklearn.metrics import r2_score, roc_auc_score
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    values, ranks = [], []
    for f, (train, test) in enumerate(_splits(y, task, folds, seed, groups)):
        weights = fit_weights(X[train], y[train], task, model, derive_seed(seed, "value-fold", f), alpha, hidden)
        predicted = predict(weights, X[test], task)
        if task == "regression":
            values.append(float(r2_score(y[test], predicted)))
        else:
            values.append(float(roc_auc_score(y[test].astype(int), predicted)))
        rho = spearmanr(y[test], predicted).statistic
        ranks.append(float(rho) if np.isfinite(rho) else 0.0)
    metric = "r2" if task == "regression" else "auroc"
    value, spread = float(np.mean(values)), float(np.std(values))
    label = "R²" if metric == "r2" else "AUROC"
    return {"metric": metric, "value": value, "std": spread, "fold_values": values,
            "spearman": float(np.mean(ranks)), "folds": int(folds),
            "summary": f"out-of-fold {label} {value:.3f} ± {spread:.3f}, rank correlation {np.mean(ranks):.3f} "
                       f"({folds}-fold CV)"}
