"""The random curve: random pruning's accuracy against the number of rows kept, read at any size.

The exact random reference of a size is several subsets x every fold, tens of fits at 100k rows,
too slow to wait for after each slider move. Random pruning reads no labels and its accuracy
changes smoothly with the rows kept, so a curve computed once per data set (a few sizes, a couple
of subsets each, on the evaluator's folds and model) gives a reference for any size at once, by
interpolation in log rows. Such a figure is marked ``interpolated`` everywhere it is shown and
never decides a verdict; the exact reference of the size replaces it when it is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from core.evaluation.live import Estimate
from core.foundation.progress import check_cancelled, report, scaled

#: Keep fractions of the curve's points (the full data is the last point).
CURVE_FRACTIONS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
#: Random subsets per point (the exact reference uses 5).
CURVE_REPEATS = 2
INTERPOLATED = "interpolated from the random curve"


@dataclass(frozen=True)
class RandomCurve:
    """Random pruning's accuracy at a few sizes (ascending), full data included.

    Attributes
    ----------
    n_kept, accuracy, std : ndarray of shape (n_points,)
    n_input : int
    repeats : int
        Random subsets per point (the full-data point is one mask).
    """

    n_kept: np.ndarray
    accuracy: np.ndarray
    std: np.ndarray
    n_input: int
    repeats: int
    model: str = ""
    budget: str = ""

    def covers(self, n_kept: int) -> bool:
        """Whether ``n_kept`` lies between two computed sizes (no extrapolation)."""
        return len(self.n_kept) >= 2 and self.n_kept[0] <= int(n_kept) <= self.n_kept[-1]

    def at(self, n_kept: int) -> Optional[Estimate]:
        """The interpolated reference for ``n_kept`` rows (its ``note`` says so), or None outside the curve."""
        if not self.covers(n_kept):
            return None
        x = np.log(np.maximum(self.n_kept, 1))
        where = np.log(max(int(n_kept), 1))
        return Estimate(accuracy=float(np.interp(where, x, self.accuracy)), std=float(np.interp(where, x, self.std)),
                        fold_accuracies=[], per_class={}, n_kept=int(n_kept), n_input=self.n_input,
                        model=self.model, budget=self.budget, repeats=self.repeats, note=INTERPOLATED)

    def with_point(self, est: Estimate) -> "RandomCurve":
        """The curve with one more computed size (kept in ascending order)."""
        sizes = np.append(self.n_kept, est.n_kept)
        order = np.argsort(sizes, kind="stable")
        return replace(self, n_kept=sizes[order], accuracy=np.append(self.accuracy, est.accuracy)[order],
                       std=np.append(self.std, est.std)[order])


def curve_sizes(n_input: int, fractions=CURVE_FRACTIONS) -> list:
    """The distinct row counts of the curve's points, below the full data."""
    return sorted({int(round(f * n_input)) for f in fractions if 1 <= round(f * n_input) < n_input})


def random_curve(evaluator, fractions=CURVE_FRACTIONS, repeats: int = CURVE_REPEATS, *, near: Optional[int] = None,
                 full: Optional[Estimate] = None, progress=None, cancel=None, partial=None) -> RandomCurve:
    """Random pruning's accuracy at ``fractions`` of the rows, on the evaluator's folds and model.

    Parameters
    ----------
    evaluator : LiveEvaluator
    near : int, optional
        Compute the sizes around this row count first (the one a slider stands at), so the curve
        covers it as early as possible.
    full : Estimate, optional
        The evaluator's full-data figure when the caller has it (the curve's last point).
    partial : callable, optional
        ``partial(curve)`` after each point, with the curve so far (a caller can read it at once).
    """
    n = evaluator.ds.n_samples
    full = full if full is not None else evaluator.full(cancel=cancel)
    curve = RandomCurve(np.array([n]), np.array([full.accuracy]), np.array([full.std]), n, int(repeats),
                        evaluator.model_description, evaluator.budget_description)
    sizes = curve_sizes(n, fractions)
    if near is not None:
        sizes.sort(key=lambda size: abs(np.log(max(size, 1)) - np.log(max(int(near), 1))))
    for i, size in enumerate(sizes):
        check_cancelled(cancel)
        report(progress, i, len(sizes), f"random subsets of {size:,} rows ({i + 1} of {len(sizes)} sizes)")
        est = evaluator.random(size, repeats, scaled(progress, i / len(sizes), (i + 1) / len(sizes)), cancel)
        curve = curve.with_point(est)
        if partial is not None:
            partial(curve)
    report(progress, len(sizes), len(sizes), "random curve done")
    return curve
