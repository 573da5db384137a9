"""``moderate``: Moderate coreset (Xia et al. 2023) - rows at a typical distance from their class centre."""

from __future__ import annotations

import numpy as np

from core.foundation.seeds import derive_seed
from core.selection.algorithms import mask_from_positions, priority_order, proportional_quotas
from core.selection.registry import StrategyKind, register_strategy


def moderate_mask(X: np.ndarray, y: np.ndarray, n_classes: int, budget: int, seed: int) -> np.ndarray:
    """Moderate coreset: per class, the rows whose distance to the class centre is nearest its median.

    Xia et al. (2023) score every row by its distance to its class centre in representation
    space and keep the rows closest to the median score: neither the easiest (at the centre) nor
    the hardest (far out, where atypical and mislabeled rows sit). The median is taken per class,
    with class quotas proportional to class sizes, so no class is lost because its spread differs.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), int codes
    budget : int
        Rows to keep.

    Returns
    -------
    ndarray of shape (n_samples,), bool
    """
    X = np.asarray(X, dtype=np.float64)
    quotas = proportional_quotas(np.bincount(y, minlength=n_classes), budget)
    kept = []
    for label in range(n_classes):
        members = np.flatnonzero(y == label)
        if quotas[label] == 0:
            continue
        distance = np.linalg.norm(X[members] - X[members].mean(axis=0), axis=1)
        closeness = -np.abs(distance - np.median(distance))
        kept.append(members[priority_order(closeness, derive_seed(seed, "moderate", label))[: quotas[label]]])
    return mask_from_positions(np.concatenate(kept) if kept else [], len(y))


def _run(request):
    ds = request.ds
    return moderate_mask(ds.X, ds.y, ds.n_classes, request.budget, request.seed), {"kind": "moderate"}, {}


register_strategy(StrategyKind(
    name="moderate", title="Moderate coreset", order=72, syntax="moderate", target="none", budget="keep",
    needs_features=True,
    help="Moderate coreset (Xia et al. 2023): per class, the rows whose distance to the class centre is nearest "
         "the median; skips both the easiest and the far-out rows.",
    run=_run,
))
