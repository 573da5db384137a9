"""Multinomial logistic regression per fold, warm-started, fast enough for a slider.

The fitted model is the same as the exact evaluator's (:mod:`core.evaluation.models`:
scikit-learn's ``LogisticRegression(C=1)`` on features standardised on the kept training rows,
columns constant up to rounding left unscaled): the objective is the mean cross-entropy plus
``||W||² / (2 C n)`` on features standardised on those rows (intercepts unpenalised), over the
classes present in them, and a fit stops on
scikit-learn's lbfgs rule (largest gradient entry below 1e-4). Only the optimiser differs:
L-BFGS in float32 products, started from the solution of a recent fit of the same fold on the
nearest kept mask *and with that fit's curvature memory* (a slider move changes few rows, and the
random references of neighbouring sizes share rows, so the optimum and the Hessian barely move:
the first quasi-Newton step lands close to the new optimum and two to four evaluations usually
finish the fit, against eight to ten for a warm start with an empty memory). The tests check the
accuracies against scikit-learn on the same kept rows.

The optimiser works in preconditioned coordinates: the weights are ``W = P @ U`` with ``P`` the
inverse square root of the features' correlation matrix (plus a ridge at 100x the penalty),
and L-BFGS moves ``U``. The objective is the same function of ``W``, so the optimum is the same
(the stopping rule is checked on the gradient in ``W``); only its conditioning changes. Embedding
tables are often close to low rank (a 16-dimensional signal mixed into 128 columns has
correlation eigenvalues from 22 down to 0.0008), and there plain L-BFGS on ``W`` took 60 to 240
evaluations per warm-started fit; whitened, the curvature is near uniform.

Standardising on the kept rows is folded into the weights, so no standardised copy of the data
is made: with per-feature mean ``mu`` and spread ``s`` of the kept rows,
``logits = X @ (W / s) + (b - (mu / s) @ W)``. Logits are held classes-first, shape
``(n_classes, n_rows)``, so the per-row max, sum and true-class pick run along contiguous
memory instead of ten-wide rows.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import numpy as np

from core.foundation.linear import RIDGE_OVER_PENALTY, Preconditioner, standardiser
from core.foundation.progress import check_cancelled
from core.foundation.threads import single_threaded

#: scikit-learn's lbfgs stopping rule: gradient tolerance 1e-4 on the same mean-scaled objective
#: (a looser 1e-3 was measured up to 1.2 points off from a cold start, so the rule is not relaxed).
TOLERANCE = 1e-4
HISTORY = 20  # L-BFGS corrections used during a fit
SEED_PAIRS = 5  # corrections kept with a solution to seed the next fit's memory (a small gain: ~5% fewer evaluations)
MAX_ITER = 1000
WARM_STARTS = 12  # recent solutions kept per fold; a fit starts from the one on the nearest mask
ARMIJO = 1e-4
MAX_BACKTRACKS = 30


@dataclass
class Problem:
    """One fit's data: kept rows, their standardisation and the flat index of each true class."""

    X: np.ndarray  # (n, d) float32 kept rows
    true_at: np.ndarray  # (n,) flat index of row i's class in the (n_classes, n) logits
    mu: np.ndarray  # (d,) float64
    sd: np.ndarray  # (d,) float64
    n_classes: int
    penalty: float


def objective(theta: np.ndarray, problem: Problem) -> tuple:
    """Mean cross-entropy plus the L2 penalty, and its gradient (one exp per call).

    Parameters
    ----------
    theta : ndarray of shape (n_features * n_classes + n_classes,)
        Weights on standardised features (row-major (d, C)), then the intercepts.

    Returns
    -------
    (loss, gradient) : (float, ndarray of the shape of ``theta``)
    """
    Xk, mu, sd, k = problem.X, problem.mu, problem.sd, problem.n_classes
    n, d = Xk.shape
    W = theta[: d * k].reshape(d, k)
    Ws = (W / sd[:, None]).astype(np.float32)
    Z = np.ascontiguousarray((Xk @ Ws).T)  # (k, n): reductions over classes run along rows
    Z += (theta[d * k:] - (mu / sd) @ W).astype(np.float32)[:, None]
    Z -= Z.max(axis=0)
    flat = Z.reshape(-1)
    true_logit = float(flat[problem.true_at].sum(dtype=np.float64))
    np.exp(Z, out=Z)
    totals = Z.sum(axis=0)
    loss = (float(np.log(totals).sum(dtype=np.float64)) - true_logit) / n
    Z /= totals  # now the probabilities
    flat[problem.true_at] -= 1.0
    Z *= np.float32(1.0 / n)
    g_sum = Z.sum(axis=1, dtype=np.float64)
    grad_W = ((Z @ Xk).T.astype(np.float64) - np.outer(mu, g_sum)) / sd[:, None]
    weights = theta[: d * k]
    loss += 0.5 * problem.penalty * float(weights @ weights)
    grad_W += problem.penalty * W
    return loss, np.concatenate([grad_W.ravel(), g_sum])


def _direction(g: np.ndarray, pairs: list) -> np.ndarray:
    """``-H g`` by the L-BFGS two-loop recursion over ``pairs`` = [(s, y, 1 / s·y)], oldest first."""
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float(s @ q)
        q -= a * y
        alphas.append(a)
    if pairs:
        s, y, _ = pairs[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y, rho), a in zip(pairs, reversed(alphas)):
        q += (a - rho * float(y @ q)) * s
    return -q


def minimise(fun, x0: np.ndarray, pairs: list, *, gtol: float = TOLERANCE, max_iter: int = MAX_ITER,
             cancel=None, measure=None) -> tuple:
    """L-BFGS from ``x0`` whose curvature memory starts from ``pairs`` (a neighbouring problem's).

    Stops when the largest gradient entry is at most ``gtol`` (scikit-learn's lbfgs rule; with
    ``measure``, when ``measure(g)`` is: the gradient in the original coordinates), after
    ``max_iter`` iterations, or when no step along a descent direction lowers the objective.
    Raises :class:`~core.foundation.errors.Cancelled` between iterations once ``cancel`` is set
    (a slider move stops a stale background fit within one evaluation).

    Returns
    -------
    (x, pairs, converged, evaluations)
        ``pairs`` is the final memory (newest last), to seed a later fit.
    """
    pairs = list(pairs)[-HISTORY:]
    measure = measure or (lambda gradient: float(np.max(np.abs(gradient))))
    x = np.asarray(x0, dtype=np.float64).copy()
    f, g = fun(x)
    evaluations = 1
    for _ in range(int(max_iter)):
        if measure(g) <= gtol:
            return x, pairs, True, evaluations
        check_cancelled(cancel)
        direction = _direction(g, pairs)
        slope = float(g @ direction)
        if not slope < 0:  # the memory does not fit this problem: restart from steepest descent
            pairs, direction, slope = [], -g, -float(g @ g)
        step = 1.0 if pairs else min(1.0, 1.0 / max(float(np.linalg.norm(g)), 1e-12))
        for _ in range(MAX_BACKTRACKS):
            x_new = x + step * direction
            f_new, g_new = fun(x_new)
            evaluations += 1
            if f_new <= f + ARMIJO * step * slope:
                break
            step *= 0.5
        else:
            return x, pairs, False, evaluations
        s, y = x_new - x, g_new - g
        sy = float(s @ y)
        if sy > 1e-10 * float(y @ y):
            pairs.append((s, y, 1.0 / sy))
            del pairs[:-HISTORY]
        x, f, g = x_new, f_new, g_new
    return x, pairs, bool(measure(g) <= gtol), evaluations


class FoldLogistic:
    """Per-fold multinomial logistic regression on kept training rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), int codes ``0 .. n_classes - 1``
    n_classes : int
    C : float
        Inverse penalty, as scikit-learn's ``LogisticRegression(C=...)``.
    """

    def __init__(self, X, y, n_classes: int, C: float = 1.0):
        X = np.asarray(X, dtype=np.float64)
        # The model standardises on the kept rows, so a global shift and scale changes nothing
        # but the conditioning of the float32 products.
        centre, spread = standardiser(X)
        self.X_ = np.ascontiguousarray((X - centre) / spread, dtype=np.float32)
        self.y_ = np.asarray(y, dtype=np.int64)
        self.n_classes = int(n_classes)
        self.C = float(C)
        self.preconditioner_ = Preconditioner(self.X_, RIDGE_OVER_PENALTY / (self.C * max(len(self.y_), 1)))
        # fold -> list of (packed kept mask, classes, preconditioned parameters, pairs), newest last
        self.warm_: dict = {}
        self.evaluations_ = 0  # objective evaluations so far (benchmarks read it)
        self._count_lock = threading.Lock()

    def problem(self, rows: np.ndarray, classes: np.ndarray) -> Problem:
        """The data of a fit on ``rows`` over ``classes`` (sorted codes present among those rows)."""
        Xk = self.X_[rows]
        n = len(rows)
        ones = np.ones(n, dtype=np.float32)
        mu = (ones @ Xk).astype(np.float64) / n  # BLAS sums: the spread only scales the penalty
        mean_square = np.einsum("ij,ij->j", Xk, Xk).astype(np.float64) / n
        var = mean_square - mu ** 2
        # where the subtraction cancelled most digits (a column nearly constant among the kept rows)
        # recompute exactly, so a constant column is seen as one, as scikit-learn's scaler sees it
        close = np.flatnonzero(var <= 1e-3 * mean_square)
        if len(close):
            var[close] = Xk[:, close].astype(np.float64).var(axis=0)
        sd = np.sqrt(np.maximum(var, 0.0))
        sd[sd < 1e-6 * max(1.0, float(sd.max(initial=0.0)))] = 1.0  # constant among the kept rows
        code = np.full(self.n_classes, -1, dtype=np.int64)
        code[classes] = np.arange(len(classes))
        true_at = code[self.y_[rows]] * n + np.arange(n)
        return Problem(Xk, true_at, mu, sd, len(classes), 1.0 / (self.C * n))

    def _warm_start(self, fold: int, packed: np.ndarray, classes: tuple, size: int) -> tuple:
        """(parameters, curvature pairs) of this fold's recent fit on the nearest kept mask with the
        same classes, or (zeros, no pairs)."""
        best, best_distance = (np.zeros(size), []), None
        for other, other_classes, theta, pairs in self.warm_.get(fold, []):
            if other_classes != classes:
                continue
            distance = int(np.bitwise_count(np.bitwise_xor(packed, other)).sum())
            if best_distance is None or distance < best_distance:
                best, best_distance = (theta, pairs), distance
        return best

    def fit(self, fold: int, rows: np.ndarray, max_iter: int = MAX_ITER, *, limit_threads: bool = True,
            cancel=None):
        """Fit on ``rows`` (positions of kept training rows), warm-started from the nearest recent fit.

        ``limit_threads=False`` when the caller already runs BLAS on one thread (folds fitted side
        by side: the limit is process-wide, so only the caller may set and restore it).

        Returns
        -------
        (weights, offset, classes) : (ndarray (n_features, n_present), ndarray (n_present,), ndarray)
            Logits for raw rows of ``X_`` are ``X_ @ weights + offset`` over ``classes``.
        """
        classes = np.flatnonzero(np.bincount(self.y_[rows], minlength=self.n_classes))
        problem = self.problem(rows, classes)
        d, n_cls = self.X_.shape[1], len(classes)
        kept = np.zeros(len(self.y_), dtype=bool)
        kept[rows] = True
        packed = np.packbits(kept)
        theta0, pairs = self._warm_start(fold, packed, tuple(classes), d * n_cls + n_cls)
        pre = self.preconditioner_

        def preconditioned(u):
            loss, grad = objective(pre.weights(u), problem)
            return loss, pre.gradient(grad)

        def measure(grad_u):  # scikit-learn's rule, on the gradient in the original coordinates
            return float(np.max(np.abs(pre.original_gradient(grad_u))))

        with single_threaded("blas") if limit_threads else contextlib.nullcontext():
            u, pairs, converged, evaluations = minimise(preconditioned, theta0, pairs, max_iter=max_iter,
                                                        cancel=cancel, measure=measure)
            theta = pre.weights(u)
            if not converged and max_iter == MAX_ITER:
                theta, more = _fallback(theta, problem, max_iter)
                u = pre.coordinates(theta)
                evaluations += more
        with self._count_lock:
            self.evaluations_ += evaluations
        starts = self.warm_.setdefault(fold, [])
        starts.append((packed, tuple(classes), u, pairs[max(len(pairs) - SEED_PAIRS, 0):]))
        del starts[:-WARM_STARTS]
        W = theta[: d * n_cls].reshape(d, n_cls)
        b = theta[d * n_cls:]
        sd, mu = problem.sd, problem.mu
        return (W / sd[:, None]).astype(np.float32), (b - (mu / sd) @ W).astype(np.float32), classes

    def fold_predictions(self, fold: int, train_rows: np.ndarray, test_rows: np.ndarray,
                         max_iter: int = MAX_ITER, *, limit_threads: bool = True, cancel=None) -> np.ndarray:
        """Predicted class codes for ``test_rows`` from a model fit on ``train_rows``."""
        present = np.flatnonzero(np.bincount(self.y_[train_rows], minlength=self.n_classes))
        if len(present) < 2:  # nothing to learn: the one class seen, or chance with none
            value = int(present[0]) if len(present) else 0
            return np.full(len(test_rows), value, dtype=np.int64)
        weights, offset, classes = self.fit(fold, train_rows, max_iter, limit_threads=limit_threads, cancel=cancel)
        with single_threaded("blas") if limit_threads else contextlib.nullcontext():
            logits = self.X_[test_rows] @ weights + offset
        return classes[logits.argmax(axis=1)].astype(np.int64)


def _fallback(theta: np.ndarray, problem: Problem, max_iter: int) -> tuple:
    """SciPy's L-BFGS-B from where the line search stalled (rare: rounding near the optimum).

    Returns (parameters, objective evaluations)."""
    from scipy.optimize import minimize

    result = minimize(objective, theta, args=(problem,), jac=True, method="L-BFGS-B",
                      options={"maxiter": int(max_iter), "gtol": TOLERANCE, "maxls": 50, "maxcor": HISTORY,
                               "ftol": 64 * np.finfo(float).eps})
    return result.x, int(result.nfev)
