"""Fold engines: the models behind every estimate, one per target model.

An engine answers one question: *trained on these rows outside fold f, what does the model
predict for the rows of fold f?* (:meth:`predict`). The evaluator gives each fold its own
training mask, which is what lets a leak-free estimate select fold f's training rows with scores
that never saw fold f's labels.

- ``logreg`` (default): :class:`~core.evaluation.logistic.FoldLogistic`, the same model as the
  exact scikit-learn logistic regression, warm-started per fold so a slider move costs a few
  L-BFGS iterations; the folds of one estimate are fitted side by side, one thread per core
  (:meth:`LogisticEngine.prefetch`, which the evaluator calls before answering fold by fold).
- ``knn``: k-nearest neighbours (k=5, Euclidean, on features standardised once) answered from
  per-row neighbour lists computed once; a row whose list holds fewer than k kept rows is
  answered by an exact search over the kept rows, so the result always equals a fresh kNN fit.
- ``mlp`` and ``hgb``: the exact models of :mod:`core.evaluation.models`, trained per fold.
- ``ridge``: the closed-form ridge of :mod:`core.evaluation.ridge`, an instant first figure only.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from core.evaluation import models as exact_models
from core.evaluation.logistic import MAX_ITER, FoldLogistic
from core.evaluation.ridge import FoldRidge
from core.foundation.linear import standardiser
from core.foundation.progress import check_cancelled, report
from core.foundation.seeds import derive_seed
from core.foundation.threads import single_threaded

KNN_K = 5
KNN_LIST = 192  # neighbours stored per row (int32): k kept ones among them down to keep ~0.05 of similar rows

#: model -> (description, budget)
DESCRIPTIONS = {
    "logreg": ("logistic regression (multinomial, L2, C=1) on features standardised on the kept rows",
               "fitted to convergence (each fit starts from the nearest earlier one and reaches the same "
               "result as a fresh fit)"),
    "knn": (f"{KNN_K}-nearest-neighbour classifier (Euclidean, standardised features)",
            "no training: neighbours among the kept rows"),
    "mlp": tuple(exact_models.MODELS["mlp"][1:]),
    "hgb": tuple(exact_models.MODELS["hgb"][1:]),
    "ridge": ("ridge classifier (closed form, alpha={alpha}): an instant first figure, not the target model",
              "closed-form solve (no epochs or steps)"),
}
MODELS = tuple(DESCRIPTIONS)


class LogisticEngine:
    """Warm-started logistic regression per fold; :meth:`prefetch` fits several folds side by side."""

    def __init__(self, ds, fold_of_row, seed, *, max_iter=None, **_):
        self.model = FoldLogistic(ds.X, ds.y, ds.n_classes)
        self.max_iter = max_iter if max_iter is not None else MAX_ITER
        self._ready: dict = {}  # (fold, digest of the training rows) -> predictions fitted by prefetch

    def predict(self, fold, train_rows, test_rows, progress=None, cancel=None):
        check_cancelled(cancel)
        ready = self._ready.pop((fold, _digest(train_rows)), None)
        if ready is not None:
            return ready
        return self.model.fold_predictions(fold, train_rows, test_rows, max_iter=self.max_iter, cancel=cancel)

    def prefetch(self, work, cancel=None) -> None:
        """Fit the folds of ``work`` = [(fold, train_rows, test_rows)] at once, one thread per core.

        Each fold's fit is independent and spends its time in NumPy and BLAS calls that release
        the GIL, so on two idle cores five folds take about half the time. :meth:`predict` then
        answers those folds from memory (once each).
        """
        workers = min(len(work), len(os.sched_getaffinity(0)))
        if workers < 2:
            return
        self._ready.clear()  # answers a cancelled estimate never asked for are not kept forever

        def one(item):
            fold, train_rows, test_rows = item
            check_cancelled(cancel)
            pred = self.model.fold_predictions(fold, train_rows, test_rows, max_iter=self.max_iter,
                                               limit_threads=False, cancel=cancel)
            return (fold, _digest(train_rows)), pred

        with single_threaded("blas"), ThreadPoolExecutor(workers, thread_name_prefix="logistic-fold") as pool:
            for key, pred in pool.map(one, work):  # the one thread limit is set (and restored) here only
                self._ready[key] = pred


def _digest(rows: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(rows).tobytes(), digest_size=16).digest()


class ExactEngine:
    """An exact model of :mod:`core.evaluation.models`, trained from scratch per fold."""

    def __init__(self, ds, fold_of_row, seed, *, model="mlp", **_):
        self.ds, self.fold_of_row, self.seed, self.model = ds, fold_of_row, int(seed), model

    def predict(self, fold, train_rows, test_rows, progress=None, cancel=None):
        check_cancelled(cancel)
        n_train_full = int((self.fold_of_row != fold).sum())
        return exact_models.fit_predict(self.model, self.ds.X[train_rows], self.ds.y[train_rows],
                                        self.ds.X[test_rows], self.ds.n_classes,
                                        derive_seed(self.seed, "exact-model", fold),
                                        n_train_full, cancel)


class RidgeEngine:
    """The closed-form ridge, per fold (one solve serves every fold that shares a mask)."""

    def __init__(self, ds, fold_of_row, seed, *, alpha=1.0, **_):
        self.fold_of_row = fold_of_row
        self.ridge = FoldRidge(ds.X, ds.y, fold_of_row, ds.n_classes, alpha)
        self._last = (None, None)

    def predict(self, fold, train_rows, test_rows, progress=None, cancel=None):
        mask = np.zeros(len(self.fold_of_row), dtype=bool)
        mask[train_rows] = True
        key = np.packbits(mask).tobytes()
        if self._last[0] != key:
            self._last = (key, self.ridge.evaluate(mask, with_predictions=True)["predictions"])
        return self._last[1][test_rows]


class KnnEngine:
    """Exact kNN accuracy for any kept mask from per-row neighbour lists computed once."""

    def __init__(self, ds, fold_of_row, seed, *, k=KNN_K, progress=None, cancel=None, **_):
        X = np.asarray(ds.X, dtype=np.float32)
        centre, spread = standardiser(X)
        self.X = np.ascontiguousarray((X - centre) / spread)
        self.y, self.k, self.n_classes = ds.y, int(k), ds.n_classes
        self.fold_of_row = fold_of_row
        self.lists = {}
        n_folds = int(fold_of_row.max()) + 1
        for f in range(n_folds):  # neighbours of fold f's rows among the rows outside it
            check_cancelled(cancel)
            report(progress, f, n_folds, f"neighbour lists for fold {f + 1} of {n_folds}")
            train = np.flatnonzero(fold_of_row != f)
            test = np.flatnonzero(fold_of_row == f)
            nearest = self._nearest(self.X[train], self.X[test], min(KNN_LIST, len(train)))
            self.lists[f] = train.astype(np.int32)[nearest]
        report(progress, n_folds, n_folds, "neighbour lists ready")

    @staticmethod
    def _nearest(reference, queries, n_neighbors):
        from sklearn.neighbors import NearestNeighbors

        search = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(reference)
        return search.kneighbors(queries, return_distance=False)

    def _vote(self, neighbour_rows):
        votes = np.zeros((len(neighbour_rows), self.n_classes), dtype=np.int64)
        np.add.at(votes, (np.repeat(np.arange(len(neighbour_rows)), neighbour_rows.shape[1]),
                          self.y[neighbour_rows].ravel()), 1)
        return votes.argmax(axis=1)  # ties go to the smallest class code, as scikit-learn's

    def predict(self, fold, train_rows, test_rows, progress=None, cancel=None):
        if len(train_rows) == 0:
            return np.zeros(len(test_rows), dtype=np.int64)
        k = min(self.k, len(train_rows))
        kept = np.zeros(len(self.y), dtype=bool)
        kept[train_rows] = True
        lists = self.lists[fold]  # one list per row of fold f: test_rows are exactly those rows
        is_kept = kept[lists]
        rank = np.cumsum(is_kept, axis=1)
        enough = rank[:, -1] >= k
        chosen = is_kept & (rank <= k)
        pred = np.zeros(len(test_rows), dtype=np.int64)
        rows_ok = np.flatnonzero(enough)
        if len(rows_ok):
            picked = lists[rows_ok][chosen[rows_ok]].reshape(len(rows_ok), k)
            pred[rows_ok] = self._vote(picked)
        short = np.flatnonzero(~enough)
        if len(short):  # too few kept rows in the stored list: search the kept rows themselves
            with single_threaded("blas"):
                found = self._nearest(self.X[train_rows], self.X[test_rows[short]], k)
            pred[short] = self._vote(train_rows[found])
        return pred


ENGINES = {"logreg": LogisticEngine, "knn": KnnEngine, "mlp": ExactEngine, "hgb": ExactEngine,
           "ridge": RidgeEngine}


def make_engine(model: str, ds, fold_of_row, seed: int, *, alpha: float = 1.0, max_iter=None, progress=None,
                cancel=None):
    """The engine of ``model`` over ``ds`` and its folds (``max_iter`` caps logistic fits: a screen)."""
    return ENGINES[model](ds, fold_of_row, seed, model=model, alpha=alpha, max_iter=max_iter, progress=progress,
                          cancel=cancel)
