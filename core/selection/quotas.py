"""Class quotas as a modifier of any strategy: ``<strategy>:quota=proportional|equal|drop``.

The grammar (:mod:`core.selection.grammar`) parses the option for every kind and keeps it in
``StrategySpec.quota``; :func:`core.selection.subset.select_recipe` then runs the kind here: the
budget is shared out over the classes first, and the kind runs on each class's rows with that
class's quota (and a seed of its own), so the strategy's own order decides *which* rows of a class are kept.

Modes:

``proportional``
    each class keeps its share of the data (largest-remainder rounding);
``equal``
    as equal as class sizes allow (small classes kept whole, the rest shared);
``drop``
    DRoP-style (Vysogorets et al., ICLR 2025): each class's share follows its held-out error rate
    ``1 - recall``, so the classes a model gets wrong most keep most rows (capped at the class size,
    the overflow shared by water-filling). The recall is measured by :data:`INNER_FOLDS`-fold
    cross-validation of a ridge classifier on the *given* rows only: inside a leak-free estimate
    each fold's quotas come from its training rows, so no held-out label decides them.
"""

from __future__ import annotations

import weakref
from dataclasses import replace

import numpy as np

from core.foundation.errors import ConfigError
from core.foundation.folds import stratified_folds
from core.foundation.linear import standardiser
from core.foundation.seeds import derive_seed
from core.selection.algorithms import equal_quotas, proportional_quotas
from core.selection.registry import Request

MODES = ("proportional", "equal", "drop")
INNER_FOLDS = 3
RIDGE_ALPHA = 1.0
MIN_ERROR = 0.01  # a class the proxy never misses still keeps a little


def ridge_classifier(X: np.ndarray, y: np.ndarray, n_classes: int, alpha: float = RIDGE_ALPHA) -> tuple:
    """(W, b) of a one-vs-rest least-squares classifier on standardised features, over raw features:
    a cheap proxy model (``(X @ W + b).argmax(axis=1)`` predicts)."""
    mean, scale = standardiser(X, tolerance=1e-12)
    Z = (X - mean) / scale
    targets = np.eye(n_classes)[y]
    centre = targets.mean(axis=0)
    W = np.linalg.solve(Z.T @ Z + alpha * np.eye(Z.shape[1]), Z.T @ (targets - centre)) / scale[:, None]
    return W, centre - mean @ W


def class_recall(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int) -> np.ndarray:
    """Held-out recall per class of a ridge classifier, from cross-validation on these rows only."""
    counts = np.bincount(y, minlength=n_classes)
    folds = int(min(INNER_FOLDS, max(2, counts[counts > 0].min() if (counts > 0).any() else 2)))
    if len(y) < 2 * folds:
        return np.full(n_classes, np.nan)
    fold_of_row = stratified_folds(y, folds, seed)
    predicted = np.zeros(len(y), dtype=np.int64)
    X = np.asarray(X, dtype=np.float64)
    for f in range(folds):
        train, test = fold_of_row != f, fold_of_row == f
        W, b = ridge_classifier(X[train], y[train], n_classes)
        predicted[test] = (X[test] @ W + b).argmax(axis=1)
    hits = np.bincount(y, weights=predicted == y, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


#: Per data set (held weakly): what a quota needs that depends only on its rows (each class's subset,
#: DRoP's held-out recall). A search runs many quota candidates on the same fold's rows.
_PER_DATASET: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _memo(ds, key, compute):
    try:
        store = _PER_DATASET.setdefault(ds, {})
    except TypeError:  # not weakly referable: computed each time
        return compute()
    if key not in store:
        store[key] = compute()
    return store[key]


def class_quotas(mode: str, ds, budget: int, seed: int) -> tuple:
    """(quota per class, details): rows each class keeps, summing to ``budget``."""
    counts = np.bincount(ds.y, minlength=ds.n_classes)
    if mode == "proportional":
        return proportional_quotas(counts, budget), {}
    if mode == "equal":
        return equal_quotas(counts, budget), {}
    recall = _memo(ds, ("recall", int(seed)), lambda: class_recall(ds.X, ds.y, ds.n_classes, seed))
    error = np.where(np.isnan(recall), 1.0, np.maximum(1.0 - recall, MIN_ERROR))
    quotas = _weighted_quotas(counts, error, budget)
    return quotas, {"held_out_recall": {str(c): (None if np.isnan(r) else round(float(r), 4))
                                        for c, r in zip(ds.classes, recall)},
                    "recall_method": f"{INNER_FOLDS}-fold ridge classifier on the given rows"}


def _weighted_quotas(counts: np.ndarray, weights: np.ndarray, budget: int) -> np.ndarray:
    """Quotas proportional to ``weights``, capped at the class sizes (the overflow shared by the others)."""
    counts = np.asarray(counts, dtype=np.int64)
    weights = np.where(counts > 0, np.asarray(weights, dtype=float), 0.0)
    if weights.sum() <= 0:
        return proportional_quotas(counts, budget)
    exact = np.zeros(len(counts))
    active, left = weights > 0, float(budget)
    while active.any():
        share = left * np.where(active, weights, 0.0) / weights[active].sum()
        full = active & (share >= counts)
        if not full.any():
            exact[active] = share[active]
            break
        exact[full] = counts[full]
        left -= counts[full].sum()
        active &= ~full
    quotas = np.floor(exact + 1e-9).astype(np.int64)
    short = int(budget) - int(quotas.sum())
    for c in np.argsort(-(exact - quotas), kind="stable"):
        if short <= 0:
            break
        if quotas[c] < counts[c]:
            quotas[c] += 1
            short -= 1
    return quotas


def run_with_quota(kind, request, run) -> tuple:
    """Run ``kind`` once per class with that class's quota; ``run(kind, request)`` runs one kind."""
    spec, ds, mode = request.spec, request.ds, request.spec.quota
    if request.budget is None:
        raise ConfigError(f"quota={mode} shares a keep fraction out over the classes; give a keep fraction.")
    quotas, details = class_quotas(mode, ds, request.budget, request.seed)
    inner = replace(spec, quota=None)
    mask = np.zeros(ds.n_samples, dtype=bool)
    params = {}
    for c in np.flatnonzero(quotas > 0):
        rows = np.flatnonzero(ds.y == c)
        sub = _memo(ds, ("class", int(c)), lambda: ds.take(rows))
        # each class draws with its own seed: with one seed every class would keep the rows at the same
        # positions of its own rows (random draws and tie-breaks rank rows by a hash of seed and position), so on
        # data stored in some order (by source, writer, time) every class would come from the same stretch
        part = Request(ds=sub, frame=request.frame.iloc[rows], spec=inner, keep=quotas[c] / len(rows),
                       budget=int(quotas[c]), threshold=None, seed=derive_seed(request.seed, "class-quota", int(c)),
                       progress=None, cancel=request.cancel)
        kept, params, _ = run(kind, part)
        mask[rows[np.asarray(kept, dtype=bool)]] = True
    params = dict(params, quota=mode, class_quotas={str(ds.classes[c]): int(q) for c, q in enumerate(quotas)})
    return mask, params, dict(details, quota=mode)
