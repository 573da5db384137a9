"""Fold-wise scores and fold-wise selections: what keeps an estimate free of label leaks.

Scores computed on all rows have seen every label. If they choose the *training* rows of
evaluator fold ``f``, fold ``f``'s labels have influenced its own model, and the estimate is
optimistic (on labels without signal, a label-noise selection scores above chance). So, per fold
``f`` (Hastie, Tibshirani & Friedman, ESL §7.10.2):

1. score the rows outside fold ``f`` only (:func:`fold_scores`; scorers that use no labels are
   computed once on all rows and shared, since features carry no label information);
2. select among them with the same recipe (:func:`core.evaluation.fold_selection.fold_masks`);
3. train on the kept rows and evaluate on all of fold ``f`` (the evaluator).

Fold-wise scores are computed once, with progress, and cached on disk by the data fingerprint,
the scorers, the folds and the fold. The exported subset still uses the all-rows scores.
"""

from __future__ import annotations

import hashlib
from typing import Optional

import numpy as np
import pandas as pd

from core.foundation import cache as disk_cache
from core.foundation.folds import stratified_folds
from core.foundation.progress import check_cancelled, report, scaled
from core.scorers import compute_scores, resolve_scorers

_CACHE_KIND = "fold_scores"
_VERSION = 1


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
        self.frames = list(frames)
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
    scorers = resolve_scorers(names)
    return [s.name for s in scorers if s.needs_labels], [s.name for s in scorers if not s.needs_labels]


def fold_scores(ds, scorer_names, *, folds: int = 5, seed: int = 0, score_seed: Optional[int] = None,
                score_folds: int = 5, fold_of_row=None, progress=None, cancel=None, cache: bool = True) -> FoldScores:
    """Scores for every evaluator fold, computed without that fold's labels.

    Parameters
    ----------
    ds : Dataset
    scorer_names : list of str or str
        As :func:`core.compute_scores` takes them (``"default"``, ``"a,b"``, a list).
    folds, seed : int
        The evaluator's folds (``LiveEvaluator(ds, folds, seed)``): the same rows per fold.
    score_seed, score_folds : int
        Seed and cross-fitting folds of the scorers themselves (as for the all-rows scores;
        ``score_seed`` defaults to ``seed``).
    fold_of_row : ndarray of shape (n_samples,), optional
        The evaluator's fold codes (``evaluator.fold_of_row_``), instead of ``folds``/``seed``.
    progress : callable ``progress(done, total, message)``, optional
    cancel : object with ``is_set()``, optional
    cache : bool
        Reuse and store each fold's frame on disk (key: fingerprint, scorers, folds, fold).

    Returns
    -------
    FoldScores
    """
    score_seed = seed if score_seed is None else score_seed
    labelled, label_free = _split_by_labels(scorer_names)
    fold_of_row = stratified_folds(ds.y, folds, seed) if fold_of_row is None else np.asarray(fold_of_row)
    n_folds = int(fold_of_row.max()) + 1
    shared = None
    if label_free:
        report(progress, 0, 1000, "scores that use no labels (shared by every fold)")
        shared = compute_scores(ds, label_free, seed=score_seed, folds=score_folds,
                                progress=scaled(progress, 0.0, 0.05), cancel=cancel)
    frames = []
    for f in range(n_folds):
        check_cancelled(cancel)
        part = scaled(progress, 0.05 + 0.95 * f / n_folds, 0.05 + 0.95 * (f + 1) / n_folds)
        report(part, 0, 1, f"scores without fold {f + 1}'s labels ({f + 1} of {n_folds})")
        train = np.flatnonzero(fold_of_row != f)
        frame = _labelled_fold(ds, train, f, labelled, score_seed, score_folds, part, cancel, cache)
        if shared is not None:
            frame = pd.concat([shared.iloc[train], frame], axis=1) if frame is not None else shared.iloc[train]
        frames.append(frame)
    report(progress, 1000, 1000, "fold-wise scores ready")
    return FoldScores(frames, fold_of_row, labelled + label_free, label_free, ds.fingerprint)


def _digest(rows: np.ndarray) -> str:
    """A short key of the training rows of one fold (the cache depends on exactly these rows)."""
    return hashlib.blake2b(np.ascontiguousarray(rows, dtype=np.int64).tobytes(), digest_size=16).hexdigest()


def _labelled_fold(ds, train, f, labelled, score_seed, score_folds, progress, cancel, cache):
    if not labelled:
        return None
    key = disk_cache.cache_key(ds.fingerprint, sorted(labelled), _digest(train), f, score_seed, score_folds,
                               _VERSION)
    frame = disk_cache.load(_CACHE_KIND, key) if cache else None
    if isinstance(frame, pd.DataFrame) and len(frame) == len(train):
        return frame
    sub = ds.take(train)
    frame = compute_scores(sub, labelled, seed=score_seed, folds=score_folds, progress=progress,
                           cancel=cancel, cache=False)
    if cache:
        disk_cache.save(_CACHE_KIND, key, frame)
    return frame
