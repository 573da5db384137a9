"""Importance of groups of feature columns: permutation (under fixed folds), mutual information, L1 path.

Plain functions over arrays; :mod:`core.columns.pruning` maps groups to the table's original columns.
A group is the list of feature positions made from one original column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.foundation import derive_seed, rng, single_threaded, standardiser, stratified_folds

MAX_ROWS_FOR_FILTERS = 5000  # mutual information on a seeded sample of rows
MAX_TEST_ROWS = 4000  # held-out rows shuffled per fold (accuracy drops to about a point at this size)

__all__ = ["importances", "permutation_importance", "mutual_information", "l1_entry"]


def importances(X, y, groups: list, n_classes: int, *, folds: int = 5, seed: int = 0, repeats: int = 3,
                alpha: float = 1.0) -> pd.DataFrame:
    """Every ranking of the groups, one row per group (in the order given).

    Returns
    -------
    DataFrame with ``permutation``, ``permutation_std``, ``mutual_info``, ``l1``, and
    ``rank_permutation``, ``rank_mutual_info``, ``rank_l1``, ``rank_consensus`` (1 = most important;
    the consensus ranks the mean of the three ranks, ties broken by permutation importance).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    with single_threaded("blas"):  # small products: extra threads only wait for busy cores
        mean, spread = permutation_importance(X, y, groups, n_classes, folds=folds, seed=seed, repeats=repeats,
                                              alpha=alpha)
        table = pd.DataFrame({"permutation": mean, "permutation_std": spread,
                              "mutual_info": mutual_information(X, y, groups, seed=seed),
                              "l1": l1_entry(X, y, groups, n_classes)})
    for method in ("permutation", "mutual_info", "l1"):
        table[f"rank_{method}"] = table[method].rank(ascending=False, method="min").astype(int)
    mean_rank = table[["rank_permutation", "rank_mutual_info", "rank_l1"]].mean(axis=1)
    order = np.lexsort((-table["permutation"].to_numpy(), mean_rank.to_numpy()))
    consensus = np.empty(len(table), dtype=int)
    consensus[order] = np.arange(1, len(table) + 1)
    table["rank_consensus"] = consensus
    return table


def _ridge(X_train, y_train, n_classes: int, alpha: float) -> tuple:
    """One-vs-rest least squares on standardised features: returns (W, b) over raw features."""
    mean, scale = standardiser(X_train, tolerance=1e-12)
    Z = (X_train - mean) / scale
    targets = np.eye(n_classes)[y_train]
    target_mean = targets.mean(axis=0)
    gram = Z.T @ Z + alpha * np.eye(Z.shape[1])
    W = np.linalg.solve(gram, Z.T @ (targets - target_mean)) / scale[:, None]
    return W, target_mean - mean @ W


def permutation_importance(X, y, groups: list, n_classes: int, *, folds: int = 5, seed: int = 0,
                           repeats: int = 3, alpha: float = 1.0) -> tuple:
    """Held-out accuracy lost when a group is shuffled within the held-out fold.

    The model (ridge) trains on the other folds of ``make_folds(y, folds, seed)``; a group's
    columns are shuffled together with one permutation of the held-out rows.

    Returns
    -------
    (mean, std) : ndarrays of shape (n_groups,)
        Accuracy lost (fraction), mean and spread over folds x repeats.
    """
    fold_of_row = stratified_folds(y, folds, seed)
    drops = np.zeros((len(groups), folds, repeats))
    for f in range(folds):
        test = fold_of_row == f
        W, b = _ridge(X[~test], y[~test], n_classes, alpha)
        X_test, y_test = _sample(X[test], y[test], seed, "permutation-rows", f, limit=MAX_TEST_ROWS)
        logits = X_test @ W + b
        base = float((logits.argmax(axis=1) == y_test).mean())
        for g, members in enumerate(groups):
            contribution = X_test[:, members] @ W[members]
            for r in range(repeats):
                order = rng(seed, "column-permutation", f, g, r).permutation(len(X_test))
                shuffled = logits - contribution + contribution[order]
                drops[g, f, r] = base - float((shuffled.argmax(axis=1) == y_test).mean())
    flat = drops.reshape(len(groups), -1)
    return flat.mean(axis=1), flat.std(axis=1)


def _sample(X, y, seed: int, *stream, limit: int = MAX_ROWS_FOR_FILTERS) -> tuple:
    """At most ``limit`` rows, drawn without replacement from one seeded stream."""
    if len(X) <= limit:
        return X, y
    rows = np.sort(rng(seed, "column-sample", *stream).choice(len(X), limit, replace=False))
    return X[rows], y[rows]


def mutual_information(X, y, groups: list, *, seed: int = 0) -> np.ndarray:
    """Mutual information with the label (nats), summed over a group's columns; shape (n_groups,)."""
    from sklearn.feature_selection import mutual_info_classif

    X, y = _sample(X, y, seed, "mutual-information")
    per_column = mutual_info_classif(X, y, random_state=derive_seed(seed, "mutual-information"))
    return np.array([float(per_column[members].sum()) for members in groups])


def l1_entry(X, y, groups: list, n_classes: int) -> np.ndarray:
    """How early a group enters the lasso path of a one-vs-rest label; shape (n_groups,).

    ``alpha_enter / alpha_max``, where ``alpha_enter`` is the largest penalty at which one of the
    group's coefficients is non-zero for some class: 1 enters first, 0 never enters. The paths are
    computed exactly by LARS from the Gram matrix of the standardised features (every row, O(d³)).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import lars_path_gram

    mean, scale = standardiser(X, tolerance=1e-12)
    Z = (X - mean) / scale
    targets = np.eye(n_classes)[y]
    gram, cross = Z.T @ Z, Z.T @ (targets - targets.mean(axis=0))
    enter = np.zeros(X.shape[1])
    for c in range(n_classes if n_classes > 2 else 1):  # two classes: one path says it all
        with warnings.catch_warnings():  # one-hot blocks are collinear: LARS drops a level, as it should
            warnings.simplefilter("ignore", ConvergenceWarning)
            alphas, _, coefs = lars_path_gram(cross[:, c], gram, n_samples=len(Z), method="lasso")
        active = np.abs(coefs) > 1e-12
        first = np.where(active.any(axis=1), alphas[np.argmax(active, axis=1)], 0.0)
        enter = np.maximum(enter, first)
    top = enter.max()
    return np.array([float(enter[members].max() / top) if top > 0 else 0.0 for members in groups])
