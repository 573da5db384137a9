"""``auto``: choose a strategy for a keep fraction by cross-validation, and say honestly how good it is.

Candidates: random; every scorer at its default and its opposite end (with scarce data keeping
easy rows tends to win, with abundant data hard rows; the search lets the data decide); CCS on
every scorer with a few betas (it fixes the collapse of hard-only subsets at small keep
fractions); drop-flagged for flagging scorers; and a scorecard of the three best scorers.

Choosing the best of many candidates on the same folds it is scored on is optimistic (the winner
is partly lucky). So the reported figure comes from nested cross-validation: for each outer fold,
the whole search (scorecard included) runs on inner folds of the other rows only, and the
strategy it picks is scored on the outer fold it never saw. The final strategy is then chosen
on all folds. A candidate replaces random only if it beats random by more than one standard
error of the per-fold difference (random is a strong baseline).

All of this uses the fast closed-form ridge evaluator, so it takes seconds on 10k rows.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from core.foundation.errors import ConfigError
from core.evaluation.live import LiveEvaluator, make_folds
from core.evaluation.ridge import FoldRidge
from core.foundation.progress import check_cancelled, report, scaled
from core.selection.subset import Selection, align_scores, jsonable, score_names, select

CCS_BETAS = (0.0, 0.1, 0.3)
SCORECARD_SIZE = 3
RANDOM_REPEATS = 5
HONEST_METHOD = ("nested cross-validation: in each outer fold the strategy was chosen on inner folds "
                 "of the other rows and scored on the outer fold, which the choice never saw")


def default_candidates(score_columns) -> list:
    """Candidate strategy strings for the scores (random first; scorecards are added later)."""
    columns = list(score_columns)
    scorers = score_names(columns)
    out = ["random"]
    for name in scorers:
        out += [f"{name}:high", f"{name}:low"]
    for name in scorers:
        out += [f"ccs:{name}:beta={beta:g}" for beta in CCS_BETAS]
    out += [f"drop-flagged:{name}" for name in scorers if f"{name}_flag" in columns]
    return out


class _Search:
    """Candidate masks and their per-fold accuracies on one set of folds."""

    def __init__(self, ds, frame, scores, keep, seed, candidates, evaluator):
        self.ds, self.frame, self.scores, self.keep, self.seed = ds, frame, scores, keep, seed
        self.candidates = list(candidates)
        self.evaluator = evaluator
        self.masks: dict = {}

    def mask(self, strategy: str) -> np.ndarray:
        if strategy not in self.masks:
            self.masks[strategy] = select(self.ds, self.scores, strategy, keep=self.keep, seed=self.seed).mask
        return self.masks[strategy]

    def random_masks(self) -> list:
        n_kept = int(self.mask("random").sum())
        return self.evaluator.random_masks(n_kept, RANDOM_REPEATS)

    def fold_accuracies(self, engine, rows, strategy: str) -> np.ndarray:
        """Per-fold accuracy of ``strategy`` on ``engine`` built over ``rows`` (None = all)."""
        if strategy == "random":  # the mean of several random subsets, not one lucky draw
            accs = [engine.evaluate(m if rows is None else m[rows])["fold_accuracy"] for m in self.random_masks()]
            return np.mean(accs, axis=0)
        mask = self.mask(strategy)
        return engine.evaluate(mask if rows is None else mask[rows])["fold_accuracy"]

    def run(self, engine, rows=None, progress=None, cancel=None) -> tuple:
        """Evaluate all candidates plus a scorecard; return (table dict strategy->accs, choice)."""
        table = {}
        total = len(self.candidates) + 1
        for i, strategy in enumerate(self.candidates):
            check_cancelled(cancel)
            report(progress, i, total, f"trying {strategy}")
            table[strategy] = self.fold_accuracies(engine, rows, strategy)
        card = scorecard_of_best(table)
        if card is not None:
            table[card] = self.fold_accuracies(engine, rows, card)
        report(progress, total, total, "candidates done")
        return table, choose(table)


def scorecard_of_best(table: dict) -> Optional[str]:
    """A scorecard of the best scorers, each at the end that did better alone."""
    best = {}
    for strategy, accs in table.items():
        name, _, end = strategy.partition(":")
        if end in ("high", "low"):
            score = float(np.mean(accs))
            if name not in best or score > best[name][0]:
                best[name] = (score, end)
    if len(best) < 2:
        return None
    top = sorted(best, key=lambda n: -best[n][0])[:SCORECARD_SIZE]
    return "scorecard:" + ",".join(f"{name}:{best[name][1]}" for name in top)


def choose(table: dict, min_gain_se: float = 1.0) -> str:
    """Best mean accuracy, unless it beats random by no more than ``min_gain_se`` standard errors."""
    best = max(table, key=lambda s: (float(np.mean(table[s])), s == "random"))
    if best == "random" or "random" not in table:
        return best
    diff = np.asarray(table[best]) - np.asarray(table["random"])
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    return best if diff.mean() > min_gain_se * se else "random"


def _check(ds, keep, evaluator, folds, seed) -> LiveEvaluator:
    if keep is None or not 0 < float(keep) <= 1:
        raise ConfigError(f"auto needs keep, a fraction in (0, 1]; got {keep!r}.")
    if evaluator is None or evaluator.model != "fast":
        # the search always runs on the fast model; an exact model can score the result afterwards
        folds = evaluator.folds if evaluator is not None else folds
        seed_ = evaluator.seed if evaluator is not None else seed
        evaluator = LiveEvaluator(ds, folds=folds, seed=seed_)
    return evaluator


def auto_select(ds, scores, keep: float, seed: int = 0, *, folds: int = 5, candidates=None,
                evaluator: Optional[LiveEvaluator] = None, nested: bool = True,
                progress=None, cancel=None) -> Selection:
    """Choose the strategy for ``keep`` by cross-validation; report a nested (honest) estimate.

    Parameters
    ----------
    ds : Dataset
    scores : DataFrame indexed by id (from :func:`core.compute_scores`), or None (random only)
    keep : float in (0, 1]
    candidates : list of str, optional
        Strategy strings to search; defaults to :func:`default_candidates`.
    evaluator : LiveEvaluator, optional
        Its folds are the outer folds. Made with ``folds`` and ``seed`` if not given.
    nested : bool
        Run the nested search for the honest estimate (K times the work). With False the details
        say plainly that the reported figure is optimistic.

    Returns
    -------
    Selection
        ``resolved_strategy`` is the chosen strategy; ``details`` holds ``candidates`` (a table
        as a list of dicts), ``cv_estimate`` (of the chosen strategy on all folds: optimistic),
        ``honest_estimate`` and ``random_reference``.
    """
    evaluator = _check(ds, keep, evaluator, folds, seed)
    frame = align_scores(ds, scores)
    if candidates is None:
        candidates = default_candidates(frame.columns)
    candidates = ["random"] + [c for c in candidates if c != "random"]
    search = _Search(ds, frame, scores, float(keep), seed, candidates, evaluator)
    evaluator._prepare()
    fold_of_row = evaluator.fold_of_row_
    n_outer = int(fold_of_row.max()) + 1
    steps = (n_outer + 1) if nested else 1
    table, chosen = search.run(evaluator._engine, None, scaled(progress, 0, 1 / steps), cancel)

    outer_choice, outer_acc = [], []
    if nested:
        for o in range(n_outer):
            rows = fold_of_row != o
            inner_folds = make_folds(ds.y[rows], max(2, n_outer - 1), seed + 1 + o)
            engine = FoldRidge(ds.X[rows], ds.y[rows], inner_folds, ds.n_classes, evaluator.alpha)
            part = scaled(progress, (o + 1) / steps, (o + 2) / steps)
            _, inner_choice = search.run(engine, rows, part, cancel)
            outer_choice.append(inner_choice)
            accs = table.get(inner_choice)
            if accs is None:  # an inner scorecard the outer search did not build
                accs = search.fold_accuracies(evaluator._engine, None, inner_choice)
            outer_acc.append(float(accs[o]))

    mask = search.mask(chosen)
    random_est = evaluator.random(int(mask.sum()), RANDOM_REPEATS)
    rows = []
    for strategy, accs in table.items():
        rows.append({
            "strategy": strategy,
            "accuracy": float(np.mean(accs)), "std": float(np.std(accs)),
            "vs_random": float(np.mean(accs) - np.mean(table["random"])),
            "n_kept": int(search.mask(strategy).sum()),
            "chosen": strategy == chosen,
            "chosen_in_outer_folds": int(sum(c == strategy for c in outer_choice)),
        })
    rows.sort(key=lambda r: -r["accuracy"])
    chosen_sel = select(ds, scores, chosen, keep=keep, seed=seed)
    if nested:
        honest = {"accuracy": float(np.mean(outer_acc)), "std": float(np.std(outer_acc)),
                  "fold_accuracies": outer_acc, "choices": outer_choice, "method": HONEST_METHOD,
                  "optimistic": False}
    else:
        honest = {"accuracy": float(np.mean(table[chosen])), "std": float(np.std(table[chosen])),
                  "fold_accuracies": [float(a) for a in table[chosen]], "optimistic": True,
                  "method": "the best of all candidates on the same folds it is reported on: optimistic"}
    details = {
        "candidates": rows,
        "cv_estimate": {"accuracy": float(np.mean(table[chosen])), "std": float(np.std(table[chosen])),
                        "note": "the chosen strategy on the folds it was chosen on (optimistic)"},
        "honest_estimate": honest,
        "random_reference": random_est.to_dict(),
        "model": evaluator.describe(),
        "chosen_params": chosen_sel.params,
        "chosen_details": chosen_sel.details,
    }
    return Selection(mask=chosen_sel.mask, kept_ids=chosen_sel.kept_ids, strategy="auto",
                     resolved_strategy=chosen, params=dict(chosen_sel.params, chosen=chosen),
                     keep=float(keep), threshold=None, seed=int(seed), data_fingerprint=ds.fingerprint,
                     n_input=ds.n_samples, n_kept=chosen_sel.n_kept, details=jsonable(details))


def smallest_within(ds, scores, points: float = 1.0, *, keep_fractions=None, candidates=None,
                    seed: int = 0, folds: int = 5, evaluator: Optional[LiveEvaluator] = None,
                    progress=None, cancel=None) -> Selection:
    """The smallest subset whose estimate stays within ``points`` accuracy points of the full data.

    Keep fractions are tried from small to large; at each, the best candidate (as in
    :func:`auto_select`, without nesting) is compared with the full-data estimate. The first
    fraction within ``points`` percentage points wins, and :func:`auto_select` then gives its
    nested estimate. Picking the fraction on the same folds is itself a little optimistic: the
    details say so, and show the honest figure next to the target.
    """
    if not points >= 0:
        raise ConfigError(f"points must be a non-negative number of accuracy points, got {points!r}.")
    evaluator = _check(ds, 1.0, evaluator, folds, seed)
    fractions = sorted(keep_fractions or (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0))
    if any(not 0 < f <= 1 for f in fractions):
        raise ConfigError("keep_fractions must all be in (0, 1].")
    full = evaluator.full()
    target = full.accuracy - points / 100.0
    frame = align_scores(ds, scores)
    base = candidates if candidates is not None else default_candidates(frame.columns)
    base = ["random"] + [c for c in base if c != "random"]
    evaluator._prepare()
    search_rows, chosen_keep = [], fractions[-1]
    for i, keep in enumerate(fractions):
        check_cancelled(cancel)
        search = _Search(ds, frame, scores, keep, seed, base, evaluator)
        table, best = search.run(evaluator._engine, None, scaled(progress, 0.5 * i / len(fractions),
                                                                  0.5 * (i + 1) / len(fractions)), cancel)
        accuracy = float(np.mean(table[best]))
        search_rows.append({"keep": keep, "best": best, "accuracy": accuracy, "within": accuracy >= target})
        if accuracy >= target:
            chosen_keep = keep
            break
    sel = auto_select(ds, scores, chosen_keep, seed, candidates=base, evaluator=evaluator,
                      progress=scaled(progress, 0.5, 1.0), cancel=cancel)
    sel.details.update(jsonable({
        "keep_search": search_rows, "points": points, "full_estimate": full.to_dict(), "target": target,
        "note": ("the keep fraction was picked on the same folds as its estimate, so 'within "
                 f"{points:g} points' is a little optimistic; honest_estimate is the nested figure "
                 "for the strategy at that keep fraction"),
    }))
    sel.strategy = f"smallest-within:{points:g}"
    return sel
