"""Pruning curves: cross-validated accuracy per strategy over a sweep of keep fractions.

Every point is estimated like a single selection: per evaluator fold, the strategy runs on the
other folds (with fold-wise scores: scores that never saw that fold's labels), the target model
trains on the kept rows and is tested on the whole fold. Progress messages carry the point and a
time estimate.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np
import pandas as pd

from core.evaluation import LiveEvaluator
from core.foundation.errors import ConfigError
from core.foundation.progress import check_cancelled, report, scaled
from core.foundation.seeds import derive_seed
from core.scorers import align_scores
from core.search.auto import auto_select
from core.search.screening import CandidateTable, with_label_free
from core.selection import parse_strategy, scores_read_labels

COLUMNS = ["strategy", "keep_fraction", "n_kept", "accuracy_mean", "accuracy_std", "n_runs", "model", "leak_free"]


def curve_on_folds(ds, scores, strategies, keep_fractions=(0.1, 0.2, 0.3, 0.5, 0.7, 0.9), seeds: int = 3,
                   folds: int = 5, seed: int = 0, progress=None, cancel=None, *,
                   evaluator: Optional[LiveEvaluator] = None, fold_scores=None) -> pd.DataFrame:
    """Accuracy of each strategy at each keep fraction, with random always included.

    Parameters
    ----------
    ds : Dataset
    scores : DataFrame indexed by id, or None (only score-free strategies then)
    strategies : list of str, or a comma-separated str
        Strategy strings (see :mod:`core.selection`). ``auto`` reports its nested estimate.
    keep_fractions : sequence of float in (0, 1]
    seeds : int
        Selections per point: run 0 uses ``seed`` itself (the selection ``select`` makes with it),
        run ``r > 0`` uses ``derive_seed(seed, "curve-run", r)``; deterministic strategies give
        the same mask for every seed and are evaluated once.
    evaluator : LiveEvaluator, optional
        Folds and target model; logistic regression with ``folds`` and ``seed`` if not given.
    fold_scores : FoldScores, optional
        From :func:`core.evaluation.fold_scores`: makes score-based points leak-free. Without
        them those points use the all-rows scores and their ``leak_free`` column is False.

    Returns
    -------
    DataFrame with one row per (strategy, keep_fraction): ``strategy``, ``keep_fraction``,
    ``n_kept``, ``accuracy_mean`` and ``accuracy_std`` (over seeds x folds), ``n_runs``,
    ``model`` and ``leak_free``. ``frame.attrs["full"]`` holds the full-data estimate on the same folds.
    """
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
    fold_scores = with_label_free(ds, scores, fold_scores)
    rows, total, step, started = [], len(strategies) * len(fractions), 0, time.perf_counter()
    for strategy in strategies:
        for keep in fractions:
            check_cancelled(cancel)
            eta = "" if step == 0 else f", about {(time.perf_counter() - started) / step * (total - step):.0f} s left"
            report(progress, step, total, f"curve: {strategy} at keep {keep:g} (point {step + 1} of {total}{eta})")
            part = scaled(progress, step / total, (step + 1) / total)
            accs, n_kept, leak_free = _point(ds, scores, strategy, keep, _run_seeds(seed, seeds), evaluator,
                                             fold_scores, part, cancel)
            rows.append({"strategy": strategy, "keep_fraction": keep, "n_kept": int(round(np.mean(n_kept))),
                         "accuracy_mean": float(np.nanmean(accs)), "accuracy_std": float(np.nanstd(accs)),
                         "n_runs": int(accs.size), "model": evaluator.describe(), "leak_free": leak_free})
            step += 1
    report(progress, total, total, "curve done")
    out = pd.DataFrame(rows, columns=COLUMNS)
    out.attrs["full"] = evaluator.full().to_dict()
    return out


def _run_seeds(seed: int, runs: int) -> list:
    """The selection seed of each run of a curve point: ``seed`` first, then derived streams."""
    return [derive_seed(seed)] + [derive_seed(seed, "curve-run", r) for r in range(1, int(runs))]


def _point(ds, scores, strategy, keep, seeds, evaluator, fold_scores, progress, cancel) -> tuple:
    """Per-fold accuracies over seeds (seeds x folds), kept counts and leak-freeness of one point."""
    accs, n_kept, leak_free = [], [], True
    for s in seeds:
        if strategy == "auto":
            sel = auto_select(ds, scores, keep, s, evaluator=evaluator, fold_scores=fold_scores, progress=progress,
                              cancel=cancel)
            honest = sel.details["honest_estimate"]
            accs.append(honest["fold_accuracies"])
            leak_free &= bool(honest["leak_free"])
            n_kept.append(sel.n_kept)
            continue
        table = CandidateTable(ds, scores, keep, s, evaluator, fold_scores)
        if strategy == "random":  # one random subset per seed, like every other strategy
            masks = table.masks("random")
            accs.append(evaluator.fold_results(masks, None, cancel)[0])
        else:
            accs.append(table.accuracies(strategy, cancel=cancel))
        leak_free &= strategy not in table.not_leak_free and (fold_scores is not None or not scores_read_labels(strategy))
        n_kept.append(table.n_kept(strategy))
    return np.asarray(accs, dtype=float), n_kept, bool(leak_free)


#: The search layer's curve under its old public name (``core.pruning_curve`` is the workflow's,
#: which makes the fold-wise scores first and then calls :func:`curve_on_folds`).
pruning_curve = curve_on_folds
