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

from core.evaluation import FoldScores, LiveEvaluator, fold_masks, recorded_fold_scores
from core.foundation.progress import check_cancelled, report, scaled
from core.foundation.seeds import derive_seed
from core.scorers import align_scores, reads_labels, registered_names, scorer_records
from core.search.pool import is_coverage_aware, kept_rows_per_class

RANDOM_REPEATS = 5
FINALISTS = 6
MATCH_UP_TO = 0.9  # the largest in-fold keep fraction at which candidates still differ enough to be told apart
#: Small budgets: below this many kept rows per class (keep x rows / classes) one fold seed's estimate moves
#: more with the seed than the finalists differ (digits at keep 0.1, 12 rows per class: 1.5-4.6 points), so
#: the finalists are estimated on :data:`SMALL_BUDGET_FOLD_SEEDS` sets of folds and the choice weighs them all.
#: Chosen on 10 held-out digits splits (benchmarks/honest.py; notes in the README): averaged over fold-seed
#: draws, the pick's test accuracy rose with the seeds (1: +1.3, 2: +1.6, 3: +1.9, 5: +2.2 points over random).
SMALL_BUDGET_ROWS_PER_CLASS = 30
SMALL_BUDGET_FOLD_SEEDS = 5
#: ... on data of at most this many cells (rows x features): each extra fold seed computes the fold-wise scores
#: and the finalists' masks again, which costs as much as the data is large (digits, 1,198 x 61: +6 s CPU).
SMALL_BUDGET_MAX_CELLS = 1_000_000
#: ... with a logistic target: the rule was measured with it. An MLP target's choice at these budgets is made on
#: logistic figures (:func:`decision_model`), so it gets the same sets of folds; its own figures, tried on 5 sets
#: (+0.22 / +0.28 points over one set on digits), cost 4.2x auto's time and still read 0.32 points below the
#: logistic figures' pick on known_answer (benchmarks/small_budget.py --target-seeds 5). Other models: one set.
SMALL_BUDGET_MODELS = ("logreg",)
#: Selection via proxy (Coleman et al. 2020): below this many kept rows per class an MLP target's finalists are
#: estimated, and chosen, by logistic regression on the same folds; the MLP still gives the nested figure, the
#: chosen strategy's own figure and random's. At a few dozen rows per class the MLP's per-fold figures move
#: with its initialisation and the folds more than the finalists differ, while strategies rank much alike under
#: both models. Replayed on held-out splits (each strategy's value its MLP test accuracy over 5 selection seeds;
#: pick minus the best fixed strategy in hindsight, points): known_answer keep 0.1 (40 rows per class, splits
#: 187-196) logistic 0.00 +- 0.00 against the MLP's own -0.73 +- 0.17 (one set) and -0.32 +- 0.15 (5 sets);
#: digits keep 0.1 (12 rows per class, 5 sets) -0.27 +- 0.23 / -0.14 on splits 127-146 / 147-166 against the
#: MLP's -0.07 +- 0.48 / -0.39 +- 0.36 on 5 sets. Not above: at known_answer keep 0.2 (80 rows per class, the
#: same splits) the logistic figures' pick read -0.89 +- 0.16 and the MLP's own -0.02 +- 0.10, as the MLP then
#: prefers other rows than logistic regression does.
PROXY_ROWS_PER_CLASS = 50
#: Target model -> the model whose figures choose for it at small budgets.
PROXIES = {"mlp": "logreg"}


def decision_model(n_rows: int, n_classes: int, keep: float, model: str) -> str:
    """The model whose figures auto's choice weighs: ``model`` itself, or its proxy (:data:`PROXIES`) below
    :data:`PROXY_ROWS_PER_CLASS` kept rows per class."""
    per_class = kept_rows_per_class(n_rows, n_classes, keep)
    return PROXIES[model] if model in PROXIES and per_class < PROXY_ROWS_PER_CLASS else model


def fold_seed_count(n_rows: int, n_classes: int, keep: float, n_features: int = 1, model: str = "logreg") -> int:
    """Fold seeds the finalists are estimated on: :data:`SMALL_BUDGET_FOLD_SEEDS` below
    :data:`SMALL_BUDGET_ROWS_PER_CLASS` kept rows per class (on at most :data:`SMALL_BUDGET_MAX_CELLS` cells, with
    a target model of :data:`SMALL_BUDGET_MODELS`), else 1."""
    per_class = kept_rows_per_class(n_rows, n_classes, keep)
    small = (per_class < SMALL_BUDGET_ROWS_PER_CLASS and n_rows * max(int(n_features), 1) <= SMALL_BUDGET_MAX_CELLS
             and model in SMALL_BUDGET_MODELS)
    return SMALL_BUDGET_FOLD_SEEDS if small else 1


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

    def on_fold_seed(self, k: int) -> "CandidateTable":
        """A twin on the ``k``-th extra set of folds (repeated cross-validation), same rows and keep.

        The folds come from the evaluators' own fold maker (stratified, duplicate groups kept whole)
        with a seed derived from this evaluator's; the fold-wise scores are computed again for them,
        on this table's rows only (a nested search's table holds no row of its outer fold), and the
        label-free columns are carried over.
        """
        ev = self.evaluator
        twin = LiveEvaluator(self.ds, folds=ev.n_folds, seed=derive_seed(ev.seed, "repeated-cv", int(k)),
                             model=ev.model, alpha=ev.alpha, max_iter=ev.max_iter, group_copies=ev.group_copies,
                             estimator=ev.estimator)
        scores = (None if self.fold_scores is None else
                  refold(self.ds, self.fold_scores, twin.fold_of_row_, self.seed, records=self.scores))
        return CandidateTable(self.ds, self.scores, self.keep, self.seed, twin, scores)

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


def refold(ds, fold_scores: FoldScores, fold_of_row, score_seed: int, records=None) -> FoldScores:
    """``fold_scores`` made again for other folds of the same rows: the label-using scorers computed per
    new fold without its labels, the label-free columns (computed once, the same for every fold) reused.

    ``records``: the all-rows scores table, whose records configure each scorer (parameters, seed,
    cross-fitting folds) as its own run was; without one, each runs with its defaults and ``score_seed``."""
    fold_of_row = np.asarray(fold_of_row)
    free = [c for c in fold_scores.frames[0].columns if _owner(c) in fold_scores.label_free]
    labelled = [s for s in fold_scores.scorers if s not in fold_scores.label_free]
    fresh = (recorded_fold_scores(ds, records, labelled, fold_of_row=fold_of_row, seed=score_seed)
             if labelled else None)
    shared = None
    if free:
        pieces = pd.concat([frame[free] for frame in fold_scores.frames])
        shared = pieces[~pieces.index.duplicated()].reindex(pd.Index(ds.ids, name=pieces.index.name))
    frames = []
    for f in range(int(fold_of_row.max()) + 1):
        rows = np.flatnonzero(fold_of_row != f)
        parts = [] if fresh is None else [fresh.frames[f]]
        if shared is not None:
            index = parts[0].index if parts else shared.index[rows]
            parts.append(shared.iloc[rows].set_axis(index, axis=0))
        frames.append(pd.concat(parts, axis=1) if len(parts) > 1 else parts[0])
    return FoldScores(frames, fold_of_row, fold_scores.scorers, fold_scores.label_free, ds.fingerprint)


def _owner(column: str):
    """The registered scorer a score, flag or extra column belongs to (the longest matching name), or None."""
    names = [n for n in registered_names() if column == n or column.startswith(f"{n}_")]
    return max(names, key=len) if names else None


def _reads_no_labels(column: str, params: dict) -> bool:
    """Whether the scorer behind ``column`` reads no labels, with the parameters it was run with
    (:func:`core.scorers.reads_labels`); a column no scorer owns counts as reading them."""
    owner = _owner(column)
    return owner is not None and not reads_labels(owner, params.get(owner))


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
           screen_folds=None, fold_seeds: int = 1, decide_with=None, progress=None, cancel=None) -> dict:
    """Screen all candidates, then estimate the short lists in full (on ``fold_seeds`` sets of folds).

    The screen ranks the candidates other than random (random is always a finalist, and its
    screen figure would be shown nowhere), on the first ``screen_folds`` folds when given (the
    nested searches: a quick ranking on fewer folds; the full pass runs on every fold). With
    ``fold_seeds`` > 1 (small budgets, :func:`fold_seed_count`) the short list is estimated again
    on that many sets of folds in all (:meth:`CandidateTable.on_fold_seed`). With ``decide_with`` (a model
    name, :func:`decision_model`) every figure of the search is that model's on the table's folds
    (:meth:`LiveEvaluator.proxy`), not the target model's.

    Returns
    -------
    dict with ``screen`` (strategy -> per-fold screen accuracies, or None with one pass),
    ``full`` (strategy -> per-fold accuracies of the target model, or of ``decide_with``), ``model`` (whose
    figures ``full`` holds, described; ``screen_model`` the screen's), ``repeated`` (strategy of the
    short list -> accuracies of shape (fold_seeds, n_folds), row 0 = ``full``; None with one fold
    seed), ``fold_seeds``, ``shortlists`` (``"all"`` and one per outer fold) and ``passes`` (a list of
    what each pass did).
    """
    evaluator = _decider(table.evaluator, decide_with)
    n_folds = evaluator.n_folds
    all_folds = np.arange(n_folds)
    screener = evaluator.screening()
    two_passes = screener is not evaluator and len(candidates) > finalists + 2
    end = 1.0 if fold_seeds <= 1 else 0.7
    if not two_passes:
        full = run_pass(table, candidates, evaluator, "pass 1 of 1 (full estimate)", scaled(progress, 0.0, end), cancel)
        lists = {"all": list(candidates)}
        lists.update({o: list(candidates) for o in range(n_folds)})
        found = {"screen": None, "full": full, "shortlists": lists, "model": evaluator.model_description,
                 "passes": [{"pass": "full", "candidates": len(candidates), "model": evaluator.describe()}]}
        return _repeated(found, table, fold_seeds, decide_with, scaled(progress, end, 1.0), cancel)
    screened = [c for c in candidates if c != "random"]
    on = all_folds if screen_folds is None or nested else all_folds[:max(1, min(int(screen_folds), n_folds))]
    screen = run_pass(table, screened, screener, f"pass 1 of 2 (quick screen of {len(screened)} candidates"
                      + (f" on {len(on)} of {n_folds} folds)" if len(on) < n_folds else ")"),
                      scaled(progress, 0.0, 0.5 * end), cancel, None if len(on) == n_folds else on)
    with_random = "random" in candidates
    lists = {"all": shortlist(screen, on, finalists, with_random)}
    if nested:
        for o in range(n_folds):
            lists[o] = shortlist(screen, all_folds[all_folds != o], finalists, with_random)
    union = list(dict.fromkeys(s for names in lists.values() for s in names))
    full = run_pass(table, union, evaluator, f"pass 2 of 2 (full estimate of {len(union)} finalists)",
                    scaled(progress, 0.5 * end, end), cancel)
    found = {"screen": screen, "full": full, "shortlists": lists, "model": evaluator.model_description,
             "screen_model": f"{screener.model_description} (quick screen)",
             "passes": [{"pass": "screen", "candidates": len(screened), "folds": len(on), "model": screener.describe()},
                        {"pass": "full", "candidates": len(union), "model": evaluator.describe()}]}
    return _repeated(found, table, fold_seeds, decide_with, scaled(progress, end, 1.0), cancel)


def _decider(evaluator, decide_with):
    """The evaluator whose figures a search weighs: ``evaluator``, or its twin with the model ``decide_with``."""
    return evaluator if decide_with is None else evaluator.proxy(decide_with)


def _repeated(found: dict, table: CandidateTable, fold_seeds: int, decide_with=None, progress=None,
              cancel=None) -> dict:
    """``found`` with the short list ``"all"`` estimated on ``fold_seeds - 1`` more sets of folds."""
    fold_seeds = max(int(fold_seeds), 1)
    found.update(repeated=None, fold_seeds=fold_seeds)
    if fold_seeds == 1:
        return found
    names = found["shortlists"]["all"]
    rows = {s: [np.asarray(found["full"][s], dtype=float)] for s in names}
    for k in range(1, fold_seeds):
        twin = table.on_fold_seed(k)
        more = run_pass(twin, names, _decider(twin.evaluator, decide_with), f"small budget: {len(names)} finalists on fold seed {k + 1} "
                        f"of {fold_seeds}", scaled(progress, (k - 1) / (fold_seeds - 1), k / (fold_seeds - 1)), cancel)
        table.not_leak_free |= twin.not_leak_free  # a column the new folds lack fell back to all-rows scores: say so
        for s in names:
            rows[s].append(np.asarray(more[s], dtype=float))
    found["repeated"] = {s: np.vstack(v) for s, v in rows.items()}
    found["passes"].append({"pass": "repeated", "candidates": len(names), "fold_seeds": fold_seeds,
                            "model": _decider(table.evaluator, decide_with).describe()})
    return found


def decision_accuracies(found: dict) -> dict:
    """What the choice weighs for each candidate of the short list ``"all"``: its per-fold accuracies on
    every fold seed (flattened), or on the one set of folds."""
    repeated = found.get("repeated")
    return {s: (repeated[s].ravel() if repeated is not None else np.asarray(found["full"][s]))
            for s in found["shortlists"]["all"]}
