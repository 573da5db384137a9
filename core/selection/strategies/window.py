"""``window:<scorer>``: the best contiguous window of a difficulty ranking (BWS, Choi et al. ICML 2024).

Rows are ranked hardest first by one score; the subset is ``budget`` consecutive rows of that
ranking. ``start`` says where the window sits: 0 is the hardest rows (the hard end), 1 the easiest
(the easy end), 0.5 the middle of the room left, so any start is valid at any budget. The paper
picks the start per budget: at small budgets easier windows win, at large budgets the window
reaches the hardest rows.

``start=auto`` (default) picks the start the way the paper does, with its cheap proxy: for each
start on a grid of :data:`GRID` steps a ridge classifier (one-vs-rest least squares on standardised
features, the paper's kernel ridge regression with a linear kernel) is fitted on the window's rows
and scored on *all* the given rows; the best start wins. That proxy reads the given rows' labels,
so inside a leak-free estimate each fold chooses from its own training rows only. ``auto`` also
puts a few fixed starts (:data:`core.search.pool.WINDOW_STARTS`) in its search, so the leak-free
estimate can choose the start itself.
"""

from __future__ import annotations

import numpy as np

from core.foundation.errors import ConfigError
from core.selection.algorithms import priority_order
from core.selection.ends import ccs_hard_end
from core.selection.quotas import ridge_classifier
from core.selection.registry import Option, StrategyKind, register_strategy

GRID = 10  # the auto start is searched over 0, 1/GRID, ..., 1
PROXY_ALPHA = 1.0


def _start(value: str):
    if value == "auto":
        return None
    try:
        number = float(value)
    except ValueError:
        return "must be auto or a number in [0, 1]"
    return None if 0 <= number <= 1 else "must be auto or a number in [0, 1]"


def window_mask(hardness: np.ndarray, budget: int, start: float, seed: int) -> np.ndarray:
    """``budget`` consecutive rows of the hardest-first ranking, ``start`` of the way into the room left.

    NaN counts as hardest (first in the ranking); ties are broken by the seeded row priority.
    """
    n = len(hardness)
    budget = int(min(max(budget, 0), n))
    order = priority_order(np.where(np.isnan(hardness), np.inf, hardness), seed)  # hardest first
    first = int(round(float(start) * (n - budget)))
    mask = np.zeros(n, dtype=bool)
    mask[order[first:first + budget]] = True
    return mask


def proxy_accuracy(X: np.ndarray, y: np.ndarray, n_classes: int, rows: np.ndarray) -> float:
    """Accuracy on every row of a ridge classifier fitted on ``rows`` (the BWS proxy)."""
    if len(rows) == 0 or len(np.unique(y[rows])) < 2:
        return float(np.mean(y == (np.bincount(y[rows]).argmax() if len(rows) else 0)))
    W, b = ridge_classifier(X[rows], y[rows], n_classes, PROXY_ALPHA)
    return float(np.mean((X @ W + b).argmax(axis=1) == y))


def best_start(ds, hardness: np.ndarray, budget: int, seed: int) -> tuple:
    """(start, proxy accuracy per grid start): the grid start whose window's proxy scores best."""
    X = np.asarray(ds.X, dtype=np.float64)
    starts = np.linspace(0.0, 1.0, GRID + 1)
    scores = [proxy_accuracy(X, ds.y, ds.n_classes, np.flatnonzero(window_mask(hardness, budget, s, seed)))
              for s in starts]
    return float(starts[int(np.argmax(scores))]), [round(v, 4) for v in scores]


def _run(request):
    spec = request.spec
    name, options = spec.scorers[0], spec.option
    if request.budget is None:
        raise ConfigError("window needs a keep fraction.")
    hard = options.get("hard") or ccs_hard_end(name)
    values = request.values(name)
    hardness = values if hard == "high" else -values
    details = {}
    if options["start"] == "auto":
        start, proxy = best_start(request.ds, hardness, request.budget, request.seed)
        details = {"proxy_accuracy_by_start": dict(zip([f"{s:g}" for s in np.linspace(0, 1, GRID + 1)], proxy)),
                   "proxy": "ridge classifier on the window, scored on all given rows (BWS)"}
    else:
        start = float(options["start"])
    mask = window_mask(hardness, request.budget, start, request.seed)
    params = {"kind": "window", "scorer": name, "hard": hard, "start": options["start"], "start_used": start}
    return mask, params, details


register_strategy(StrategyKind(
    name="window", title="Best window (BWS)", order=25,
    syntax="window:<scorer>[:start=auto|0..1][:hard=high|low]", target="scorer", budget="keep",
    options={
        "start": Option(str, "auto", "where the window sits in the hardest-first ranking: 0 hardest, 1 easiest; "
                        "auto: the best start by the BWS proxy", _start),
        "hard": Option(str, None, "which end is hard (default: the scorer's declared hard end)",
                       choices=("high", "low")),
    },
    help="Keep one contiguous window of a difficulty ranking (BWS): easy rows at small keep, reaching the hard "
         "rows as keep grows; the start is chosen by a cheap proxy or by auto's leak-free search.",
    run=_run,
))
