"""Closed-form ridge classifiers for every cross-validation fold, fast enough for a slider.

For a kept mask, fold ``f``'s model is trained on the kept rows outside fold ``f``. The model is
one-vs-rest least squares on one-hot targets with features standardised on those same kept rows,
and it needs only sufficient statistics: per fold ``g``, ``M_g = Z_gᵀ Z_g`` over the kept rows
of ``g`` with ``Z = [X, 1, onehot(y)]``. The training statistics of fold ``f`` are
``sum_g M_g - M_f``, so one pass over the kept rows serves every fold, and a new mask is
computed from the *nearest* mask already seen (slider moves change few rows):
``M_new = M_old + sum_added z zᵀ - sum_removed z zᵀ``. Cost: O(changed rows x d²) plus a
d x d solve and an (n x d x classes) product for the held-out predictions.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from core.foundation.linear import standardiser
from core.foundation.threads import single_threaded

# Keep at most this many bytes of cached fold statistics (the nearest-mask starting points).
_STATE_BYTES = 96 * 2**20
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def _changed_rows(packed_a: np.ndarray, packed_b: np.ndarray) -> int:
    """Rows on which two packed masks differ."""
    diff = np.bitwise_xor(packed_a, packed_b)
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return int(np.bitwise_count(diff).sum(dtype=np.int64))
    return int(_POPCOUNT[diff].sum())


def _solve_spd(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``gram @ x = rhs`` for a symmetric positive (semi-)definite ``gram``."""
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    try:  # Cholesky: half the work of LU, which matters at a few hundred features
        return cho_solve(cho_factor(gram, overwrite_a=True, check_finite=False), rhs, check_finite=False)
    except LinAlgError:  # only without a penalty (alpha=0) and with fewer rows than features
        return np.linalg.lstsq(gram, rhs, rcond=None)[0]


class FoldRidge:
    """Per-fold ridge classifiers from sufficient statistics.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), int codes ``0 .. n_classes - 1``
    fold_of_row : ndarray of shape (n_samples,), int codes ``0 .. n_folds - 1``
    n_classes : int
    alpha : float
        Ridge penalty on standardised features (like scikit-learn's ``alpha``).
    """

    def __init__(self, X, y, fold_of_row, n_classes: int, alpha: float = 1.0):
        X = np.asarray(X)
        n, d = X.shape
        self.n_samples, self.n_features, self.n_classes = n, d, int(n_classes)
        self.alpha = float(alpha)
        fold_of_row = np.asarray(fold_of_row)
        self.n_folds = int(fold_of_row.max()) + 1
        # Rows are stored fold by fold so that each fold's rows are one contiguous slice.
        self.order_ = np.argsort(fold_of_row, kind="stable")
        self.bounds_ = np.searchsorted(fold_of_row[self.order_], np.arange(self.n_folds + 1))
        y_sorted = np.asarray(y)[self.order_]
        width = d + 1 + self.n_classes
        # The model standardises on the kept rows, so it is invariant to any global shift and
        # scale of X; doing one up front keeps the Gram products well conditioned. They are in
        # float64: standardising a feature that is nearly constant among the kept rows (a
        # background pixel) magnifies rounding errors, which float32 cannot afford.
        X64 = X[self.order_].astype(np.float64)
        centre, spread = standardiser(X64)
        Z = np.zeros((n, width), dtype=np.float64)
        Z[:, :d] = (X64 - centre) / spread
        Z[:, d] = 1.0
        Z[np.arange(n), d + 1 + y_sorted] = 1.0
        self.Z_ = Z
        self.X32_ = np.ascontiguousarray(Z[:, :d], dtype=np.float32)  # predictions need less
        self.y_ = y_sorted
        state_bytes = self.n_folds * (d + 1) * width * 8 + n // 8
        self.max_states = max(4, min(64, _STATE_BYTES // max(1, state_bytes)))
        self.states_: OrderedDict = OrderedDict()  # packed mask bytes -> (packed, stats)

    # ------------------------------------------------------------------ statistics

    def _stats_between(self, base_stats, mask_sorted, changed) -> np.ndarray:
        d1 = self.n_features + 1
        stats = np.zeros((self.n_folds, d1, self.Z_.shape[1])) if base_stats is None else base_stats.copy()
        for f in range(self.n_folds):
            lo, hi = self.bounds_[f], self.bounds_[f + 1]
            rows = np.flatnonzero(changed[lo:hi]) + lo
            if len(rows) == 0:
                continue
            block = self.Z_[rows]
            if base_stats is None:
                stats[f] = block[:, :d1].T @ block
            else:
                sign = np.where(mask_sorted[rows], 1.0, -1.0)
                stats[f] += (block[:, :d1] * sign[:, None]).T @ block
        return stats

    def fold_stats(self, mask_sorted: np.ndarray) -> np.ndarray:
        """Per-fold statistics of the kept rows, from the nearest cached mask."""
        packed = np.packbits(mask_sorted)
        key = packed.tobytes()
        hit = self.states_.get(key)
        if hit is not None:
            self.states_.move_to_end(key)
            return hit[1]
        best_cost, best = int(mask_sorted.sum()), None  # starting from the empty mask
        for other_packed, other_stats in self.states_.values():
            cost = _changed_rows(packed, other_packed)
            if cost < best_cost:
                best_cost, best = cost, (other_packed, other_stats)
        if best is None:
            stats = self._stats_between(None, mask_sorted, mask_sorted)
        else:
            base_mask = np.unpackbits(best[0], count=self.n_samples).astype(bool)
            stats = self._stats_between(best[1], mask_sorted, mask_sorted ^ base_mask)
        self.states_[key] = (packed, stats)
        while len(self.states_) > self.max_states:
            self.states_.popitem(last=False)
        return stats

    # ------------------------------------------------------------------ solve and predict

    def _solve(self, stats: np.ndarray):
        """Weights per fold from training statistics; returns (W, b, present, n_train)."""
        d, C = self.n_features, self.n_classes
        F = self.n_folds
        train = stats.sum(axis=0)[None] - stats  # (F, d+1, d+1+C)
        n_train = train[:, d, d]
        W = np.zeros((F, d, C))
        b = np.zeros((F, C))
        class_counts = train[:, d, d + 1:]
        present = class_counts > 0.5
        for f in np.flatnonzero(n_train > 0.5):
            n = n_train[f]
            mean = train[f, :d, d] / n
            cov = train[f, :d, :d] - n * np.outer(mean, mean)
            var = np.clip(np.diag(cov) / n, 0.0, None)
            scale = np.sqrt(var)
            scale[scale < 1e-6 * max(1.0, float(scale.max(initial=0.0)))] = 1.0  # constant in kept rows
            prior = class_counts[f] / n
            xy = (train[f, :d, d + 1:] - n * np.outer(mean, prior)) / scale[:, None]
            gram = cov / np.outer(scale, scale)
            gram[np.diag_indices(d)] += self.alpha
            W[f] = _solve_spd(gram, xy) / scale[:, None]
            b[f] = prior - mean @ W[f]
        return W, b, present, n_train

    def evaluate(self, mask: np.ndarray, with_predictions: bool = False) -> dict:
        """Held-out accuracy per fold (and per class) for a kept mask in the original row order.

        Returns
        -------
        dict with ``fold_accuracy`` (n_folds,), ``class_accuracy`` (n_folds, n_classes; NaN where
        a fold has no rows of a class), ``n_train`` (n_folds,) and, if asked, ``predictions``
        (n_samples,) out-of-fold predicted codes in the original row order.
        """
        mask_sorted = np.asarray(mask, dtype=bool)[self.order_]
        with single_threaded("blas"):
            return self._evaluate(mask_sorted, with_predictions)

    def _evaluate(self, mask_sorted: np.ndarray, with_predictions: bool) -> dict:
        W, b, present, n_train = self._solve(self.fold_stats(mask_sorted))
        F, C = self.n_folds, self.n_classes
        fold_accuracy = np.zeros(F)
        class_accuracy = np.full((F, C), np.nan)
        predictions = np.zeros(self.n_samples, dtype=np.int64) if with_predictions else None
        for f in range(F):
            lo, hi = self.bounds_[f], self.bounds_[f + 1]
            if n_train[f] > 0.5:
                logits = self.X32_[lo:hi] @ W[f].astype(np.float32) + b[f].astype(np.float32)
                logits[:, ~present[f]] = -np.inf  # predict only among classes it has seen
                pred = logits.argmax(axis=1)
            else:  # nothing to train on: a constant guess, i.e. chance level
                pred = np.zeros(hi - lo, dtype=np.int64)
            truth = self.y_[lo:hi]
            correct = pred == truth
            fold_accuracy[f] = correct.mean() if hi > lo else np.nan
            totals = np.bincount(truth, minlength=C)
            hits = np.bincount(truth, weights=correct, minlength=C)
            with np.errstate(invalid="ignore", divide="ignore"):
                class_accuracy[f] = np.where(totals > 0, hits / np.maximum(totals, 1), np.nan)
            if with_predictions:
                predictions[self.order_[lo:hi]] = pred
        out = {"fold_accuracy": fold_accuracy, "class_accuracy": class_accuracy, "n_train": n_train}
        if with_predictions:
            out["predictions"] = predictions
        return out
