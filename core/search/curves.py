"""Pruning curves: cross-validated accuracy per strategy over a sweep of keep fractions."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from core.foundation.errors import ConfigError
from core.evaluation.live import LiveEvaluator
from core.foundation.progress import check_cancelled, report, scaled
from core.selection.subset import align_scores, parse_strategy

COLUMNS = ["strategy", "keep_fraction", "n_kept", "accuracy_mean", "accuracy_std", "n_runs", "model"]


def pruning_curve(ds, scores, strategies, keep_fractions=(0.1, 0.2, 0.3, 0.5, 0.7, 0.9), seeds: int = 3,
                  folds: int = 5, seed: int = 0, progress=None, cancel=None, *,
                  evaluator: Optional[LiveEvaluator] = None) -> pd.DataFrame:
    """Accuracy of each strategy at each keep fraction, with random always included.

    Parameters
    ----------
    ds : Dataset
    scores : DataFrame indexed by id, or None (only score-free strategies then)
    strategies : list of str, or a comma-separated str
        Strategy strings (see :mod:`core.selection`). ``auto`` reports its nested (honest)
        estimate with the fast evaluator; with an exact evaluator, the mask it chose with the
        fast model is scored by the exact one.
    keep_fractions : sequence of float in (0, 1]
    seeds : int
        Selections per point (seeds ``seed .. seed + seeds - 1``); deterministic strategies give
        the same mask for every seed and are evaluated once.
    evaluator : LiveEvaluator, optional
        Made with ``folds`` and ``seed`` (fast model) if not given.

    Returns
    -------
    DataFrame with one row per (strategy, keep_fraction): ``strategy``, ``keep_fraction``,
    ``n_kept``, ``accuracy_mean`` and ``accuracy_std`` (over seeds x folds), ``n_runs`` and
    ``model``. ``frame.attrs["full"]`` holds the full-data estimate on the same folds.
    """
    from core.selection.subset import select

    if isinstance(strategies, str):
        strategies = [s.strip() for s in strategies.split(",") if s.strip()]
    strategies = ["random"] + [s for s in dict.fromkeys(strategies) if s != "random"]
    fractions = [float(f) for f in keep_fractions]
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ConfigError(f"keep fractions must be in (0, 1], got {list(keep_fractions)}.")
    if int(seeds) < 1:
        raise ConfigError(f"seeds must be at least 1, got {seeds}.")
    frame = align_scores(ds, scores)
    for strategy in strategies:  # fail before any work on a typo
        parse_strategy(strategy, frame.columns)
    evaluator = evaluator or LiveEvaluator(ds, folds=folds, seed=seed)
    rows = []
    total = len(strategies) * len(fractions)
    step = 0
    for strategy in strategies:
        for keep in fractions:
            check_cancelled(cancel)
            report(progress, step, total, f"{strategy} at keep {keep:g}")
            accs, n_kept = [], []
            for s in range(seed, seed + int(seeds)):
                if strategy == "auto":
                    from core.search.auto import auto_select

                    part = scaled(progress, step / total, (step + 1) / total)
                    sel = auto_select(ds, scores, keep, s, evaluator=evaluator, progress=part, cancel=cancel)
                    if evaluator.model == "fast":
                        accs.append(sel.details["honest_estimate"]["fold_accuracies"])
                    else:  # the choice was made by the fast model; score it with the exact one
                        accs.append(evaluator.estimate(sel.mask, cancel=cancel).fold_accuracies)
                else:
                    sel = select(ds, scores, strategy, keep=keep, seed=s, evaluator=evaluator)
                    accs.append(evaluator.estimate(sel.mask, cancel=cancel).fold_accuracies)
                n_kept.append(sel.n_kept)
            accs = np.asarray(accs, dtype=float)
            rows.append({"strategy": strategy, "keep_fraction": keep, "n_kept": int(round(np.mean(n_kept))),
                         "accuracy_mean": float(np.nanmean(accs)), "accuracy_std": float(np.nanstd(accs)),
                         "n_runs": int(accs.size), "model": evaluator.describe()})
            step += 1
    report(progress, total, total, "curve done")
    out = pd.DataFrame(rows, columns=COLUMNS)
    out.attrs["full"] = evaluator.full().to_dict()
    return out
