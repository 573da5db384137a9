"""Backtest of a value model: what its selection of a new batch is worth, measured on the scored data.

The scored data stand in for "old" data, a "new" batch and a test set, with the evaluator's folds
(those of ``LiveEvaluator(ds, folds, seed)``). For each fold ``f`` (the test set), the rows
outside ``f`` play the new batch, as large as it would be (a batch far smaller than the real one
favours other strategies: at small budgets easy rows win, at large ones hard rows). Every batch row
needs a predicted value made without its own labels and without ``f``'s: the batch is cross-fitted,
split in ``inner_folds`` stratified parts (:data:`INNER_FOLDS`), and each part is predicted by a value
model fitted on the other parts, whose targets were computed on those parts alone
(:func:`core.evaluation.fold_scores` over the parts, so no label of ``f`` or of the predicted part reaches
them). A strategy then selects within the batch at the keep fraction, the target model trains on the kept
rows and is tested on ``f``, beside random subsets of the same size (the evaluator's own random reference,
``repeats`` draws).

The value models of the backtest learn from (inner_folds - 1) / inner_folds of the batch, itself
(folds - 1) / folds of the scored rows: 64 % of what the model that ``fit`` saves learns from with 5 and 5.
They predict a little worse than it, so the backtest errs on the side of random (it understates a collapse).
Fitted on halves of the batch instead (40 %, this module's first design), the backtest showed about a fifth of
the real loss of a collapsing selection on new rows (benchmarks/value_backtest.py).
Its verdict weighs the gain over random against its own uncertainty: per fold, the strategy and random
are tested on the same rows, so the fold gains are paired; the gain "beats" or "loses to" random only
when it lies beyond a 95 % t interval of those fold gains (:func:`gain_uncertainty`), and otherwise
there is "no clear difference". The default strategy at a keep
is the most accurate one that beats random, else random; the declared end (:func:`declared_end`: the predicted
value's keep end only) is measured and reported but never the default, as it can collapse on a new batch while the
backtest shows a fraction of that loss (benchmarks/value_backtest.py: both times a default lost to random beyond its
spread on new rows, generated el2n at keep 0.5 under an earlier rule and mnist el2n at keep 0.3 with this
module's five-part cross-fitting, the default was the declared end).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from core.evaluation import LiveEvaluator, fold_masks
from core.evaluation import recorded_fold_scores
from core.foundation import stratified_folds
from core.foundation.progress import check_cancelled, report, scaled
from core.scorers import reads_labels, recorded_scorers, registered_names
from core.selection import needed_scorers, scores_read_labels, select
from core.selection.algorithms import budget_from_keep
from core.value import fit as value_fit

__all__ = ["KEEPS", "candidate_strategies", "declared_end", "run_backtest", "fold_targets", "gain_uncertainty",
           "verdict", "entry_for", "describe_entry"]

#: Keep fractions backtested by default (a model's default strategy is chosen at each).
KEEPS = (0.3, 0.5, 0.8)
#: Parts each backtest batch is cross-fitted in (the value model predicting a part learns from the others).
INNER_FOLDS = 5
RANDOM = "random"
#: An apply keep this close to a backtested keep reads that keep's backtest.
NEAREST_KEEP = 0.1
#: The verdict's rule, recorded in each keep block of a backtest.
RULE = ("beats / loses to random when the gain is beyond a 95 % t interval of the paired fold gains, else no clear "
        "difference; the default is the most accurate strategy that beats random, else random; the declared end "
        "(one end of the predicted value only) is measured but never the default")
METHOD = ("each evaluator fold in turn is the test set and the other rows the new batch; the batch is cross-fitted: "
          "each of its {inner} parts is predicted by a value model fitted on the other parts (targets computed on "
          "them alone, so no label of the test fold or of the predicted part reaches them); the strategy selects "
          "within the batch, the target model trains on the kept rows and is tested on the fold, beside random "
          "subsets of the same size")


def candidate_strategies(column: str, task: str, extra: Optional[str] = None) -> list:
    """The strategies a backtest compares: CCS over the predicted column (covers the distribution,
    drops the hard end first), the column's declared keep end, random, and ``extra`` if given."""
    if task == "regression" and column in registered_names():
        found = [f"ccs:{column}", declared_end(column, task)]
    else:  # a decision (or an unregistered score): high means valuable, low is the end to drop first
        found = [f"ccs:{column}:hard=low", declared_end(column, task)]
    found.append(RANDOM)
    if extra and extra.strip() not in found:
        found.insert(0, extra.strip())
    return found


def declared_end(column: str, task: str) -> str:
    """The strategy that keeps the predicted column's declared keep end only (measured, never the default)."""
    return column if task == "regression" and column in registered_names() else f"{column}:high"


def run_backtest(ds, X: np.ndarray, values: np.ndarray, fold_of_row: np.ndarray, *, task: str, target: str,
                 column: str, model: str, alpha: float, hidden: int, seed: int, scores=None, selection=None,
                 keeps=KEEPS, strategies=None, evaluator_model: str = "logreg", repeats: int = 5, groups=None,
                 inner_folds: Optional[int] = None, progress=None, cancel=None) -> dict:
    """Backtest the value model's selections on the scored data (see the module docstring).

    Parameters
    ----------
    ds : Dataset
        The scored data (its labels are the target model's labels).
    X : ndarray of shape (n_samples, n_inputs)
        The value model's inputs per row.
    values : ndarray of shape (n_samples,)
        The all-rows target (a score, or the 0/1 decision of ``selection``).
    fold_of_row : ndarray of shape (n_samples,)
        The evaluator's folds.
    target, scores, selection
        As :func:`fold_targets` takes them.
    groups : ndarray of shape (n_samples,), optional
        Duplicate groups (:func:`core.evaluation.groups.copy_groups`): the parts of a batch keep
        each group whole, so no part is predicted by a model that learned its copies.
    inner_folds : int, optional
        Parts each batch is cross-fitted in (at least 2; 2 is this module's first design, halves);
        default :data:`INNER_FOLDS`, read at the call.

    Returns
    -------
    dict
        ``method``, ``folds``, ``inner_folds``, ``repeats``, ``evaluator``, ``leak_free``, ``targets`` (how they were
        made) and ``keeps``: per keep fraction the random reference, one entry per strategy
        (accuracy, spread, gain over random, its uncertainty, verdict) and the ``default`` strategy
        (the most accurate one that beats random, the declared end excepted, else random; None when the
        backtest is not leak-free).
    """
    keeps = [float(k) for k in keeps]
    inner_folds = max(2, int(INNER_FOLDS if inner_folds is None else inner_folds))
    strategies = list(strategies or candidate_strategies(column, task))
    chosen = [s for s in strategies if s != RANDOM]
    n_folds, n = int(np.max(fold_of_row)) + 1, ds.n_samples
    masks = {(k, s): np.zeros((n_folds, n), dtype=bool) for k in keeps for s in chosen}
    leak_free, how = True, ""
    for f in range(n_folds):
        check_cancelled(cancel)
        part = scaled(progress, 0.8 * f / n_folds, 0.8 * (f + 1) / n_folds)
        report(part, 0, 1, f"backtest: fold {f + 1} of {n_folds} as the test set, the other rows as the new batch")
        rows = np.flatnonzero(fold_of_row != f)
        batch = ds.take(rows)
        predicted, fold_leak_free, how = _predict_batch(
            batch, X[rows], values[rows], None if groups is None else groups[rows], task=task, target=target,
            scores=scores, selection=selection, seed=seed, inner_folds=inner_folds,
            fit=dict(task=task, model=model, seed=seed, alpha=alpha, hidden=hidden), progress=part, cancel=cancel)
        leak_free = leak_free and fold_leak_free
        frame = pd.DataFrame({column: predicted}, index=pd.Index(batch.ids, name="id"))
        for keep in keeps:
            for s in chosen:
                masks[keep, s][f, rows[select(batch, frame, strategy=s, keep=keep, seed=seed).mask]] = True
    evaluator = LiveEvaluator(ds, folds=n_folds, seed=seed, model=evaluator_model, fold_of_row=fold_of_row)
    blocks = []
    for i, keep in enumerate(keeps):
        report(progress, 80 + 20 * i // len(keeps), 100, f"backtest: training the target model at keep {keep:g}")
        found = {s: evaluator.fold_results(masks[keep, s], cancel=cancel)[0] for s in chosen}
        n_kept = budget_from_keep(keep, n)  # per fold about keep x the batch, as the selections keep
        found[RANDOM] = evaluator.random_fold_accuracies(n_kept, repeats, cancel=cancel)
        blocks.append(_summarise(keep, found, strategies, leak_free, n - n / n_folds,
                                 never_default=(declared_end(column, task),)))
    report(progress, 100, 100, "backtest done")
    return {"method": METHOD.format(inner=int(inner_folds)), "folds": n_folds, "inner_folds": int(inner_folds),
            "repeats": int(repeats), "evaluator": evaluator.model_description,
            "leak_free": bool(leak_free), "targets": how, "keeps": blocks}


def _predict_batch(batch, X, values, groups, *, task, target, scores, selection, seed, inner_folds, fit, progress,
                   cancel) -> tuple:
    """Each part of the batch predicted by a value model fitted on the other parts (targets made on them alone)."""
    parts = stratified_folds(batch.y, int(inner_folds), seed, groups=groups)
    targets, leak_free, how = fold_targets(batch, parts, values, task=task, target=target, scores=scores,
                                           selection=selection, seed=seed, progress=progress, cancel=cancel)
    predicted = np.empty(batch.n_samples)
    for h in range(int(np.max(parts)) + 1):
        learn, guess = parts != h, parts == h
        weights = value_fit.fit_weights(X[learn], targets[h], fit["task"], fit["model"], fit["seed"],
                                        fit["alpha"], fit["hidden"])
        predicted[guess] = value_fit.predict(weights, X[guess], fit["task"])
    return predicted, leak_free, how


def _summarise(keep: float, found: dict, strategies: list, leak_free: bool, batch_rows: float,
               never_default=()) -> dict:
    rand = np.asarray(found[RANDOM], dtype=float)  # (repeats, folds)
    random_block = {"accuracy": float(rand.mean()), "std": float(rand.std()),
                    "fold_accuracies": [float(v) for v in rand.mean(axis=0)]}
    entries = []
    for s in strategies:
        if s == RANDOM:
            entries.append({"strategy": RANDOM, "accuracy": random_block["accuracy"], "std": random_block["std"],
                            "gain": 0.0, "spread": random_block["std"], "verdict": "is random"})
            continue
        acc = np.asarray(found[s], dtype=float)
        paired = acc - rand.mean(axis=0)  # per fold: the same test rows for both, so fold difficulty cancels
        gain, gain_se, uncertainty = gain_uncertainty(paired)
        entries.append({"strategy": s, "accuracy": float(acc.mean()), "std": float(acc.std()),
                        "fold_accuracies": [float(v) for v in acc], "gain": gain,
                        "spread": float(max(acc.std(), rand.std())), "gain_se": gain_se, "uncertainty": uncertainty,
                        "beats_random": bool(gain > uncertainty),
                        "verdict": verdict(gain, uncertainty) if leak_free else None})
    # a strategy replaces random as the default only when the backtest says it beats random (its gain beyond the
    # uncertainty): a gain inside the noise picked the default by luck (measured last round: one such default lost
    # 1.1 points to random on the new rows)
    # the declared end keeps one end of the predicted value only and can collapse on a new batch while the backtest,
    # whose value models learn from less, shows a fraction of that loss: it is measured, never the default
    clear = [e for e in entries if e["strategy"] == RANDOM or (e["gain"] > e["uncertainty"]
                                                               and e["strategy"] not in never_default)]
    best = max(clear, key=lambda e: e["accuracy"])["strategy"] if leak_free and clear else None
    return {"keep": keep, "batch_rows": int(round(batch_rows)), "kept_rows": budget_from_keep(keep, round(batch_rows)),
            "random": random_block, "strategies": entries, "default": best, "rule": RULE}


def gain_uncertainty(paired) -> tuple:
    """``(gain, standard error, uncertainty)`` of a strategy's per-fold gains over random (same test rows).

    The uncertainty is the half-width of a two-sided 95 % t interval of the mean over the folds (``folds - 1``
    degrees of freedom). The folds' batches overlap, which can make such an interval too narrow; measured over
    three old/new splits of three data sets (benchmarks/value_backtest.py), the backtest's gain varied between
    splits by about 0.9 of this standard error, so no widening is applied. Infinite with one fold.
    """
    from scipy.stats import t as student_t

    paired = np.asarray(paired, dtype=float)
    k = len(paired)
    gain = float(paired.mean())
    if k < 2:
        return gain, float("inf"), float("inf")
    se = float(paired.std(ddof=1) / np.sqrt(k))
    return gain, se, float(student_t.ppf(0.975, k - 1) * se)


def verdict(gain: float, uncertainty: float) -> str:
    """What a gain over random means: beyond its uncertainty either way, or no clear difference."""
    if gain > uncertainty:
        return "beats random"
    if gain < -uncertainty:
        return "loses to random"
    return "no clear difference"


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
    gain = points(entry["gain"])
    if not leak_free:
        return text + f" ({gain:+.1f} points; optimistic: the targets saw the batch's labels, so no verdict)"
    if entry.get("uncertainty") is None:  # a model file written before the uncertainty was recorded
        return text + f" ({gain:+.1f} points: {entry['verdict']}, spread ±{points(entry['spread']):.1f})"
    return text + f" (gain {gain:+.1f} ± {points(entry['uncertainty']):.1f} points: {entry['verdict']})"


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
    if not _reads_labels(target, task, selection, scores):
        return [values[m] for m in outside], True, "the target reads no labels: its all-rows values serve every fold"
    if task == "regression" and target in registered_names():
        fs = fold_scores if _usable(fold_scores, fold_of_row, target) else _compute_fold_scores(
            ds, [target], fold_of_row, scores, seed, progress, cancel)
        return ([pd.to_numeric(fs.frames[f][target]).to_numpy(dtype=float) for f in range(n_folds)], True,
                f"{target} recomputed per fold without the batch's labels")
    strategy = getattr(selection, "resolved_strategy", None) if selection is not None else None
    if task == "decision" and strategy and scores is not None:
        names = [s.name for s in recorded_scorers(scores, needed_scorers(strategy), labelled_only=True)]
        fs = fold_scores if all(_usable(fold_scores, fold_of_row, n) for n in names) else _compute_fold_scores(
            ds, names, fold_of_row, scores, seed, progress, cancel)
        masks, leak_free = fold_masks(ds, strategy, scores=scores, fold_scores=fs, keep=selection.keep,
                                      threshold=selection.threshold, seed=selection.seed or 0)
        return ([masks[f][m].astype(float) for f, m in enumerate(outside)], bool(leak_free),
                f"'{strategy}' re-run per fold on scores made without the batch's labels")
    why = (f"'{target}' is not a registered scorer, so it cannot be recomputed per fold" if task == "regression"
           else "the decision read labels and its scores were not given, so it cannot be re-made per fold")
    return [values[m] for m in outside], False, why


def _reads_labels(target: str, task: str, selection, scores) -> bool:
    if task == "regression":  # as the table's run configured the target scorer, if it holds it
        recorded = {s.name: s for s in recorded_scorers(scores, [target])}
        return recorded[target].needs_labels if target in recorded else reads_labels(target)
    strategy = getattr(selection, "resolved_strategy", None)
    return strategy is None or scores_read_labels(strategy)


def _usable(fold_scores, fold_of_row, name: str) -> bool:
    return (fold_scores is not None and fold_scores.matches(fold_of_row)
            and all(name in frame.columns for frame in fold_scores.frames))


def _compute_fold_scores(ds, names, fold_of_row, scores, seed, progress, cancel):
    """Fold-wise scores as the all-rows scores were made (recorded parameters, seed and cross-fitting folds)."""
    return recorded_fold_scores(ds, scores, names, fold_of_row=fold_of_row, seed=seed, progress=progress,
                                cancel=cancel)
