"""``band:<scorer>``: drop both tails of one score and keep the middle, in memory and on partitions.

On partitions both tails are cut at exact order statistics of the finite values
(:func:`core.foundation.order_statistics.order_statistics`): the ``n_low`` smallest and ``n_high``
largest go; of the rows tied at the low cut those with the largest per-row hash draw go first, of
those tied at the high cut those with the smallest - the order memory's ``priority_order`` gives
them - so the two never overlap and both engines drop the same rows. (Rules written before
``tie_break`` drop low ties in data order and high ties from the end of the data.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import numpy as np

from core.foundation.errors import ConfigError
from core.foundation.order_statistics import above_or_first_ties, order_statistics, split_ties, tie_counts
from core.selection.algorithms import band_mask, budget_from_keep
from core.selection.partitioned.base import PartitionedRule, Rule
from core.data.partitions import row_uniforms
from core.selection.algorithms import RANDOM_STREAM
from core.selection.partitioned.rules import positions, score_values, tied_draws_cut, tied_rows
from core.selection.registry import Option, StrategyKind, register_strategy


def _fraction(value: float):
    return None if 0 <= value < 1 else "must be in [0, 1)"


def tail_counts(low: float, high: float, n: int, budget: Optional[int]) -> tuple[int, int]:
    """Rows dropped from the low and the high end: the fractions of ``n``, or ``n - budget`` shared by them."""
    if low + high >= 1:
        raise ConfigError(f"band: low + high must leave some rows (got {low} + {high}).")
    if budget is None:
        return int(round(low * n)), int(round(high * n))
    n_drop = n - budget
    share = low / (low + high) if low + high > 0 else 0.5
    n_low = int(round(n_drop * share))
    return n_low, n_drop - n_low


def _run(request):
    spec, n = request.spec, request.ds.n_samples
    low, high = spec.option["low"], spec.option["high"]
    n_low, n_high = tail_counts(low, high, n, request.budget)
    mask = band_mask(request.values(spec.scorers[0]), n_low, n_high, request.seed)
    params = {"kind": "band", "scorer": spec.scorers[0], "low": low, "high": high, "n_low": n_low, "n_high": n_high}
    return mask, params, {}


@dataclass(frozen=True)
class BandRule(Rule):
    """The band's two cuts (``low_cut``: the ``n_low``-th smallest finite value, ``high_cut``: the
    ``n_high``-th largest) and each partition's rows tied at them that are dropped."""

    kind: ClassVar[str] = "band"
    scorers: tuple = ()
    scorer: str = ""
    low: float = 0.05
    high: float = 0.05
    n_low: int = 0
    n_high: int = 0
    low_cut: Optional[float] = None
    low_ties: Optional[tuple] = None
    high_cut: Optional[float] = None
    high_ties: Optional[tuple] = None
    low_draw_cut: Optional[float] = None
    low_draw_ties: Optional[tuple] = None
    high_draw_cut: Optional[float] = None
    high_draw_ties: Optional[tuple] = None
    tie_break: Optional[str] = None


def _values(index: int, where, scorer: str) -> list:
    values = score_values(index, where, scorer)
    return [np.where(np.isfinite(values), values, np.nan)]


def _tail_ties(index: int, where, scorer: str, low_cut, high_cut) -> tuple:
    values = np.nan_to_num(score_values(index, where, scorer), nan=np.inf, posinf=np.inf, neginf=np.inf)
    below = tie_counts(-values, -low_cut) if low_cut is not None else (0, 0)
    values = np.where(np.isinf(values), -np.inf, values)
    above = tie_counts(values, high_cut) if high_cut is not None else (0, 0)
    return below, above


def _plan(where, recipe, engine) -> BandRule:
    spec = recipe.spec
    scorer, low, high = spec.scorers[0], spec.option["low"], spec.option["high"]
    budget = budget_from_keep(recipe.keep, where.data.n_samples) if recipe.keep is not None else None
    n_low, n_high = tail_counts(low, high, where.data.n_samples, budget)
    wanted = {}

    def ranks(counts: list) -> list:  # from the top: the n_low-th smallest and the n_high-th largest
        wanted["low"] = min(n_low, counts[0])
        wanted["high"] = min(n_high, counts[0] - wanted["low"])
        return [counts[0] - wanted["low"] + 1 if wanted["low"] else None, wanted["high"] or None]

    low_cut, high_cut = order_statistics(engine, where.count, _two_keys, (where, scorer), ranks)
    ties = engine.map(_tail_ties, where.parts, where, scorer, low_cut, high_cut)
    low_ties = tuple(split_ties([below for below, _ in ties], wanted["low"])) if low_cut is not None else None
    high_ties = (tuple(split_ties([above for _, above in ties][::-1], wanted["high"])[::-1])
                 if high_cut is not None else None)
    wanted_low = wanted["low"] - sum(below[0] for below, _ in ties) if low_cut is not None else 0
    wanted_high = wanted["high"] - sum(above[0] for _, above in ties) if high_cut is not None else 0
    low_draw, low_draw_ties = tied_draws_cut(engine, where, _finite, (scorer,), [low_cut], [wanted_low])
    high_draw, high_draw_ties = tied_draws_cut(engine, where, _finite, (scorer,), [high_cut], [wanted_high], sign=-1.0)
    return BandRule(scorers=(scorer,), scorer=scorer, low=low, high=high, n_low=n_low, n_high=n_high,
                    low_cut=low_cut, low_ties=low_ties, high_cut=high_cut, high_ties=high_ties,
                    low_draw_cut=low_draw[0], low_draw_ties=tuple(part[0] for part in low_draw_ties),
                    high_draw_cut=high_draw[0], high_draw_ties=tuple(part[0] for part in high_draw_ties),
                    tie_break="hash")


def _finite(index: int, where, scorer: str) -> np.ndarray:
    return _values(index, where, scorer)[0]


def _two_keys(index: int, where, scorer: str) -> list:
    return _values(index, where, scorer) * 2


def _mask(index: int, where, rule: BandRule) -> np.ndarray:
    values = score_values(index, where, rule.scorer)
    finite = np.isfinite(values)
    kept = finite.copy()
    if rule.tie_break == "hash":
        drawn = row_uniforms(where.seed, positions(index, where), RANDOM_STREAM)
        values = np.where(finite, values, np.nan)
        if rule.low_cut is not None:
            kept &= ~((values < rule.low_cut) | tied_rows(values, drawn, rule.low_cut, rule.low_draw_cut,
                                                         rule.low_draw_ties[index]))
        if rule.high_cut is not None:
            kept &= ~((values > rule.high_cut) | tied_rows(values, -drawn, rule.high_cut, rule.high_draw_cut,
                                                          rule.high_draw_ties[index]))
        return kept
    if rule.low_cut is not None:  # the lowest go, ties at the cut in data order
        kept &= ~above_or_first_ties(np.where(finite, -values, -np.inf), -rule.low_cut, rule.low_ties[index])
    if rule.high_cut is not None:  # the highest go, ties at the cut from the end of the data
        reverse = np.where(finite, values, -np.inf)[::-1]
        kept &= ~above_or_first_ties(reverse, rule.high_cut, rule.high_ties[index])[::-1]
    return kept


register_strategy(StrategyKind(
    name="band", title="Middle band", order=40, syntax="band:<scorer>[:low=0.05][:high=0.05]",
    target="scorer", budget="optional-keep",
    options={"low": Option(float, 0.05, "fraction dropped from the low end", _fraction),
             "high": Option(float, 0.05, "fraction dropped from the high end", _fraction)},
    help="Drop the lowest and highest tails of one score (with a keep fraction, the tails share the cut).",
    run=_run,
    partitioned=PartitionedRule(BandRule, _plan, _mask, how="exact counts, cuts and rows (ties by memory's "
                                "per-row hash order)"),
))
