"""Backtest of a value model: what its selection of a new batch is worth, measured on the scored data.

The scored data stand in for "old" and "new" data. Each evaluator fold ``f`` in turn is the new
batch: a value model is fitted on the other folds, with targets computed without fold ``f``'s
labels (fold-wise scores, :func:`core.evaluation.fold_scores`), and predicts fold ``f``'s rows.
Fold ``f`` is split in two stratified halves; each half in turn is the batch and the other its
test set. A strategy selects within the batch at the keep fraction, the target model trains on
the kept rows and is tested on the other half, beside random rows of the same count from the
same batch (``repeats`` draws). Nothing that picks or trains the batch's rows saw the test
half's labels, nor, for label-using scores, the batch's own.

The figures follow the workbench's usual comparison: mean accuracy over the ``2 x folds``
batch/test pairs with its spread (standard deviation over them; over repeats x pairs for
random), and a selection "loses" when it is below random by more than that spread.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from core.evaluation import LiveEvaluator, fold_masks, make_folds
from core.evaluation import fold_scores as evaluation_fold_scores
from core.foundation import rng
from core.foundation.progress import check_cancelled, report
from core.scorers import get_scorer, registered_names, scorer_records
from core.search import value_fit
from core.selection import needed_scorers, scores_read_labels, select
from core.selection.algorithms import budget_from_keep

__all__ = ["KEEPS", "candidate_strategies", "run_backtest", "fold_targets", "verdict", "entry_for", "describe_entry"]

#: Keep fractions backtested by default (a model's default strategy is chosen at each).
KEEPS = (0.3, 0.5, 0.8)
RANDOM = "random"
#: An apply keep this close to a backtested keep reads that keep's backtest.
NEAREST_KEEP = 0.1
METHOD = ("each evaluator fold in turn is the new batch: the value model is fitted on the other folds (their "
          "targets computed without the batch's labels), selects within one half of the batch, the target model "
          "trains on the kept rows and is tested on the other half, beside random rows of the same count")


def candidate_strategies(column: str, task: str, extra: Optional[str] = None) -> list:
    """The strategies a backtest compares: CCS over the predicted column (covers the distribution,
    drops the hard end first), the column's declared keep end, random, and ``extra`` if given."""
    if task == "regression" and column in registered_names():
        found = [f"ccs:{column}", column]
    else:  # a decision (or an unregistered score): high means valuable, low is the end to drop first
        found = [f"ccs:{column}:hard=low", f"{column}:high"]
    found.append(RANDOM)
    if extra and extra.strip() not in found:
        found.insert(0, extra.strip())
    return found


def run_backtest(ds, X: np.ndarray, fold_of_row: np.ndarray, fold_targets: list, *, task: str, column: str,
                 model: str, alpha: float, hidden: int, seed: int, keeps=KEEPS, strategies=None,
                 evaluator_model: str = "logreg", repeats: int = 5, leak_free: bool = True, progress=None,
                 cancel=None) -> dict:
    """Backtest the value model's selections on the scored data (see the module docstring).

    Parameters
    ----------
    ds : Dataset
        The scored data (its labels are the target model's labels).
    X : ndarray of shape (n_samples, n_inputs)
        The value model's inputs per row.
    fold_of_row : ndarray of shape (n_samples,)
        The evaluator's folds.
    fold_targets : list of ndarray
        ``fold_targets[f]``: the value model's target for the rows outside fold ``f`` (in row
        order), computed without fold ``f``'s labels.
    leak_free : bool
        False when the targets did see the batch's labels: the figures are then shown as
        optimistic and choose nothing (no verdict, no default).

    Returns
    -------
    dict
        ``method``, ``folds``, ``repeats``, ``evaluator``, ``leak_free`` and ``keeps``: per keep
        fraction the random reference, one entry per strategy (accuracy, spread, gain over random,
        verdict) and the ``default`` strategy (the best of them, random included).
    """
    keeps = [float(k) for k in keeps]
    strategies = list(strategies or candidate_strategies(column, task))
    model_strategies = [s for s in strategies if s != RANDOM]
    n_folds = int(np.max(fold_of_row)) + 1
    found = {k: {"random": [], **{s: [] for s in model_strategies}} for k in keeps}
    description = None
    for f in range(n_folds):
        check_cancelled(cancel)
        report(progress, f, n_folds, f"backtest: fold {f + 1} of {n_folds} as the new batch")
        old, held = np.flatnonzero(fold_of_row != f), np.flatnonzero(fold_of_row == f)
        weights = value_fit.fit_weights(X[old], fold_targets[f], task, model, seed, alpha, hidden)
        predicted = value_fit.predict(weights, X[held], task)
        sub = ds.take(held)
        halves = make_folds(sub.y, 2, seed)
        evaluator = LiveEvaluator(sub, folds=2, seed=seed, model=evaluator_model, fold_of_row=halves)
        description = evaluator.model_description
        for keep in keeps:
            _one_keep(evaluator, sub, halves, predicted, column, keep, model_strategies, repeats, seed, f,
                      found[keep], cancel)
    report(progress, n_folds, n_folds, "backtest done")
    return {"method": METHOD, "folds": n_folds, "repeats": int(repeats), "evaluator": description,
            "leak_free": bool(leak_free),
            "keeps": [_summarise(keep, found[keep], strategies, leak_free, len(ds.y) / n_folds / 2)
                      for keep in keeps]}


def _one_keep(evaluator, sub, halves, predicted, column, keep, strategies, repeats, seed, fold, found, cancel):
    """Accuracy of each strategy and of the random draws when each half of fold ``fold`` is the batch."""
    n = sub.n_samples
    masks = {s: np.zeros((2, n), dtype=bool) for s in strategies}
    random_masks = np.zeros((repeats, 2, n), dtype=bool)
    for h in (0, 1):  # LiveEvaluator's fold h tests on half h and trains on the other half: the batch
        rows = np.flatnonzero(halves != h)
        batch = sub.take(rows)
        scores = pd.DataFrame({column: predicted[rows]}, index=pd.Index(batch.ids, name="id"))
        for s in strategies:
            masks[s][h, rows[select(batch, scores, strategy=s, keep=keep, seed=seed).mask]] = True
        budget = budget_from_keep(keep, len(rows))
        for r in range(repeats):  # nested draws: a larger keep extends a smaller one's rows
            random_masks[r, h, rng(seed, "value-backtest", fold, h, r).permutation(rows)[:budget]] = True
    for s in strategies:
        check_cancelled(cancel)
        found[s].extend(evaluator.fold_results(masks[s], cancel=cancel)[0])
    found["random"].append([evaluator.fold_results(m, cancel=cancel)[0] for m in random_masks])


def _summarise(keep: float, found: dict, strategies: list, leak_free: bool, batch_rows: float) -> dict:
    rand = np.concatenate([np.asarray(r) for r in found["random"]], axis=1)  # (repeats, 2 x folds)
    random_block = {"accuracy": float(rand.mean()), "std": float(rand.std()),
                    "fold_accuracies": [float(v) for v in rand.mean(axis=0)]}
    entries = []
    for s in strategies:
        if s == RANDOM:
            entries.append({"strategy": RANDOM, "accuracy": random_block["accuracy"], "std": random_block["std"],
                            "gain": 0.0, "spread": random_block["std"], "verdict": "is random"})
            continue
        acc = np.asarray(found[s], dtype=float)
        spread = float(max(acc.std(), rand.std()))
        gain = float(acc.mean() - rand.mean())
        entries.append({"strategy": s, "accuracy": float(acc.mean()), "std": float(acc.std()),
                        "fold_accuracies": [float(v) for v in acc], "gain": gain, "spread": spread,
                        "beats_random": bool(gain > 0), "verdict": verdict(gain, spread) if leak_free else None})
    best = max(entries, key=lambda e: e["accuracy"])["strategy"] if leak_free else None
    return {"keep": keep, "batch_rows": int(round(batch_rows)), "kept_rows": budget_from_keep(keep, round(batch_rows)),
            "random": random_block, "strategies": entries, "default": best}


def verdict(gain: float, spread: float) -> str:
    """What a gain over random means, with the workbench's rule: beyond the spread, or within it."""
    if gain > spread:
        return "beats random"
    if gain >= 0:
        return "above random, within the spread"
    if gain >= -spread:
        return "below random, within the spread"
    return "loses to random"


def entry_for(backtest: Optional[dict], strategy: str, keep: Optional[float]) -> Optional[tuple]:
    """``(keep block, strategy entry)`` of a backtest for this strategy at the nearest backtested keep
    (within :data:`NEAREST_KEEP`), or None when it was not backtested."""
    if not backtest or keep is None:
        return None
    blocks = [b for b in backtest.get("keeps", []) if abs(b["keep"] - keep) <= NEAREST_KEEP + 1e-9]
    if not blocks:
        return None
    block = min(blocks, key=lambda b: abs(b["keep"] - keep))
    wanted = strategy.strip()
    for entry in block["strategies"]:
        if entry["strategy"] == wanted:
            return block, entry
    return None


def describe_entry(block: dict, entry: dict, leak_free: bool = True) -> str:
    """One line: the strategy's backtest accuracy beside random's, and what it means."""
    points = lambda v: 100 * v  # noqa: E731
    rand = block["random"]
    text = (f"backtest at keep {block['keep']:g} ({block['kept_rows']} of ~{block['batch_rows']} batch rows): "
            f"{entry['strategy']} {points(entry['accuracy']):.1f}% ± {points(entry['std']):.1f}, random "
            f"{points(rand['accuracy']):.1f}% ± {points(rand['std']):.1f}")
    if entry["strategy"] == RANDOM:
        return text
    text += f" ({points(entry['gain']):+.1f} points"
    if not leak_free:
        return text + "; optimistic: the targets saw the batch's labels, so no verdict)"
    return text + f": {entry['verdict']}, spread ±{points(entry['spread']):.1f})"


# ------------------------------------------------------------------------------------- fold targets


def fold_targets(ds, fold_of_row: np.ndarray, values: np.ndarray, *, task: str, target: str, scores=None,
                 selection=None, fold_scores=None, seed: int = 0, progress=None, cancel=None) -> tuple:
    """The value model's target on the rows outside each fold, computed without that fold's labels.

    Parameters
    ----------
    values : ndarray of shape (n_samples,)
        The all-rows target (the score, or the 0/1 decision).
    target : str
        The score column (regression) or ``"kept"`` (decision).
    scores : DataFrame, optional
        The all-rows scores (their records give the scorers' seed and cross-fitting folds).
    selection : Selection, optional
        The decision's selection (its strategy is re-run per fold when it reads labels).
    fold_scores : FoldScores, optional
        Fold-wise scores on these folds (:func:`core.workflows.fold_scores_of`); computed (and
        cached on disk) when needed and not given.

    Returns
    -------
    (list of ndarray, bool, str)
        Per fold the target of the rows outside it, whether no batch label reached them, and a
        note saying how they were made.
    """
    n_folds = int(np.max(fold_of_row)) + 1
    outside = [fold_of_row != f for f in range(n_folds)]
    reads_labels = _reads_labels(target, task, selection)
    if not reads_labels:
        return [values[m] for m in outside], True, "the target reads no labels: its all-rows values serve every fold"
    if task == "regression" and target in registered_names():
        fs = fold_scores if _usable(fold_scores, fold_of_row, target) else _compute_fold_scores(
            ds, [target], fold_of_row, scores, seed, progress, cancel)
        return ([pd.to_numeric(fs.frames[f][target]).to_numpy(dtype=float) for f in range(n_folds)], True,
                f"{target} recomputed per fold without the batch's labels")
    strategy = getattr(selection, "resolved_strategy", None) if selection is not None else None
    if task == "decision" and strategy and scores is not None:
        names = [n for n in needed_scorers(strategy) if n in registered_names() and get_scorer(n).needs_labels]
        fs = fold_scores if all(_usable(fold_scores, fold_of_row, n) for n in names) else _compute_fold_scores(
            ds, names, fold_of_row, scores, seed, progress, cancel)
        masks, leak_free = fold_masks(ds, strategy, scores=scores, fold_scores=fs, keep=selection.keep,
                                      threshold=selection.threshold, seed=selection.seed or 0)
        return ([masks[f][m].astype(float) for f, m in enumerate(outside)], bool(leak_free),
                f"'{strategy}' re-run per fold on scores made without the batch's labels")
    why = (f"'{target}' is not a registered scorer, so it cannot be recomputed per fold" if task == "regression"
           else "the decision read labels and its scores were not given, so it cannot be re-made per fold")
    return [values[m] for m in outside], False, why


def _reads_labels(target: str, task: str, selection) -> bool:
    if task == "regression":
        return target not in registered_names() or get_scorer(target).needs_labels
    strategy = getattr(selection, "resolved_strategy", None)
    return strategy is None or scores_read_labels(strategy)


def _usable(fold_scores, fold_of_row, name: str) -> bool:
    return (fold_scores is not None and fold_scores.matches(fold_of_row)
            and all(name in frame.columns for frame in fold_scores.frames))


def _compute_fold_scores(ds, names, fold_of_row, scores, seed, progress, cancel):
    """Fold-wise scores with the all-rows scores' own seed and cross-fitting folds (as recorded)."""
    records = {row["name"]: row for row in scorer_records(scores)}
    first = records.get(names[0], {}) if names else {}
    return evaluation_fold_scores(ds, names, fold_of_row=fold_of_row, score_seed=int(first.get("seed", seed)),
                                  score_folds=int(first.get("folds", 5)), progress=progress, cancel=cancel)
