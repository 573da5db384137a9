"""Training records of the shared proxy-training loop, read by the dynamics scorers.

:func:`record_dynamics` runs :func:`core.foundation.mlp.train_proxy` ``runs`` times with
different seeds. After every epoch the loop evaluates every training row (as data maps do) and
:class:`DynamicsRecorder` keeps, per row and epoch, the probability of the given label, whether
the prediction is correct and the logit margin; after every minibatch it keeps whether each row
presented was classified correctly (forgetting counts per presentation). :class:`core.scorers.context.ScoringContext`
computes the records once per call (and caches them on disk); the scorer classes in
:mod:`core.scorers.dynamics` only reduce them.

This module sits below both the scorer classes and the context, so neither needs a deferred
import of the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.foundation.mlp import TrainingHook, TrainState, train_proxy
from core.foundation.progress import CancelToken, ProgressFn, scaled
from core.foundation.seeds import derive_seed

#: Settings of the shared loop; every dynamics scorer accepts them and shares records when equal.
LOOP_DEFAULTS = {"epochs": 10, "runs": 3, "hidden": 128, "batch_size": 256, "learning_rate": 1e-3}


def training_units(runs: int, epochs: int, n_rows: int, hidden: int, n_features: int, n_classes: int) -> float:
    """Work of ``runs`` trainings of the proxy MLP, ``runs * epochs * n * hidden * (d + C)`` (the unit of
    the scoring-time estimate's ``mlp`` coefficient, :mod:`core.scorers.cost`)."""
    return float(runs * epochs * n_rows * max(hidden, 1) * (n_features + n_classes))


@dataclass
class DynamicsRecords:
    """Per-run, per-epoch records of every row.

    Attributes
    ----------
    true_probability : ndarray of shape (runs, n_samples, epochs), float32
        Softmax probability of the given label after each epoch.
    correct : ndarray of shape (runs, n_samples, epochs), bool
        Whether the arg-max prediction equals the given label after each epoch.
    presented_correct : ndarray of shape (runs, n_samples, epochs), bool
        Whether the row was classified correctly *when presented* in its minibatch of each epoch
        (the forward pass before that minibatch's update), as Toneva et al. (2019) count.
    margin : ndarray of shape (runs, n_samples, epochs), float32
        Logit of the given label minus the largest other logit (Pleiss et al. 2020).
    early_el2n : ndarray of shape (runs, n_samples), float32
        ``||softmax - onehot(y)||_2`` after epoch ``early_epoch``.
    early_epoch : int
        One-based epoch of ``early_el2n``.
    """

    true_probability: np.ndarray
    correct: np.ndarray
    presented_correct: np.ndarray
    margin: np.ndarray
    early_el2n: np.ndarray
    early_epoch: int


class DynamicsRecorder(TrainingHook):
    """Records what the dynamics scorers need after every minibatch and epoch of one run."""

    wants_batches = True

    def __init__(self, y: np.ndarray, epochs: int, early_epoch: int):
        n_samples = len(y)
        self.y = y
        self.rows = np.arange(n_samples)
        self.early_epoch = early_epoch
        self.true_probability = np.zeros((n_samples, epochs), np.float32)
        self.correct = np.zeros((n_samples, epochs), bool)
        self.presented_correct = np.zeros((n_samples, epochs), bool)
        self.margin = np.zeros((n_samples, epochs), np.float32)
        self.early_el2n = np.zeros(n_samples, np.float32)

    def after_batch(self, state: TrainState) -> None:
        rows = state.batch_rows
        self.presented_correct[rows, state.epoch] = state.batch_logits.argmax(axis=1) == self.y[rows]

    def after_epoch(self, state: TrainState) -> None:
        logits = state.logits.astype(np.float64)
        epoch = state.epoch
        shifted = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        self.true_probability[:, epoch] = probabilities[self.rows, self.y]
        self.correct[:, epoch] = probabilities.argmax(axis=1) == self.y
        self.margin[:, epoch] = logit_margin(logits, self.y)
        if epoch + 1 == self.early_epoch:
            probabilities[self.rows, self.y] -= 1.0
            self.early_el2n[:] = np.linalg.norm(probabilities, axis=1)


def logit_margin(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Logit of ``labels`` minus the largest other logit per row (Pleiss et al. 2020's margin)."""
    rows = np.arange(len(labels))
    assigned = logits[rows, labels]
    others = logits.copy()
    others[rows, labels] = -np.inf
    return assigned - others.max(axis=1)


def record_dynamics(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    epochs: int = 10,
    runs: int = 3,
    hidden: int = 128,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    seed: int = 0,
    device: Optional[str] = None,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
) -> DynamicsRecords:
    """Run the shared proxy-training loop ``runs`` times and return the records of every run."""
    early_epoch = max(1, int(round(0.2 * epochs)))
    recorders = []
    for run in range(runs):
        run_seed = derive_seed(seed, run)
        recorder = DynamicsRecorder(y, epochs, early_epoch)
        train_proxy(X, y, n_classes, hidden=hidden, epochs=epochs, batch_size=batch_size,
                    learning_rate=learning_rate, seed=run_seed, device=device, hooks=[recorder],
                    progress=scaled(progress, run / runs, (run + 1) / runs), cancel=cancel)
        recorders.append(recorder)
    return DynamicsRecords(
        true_probability=np.stack([r.true_probability for r in recorders]),
        correct=np.stack([r.correct for r in recorders]),
        presented_correct=np.stack([r.presented_correct for r in recorders]),
        margin=np.stack([r.margin for r in recorders]),
        early_el2n=np.stack([r.early_el2n for r in recorders]),
        early_epoch=early_epoch,
    )
