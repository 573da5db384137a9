"""Fold-wise scores and fold-wise selections: what keeps an estimate free of label leaks.

Scores computed on all rows have seen every label. If they choose the *training* rows of
evaluator fold ``f``, fold ``f``'s labels have influenced its own model, and the estimate is
optimistic (on labels without signal, a label-noise selection scores above chance). So, per fold
``f`` (Hastie, Tibshirani & Friedman, ESL §7.10.2):

1. score the rows outside fold ``f`` only (:func:`fold_scores`; scorers that use no labels are
   computed once on all rows and shared, since features carry no label information);
2. select among them with the same recipe (:func:`core.evaluation.fold_selection.fold_masks`);
3. train on the kept rows and evaluate on all of fold ``f`` (the evaluator).

Step 1 shares work between folds without sharing labels: neighbours are read off the one all-rows
graph with fold ``f``'s rows removed, and the proxy's out-of-fold probabilities come from models
fitted without ``f`` and one other fold (``K (K - 1) / 2`` fits for all folds, see
:func:`core.scorers.oof.pairwise_out_of_fold`); ``tests/test_foldwise.py`` holds it to the per-fold
computation's promises. Fold-wise scores are computed once, with progress, and cached on disk by
the data fingerprint, the scorers, the folds and the fold. The exported subset still uses the
all-rows scores.
"""

from __future__ import annotations

import hashlib
from typing import Optional

import numpy as np
import pandas as pd

from core.evaluation.groups import evaluation_folds
from core.foundation import cache as disk_cache
from core.foundation.progress import check_cancelled, report, scaled
from core.foundation.neighbors import headroom, without_rows
from core.scorers import LargeData, ScoringContext, compute_scores, get_scorer, recorded_scorers, resolve_scorers, scorer_records
from core.scorers.context import FoldContext
from core.scorers.oof import pairwise_out_of_fold

_CACHE_KIND = "fold_scores"
#: 2: fold f's rows read the all-rows graph without f's rows, and models fitted without f and one other fold.
_VERSION = 2


class FoldScores:
    """Scores per evaluator fold, each computed without that fold's labels.

    Attributes
    ----------
    frames : list of DataFrame
        ``frames[f]`` is indexed by the ids of the rows outside fold ``f`` (in row order), one
        column per scorer output, as :func:`core.compute_scores` returns.
    fold_of_row : ndarray of shape (n_samples,)
        The evaluator's fold code per row.
    scorers : list of str
    label_free : list of str
        The scorers shared across folds (computed once on all rows: they read no labels).
    """

    def __init__(self, frames, fold_of_row, scorers, label_free, fingerprint: str):
        # without the scores' records in ``attrs``: pandas deep-copies attrs on every row take, and a
        # search takes each fold's rows thousands of times (3.8 s of a 36 s auto at 8k rows)
        self.frames = [_bare(frame) for frame in frames]
        self.fold_of_row = np.asarray(fold_of_row)
        self.scorers = list(scorers)
        self.label_free = list(label_free)
        self.fingerprint = fingerprint
        self._subsets: dict = {}

    @property
    def n_folds(self) -> int:
        return len(self.frames)

    def matches(self, fold_of_row) -> bool:
        """Whether these scores were made for exactly these folds."""
        return np.array_equal(self.fold_of_row, np.asarray(fold_of_row))

    def subset(self, ds, fold: int):
        """The Dataset of the rows outside ``fold`` (cached)."""
        if fold not in self._subsets:
            self._subsets[fold] = ds.take(np.flatnonzero(self.fold_of_row != fold))
        return self._subsets[fold]

    def inner(self, ds, fold: int) -> tuple:
        """The rows outside ``fold`` as a Dataset, and fold-wise scores for a search among them.

        The inner folds are the other outer folds; inner fold ``g``'s scores are fold ``fold``'s
        scores restricted to the rows outside ``g``. They never saw ``fold``'s labels (they saw
        ``g``'s, which only makes the inner search's own figures optimistic, never the outer one).

        Returns
        -------
        (Dataset, FoldScores)
        """
        sub = self.subset(ds, fold)
        codes = self.fold_of_row[self.fold_of_row != fold]
        codes = np.searchsorted(np.unique(codes), codes)
        frame = self.frames[fold]
        frames = [frame.iloc[np.flatnonzero(codes != g)] for g in range(int(codes.max()) + 1)]
        return sub, FoldScores(frames, codes, self.scorers, self.label_free, sub.fingerprint)


def _split_by_labels(names) -> tuple:
    """The configured scorers that read the labels, and those that do not (each instance decides)."""
    scorers = resolve_scorers(names)
    return [s for s in scorers if s.needs_labels], [s for s in scorers if not s.needs_labels]


def fold_scores(ds, scorer_names, *, folds: int = 5, seed: int = 0, score_seed: Optional[int] = None,
                score_folds: int = 5, fold_of_row=None, progress=None, cancel=None, cache: bool = True) -> FoldScores:
    """Scores for every evaluator fold, computed without that fold's labels.

    Work every fold can share is done once (:class:`_SharedWork`): scorers that read no labels
    run once on all rows; neighbours come from the one all-rows graph (it holds no labels) with
    the fold's rows removed; the logistic proxy's out-of-fold probabilities of the rows outside
    fold ``f`` come from models fitted without ``f`` and one other evaluator fold (the inner folds
    are the other evaluator folds, so ``K (K - 1) / 2`` fits serve every fold). With fewer than
    three evaluator folds each fold is scored on its own rows alone.

    Parameters
    ----------
    ds : Dataset
    scorer_names : list of str or str
        As :func:`core.compute_scores` takes them (``"default"``, ``"a,b"``, a list).
    folds, seed : int
        The evaluator's folds (``LiveEvaluator(ds, folds, seed)``): the same rows per fold.
    score_seed, score_folds : int
        Seed and cross-fitting folds of the scorers themselves (as for the all-rows scores;
        ``score_seed`` defaults to ``seed``). ``score_folds`` applies only with fewer than three
        evaluator folds; otherwise the inner folds are the other evaluator folds.
    fold_of_row : ndarray of shape (n_samples,), optional
        The evaluator's fold codes (``evaluator.fold_of_row_``), instead of ``folds``/``seed``.
    progress : callable ``progress(done, total, message)``, optional
    cancel : object with ``is_set()``, optional
    cache : bool
        Reuse and store each fold's frame on disk (key: fingerprint, scorers, every row's fold,
        the fold), and the all-rows neighbour graph as :func:`core.compute_scores` does.

    Returns
    -------
    FoldScores
    """
    score_seed = seed if score_seed is None else score_seed
    labelled, label_free = _split_by_labels(scorer_names)
    # the evaluator's folds: duplicate groups kept whole (core.evaluation.groups)
    fold_of_row = evaluation_folds(ds, folds, seed)[0] if fold_of_row is None else np.asarray(fold_of_row)
    n_folds = int(fold_of_row.max()) + 1
    shared = None
    if label_free:
        report(progress, 0, 1000, "scores that use no labels (shared by every fold)")
        shared = compute_scores(ds, label_free, seed=score_seed, folds=score_folds,
                                progress=scaled(progress, 0.0, 0.05), cancel=cancel)
    keys = [_fold_key(ds, labelled, fold_of_row, f, score_seed, score_folds) for f in range(n_folds)]
    frames = [_cached_frame(key, int(np.sum(fold_of_row != f))) if cache and labelled else None
              for f, key in enumerate(keys)]
    missing = [f for f in range(n_folds) if labelled and frames[f] is None]
    work = _SharedWork(ds, fold_of_row, labelled, score_seed, cache, cancel) if missing and n_folds >= 3 else None
    if work is not None:
        work.prepare(missing, scaled(progress, 0.05, 0.8))
    subsets = {}
    for f in range(n_folds):
        check_cancelled(cancel)
        part = scaled(progress, *_share(f, n_folds, work is not None))
        report(part, 0, 1, f"scores without fold {f + 1}'s labels ({f + 1} of {n_folds})")
        train = np.flatnonzero(fold_of_row != f)
        if f in missing:
            subsets[f] = ds.take(train)
            context = work.context(subsets[f], f, score_folds, part) if work is not None else None
            frames[f] = compute_scores(subsets[f], labelled, seed=score_seed, folds=score_folds, progress=part,
                                       cancel=cancel, cache=False, context=context)
            if cache:
                disk_cache.save(_CACHE_KIND, keys[f], frames[f])
        if shared is not None:
            frames[f] = pd.concat([shared.iloc[train], frames[f]], axis=1) if labelled else shared.iloc[train]
    report(progress, 1000, 1000, "fold-wise scores ready")
    result = FoldScores(frames, fold_of_row, [s.name for s in labelled + label_free], [s.name for s in label_free],
                        ds.fingerprint)
    result._subsets.update(subsets)  # the rows outside each fold, which selecting per fold takes again
    return result


def _share(f: int, n_folds: int, prepared: bool) -> tuple:
    """Fold ``f``'s part of the progress bar: after the shared work when there is any."""
    start, width = (0.8, 0.2) if prepared else (0.05, 0.95)
    return start + width * f / n_folds, start + width * (f + 1) / n_folds


def _digest(rows: np.ndarray) -> str:
    """A short key of an integer array (every row's fold)."""
    return hashlib.blake2b(np.ascontiguousarray(rows, dtype=np.int64).tobytes(), digest_size=16).hexdigest()


def recorded_fold_scores(ds, scores, names, *, fold_of_row, seed: int = 0, progress=None, cancel=None) -> FoldScores:
    """:func:`fold_scores` of ``names`` as the scores table ``scores`` records they ran: each scorer
    with its parameters, and the table's seed and cross-fitting folds (those of the first name). A
    name the table does not record (or no table) runs with its defaults and ``seed``."""
    names = list(names)
    as_ran = {scorer.name: scorer for scorer in recorded_scorers(scores, names)}
    first = {row["name"]: row for row in scorer_records(scores)}.get(names[0], {}) if names else {}
    return fold_scores(ds, [as_ran.get(name) or get_scorer(name)() for name in names], fold_of_row=fold_of_row,
                       score_seed=int(first.get("seed", seed)), score_folds=int(first.get("folds", 5)),
                       progress=progress, cancel=cancel)


def _fold_key(ds, labelled, fold_of_row, f, score_seed, score_folds) -> str:
    # every row's fold matters: fold f's scores read models fitted on the other folds in pairs
    scorers = sorted(f"{s.name}{sorted(s.get_params().items())}" for s in labelled)  # parameters change a score
    return disk_cache.cache_key(ds.fingerprint, scorers, _digest(fold_of_row), f, score_seed, score_folds, _VERSION)


def _cached_frame(key: str, rows: int):
    frame = disk_cache.load(_CACHE_KIND, key)
    return frame if isinstance(frame, pd.DataFrame) and len(frame) == rows else None


class _SharedWork:
    """What every fold's label-using scorers read, computed once for all folds.

    * the all-rows neighbour graph, listed deep enough (:func:`core.foundation.neighbors.headroom`)
      that each fold's rows can be removed from it (no recall check: the all-rows scores record it);
    * the logistic proxy's out-of-fold probabilities per fold (:func:`pairwise_out_of_fold`).
    """

    def __init__(self, ds, fold_of_row, labelled, score_seed, cache, cancel):
        self.ds, self.fold_of_row, self.seed, self.cache, self.cancel = ds, fold_of_row, score_seed, cache, cancel
        scorers = resolve_scorers(labelled)
        self.n_folds = int(fold_of_row.max()) + 1
        self.k = max([int(s.needs().get("neighbors", 0)) for s in scorers] + [0])
        self.wants_oof = any(s.needs().get("oof") for s in scorers)
        self.graph, self.oof = None, {}

    def prepare(self, folds, progress) -> None:
        """Build (or read) the graph and fit the proxies the given folds need."""
        if self.k:
            context = ScoringContext(self.ds, seed=self.seed, cache=self.cache, progress=scaled(progress, 0.0, 0.3),
                                     cancel=self.cancel, large=LargeData(recall_queries=0))
            self.graph = context.neighbors(headroom(self.k, self.n_folds))
        if self.wants_oof:
            ds = self.ds
            self.oof = pairwise_out_of_fold(ds.X, ds.y, ds.n_classes, self.fold_of_row, outer=folds,
                                            fit_rows=LargeData().fit_rows, seed=self.seed,
                                            progress=scaled(progress, 0.3 if self.k else 0.0, 1.0), cancel=self.cancel)

    def context(self, sub, f: int, score_folds: int, progress) -> FoldContext:
        """The scoring context of the rows outside fold ``f`` (``sub``)."""
        dropped = self.fold_of_row == f
        method = self.graph.method if self.graph is not None else "none"
        described = {"neighbors": {"method": f"all-rows graph ({method}) without the fold's rows"},
                     "oof": {"fit": "rows outside the evaluator fold and one other", "inner_folds": self.n_folds - 1}}
        return FoldContext(sub, neighbors=lambda k: without_rows(self.graph, self.ds.X, dropped, k),
                           out_of_fold=lambda: self.oof[f], described=described, seed=self.seed, folds=score_folds,
                           progress=progress, cancel=self.cancel)


def _bare(frame):
    """``frame`` without ``attrs`` (a shallow copy; the values are shared)."""
    if frame is None or not getattr(frame, "attrs", None):
        return frame
    frame = frame.copy(deep=False)
    frame.attrs = {}
    return frame
