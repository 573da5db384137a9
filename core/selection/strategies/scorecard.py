"""``scorecard:<s1>[:high|:low][=w1],<s2>...``: a weighted mean of per-score rank percentiles.

On partitions each row's rank percentile is read from a histogram of its oriented score summed over
partitions (:data:`BINS` equal bins between the exact minimum and maximum): a row gets its bin's
mid-rank, which is memory's average rank exactly when the bin holds one distinct value (scores with
ties or few distinct values) and is otherwise off by at most half the bin's share of the rows - a
stated approximation. The weighted mean is memory's, and the top ``keep`` rows by it are cut at an
exact order statistic, ties taken by the per-row hash draw memory breaks them with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from core.selection.algorithms import budget_from_keep, scorecard_values, top_mask
from core.selection.ends import default_end
from core.selection.partitioned.base import PartitionedRule
from core.selection.partitioned.rules import CutRule, kept_by_cut, oriented, top_cut
from core.selection.registry import StrategyKind, register_strategy

#: Histogram bins per score on partitions (the percentile's resolution where a bin holds several values).
BINS = 4096


def _run(request):
    spec = request.spec
    columns, ends = [], []
    for name, end in zip(spec.scorers, spec.ends):
        oriented, end = request.oriented(name, end)
        columns.append(oriented)
        ends.append(end)
    combined = scorecard_values(columns, spec.weights)
    mask = top_mask(combined, request.budget, request.seed)
    return mask, {"kind": "scorecard", "scorers": list(spec.scorers), "ends": ends, "weights": list(spec.weights)}, {}


@dataclass(frozen=True)
class ScorecardRule(CutRule):
    """Per term: its end, weight, extent (``lows``, ``highs``) and histogram; then the cut on the weighted
    mean and each partition's tied rows."""

    kind: ClassVar[str] = "scorecard"
    scorers: tuple = ()
    ends: tuple = ()
    weights: tuple = ()
    lows: tuple = ()
    highs: tuple = ()
    histograms: tuple = ()
    n_rows: int = 0


def _bins(values: np.ndarray, low: float, high: float) -> np.ndarray:
    edges = np.linspace(low, high if high > low else low + 1.0, BINS + 1)
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, BINS - 1)


def _terms(index: int, where, rule: ScorecardRule) -> list:
    return [oriented(index, where, name, end) for name, end in zip(rule.scorers, rule.ends)]


def _extents(index: int, where, rule: ScorecardRule) -> list:
    finite = [values[np.isfinite(values)] for values in _terms(index, where, rule)]
    return [(float(v.min()), float(v.max())) if len(v) else (np.inf, -np.inf) for v in finite]


def _histograms(index: int, where, rule: ScorecardRule) -> list:
    out = []
    for values, low, high in zip(_terms(index, where, rule), rule.lows, rule.highs):
        finite = values[np.isfinite(values)]
        out.append(np.bincount(_bins(finite, low, high), minlength=BINS) if len(finite) else np.zeros(BINS, int))
    return out


def combined(index: int, where, rule: ScorecardRule) -> np.ndarray:
    """The weighted mean of the terms' histogram percentiles (non-finite scores count 0, as in memory)."""
    weights = np.asarray(rule.weights, dtype=float)
    weights = weights / weights.sum()
    percentiles = []
    for values, low, high, counts in zip(_terms(index, where, rule), rule.lows, rule.highs, rule.histograms):
        counts = np.asarray(counts, dtype=np.float64)
        mid_rank = np.cumsum(counts) - counts + (counts + 1.0) / 2.0
        finite = np.isfinite(values)
        found = np.zeros(len(values))
        found[finite] = mid_rank[_bins(values[finite], low, high)] / max(1, rule.n_rows)
        percentiles.append(found)
    return sum(w * found for w, found in zip(weights, percentiles))


def _plan(where, recipe, engine) -> ScorecardRule:
    spec = recipe.spec
    ends = tuple(end or default_end(name) for name, end in zip(spec.scorers, spec.ends))
    rule = ScorecardRule(scorers=tuple(spec.scorers), ends=ends, weights=tuple(float(w) for w in spec.weights),
                         n_rows=where.data.n_samples)
    extents = engine.map(_extents, where.parts, where, rule)
    lows = tuple(min(part[term][0] for part in extents) for term in range(len(ends)))
    highs = tuple(max(part[term][1] for part in extents) for term in range(len(ends)))
    lows = tuple(low if np.isfinite(low) else 0.0 for low in lows)
    highs = tuple(high if np.isfinite(high) else 0.0 for high in highs)
    rule = replace(rule, lows=lows, highs=highs)
    counts = np.sum([np.stack(part) for part in engine.map(_histograms, where.parts, where, rule)], axis=0)
    rule = replace(rule, histograms=tuple(tuple(int(c) for c in row) for row in counts))
    budget = budget_from_keep(recipe.keep, where.data.n_samples)
    return replace(rule, budget=budget, **top_cut(engine, where, combined, (rule,), budget))


def _mask(index: int, where, rule: ScorecardRule) -> np.ndarray:
    return kept_by_cut(index, where, combined(index, where, rule), rule)


register_strategy(StrategyKind(
    name="scorecard", title="Weighted scorecard", order=60, syntax="scorecard:<s1>[:high|:low][=w1],<s2>...",
    target="terms", budget="keep",
    help="Keep the top rows by a weighted mean of rank percentiles of several scores, each oriented by its keep end.",
    run=_run,
    partitioned=PartitionedRule(ScorecardRule, _plan, _mask, how="stated approximation: rank percentiles from a "
                                f"{BINS}-bin histogram per score (exact where a bin holds one value); exact cut "
                                "and count on the weighted mean"),
))
