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

from core.evaluation.ridge import single_threaded_blas
from core.foundation.progress import check_cancelled

MLP_HIDDEN = 128
MLP_BATCH = 128
MLP_EPOCHS_OF_FULL = 20
MLP_MAX_STEPS = 4000


def _constant(y_train, n_test: int) -> np.ndarray:
    value = int(np.bincount(y_train).argmax()) if len(y_train) else 0
    return np.full(n_test, value, dtype=np.int64)


def _logreg(X_train, y_train, X_test, n_classes, seed, n_train_full, cancel):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0))
    model.fit(X_train, y_train)
    return model.predict(X_test).astype(np.int64)


def _hgb(X_train, y_train, X_test, n_classes, seed, n_train_full, cancel):
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=seed)
    # Small fits finish sooner on one OpenMP thread than waiting for a busy second core.
    limit = single_threaded_blas("openmp") if len(X_train) < 20000 else contextlib.nullcontext()
    with limit:
        model.fit(X_train, y_train)
        return model.predict(X_test).astype(np.int64)


def mlp_steps(n_train_full: int) -> int:
    """Optimizer steps: compute-matched to a fixed number of epochs over the full training fold."""
    return int(min(MLP_MAX_STEPS, MLP_EPOCHS_OF_FULL * math.ceil(max(1, n_train_full) / MLP_BATCH)))


def _mlp(X_train, y_train, X_test, n_classes, seed, n_train_full, cancel):
    import torch

    generator = torch.Generator().manual_seed(int(seed))
    mean = X_train.mean(axis=0)
    scale = X_train.std(axis=0)
    scale[scale < 1e-6] = 1.0
    x = torch.from_numpy(((X_train - mean) / scale).astype(np.float32))
    t = torch.from_numpy(y_train.astype(np.int64))
    d = x.shape[1]

    def linear(n_in, n_out):
        layer = torch.nn.Linear(n_in, n_out)
        bound = 1.0 / math.sqrt(n_in)  # PyTorch's default init, drawn from our own generator
        with torch.no_grad():
            layer.weight.copy_((torch.rand(layer.weight.shape, generator=generator) * 2 - 1) * bound)
            layer.bias.copy_((torch.rand(layer.bias.shape, generator=generator) * 2 - 1) * bound)
        return layer

    model = torch.nn.Sequential(linear(d, MLP_HIDDEN), torch.nn.ReLU(), linear(MLP_HIDDEN, n_classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    absent = torch.ones(n_classes, dtype=torch.bool)
    absent[torch.unique(t)] = False
    for step in range(mlp_steps(n_train_full)):
        if step % 200 == 0:
            check_cancelled(cancel)
        batch = torch.randint(0, len(x), (min(MLP_BATCH, len(x)),), generator=generator)
        logits = model(x[batch]).masked_fill(absent, -1e9)
        loss = torch.nn.functional.cross_entropy(logits, t[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        test = torch.from_numpy(((X_test - mean) / scale).astype(np.float32))
        logits = model(test).masked_fill(absent, -1e9)
    return logits.argmax(dim=1).numpy().astype(np.int64)


MODELS = {
    "logreg": (_logreg, "logistic regression (L2, C=1) on standardised features",
               "fit to convergence (lbfgs, at most 1000 iterations)"),
    "hgb": (_hgb, "histogram gradient boosting (100 trees)", "fixed 100 boosting rounds"),
    "mlp": (_mlp, f"torch MLP ({MLP_HIDDEN} hidden ReLU units, Adam)",
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
