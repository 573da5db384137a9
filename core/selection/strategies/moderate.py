"""``moderate``: Moderate coreset (Xia et al. 2023) - rows at a typical distance from their class centre.

On partitions the class centres are summed from per-partition sums, each class's median distance is
an exact order statistic (:func:`core.foundation.order_statistics.medians`) and each class keeps its
quota by closeness to that median with a per-class cut (:func:`core.selection.partitioned.rules.class_tops`):
the quotas and counts per class are memory's, and rows tied in closeness are taken by the per-row
hash draw memory breaks ties with, so the rows are memory's up to the last bits of the centres
(another summation order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from core.data.partitions import read_partition
from core.foundation.order_statistics import medians
from core.selection.algorithms import budget_from_keep, mask_from_positions, proportional_quotas, random_priority
from core.selection.partitioned.base import PartitionedRule
from core.selection.partitioned.rules import QuotaRule, class_top_rows, class_tops
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
    priority = random_priority(len(y), seed)  # ties: the per-row hash draw partitions use too
    kept = []
    for label in range(n_classes):
        members = np.flatnonzero(y == label)
        if quotas[label] == 0:
            continue
        distance = np.linalg.norm(X[members] - X[members].mean(axis=0), axis=1)
        closeness = -np.abs(distance - np.median(distance))
        kept.append(members[np.lexsort((priority[members], -closeness))[: quotas[label]]])
    return mask_from_positions(np.concatenate(kept) if kept else [], len(y))


def _run(request):
    ds = request.ds
    return moderate_mask(ds.X, ds.y, ds.n_classes, request.budget, request.seed), {"kind": "moderate"}, {}


@dataclass(frozen=True)
class ModerateRule(QuotaRule):
    """Class ``centres`` and median distances (``medians``), then per-class quotas by closeness to the median."""

    kind: ClassVar[str] = "moderate"
    centres: tuple = ()
    medians: tuple = ()


def _class_sums(index: int, where) -> np.ndarray:
    _, y, X = read_partition(where.data, index)
    sums = np.zeros((where.data.n_classes, X.shape[1]))
    np.add.at(sums, y, X.astype(np.float64))
    return sums


def _distances(index: int, where, centres) -> tuple:
    _, y, X = read_partition(where.data, index)
    return y, np.linalg.norm(X.astype(np.float64) - np.asarray(centres)[y], axis=1)


def _distances_by_class(index: int, where, centres) -> list:
    y, distance = _distances(index, where, centres)
    return [np.where(y == code, distance, np.nan) for code in range(len(centres))]


def closeness(index: int, where, centres, middles) -> np.ndarray:
    """Minus the gap between each row's distance to its class centre and that class's median distance."""
    y, distance = _distances(index, where, centres)
    return -np.abs(distance - np.asarray(middles, dtype=np.float64)[y])


def _plan(where, recipe, engine) -> ModerateRule:
    counts = where.data.class_counts
    sums = np.sum(engine.map(_class_sums, where.parts, where), axis=0)
    centres = tuple(map(tuple, sums / np.maximum(counts, 1)[:, None]))
    middles = tuple(float(m) for m in medians(engine, where.count, _distances_by_class, (where, centres)))
    budget = budget_from_keep(recipe.keep, where.data.n_samples)
    quotas = tuple(int(q) for q in proportional_quotas(counts, budget))
    found = class_tops(engine, where, closeness, (centres, middles), list(quotas))
    return ModerateRule(centres=centres, medians=middles, budget=budget, quotas=quotas, **found)


def _mask(index: int, where, rule: ModerateRule) -> np.ndarray:
    return class_top_rows(index, where, closeness(index, where, rule.centres, rule.medians), rule)


register_strategy(StrategyKind(
    name="moderate", title="Moderate coreset", order=72, syntax="moderate", target="none", budget="keep",
    needs_features=True,
    help="Moderate coreset (Xia et al. 2023): per class, the rows whose distance to the class centre is nearest "
         "the median; skips both the easiest and the far-out rows.",
    run=_run,
    partitioned=PartitionedRule(ModerateRule, _plan, _mask, how="same quotas and count per class as memory; ties "
                                "by memory's hash draw; centres equal up to summation order"),
))
