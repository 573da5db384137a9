"""Linear primitives: the one feature standardiser and multinomial logistic regression.

:func:`standardiser` is the per-column centre and spread that every model in the library uses
(the logistic proxy, the torch MLP, the ridge estimate), so "standardised features" means one
thing everywhere. :func:`fit_softmax_regression` is a full-batch L-BFGS fit with scikit-learn's
objective, fast on thin float32 products. :class:`Preconditioner` is the change of coordinates
both logistic fits (this one and the live estimate's, :mod:`core.evaluation.logistic`) optimise in.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from core.foundation.progress import CancelToken, check_cancelled
from core.foundation.threads import single_threaded


def standardiser(X: np.ndarray, *, tolerance: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and spread of ``X``; near-constant columns get spread 1.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    tolerance : float
        Columns whose standard deviation is below this keep their scale: they carry no signal,
        and dividing by a tiny spread would only blow up rounding noise.

    Returns
    -------
    mean, scale : ndarray of shape (n_features,), dtype of ``X``
        Standardise with ``(X - mean) / scale``.
    """
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < tolerance] = 1.0
    return mean, scale


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``logits`` (n_samples, n_classes); rows of the result sum to one."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


PRECONDITION_ROWS = 65_536  # rows (evenly spaced) the preconditioner's correlation matrix reads


class Preconditioner:
    """Weights ``W = P @ U``: ``P`` the inverse square root of the features' covariance plus a ridge.

    A logistic fit on standardised features is badly conditioned when the features are nearly
    low rank, as embedding tables often are (a 16-dimensional signal mixed into 128 columns has
    covariance eigenvalues from 22 down to 0.0008), and L-BFGS then crawls along the small
    directions: 60 to 240 evaluations per warm-started fit of the live estimate, and the scorers'
    out-of-fold fits stopped at their iteration cap. Optimising ``U`` instead of ``W`` is the
    same objective (the same optimum) with near uniform curvature in the data term. ``ridge``
    keeps the directions the data does not span from being blown up; the callers set it at a
    multiple of the penalty ``1 / (C n)``.

    Label-free (it reads the features only). Acts on the weight block of a flat parameter vector
    laid out as ``n_features * k`` weights (row-major ``(n_features, k)``) followed by ``k``
    intercepts, for any ``k``.
    """

    def __init__(self, X: np.ndarray, ridge: float):
        X = np.asarray(X)
        step = max(1, len(X) // PRECONDITION_ROWS)
        sample = np.asarray(X[::step], dtype=np.float32)
        centred = sample - sample.mean(axis=0, dtype=np.float64).astype(np.float32)
        rows, d = centred.shape
        ridge = float(ridge)
        self.d = d
        if d <= rows:  # P = V diag((lambda + ridge)^-1/2) V^T from the d x d covariance
            gram = (centred.T @ centred).astype(np.float64) / max(rows, 1)
            values, vectors = np.linalg.eigh((gram + gram.T) / 2)
            values = np.maximum(values, 0.0) + ridge
            self.P = (vectors * values ** -0.5) @ vectors.T
            self.P_inv = (vectors * values ** 0.5) @ vectors.T
            self.low_rank = None
            return
        # More columns than rows (wide data: 60 x 3,000 spent 90 % of a scorer in a d x d eigh, and 20,000
        # columns would need 3 GB per matrix): the covariance has rank <= rows, so P is ridge^-1/2 times
        # the identity plus a correction in the span V of the rows, found from the rows x rows Gram matrix.
        # The same P, applied without forming it: O(d * rows) memory and work.
        centred = centred.astype(np.float64)  # rows x rows x d: cheap in double precision
        gram = centred @ centred.T / rows
        values, coefficients = np.linalg.eigh((gram + gram.T) / 2)
        kept = values > 1e-10 * max(float(values.max()), 1e-300)
        values, coefficients = values[kept], coefficients[:, kept]
        vectors = (centred.T @ coefficients) / np.sqrt(values * rows)  # orthonormal columns
        self.P = self.P_inv = None
        self.low_rank = (vectors, (values + ridge) ** -0.5 - ridge ** -0.5, (values + ridge) ** 0.5 - ridge ** 0.5,
                         ridge ** -0.5, ridge ** 0.5)

    def _apply(self, inverse: bool, flat: np.ndarray) -> np.ndarray:
        d = self.d
        k = len(flat) // (d + 1)
        out = np.array(flat, dtype=np.float64)
        block = out[: d * k].reshape(d, k)
        if self.low_rank is None:
            out[: d * k] = ((self.P_inv if inverse else self.P) @ block).ravel()
        else:
            vectors, shrink, grow, base, base_inv = self.low_rank
            scale, correction = (base_inv, grow) if inverse else (base, shrink)
            out[: d * k] = (scale * block + vectors @ (correction[:, None] * (vectors.T @ block))).ravel()
        return out

    def weights(self, u: np.ndarray) -> np.ndarray:
        """Parameters in the original coordinates from preconditioned ones."""
        return self._apply(False, u)

    def coordinates(self, theta: np.ndarray) -> np.ndarray:
        """Preconditioned parameters from original ones (the inverse of :meth:`weights`)."""
        return self._apply(True, theta)

    def gradient(self, grad_theta: np.ndarray) -> np.ndarray:
        """The gradient with respect to ``u`` from the gradient in the original coordinates."""
        return self._apply(False, grad_theta)  # P is symmetric

    def original_gradient(self, grad_u: np.ndarray) -> np.ndarray:
        """The gradient in the original coordinates (the inverse of :meth:`gradient`)."""
        return self._apply(True, grad_u)


#: the preconditioner's ridge in units of the full-data penalty ``1 / (C n)``: 10 to 10,000 measured
#: on digits, blobs and a low-rank 128-column table; 100 to 1,000 took the fewest evaluations
RIDGE_OVER_PENALTY = 100.0


def fit_softmax_regression(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    inverse_regularization: float = 1.0,
    max_iter: int = 200,
    init: Optional[np.ndarray] = None,
    cancel: Optional[CancelToken] = None,
) -> np.ndarray:
    """Multinomial logistic regression, objective equal to scikit-learn's ``LogisticRegression``.

    Minimises ``mean cross-entropy + ||W||^2 / (2 * C * n)`` (bias not penalised) with L-BFGS.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    inverse_regularization : float
        scikit-learn's ``C``.

    Returns
    -------
    weights : ndarray of shape (n_features + 1, n_classes)
        The last row is the bias.
    """
    from scipy.optimize import minimize

    n_samples, n_features = X.shape
    design = np.empty((n_samples, n_features + 1), dtype=np.float32)
    design[:, :-1] = X
    design[:, -1] = 1.0
    rows = np.arange(n_samples)
    penalty = 1.0 / (inverse_regularization * n_samples)
    shape = (n_features + 1, n_classes)

    def objective(flat: np.ndarray):
        weights = flat.reshape(shape).astype(np.float32)
        logits = design @ weights
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        totals = exp.sum(axis=1, keepdims=True)
        log_likelihood = (logits[rows, y] - np.log(totals[:, 0])).sum(dtype=np.float64)
        exp /= totals
        exp[rows, y] -= 1.0  # now p - onehot(y): the gradient of the loss wrt the logits
        gradient = (design.T @ exp).astype(np.float64) / n_samples
        coefficients = flat.reshape(shape)[:-1]
        gradient[:-1] += penalty * coefficients
        loss = -log_likelihood / n_samples + 0.5 * penalty * float((coefficients**2).sum())
        return loss, gradient.ravel()

    start = np.zeros(shape) if init is None else np.asarray(init, dtype=np.float64)
    pre = Preconditioner(X, RIDGE_OVER_PENALTY * penalty)

    def preconditioned(u: np.ndarray):  # the same objective, optimised in the coordinates W = P @ U
        loss, gradient = objective(pre.weights(u))
        return loss, pre.gradient(gradient)

    # The products are thin (n x d times d x classes): BLAS threads only wait on each other, and
    # on a busy two-core machine one thread was 3-7 times faster (measured at 10k and 50k rows).
    with single_threaded("blas"):
        result = minimize(
            preconditioned, pre.coordinates(start.ravel()), jac=True, method="L-BFGS-B",
            callback=lambda _: check_cancelled(cancel),
            options={"maxiter": max_iter, "gtol": 1e-5, "ftol": 1e-10},
        )
    return pre.weights(result.x).reshape(shape)


def softmax_regression_proba(X: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Class probabilities of a fitted :func:`fit_softmax_regression` model, shape (n, n_classes)."""
    return softmax(X.astype(np.float64) @ weights[:-1] + weights[-1])
