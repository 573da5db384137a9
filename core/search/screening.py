"""Candidate tables for ``auto``: leak-free per-fold accuracies, in two budgeted passes.

Each candidate strategy gets one training mask per evaluator fold (:func:`core.evaluation.fold_masks`:
with fold-wise scores, fold ``f``'s rows are chosen by scores that never saw fold ``f``'s labels)
and one accuracy per fold from the target model. Successive halving keeps the search within a
minute on large data: pass 1 screens every candidate with a cheap twin of the evaluator
(:meth:`LiveEvaluator.screening`); pass 2 gives the full estimate to the few best (and the best
coverage-aware one). Both passes report progress with the pass, the candidate and a time estimate.
``auto``'s nested estimate runs the same search once more per outer fold, on the other folds only.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from core.evaluation import FoldScores, fold_masks
from core.foundation.progress import check_cancelled, report, scaled
from core.scorers import align_scores, get_scorer, registered_names, scorer_records
from core.search.pool import is_coverage_aware

RANDOM_REPEATS = 5
FINALISTS = 6
MATCH_UP_TO = 0.9  # the largest in-fold keep fraction at which candidates still differ enough to be told apart


class CandidateTable:
    """Per-fold masks and accuracies of strategies at one keep fraction.

    Parameters
    ----------
    ds : Dataset
    scores : DataFrame or None
        All-rows scores (used where fold-wise scores lack a column: marked not leak-free).
    keep : float
    seed : int
    evaluator : LiveEvaluator
        Folds and target model.
    fold_scores : FoldScores, optional
    """

    def __init__(self, ds, scores, keep, seed, evaluator, fold_scores=None):
        self.ds, self.scores, self.keep, self.seed = ds, scores, float(keep), int(seed)
        self.evaluator, self.fold_scores = evaluator, fold_scores
        self._masks: dict = {}
        self._filled: dict = {}  # strategy -> the folds its masks hold
        self.not_leak_free: set = set()

    def masks(self, strategy: str, folds=None) -> np.ndarray:
        """Fold training masks, shape (n_folds, n_samples); with ``folds``, only those rows are sure to be
        filled (a screen on a few folds selects on those only; the others follow when asked)."""
        wanted = range(self.evaluator.n_folds) if folds is None else folds
        filled = self._filled.setdefault(strategy, set())
        missing = [f for f in wanted if f not in filled]
        if missing:
            masks, leak_free = fold_masks(self.ds, strategy, scores=self.scores, fold_scores=self.fold_scores,
                                          fold_of_row=self.evaluator.fold_of_row_, keep=self.keep, seed=self.seed,
                                          folds=missing)
            if not leak_free:
                self.not_leak_free.add(strategy)
            if strategy in self._masks:
                self._masks[strategy][missing] = masks[missing]
            else:
                self._masks[strategy] = masks
            filled.update(range(len(masks)) if strategy == "random" else missing)
        return self._masks[strategy]

    def at_exported_size(self) -> "CandidateTable":
        """A twin whose folds keep as many rows as the exported subset will (``keep`` x all rows).

        A fold's model trains on a share of the rows outside it (4/5 with 5 folds), and its
        scores were computed on those rows only: at the same keep *fraction* it trains on fewer
        rows, chosen by weaker scores, than the model trained on the exported subset, and
        strategies that keep hard rows gain more from size than coverage-aware ones do. Choosing
        at the exported *count* ranks them more as the exported subsets rank on held-out data
        (``benchmarks/estimate.py``, section auto). Where that count leaves too little to drop inside a fold (above :data:`MATCH_UP_TO`),
        the table itself is returned.
        """
        fold_of_row = self.evaluator.fold_of_row_
        n_train = np.mean([np.sum(fold_of_row != f) for f in range(self.evaluator.n_folds)])
        matched = self.keep * self.ds.n_samples / n_train
        if matched > MATCH_UP_TO or np.isclose(matched, self.keep):
            return self
        return CandidateTable(self.ds, self.scores, matched, self.seed, self.evaluator, self.fold_scores)

    def n_kept(self, strategy: str) -> int:
        """Rows kept, from the folds selected so far (every fold if none yet)."""
        masks, fold_of_row = self.masks(strategy, self._filled.get(strategy) or None), self.evaluator.fold_of_row_
        share = np.mean([masks[f][fold_of_row != f].mean() for f in sorted(self._filled[strategy])])
        return int(round(share * self.ds.n_samples))

    def accuracies(self, strategy: str, evaluator=None, cancel=None, folds=None) -> np.ndarray:
        """Per-fold accuracy, shape (n_folds,) (NaN outside ``folds`` when given); random is the mean of
        several random subsets."""
        evaluator = evaluator or self.evaluator
        if strategy == "random":
            n_kept = self.n_kept("random")
            return evaluator.random_fold_accuracies(n_kept, RANDOM_REPEATS, cancel=cancel).mean(axis=0)
        return evaluator.fold_results(self.masks(strategy, folds), None, cancel, folds=folds)[0]


def with_label_free(ds, scores, fold_scores):
    """Fold-wise scores plus the all-rows columns of the table's scorers that read no labels.

    Fold-wise scores hold the label-using scorers only; a candidate on a label-free score (kNN
    density, outliers, duplicates) would otherwise fail on every fold and fall back to the
    all-rows table (the same values, looked up again per fold and candidate, and marked not
    leak-free although those scores never saw a label). Returns ``fold_scores`` itself when
    nothing is to add.
    """
    if fold_scores is None or scores is None:
        return fold_scores
    present = set(fold_scores.frames[0].columns)
    params = {row["name"]: row.get("params") for row in scorer_records(scores)}
    free = [c for c in scores.columns if c not in present and c != "id" and _reads_no_labels(c, params)]
    if not free:
        return fold_scores
    table = align_scores(ds, scores)[free].to_numpy()
    frames = []
    for f, frame in enumerate(fold_scores.frames):
        rows = np.flatnonzero(fold_scores.fold_of_row != f)
        added = pd.DataFrame(table[rows], index=frame.index, columns=free).astype(scores[free].dtypes.to_dict())
        frames.append(pd.concat([frame, added], axis=1))
    owners = list(dict.fromkeys(_owner(c) for c in free))
    return FoldScores(frames, fold_scores.fold_of_row, fold_scores.scorers, list(fold_scores.label_free) + owners,
                      fold_scores.fingerprint)


def _owner(column: str):
    """The registered scorer a score, flag or extra column belongs to (the longest matching name), or None."""
    names = [n for n in registered_names() if column == n or column.startswith(f"{n}_")]
    return max(names, key=len) if names else None


def _reads_no_labels(column: str, params: dict) -> bool:
    """Whether the scorer behind ``column`` reads no labels, with the parameters it was run with (a
    prototypicality by class centroid reads them); a scorer whose parameters are unknown is asked as registered."""
    owner = _owner(column)
    if owner is None:
        return False
    scorer = get_scorer(owner)
    try:
        return not scorer(**(params.get(owner) or {})).needs_labels
    except Exception:  # noqa: BLE001 - parameters from a file the scorer refuses: treat it as reading labels
        return False


def _eta(started: float, done: int, total: int) -> str:
    if done == 0:
        return ""
    left = (time.perf_counter() - started) / done * (total - done)
    return f", about {left:.0f} s left" if left >= 1 else ", under a second left"


def run_pass(table: CandidateTable, strategies, evaluator, label: str, progress=None, cancel=None,
             folds=None) -> dict:
    """Per-fold accuracies of every strategy with ``evaluator`` (on ``folds`` only, when given),
    reporting progress and an ETA."""
    out, started, total = {}, time.perf_counter(), len(strategies)
    for i, strategy in enumerate(strategies):
        check_cancelled(cancel)
        report(progress, i, total, f"{label}: {strategy} ({i + 1} of {total}{_eta(started, i, total)})")
        out[strategy] = table.accuracies(strategy, evaluator, cancel, folds)
    report(progress, total, total, f"{label}: done in {time.perf_counter() - started:.0f} s")
    return out


def shortlist(screen: dict, folds, finalists: int = FINALISTS, with_random: bool = True) -> list:
    """Random, the best ``finalists`` by the screen on ``folds``, and the best coverage-aware one."""
    ranked = sorted(screen, key=lambda s: -float(np.mean(screen[s][folds])))
    keep = ["random"] if with_random or "random" in screen else []
    keep += [s for s in ranked if s != "random"][:finalists]
    coverage = [s for s in ranked if is_coverage_aware(s)]
    if coverage and coverage[0] not in keep:
        keep.append(coverage[0])
    return keep


def search(table: CandidateTable, candidates, *, nested: bool = True, finalists: int = FINALISTS,
           screen_folds=None, progress=None, cancel=None) -> dict:
    """Screen all candidates, then estimate the short lists in full.

    The screen ranks the candidates other than random (random is always a finalist, and its
    screen figure would be shown nowhere), on the first ``screen_folds`` folds when given (the
    nested searches: a quick ranking on fewer folds; the full pass runs on every fold).

    Returns
    -------
    dict with ``screen`` (strategy -> per-fold screen accuracies, or None with one pass),
    ``full`` (strategy -> per-fold accuracies of the target model), ``shortlists`` (``"all"``
    and one per outer fold) and ``passes`` (a list of what each pass did).
    """
    evaluator = table.evaluator
    n_folds = evaluator.n_folds
    all_folds = np.arange(n_folds)
    screener = evaluator.screening()
    two_passes = screener is not evaluator and len(candidates) > finalists + 2
    if not two_passes:
        full = run_pass(table, candidates, evaluator, "pass 1 of 1 (full estimate)", progress, cancel)
        lists = {"all": list(candidates)}
        lists.update({o: list(candidates) for o in range(n_folds)})
        return {"screen": None, "full": full, "shortlists": lists,
                "passes": [{"pass": "full", "candidates": len(candidates), "model": evaluator.describe()}]}
    screened = [c for c in candidates if c != "random"]
    on = all_folds if screen_folds is None or nested else all_folds[:max(1, min(int(screen_folds), n_folds))]
    screen = run_pass(table, screened, screener, f"pass 1 of 2 (quick screen of {len(screened)} candidates"
                      + (f" on {len(on)} of {n_folds} folds)" if len(on) < n_folds else ")"),
                      scaled(progress, 0.0, 0.5), cancel, None if len(on) == n_folds else on)
    with_random = "random" in candidates
    lists = {"all": shortlist(screen, on, finalists, with_random)}
    if nested:
        for o in range(n_folds):
            lists[o] = shortlist(screen, all_folds[all_folds != o], finalists, with_random)
    union = list(dict.fromkeys(s for names in lists.values() for s in names))
    full = run_pass(table, union, evaluator, f"pass 2 of 2 (full estimate of {len(union)} finalists)",
                    scaled(progress, 0.5, 1.0), cancel)
    return {"screen": screen, "full": full, "shortlists": lists,
            "passes": [{"pass": "screen", "candidates": len(screened), "folds": len(on), "model": screener.describe()},
                       {"pass": "full", "candidates": len(union), "model": evaluator.describe()}]}
