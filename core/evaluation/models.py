"""Slower, exact evaluators: logistic regression, gradient boosting and a small torch MLP.

Each is a function ``fit_predict(X_train, y_train, X_test, n_classes, seed, n_train_full,
cancel)`` returning predicted class codes for ``X_test``. They train on exactly the rows given
(the kept rows of the training folds) and predict only classes that appear in them. When there
is nothing to learn from (no rows, or one class), they predict a constant.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from core.foundation.linear import standardiser
from core.foundation.mlp import predict_logits, train_proxy
from core.foundation.seeds import derive_seed
from core.foundation.threads import single_threaded

MLP_HIDDEN = 128
MLP_BATCH = 128
MLP_EPOCHS_OF_FULL = 20
MLP_MAX_STEPS = 4000


def _constant(y_train, n_test: int) -> np.ndarray:
    value = int(np.bincount(y_train).argmax()) if len(y_train) else 0
    return np.full(n_test, value, dtype=np.int64)


def _logreg(X_train, y_train, X_test, n_classes, seed, n_train_full, cancel):
    """Logistic regression on features standardised on the training rows, fitted to convergence.

    Standardised as the live engine and :func:`~core.foundation.linear.standardiser` do: a column
    whose spread among the training rows is below 1e-6 keeps its scale (constant up to rounding;
    scikit-learn's ``StandardScaler`` would blow its float32 noise up to unit variance: on the
    bundled digits, whose PCA leaves 67 of 128 components at rounding noise, that cost 12 points
    at 100 training rows and made this model disagree with the live one).
    """
    from sklearn.linear_model import LogisticRegression

    X_train = np.asarray(X_train, dtype=np.float64)
    mean, scale = standardiser(X_train)
    model = LogisticRegression(max_iter=1000, C=1.0).fit((X_train - mean) / scale, y_train)
    return model.predict((np.asarray(X_test, dtype=np.float64) - mean) / scale).astype(np.int64)


def _hgb(X_train, y_train, X_test, n_classes, seed, n_train_full, cancel):
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=derive_seed(seed))
    # Small fits finish sooner on one OpenMP thread than waiting for a busy second core.
    limit = single_threaded("openmp") if len(X_train) < 20000 else contextlib.nullcontext()
    with limit:
        model.fit(X_train, y_train)
        return model.predict(X_test).astype(np.int64)


def mlp_steps(n_train_full: int) -> int:
    """Optimizer steps: compute-matched to a fixed number of epochs over the full training fold."""
    return int(min(MLP_MAX_STEPS, MLP_EPOCHS_OF_FULL * math.ceil(max(1, n_train_full) / MLP_BATCH)))


def _mlp(X_train, y_train, X_test, n_classes, seed, n_train_full, cancel):
    model = train_proxy(X_train, y_train, n_classes, hidden=MLP_HIDDEN, steps=mlp_steps(n_train_full),
                        batch_size=MLP_BATCH, seed=seed, device="cpu", cancel=cancel)
    logits = predict_logits(model, X_test, device="cpu")
    absent = np.bincount(y_train, minlength=n_classes) == 0
    logits[:, absent] = -np.inf  # predict only classes the kept rows contain
    return logits.argmax(axis=1).astype(np.int64)


MODELS = {
    "logreg": (_logreg, "logistic regression (L2, C=1) on features standardised on the kept rows "
               "(columns constant up to rounding left unscaled)",
               "fit to convergence (lbfgs, at most 1000 iterations)"),
    "hgb": (_hgb, "histogram gradient boosting (100 trees)", "fixed 100 boosting rounds"),
    "mlp": (_mlp, f"torch MLP ({MLP_HIDDEN} hidden ReLU units, Adam; the shared loop of core.foundation.mlp)",
            f"fixed steps: {MLP_EPOCHS_OF_FULL} epochs of the full training fold at batch {MLP_BATCH} "
            f"(at most {MLP_MAX_STEPS}), the same for every subset size"),
}


def fit_predict(model: str, X_train, y_train, X_test, n_classes: int, seed: int,
                n_train_full: int, cancel=None) -> np.ndarray:
    """Predicted class codes for ``X_test`` from ``model`` trained on the given rows."""
    if len(np.unique(y_train)) < 2:
        return _constant(y_train, len(X_test))
    function = MODELS[model][0]
    return function(X_train, y_train, X_test, n_classes, seed, n_train_full, cancel)
