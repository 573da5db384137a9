"""``auto``: choose a strategy for a keep fraction by cross-validation, and say honestly how good it is.

Candidates (:mod:`core.search.pool`): random; every distinct score at both ends (near-identical
rankings count once); CCS on every distinct score with a few betas, and the coresets on the features where
they are affordable (coverage-aware: the best of them always reaches the short list); windows, class quotas,
and drop-flagged for flagging scorers.

Every candidate is estimated leak-free with the target model (:mod:`core.search.screening`): per
evaluator fold ``f`` the strategy runs on the other folds with scores computed without fold
``f``'s labels (fold-wise scores), the model trains on the kept rows and is tested on fold ``f``.
Without fold-wise scores the search uses the all-rows scores and says it is optimistic.
Candidates are compared with each fold keeping as many rows as the exported subset will
(:meth:`CandidateTable.at_exported_size`): at the same keep *fraction* a fold's model trains on
4/5 of that, picked by scores fitted on fewer rows, which under-rates strategies that keep hard
rows. The figures reported for the choice are at the keep fraction itself, like every other
estimate, so they compare with random subsets of the same size.

Choosing the best of many candidates on the folds it is scored on is optimistic too (the winner
is partly lucky). The reported figure is nested over the choice *and* the scoring: for each outer
fold ``o`` the whole search runs again on the other folds only (their rows, their labels, fold
``o``'s fold-wise scores, models that never trained on fold ``o``), and the chosen strategy's
accuracy on fold ``o`` is what is reported. (Judging candidates on the other folds of the *same*
table is not enough: those models trained on fold ``o``'s labels, and on pure noise that choice
measured 1.8 points above chance.) A candidate replaces random only if it beats random by more
than one standard error of the per-fold difference (random is a strong baseline).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from core.evaluation import LiveEvaluator
from core.foundation.encoding import to_jsonable
from core.foundation.errors import ConfigError
from core.foundation.progress import check_cancelled, report, scaled
from core.scorers import align_scores
from core.search.pool import (auto_candidates, coreset_candidates, default_candidates, is_coverage_aware,
                              kept_rows_per_class, rank_groups)
from core.search.screening import (PROXY_ROWS_PER_CLASS, RANDOM_REPEATS, SMALL_BUDGET_ROWS_PER_CLASS, CandidateTable,
                                   decision_accuracies, decision_model, fold_seed_count, search, with_label_free)
from core.selection import Selection, make_selection, score_names, select

HONEST_METHOD = ("nested over the choice and the scoring: for each outer fold the whole search ran again on the "
                 "other folds only, with scores computed without that fold's labels, and the strategy it chose "
                 "was tested on that fold")
HONEST_METHOD_LEAKY = ("nested over the choice only: the all-rows scores saw every fold's labels (compute fold-wise "
                       "scores for a figure nested over the scoring too)")

#: Inner folds the nested searches screen on at most (of 4 with 5 outer folds); their full pass uses every
#: inner fold. Halves most of auto's work (the screen is 85 % of it).
NESTED_SCREEN_FOLDS = 2
#: Held-out rows a quick screen ranks on: as many folds as hold them. The decision's screen uses every fold
#: below about 20,000 rows and at least 2 (2 of 5 at 100,000 rows: 40,000 test rows); a nested search's
#: screen 1 inner fold where one holds them (from about 100,000 rows), else 2.
SCREEN_TEST_ROWS = 20_000

DECISION_NOTE = ("candidates were compared with each fold keeping as many rows as the exported subset will "
                 "(keep x all rows, a larger share of the fold's training rows); their table shows those figures, "
                 "cv_estimate and honest_estimate are at the keep fraction itself")

__all__ = ["auto_select", "smallest_within", "choose", "default_candidates"]


def choose(table: dict, min_gain_se: float = 1.0, folds=None) -> str:
    """Best mean accuracy, unless it beats random by no more than ``min_gain_se`` standard errors.

    Parameters
    ----------
    table : dict of str to ndarray of shape (n_folds,)
    folds : array of int, optional
        The folds to judge on (all by default).
    """
    pick = (lambda a: np.asarray(a)) if folds is None else (lambda a: np.asarray(a)[folds])
    best = max(table, key=lambda s: (float(np.mean(pick(table[s]))), s == "random"))
    if best == "random" or "random" not in table:
        return best
    diff = pick(table[best]) - pick(table["random"])
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    return best if diff.mean() > min_gain_se * se else "random"


def _check(ds, keep, evaluator, folds, seed) -> LiveEvaluator:
    if keep is None or not 0 < float(keep) <= 1:
        raise ConfigError(f"auto needs keep, a fraction in (0, 1]; got {keep!r}.")
    if evaluator is None:
        return LiveEvaluator(ds, folds=folds, seed=seed)
    if evaluator.exact:  # the search trains many subsets: the warm-started engine of the same model
        return LiveEvaluator(ds, folds=evaluator.folds, seed=evaluator.seed, model=evaluator.model)
    return evaluator


def _rows_of(scores, ds, rows):
    """All-rows scores restricted to ``rows``, indexed by their ids (None stays None)."""
    if scores is None:
        return None
    frame = align_scores(ds, scores).iloc[rows]
    return frame.set_index(pd.Index(ds.ids[rows], name="id"))


def _nested(ds, scores, keep, seed, table: CandidateTable, fold_scores, candidates, finalists,
            progress=None, cancel=None, fold_seeds: int = 1, decide_with=None) -> tuple:
    """(choice per outer fold, its accuracy on that fold): each choice searched on the other folds only.

    For outer fold ``o`` the whole search (screen and full pass) runs on the rows outside ``o``
    with inner folds = the other outer folds and fold ``o``'s fold-wise scores, so neither the
    models that judge the candidates nor the scores that pick their rows ever saw fold ``o``.
    The inner screen ranks on 1 or 2 inner folds (:func:`_screen_folds`); the finalists are then
    estimated on every inner fold, and at small budgets on ``fold_seeds`` sets of inner folds (each
    drawn from the rows outside ``o``, its fold-wise scores computed on those rows only). With a proxy
    (``decide_with``) the inner searches weigh its figures, as the decision did; fold ``o`` is always
    judged by the target model.
    """
    evaluator = table.evaluator
    fold_of_row, n_folds = evaluator.fold_of_row_, evaluator.n_folds
    choices, accs, per_class, shares = [], [], [], []
    for o in range(n_folds):
        check_cancelled(cancel)
        part = scaled(progress, o / n_folds, (o + 1) / n_folds)
        report(part, 0, 1, f"nested search {o + 1} of {n_folds}: choosing without fold {o + 1}")
        rows = np.flatnonzero(fold_of_row != o)
        if fold_scores is not None:
            sub, inner_scores = fold_scores.inner(ds, o)
            codes = inner_scores.fold_of_row
        else:
            sub, inner_scores = ds.take(rows), None
            codes = np.searchsorted(np.unique(fold_of_row[rows]), fold_of_row[rows])
        inner_ev = LiveEvaluator(sub, folds=n_folds - 1, seed=evaluator.seed, model=evaluator.model,
                                 alpha=evaluator.alpha, fold_of_row=codes)
        inner = CandidateTable(sub, _rows_of(scores, ds, rows), keep, seed, inner_ev, inner_scores)
        found = search(inner.at_exported_size(), candidates, nested=False, finalists=finalists,
                       screen_folds=_screen_folds(len(rows), n_folds - 1, 1, NESTED_SCREEN_FOLDS) or n_folds - 1,
                       fold_seeds=fold_seeds, decide_with=decide_with, progress=part, cancel=cancel)
        chosen = choose(decision_accuracies(found))
        choices.append(chosen)
        fold_acc, class_acc = evaluator.fold_results(table.masks(chosen), None, cancel)
        accs.append(float(fold_acc[o]))
        per_class.append([float(a) for a in class_acc[o]])
        shares.append(_kept_share(ds, table.masks(chosen)[o], rows))
    return choices, accs, {"class_accuracies": per_class, "kept_share": _mean_share(shares)}


def _screen_folds(n_rows: int, n_folds: int, least: int, most: int) -> Optional[int]:
    """Folds a screen ranks on: as many as hold :data:`SCREEN_TEST_ROWS` test rows, within
    ``[least, most]``; None when that is every fold."""
    needed = int(np.ceil(SCREEN_TEST_ROWS * n_folds / max(n_rows, 1)))
    folds = min(max(needed, least), most)
    return None if folds >= n_folds else folds


def _decision_share(n_rows: int, n_folds: int, screened: int) -> float:
    """The progress bar's share of the decision's search: its screen runs on ``screened`` folds, each of
    the ``n_folds`` nested searches on its own (the screen is most of the work)."""
    inner = _screen_folds(n_rows * (n_folds - 1) // n_folds, n_folds - 1, 1, NESTED_SCREEN_FOLDS) or n_folds - 1
    return screened / (screened + n_folds * max(inner, 1))


def _proxy_record(decide_with, evaluator, keep: float, ds) -> dict:
    """Which model's figures the choice weighed, and why."""
    if decide_with is None:
        return {"chosen_by": evaluator.model_description}
    per_class = kept_rows_per_class(ds.n_samples, ds.n_classes, keep)
    proxy = evaluator.proxy(decide_with).model_description
    return {"chosen_by": proxy, "proxy_note": (
        f"small budget ({per_class:.0f} kept rows per class, below {PROXY_ROWS_PER_CLASS}): the candidates were "
        f"estimated and chosen on the same folds by a proxy model, {proxy}, whose figures move less with the folds "
        f"than the target's at this size (selection via proxy); the honest estimate, the chosen strategy's own "
        f"figure and random's are the target model's: {evaluator.model_description}")}


def _seeds_record(fold_seeds: int, keep: float, ds) -> dict:
    """How many sets of folds the finalists were estimated on, and why."""
    per_class = kept_rows_per_class(ds.n_samples, ds.n_classes, keep)
    why = (f"small budget ({per_class:.0f} kept rows per class, below {SMALL_BUDGET_ROWS_PER_CLASS}): the finalists "
           f"were estimated on {fold_seeds} sets of folds (repeated cross-validation, fold-wise scores made again for "
           "each), in the decision and in every nested search" if fold_seeds > 1 else
           "one set of folds")
    return {"fold_seeds": int(fold_seeds), "kept_rows_per_class": per_class, "fold_seeds_note": why}


def _kept_share(ds, mask, rows) -> np.ndarray:
    """Share of each class's training rows (``rows``) that ``mask`` keeps (NaN for an absent class)."""
    total = np.bincount(ds.y[rows], minlength=ds.n_classes)
    kept = np.bincount(ds.y[rows], weights=mask[rows], minlength=ds.n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, kept / np.maximum(total, 1), np.nan)


def _mean_share(shares: list) -> list:
    return [None if np.isnan(v) else float(v) for v in np.nanmean(np.array(shares), axis=0)] if shares else []


def _candidate_rows(table: CandidateTable, found: dict, chosen: str, outer_choice: list, n_kept) -> list:
    """One row per candidate: its estimate in the decision ``table``; ``n_kept(strategy)`` rows at keep."""
    full, screen = dict(found["full"]), found["screen"] or {}
    full.update(decision_accuracies(found))  # the short list: every fold seed the choice weighed
    random_mean = float(np.mean(full["random"]))
    rows = []
    for strategy in dict.fromkeys(list(screen) + list(full)):
        accs = full.get(strategy, screen.get(strategy))
        rows.append({
            "strategy": strategy, "accuracy": float(np.nanmean(accs)), "std": float(np.nanstd(accs)),
            "vs_random": float(np.mean(accs)) - random_mean if strategy in full else None,
            "estimate": "full" if strategy in full else "screen only",
            "estimated_with": found["model"] if strategy in full else found.get("screen_model"),
            "n_kept": n_kept(strategy), "chosen": strategy == chosen,
            "coverage_aware": is_coverage_aware(strategy),
            "leak_free": strategy not in table.not_leak_free,
            "chosen_in_outer_folds": int(sum(c == strategy for c in outer_choice)),
            "fold_seeds": found["fold_seeds"] if strategy in found["shortlists"]["all"] else 1,
        })
    rows.sort(key=lambda r: (r["estimate"] != "full", -r["accuracy"]))
    return rows


def auto_select(ds, scores, keep: float, seed: int = 0, *, folds: int = 5, candidates=None,
                evaluator: Optional[LiveEvaluator] = None, nested: bool = True, fold_scores=None,
                finalists: int = 6, progress=None, cancel=None) -> Selection:
    """Choose the strategy for ``keep`` by cross-validation; report a nested (honest) estimate.

    Parameters
    ----------
    ds : Dataset
    scores : DataFrame indexed by id (from :func:`core.compute_scores`), or None (no score-based candidates:
        random, its class quotas and, at small budgets, the coresets on the features)
    keep : float in (0, 1]
    candidates : list of str, optional
        Strategy strings to search; defaults to :func:`auto_candidates` (every distinct score's candidates
        and, at small budgets, the coresets on the features).
    evaluator : LiveEvaluator, optional
        Folds and target model (logistic regression with ``folds`` and ``seed`` if not given).
    nested : bool
        Report the nested estimate (free: it reuses the per-fold table). With False the
        details say plainly that the reported figure is optimistic.
    fold_scores : FoldScores, optional
        From :func:`core.evaluation.fold_scores` on the evaluator's folds: makes every figure
        leak-free. Without them the figures use the all-rows scores and say so.
    finalists : int
        Candidates per short list given the full estimate after the quick screen.

    Returns
    -------
    Selection
        ``resolved_strategy`` is the chosen strategy (its mask uses the all-rows scores);
        ``details`` holds ``candidates`` (a table as a list of dicts), ``cv_estimate`` (of the
        chosen strategy on all folds: optimistic), ``honest_estimate`` (nested; ``leak_free``
        says whether the scoring was nested too), ``random_reference``, ``passes`` and ``model``.
    """
    evaluator = _check(ds, keep, evaluator, folds, seed)
    fold_scores = with_label_free(ds, scores, fold_scores)
    frame = align_scores(ds, scores)
    if candidates is None:
        candidates = auto_candidates(ds, frame, keep)
    candidates = ["random"] + [c for c in dict.fromkeys(candidates) if c != "random"]
    table = CandidateTable(ds, scores, keep, seed, evaluator, fold_scores)
    decide = table.at_exported_size()
    n_folds = evaluator.n_folds
    screen_folds = _screen_folds(ds.n_samples, n_folds, NESTED_SCREEN_FOLDS, n_folds)
    share = _decision_share(ds.n_samples, n_folds, screen_folds or n_folds) if nested else 1.0
    model = evaluator.model if evaluator.estimator is None else "own estimator"
    decide_with = decision_model(ds.n_samples, ds.n_classes, keep, model)
    fold_seeds = fold_seed_count(ds.n_samples, ds.n_classes, keep, ds.n_features, decide_with)
    decide_with = None if decide_with == model else decide_with
    found = search(decide, candidates, nested=False, finalists=finalists, screen_folds=screen_folds,
                   fold_seeds=fold_seeds, decide_with=decide_with, progress=scaled(progress, 0, share), cancel=cancel)
    chosen = choose(decision_accuracies(found))
    full = {s: table.accuracies(s, cancel=cancel) for s in dict.fromkeys([chosen, "random"])}  # at keep
    outer_choice, outer_acc, outer_classes = [], [], {}
    if nested:
        outer_choice, outer_acc, outer_classes = _nested(ds, scores, keep, seed, table, fold_scores, candidates,
                                                         finalists, scaled(progress, share, 1.0), cancel, fold_seeds,
                                                         decide_with)
    leak_free = fold_scores is not None and not (table.not_leak_free | decide.not_leak_free)
    chosen_sel = select(ds, scores, chosen, keep=keep, seed=seed)
    if nested:
        honest = {"accuracy": float(np.mean(outer_acc)), "std": float(np.std(outer_acc)),
                  "fold_accuracies": outer_acc, "choices": outer_choice, "optimistic": False,
                  "leak_free": leak_free, "method": HONEST_METHOD if leak_free else HONEST_METHOD_LEAKY,
                  "model": evaluator.model_description, **outer_classes}
    else:
        honest = {"accuracy": float(np.mean(full[chosen])), "std": float(np.std(full[chosen])),
                  "fold_accuracies": [float(a) for a in full[chosen]], "optimistic": True, "leak_free": False,
                  "method": "the best of all candidates on the same folds it is reported on: optimistic",
                  "model": evaluator.model_description}
    random_est = evaluator.random(table.n_kept("random"), RANDOM_REPEATS)
    details = {
        "candidates": _candidate_rows(decide, found, chosen, outer_choice,
                                      lambda s: int(round(decide.n_kept(s) * table.keep / decide.keep))),
        "decision": {"keep_inside_folds": decide.keep, "note": DECISION_NOTE if decide is not table else
                     "candidates were compared at the keep fraction itself", **_seeds_record(fold_seeds, keep, ds),
                     **_proxy_record(decide_with, evaluator, keep, ds)},
        "cv_estimate": {"accuracy": float(np.mean(full[chosen])), "std": float(np.std(full[chosen])),
                        "note": "the chosen strategy on the folds it was chosen on (optimistic)"},
        "honest_estimate": honest, "random_reference": random_est.to_dict(),
        "model": evaluator.describe(), "passes": found["passes"], "leak_free": leak_free,
        "same_ranking_groups": [g for g in rank_groups(frame, score_names(frame.columns)) if len(g) > 1],
        "chosen_params": chosen_sel.params, "chosen_details": chosen_sel.details,
    }
    return make_selection(ds, chosen_sel.mask, "auto", resolved=chosen, params=dict(chosen_sel.params, chosen=chosen),
                          details=to_jsonable(details), keep=float(keep), seed=seed)


def smallest_within(ds, scores, points: float = 1.0, *, keep_fractions=None, candidates=None,
                    seed: int = 0, folds: int = 5, evaluator: Optional[LiveEvaluator] = None,
                    fold_scores=None, progress=None, cancel=None) -> Selection:
    """The smallest subset whose estimate stays within ``points`` accuracy points of the full data.

    Keep fractions are tried from small to large; at each, the best candidate (searched as in
    :func:`auto_select`: leak-free with fold-wise scores, screened then estimated in full) is
    compared with the full-data estimate. The first fraction within ``points`` percentage points
    wins, and :func:`auto_select` then gives its nested estimate. Picking the fraction on the
    same folds is itself a little optimistic: the details say so.
    """
    if not points >= 0:
        raise ConfigError(f"points must be a non-negative number of accuracy points, got {points!r}.")
    evaluator = _check(ds, 1.0, evaluator, folds, seed)
    fold_scores = with_label_free(ds, scores, fold_scores)
    fractions = sorted(keep_fractions or (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0))
    if any(not 0 < f <= 1 for f in fractions):
        raise ConfigError("keep_fractions must all be in (0, 1].")
    full_est = evaluator.full()
    target = full_est.accuracy - points / 100.0
    frame = align_scores(ds, scores)
    base = candidates if candidates is not None else default_candidates(frame.columns, frame)
    base = ["random"] + [c for c in base if c != "random"]
    search_rows, chosen_keep = [], fractions[-1]
    for i, keep in enumerate(fractions):
        check_cancelled(cancel)
        part = scaled(progress, 0.5 * i / len(fractions), 0.5 * (i + 1) / len(fractions))
        table = CandidateTable(ds, scores, keep, seed, evaluator, fold_scores)
        pool = base if candidates is not None else base + coreset_candidates(ds.n_samples, ds.n_features,
                                                                             ds.n_classes, keep)
        found = search(table, pool, nested=False, progress=part, cancel=cancel)
        best = choose({s: found["full"][s] for s in found["shortlists"]["all"]})
        accuracy = float(np.mean(found["full"][best]))
        search_rows.append({"keep": keep, "best": best, "accuracy": accuracy, "within": accuracy >= target})
        if accuracy >= target:
            chosen_keep = keep
            break
    sel = auto_select(ds, scores, chosen_keep, seed, candidates=None if candidates is None else base,
                      evaluator=evaluator, fold_scores=fold_scores, progress=scaled(progress, 0.5, 1.0), cancel=cancel)
    details = dict(sel.details, **to_jsonable({
        "keep_search": search_rows, "points": points, "full_estimate": full_est.to_dict(), "target": target,
        "note": ("the keep fraction was picked on the same folds as its estimate, so 'within "
                 f"{points:g} points' is a little optimistic; honest_estimate is the nested figure "
                 "for the strategy at that keep fraction"),
    }))
    return make_selection(ds, sel.mask, f"smallest-within:{points:g}", resolved=sel.resolved_strategy,
                          params=sel.params, details=details, keep=sel.keep, seed=seed)
