"""``ccs:<scorer>``: coverage-centric coreset selection (Zheng et al. 2023)."""

from __future__ import annotations

from core.selection.algorithms import ccs_mask
from core.selection.ends import ccs_hard_end
from core.selection.registry import Option, StrategyKind, register_strategy


def _fraction(value: float):
    return None if 0 <= value < 1 else "must be in [0, 1)"


def _positive(value: int):
    return None if value >= 1 else "must be at least 1"


def _run(request):
    spec = request.spec
    name, options = spec.scorers[0], spec.option
    hard = options.get("hard") or ccs_hard_end(name)
    values = request.values(name)
    hardness = values if hard == "high" else -values
    mask, info = ccs_mask(hardness, request.budget, options["beta"], options["bins"], request.seed)
    params = {"kind": "ccs", "scorer": name, "beta": options["beta"], "bins": options["bins"], "hard": hard,
              "beta_used": info.pop("beta_used")}
    return mask, params, info


register_strategy(StrategyKind(
    name="ccs", title="Coverage-centric (CCS)", order=20,
    syntax="ccs:<scorer>[:beta=0.1][:bins=50][:hard=high|low]", target="scorer", budget="keep",
    options={
        "beta": Option(float, 0.1, "fraction pruned first from the hard end", _fraction),
        "bins": Option(int, 50, "equal-width score bins sampled evenly", _positive),
        "hard": Option(str, None, "which end is hard (default: the scorer's declared hard end)",
                       choices=("high", "low")),
    },
    help="Drop the hardest beta fraction, then sample evenly across score bins so easy and hard rows stay "
         "covered; beats random at small keep fractions.",
    run=_run,
))
