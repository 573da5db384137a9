"""``band:<scorer>``: drop both tails of one score and keep the middle."""

from __future__ import annotations

from core.foundation.errors import ConfigError
from core.selection.algorithms import band_mask
from core.selection.registry import Option, StrategyKind, register_strategy


def _fraction(value: float):
    return None if 0 <= value < 1 else "must be in [0, 1)"


def _run(request):
    spec, n = request.spec, request.ds.n_samples
    low, high = spec.option["low"], spec.option["high"]
    if low + high >= 1:
        raise ConfigError(f"band: low + high must leave some rows (got {low} + {high}).")
    if request.budget is None:
        n_low, n_high = int(round(low * n)), int(round(high * n))
    else:
        n_drop = n - request.budget
        share = low / (low + high) if low + high > 0 else 0.5
        n_low = int(round(n_drop * share))
        n_high = n_drop - n_low
    mask = band_mask(request.values(spec.scorers[0]), n_low, n_high, request.seed)
    params = {"kind": "band", "scorer": spec.scorers[0], "low": low, "high": high, "n_low": n_low, "n_high": n_high}
    return mask, params, {}


register_strategy(StrategyKind(
    name="band", title="Middle band", order=40, syntax="band:<scorer>[:low=0.05][:high=0.05]",
    target="scorer", budget="optional-keep",
    options={"low": Option(float, 0.05, "fraction dropped from the low end", _fraction),
             "high": Option(float, 0.05, "fraction dropped from the high end", _fraction)},
    help="Drop the lowest and highest tails of one score (with a keep fraction, the tails share the cut).",
    run=_run,
))
