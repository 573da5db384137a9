"""Stratified cross-validation folds: the one fold maker of the library.

With ``groups`` (the duplicate groups of :func:`core.evaluation.groups.copy_groups`) every group
stays on one side of every fold: a row and its near copy are never one in training and one held
out, which would count memorisation as accuracy.

Cross-fitted scorers (:mod:`core.scorers.oof`), the live estimate, nested search and the exact
evaluators all split rows with :func:`stratified_folds`, so "fold f" means the same rows wherever
the same ``(y, folds, seed)`` is used. Folds are stored as one code per row, the form that
slices and caches well; :func:`fold_splits` turns codes into (train, test) index pairs.
"""

from __future__ import annotations

import warnings

import numpy as np

from core.foundation.errors import ConfigError
from core.foundation.seeds import derive_seed, rng


def stratified_folds(y: np.ndarray, folds: int, seed: int, groups=None) -> np.ndarray:
    """Fold code per row: shuffled, stratified ``folds``-fold cross-validation, groups kept whole.

    Without ``groups`` (or when every group is a single row) the assignment equals
    scikit-learn's ``StratifiedKFold(folds, shuffle=True, random_state=seed)``. With groups,
    each group is one unit labelled by its first row's class, and every row follows its unit (a
    stratified group k-fold): per class, the groups (largest first) go to the fold with the fewest
    rows of that class, then single rows fill the folds level by level, ties going to the fold
    with the fewest rows overall, in a seeded random order. Classes smaller than ``folds`` are
    allowed; they are simply absent from some folds.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class labels (any values that ``numpy.unique`` can sort).
    folds : int
        Number of folds, at least 2 and at most ``n_samples`` (at most the number of groups).
    seed : int
        Seeds the shuffle.
    groups : ndarray of shape (n_samples,), optional
        Group id per row; rows with equal ids are always in the same fold.

    Returns
    -------
    ndarray of shape (n_samples,), int64
        Codes ``0 .. folds - 1``; row ``i`` is held out in fold ``fold_of_row[i]``.

    Raises
    ------
    ConfigError
        When ``folds`` is not an integer in ``[2, n_samples]`` (or more than the groups).
    """
    y = np.asarray(y)
    if isinstance(folds, (bool, np.bool_)) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ConfigError(f"folds must be an integer of at least 2, got {folds!r}.")
    if folds > len(y):
        raise ConfigError(f"folds={folds} is more than the {len(y)} rows; use fewer folds.")
    if groups is None:
        return _stratified(y, folds, seed)
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ConfigError(f"groups has shape {groups.shape}, but there are {len(y)} rows.")
    _, first, unit = np.unique(groups, return_index=True, return_inverse=True)
    if len(first) == len(y):  # no group of two or more: the plain stratified folds
        return _stratified(y, folds, seed)
    if folds > len(first):
        raise ConfigError(f"folds={folds} is more than the {len(first)} groups of copies; use fewer folds.")
    return _grouped(y[first], np.bincount(unit), folds, seed)[unit].astype(np.int64)


def _grouped(unit_label: np.ndarray, sizes: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold per unit: per class, groups (largest first) to the fold with the fewest rows of that
    class, then single rows filling the folds level by level; ties go to the fold with fewest rows."""
    generator = rng(seed, "grouped-folds")
    unit_fold = np.zeros(len(sizes), dtype=np.int64)
    totals = np.zeros(folds)
    for label in np.unique(unit_label):
        members = generator.permutation(np.flatnonzero(unit_label == label))
        counts = np.zeros(folds)
        groups = members[sizes[members] > 1]
        for u in groups[np.argsort(-sizes[groups], kind="stable")]:
            f = int(np.lexsort((generator.random(folds), totals, counts))[0])
            unit_fold[u] = f
            counts[f] += sizes[u]
            totals[f] += sizes[u]
        singles = members[sizes[members] == 1]
        if len(singles):
            k = np.arange(len(singles))
            level = (counts[:, None] + k[None, :]).ravel()
            fold_of_slot = np.repeat(np.arange(folds), len(singles))
            order = np.lexsort((generator.random(len(level)), (totals[:, None] + k[None, :]).ravel(), level))
            chosen = fold_of_slot[order[:len(singles)]]
            unit_fold[singles] = chosen
            totals += np.bincount(chosen, minlength=folds)
    return unit_fold


def _stratified(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold  # heavy: deferred to the first split

    splitter = StratifiedKFold(int(folds), shuffle=True, random_state=derive_seed(seed))
    fold_of_row = np.zeros(len(y), dtype=np.int64)
    with warnings.catch_warnings():  # a class smaller than the fold count: allowed, see above
        warnings.simplefilter("ignore", UserWarning)
        try:
            for fold, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
                fold_of_row[test] = fold
        except ValueError as err:
            raise ConfigError(f"Cannot make {folds} stratified folds: {err}. Use fewer folds.") from None
    return fold_of_row


def fold_splits(fold_of_row: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row positions per fold, from fold codes.

    Parameters
    ----------
    fold_of_row : ndarray of shape (n_samples,), int codes ``0 .. n_folds - 1``

    Returns
    -------
    list of (ndarray, ndarray)
        One pair per fold, both sorted: the rows outside the fold and the rows in it.
    """
    fold_of_row = np.asarray(fold_of_row)
    n_folds = int(fold_of_row.max()) + 1 if len(fold_of_row) else 0
    return [(np.flatnonzero(fold_of_row != f), np.flatnonzero(fold_of_row == f)) for f in range(n_folds)]
