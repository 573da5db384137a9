"""Training-dynamics scorers: forgetting, data maps, AUM and early-epoch EL2N.

All of them read one set of records from the shared proxy-training loop
(:func:`core.scorers.training.train_proxy`): a one-hidden-layer MLP trained for ``epochs`` epochs,
``runs`` times with different seeds. After every epoch the loop evaluates every training row (as
data maps do) and :class:`DynamicsRecorder` keeps, per row and epoch, the probability of the
given label, whether the prediction is correct and the logit margin. Each scorer computes its
statistic per run and averages over the runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.foundation.progress import CancelToken, ProgressFn, scaled
from core.scorers.base import Scorer, ScoreResult, register
from core.foundation.mlp import TrainingHook, TrainState, train_proxy

#: Settings of the shared loop; every dynamics scorer accepts them and shares records when equal.
LOOP_DEFAULTS = {"epochs": 10, "runs": 3, "hidden": 128, "batch_size": 256, "learning_rate": 1e-3}


@dataclass
class DynamicsRecords:
    """Per-run, per-epoch records of every row.

    Attributes
    ----------
    true_probability : ndarray of shape (runs, n_samples, epochs), float32
        Softmax probability of the given label after each epoch.
    correct : ndarray of shape (runs, n_samples, epochs), bool
        Whether the arg-max prediction equals the given label after each epoch.
    margin : ndarray of shape (runs, n_samples, epochs), float32
        Logit of the given label minus the largest other logit (Pleiss et al. 2020).
    decoy_margin : ndarray of shape (runs, n_samples), float32
        Epoch-averaged margin the row would have with a random wrong label (for AUM's flags).
    early_el2n : ndarray of shape (runs, n_samples), float32
        ``||softmax - onehot(y)||_2`` after epoch ``early_epoch``.
    early_epoch : int
        One-based epoch of ``early_el2n``.
    """

    true_probability: np.ndarray
    correct: np.ndarray
    margin: np.ndarray
    decoy_margin: np.ndarray
    early_el2n: np.ndarray
    early_epoch: int


class DynamicsRecorder(TrainingHook):
    """Records what the dynamics scorers need after every epoch of one run."""

    def __init__(self, y: np.ndarray, n_classes: int, epochs: int, early_epoch: int, seed: int):
        n_samples = len(y)
        self.y = y
        self.rows = np.arange(n_samples)
        self.early_epoch = early_epoch
        self.true_probability = np.zeros((n_samples, epochs), np.float32)
        self.correct = np.zeros((n_samples, epochs), bool)
        self.margin = np.zeros((n_samples, epochs), np.float32)
        self.decoy_margin = np.zeros(n_samples, np.float32)
        self.early_el2n = np.zeros(n_samples, np.float32)
        # A random wrong label per row, fixed for the run: the margins it gets mimic those of
        # Pleiss et al.'s deliberately mislabeled "threshold samples" without a second training run.
        rng = np.random.default_rng(seed)
        self.decoy = (y + rng.integers(1, max(n_classes, 2), size=n_samples)) % max(n_classes, 2)

    def after_epoch(self, state: TrainState) -> None:
        logits = state.logits.astype(np.float64)
        epoch = state.epoch
        shifted = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        self.true_probability[:, epoch] = probabilities[self.rows, self.y]
        self.correct[:, epoch] = probabilities.argmax(axis=1) == self.y
        self.margin[:, epoch] = _logit_margin(logits, self.y)
        self.decoy_margin += _logit_margin(logits, self.decoy) / state.n_epochs
        if epoch + 1 == self.early_epoch:
            probabilities[self.rows, self.y] -= 1.0
            self.early_el2n[:] = np.linalg.norm(probabilities, axis=1)


def _logit_margin(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
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
        run_seed = int(np.random.SeedSequence([int(seed), run]).generate_state(1)[0])
        recorder = DynamicsRecorder(y, n_classes, epochs, early_epoch, run_seed)
        train_proxy(X, y, n_classes, hidden=hidden, epochs=epochs, batch_size=batch_size,
                    learning_rate=learning_rate, seed=run_seed, device=device, hooks=[recorder],
                    progress=scaled(progress, run / runs, (run + 1) / runs), cancel=cancel)
        recorders.append(recorder)
    return DynamicsRecords(
        true_probability=np.stack([r.true_probability for r in recorders]),
        correct=np.stack([r.correct for r in recorders]),
        margin=np.stack([r.margin for r in recorders]),
        decoy_margin=np.stack([r.decoy_margin for r in recorders]),
        early_el2n=np.stack([r.early_el2n for r in recorders]),
        early_epoch=early_epoch,
    )


class _DynamicsScorer(Scorer):
    family = "dynamics"
    cost = "slow"
    defaults = dict(LOOP_DEFAULTS)

    def needs(self) -> dict:
        return {"dynamics": True}

    def records(self, context) -> DynamicsRecords:
        return context.dynamics({key: getattr(self, key) for key in LOOP_DEFAULTS})


def forgetting_counts(correct: np.ndarray) -> np.ndarray:
    """Toneva et al. (2019) forgetting events per row.

    Parameters
    ----------
    correct : ndarray of shape (n_samples, epochs), bool

    Returns
    -------
    ndarray of shape (n_samples,)
        Number of correct-to-incorrect transitions between consecutive epochs; rows never
        classified correctly count as ``epochs`` (they are "forgotten" at every step).
    """
    events = (correct[:, :-1] & ~correct[:, 1:]).sum(axis=1).astype(np.float64)
    never_learned = ~correct.any(axis=1)
    events[never_learned] = correct.shape[1]
    return events


@register
class Forgetting(_DynamicsScorer):
    name = "forgetting"
    description = "How often the proxy forgets a row it had learned (never-learned rows count as every epoch)."
    higher_means = "harder to learn and remember"
    keep = "high"
    hard = "high"
    needs_labels = True

    def _compute(self, ds, context) -> ScoreResult:
        records = self.records(context)
        return ScoreResult(np.mean([forgetting_counts(run) for run in records.correct], axis=0))


@register
class DatamapConfidence(_DynamicsScorer):
    name = "datamap_confidence"
    description = "Mean probability of the given label over training epochs (data maps)."
    higher_means = "easier to learn; low values collect mislabeled rows"
    keep = "high"
    hard = "low"
    needs_labels = True

    def _compute(self, ds, context) -> ScoreResult:
        records = self.records(context)
        return ScoreResult(records.true_probability.mean(axis=2, dtype=np.float64).mean(axis=0))


@register
class DatamapVariability(_DynamicsScorer):
    name = "datamap_variability"
    description = "Spread (std) of the given label's probability over training epochs (data maps)."
    higher_means = "more ambiguous to the model"
    keep = "high"
    hard = "high"
    needs_labels = True

    def _compute(self, ds, context) -> ScoreResult:
        records = self.records(context)
        return ScoreResult(records.true_probability.std(axis=2, dtype=np.float64).mean(axis=0))


@register
class AreaUnderMargin(_DynamicsScorer):
    """Area under the margin (Pleiss et al. 2020), averaged over epochs and runs.

    Flags: Pleiss et al. flag rows whose AUM falls below the 99th percentile of AUMs of
    deliberately mislabeled "threshold samples", which costs a second training run. Here each row
    also gets a random wrong "decoy" label whose epoch-averaged margin is recorded in the same run
    (no retraining); rows whose AUM is below the ``flag_percentile`` of the decoy margins are
    flagged. Without memorisation of the decoys this threshold is slightly optimistic; the
    default 90th percentile compensates.
    """

    name = "aum"
    description = "Area under the margin: mean logit margin of the given label over training (AUM)."
    higher_means = "more consistently learned as labelled; low values are likely mislabeled"
    keep = "high"
    hard = "low"
    needs_labels = True
    flags = True
    defaults = {**LOOP_DEFAULTS, "flag_percentile": 90.0}

    def _compute(self, ds, context) -> ScoreResult:
        records = self.records(context)
        aum = records.margin.mean(axis=2, dtype=np.float64).mean(axis=0)
        threshold = np.percentile(records.decoy_margin.mean(axis=0), self.flag_percentile)
        return ScoreResult(aum, flags=aum < threshold)


@register
class EarlyEL2N(_DynamicsScorer):
    name = "el2n_early"
    description = "EL2N after an early epoch (about 20% of training) of the proxy loop, averaged over runs."
    higher_means = "harder (larger early error)"
    keep = "high"
    hard = "high"
    needs_labels = True

    def _compute(self, ds, context) -> ScoreResult:
        return ScoreResult(self.records(context).early_el2n.mean(axis=0, dtype=np.float64))
