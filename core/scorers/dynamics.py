"""Training-dynamics scorers: forgetting, data maps, AUM and early-epoch EL2N.

All of them read one set of records (:class:`core.scorers.records.DynamicsRecords`) of the
shared proxy-training loop: a one-hidden-layer MLP trained for ``epochs`` epochs, ``runs`` times
with different seeds, evaluated on every training row after every epoch. Each scorer computes its
statistic per run and averages over the runs.
"""

from __future__ import annotations

import warnings

import numpy as np

from core.foundation.errors import WorkbenchWarning
from core.foundation.mlp import TrainingHook, TrainState, train_proxy
from core.foundation.progress import scaled
from core.foundation.seeds import derive_seed, rng
from core.scorers.base import Scorer, ScoreResult, register
from core.scorers.records import LOOP_DEFAULTS, DynamicsRecords, logit_margin, training_units


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
    correct : ndarray of shape (n_samples, presentations), bool
        Whether the row was classified correctly each time it was presented, in order.

    Returns
    -------
    ndarray of shape (n_samples,)
        Number of correct-to-incorrect transitions between consecutive presentations; rows never
        classified correctly count as ``presentations`` (the paper counts them as forgotten
        infinitely often: they rank above every row that was learned at some point).
    """
    events = (correct[:, :-1] & ~correct[:, 1:]).sum(axis=1).astype(np.float64)
    never_learned = ~correct.any(axis=1)
    events[never_learned] = correct.shape[1]
    return events


def presentations_until_learned(correct: np.ndarray) -> np.ndarray:
    """Presentations before the row is classified correctly for good, per row.

    Parameters
    ----------
    correct : ndarray of shape (n_samples, presentations), bool

    Returns
    -------
    ndarray of shape (n_samples,)
        0 for rows right at every presentation, ``presentations`` for rows wrong at the last one.
    """
    wrong = ~correct
    presentations = correct.shape[1]
    return np.where(wrong.any(axis=1), presentations - np.argmax(wrong[:, ::-1], axis=1), 0).astype(np.float64)


def forgetting_scores(presented_correct: np.ndarray) -> np.ndarray:
    """Mean forgetting events over runs, ties broken by how late rows were learned for good.

    Most rows are never forgotten in a short proxy run (80-88 % of the bundled samples tie at 0
    events), so a row's forgetting count alone ranks little. Within equal counts, a row learned
    for good later is harder (the "learning speed" view of Toneva et al.'s first-learning
    events); that is added as a fraction below one event of one run, so the order of different
    counts never changes and ``floor(score * runs) / runs`` is the paper's mean count.

    Parameters
    ----------
    presented_correct : ndarray of shape (runs, n_samples, presentations), bool

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    runs, _, presentations = presented_correct.shape
    events = np.mean([forgetting_counts(run) for run in presented_correct], axis=0)
    lateness = np.mean([presentations_until_learned(run) for run in presented_correct], axis=0) / presentations
    return events + 0.999 * lateness / runs


@register
class Forgetting(_DynamicsScorer):
    name = "forgetting"
    description = ("Forgetting events (Toneva et al. 2019): correct-to-wrong flips between consecutive minibatch "
                   "presentations, mean over runs (never learned = every presentation); ties broken by how late "
                   "the row was learned for good.")
    higher_means = "harder to learn and remember"
    keep = "high"
    hard = "high"
    needs_labels = True

    def _compute(self, ds, context) -> ScoreResult:
        records = self.records(context)
        return ScoreResult(forgetting_scores(records.presented_correct))


@register
class DatamapConfidence(_DynamicsScorer):
    name = "datamap_confidence"
    description = ("Data maps (Swayamdipta et al. 2020) confidence: mean probability of the given label over epochs. "
                   "Low = hard-to-learn region (collects mislabeled rows); keeping the high end keeps easy-to-learn rows.")
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
    description = ("Data maps (Swayamdipta et al. 2020) variability: std of the given label's probability over epochs. "
                   "Keeping the high end keeps the ambiguous region the paper trains on.")
    higher_means = "more ambiguous to the model"
    keep = "high"
    hard = "high"
    needs_labels = True

    def _compute(self, ds, context) -> ScoreResult:
        records = self.records(context)
        return ScoreResult(records.true_probability.std(axis=2, dtype=np.float64).mean(axis=0))


class _MarginAccumulator(TrainingHook):
    """Epoch-averaged logit margin of the assigned labels (the AUM of one run)."""

    def __init__(self, labels: np.ndarray):
        self.labels = labels
        self.aum = np.zeros(len(labels))

    def after_epoch(self, state: TrainState) -> None:
        self.aum += logit_margin(state.logits.astype(np.float64), self.labels) / state.n_epochs


def threshold_sample_cut(X: np.ndarray, y: np.ndarray, n_classes: int, *, runs: int = 2,
                         percentile: float = 99.0, seed: int = 0, progress=None, cancel=None,
                         **loop) -> float:
    """The AUM a deliberately mislabeled row reaches: Pleiss et al.'s threshold-sample cut-off.

    In each run a fresh ``N / (C + 1)`` rows (disjoint from the other runs' where there is room)
    are relabelled to an extra fake class - the *threshold samples*, mislabeled by construction -
    and the proxy is trained on ``C + 1`` classes. The cut-off is the ``percentile`` of the
    threshold samples' AUMs, averaged over the runs.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    loop : the proxy-loop settings (``epochs``, ``hidden``, ``batch_size``, ``learning_rate``, ``device``)

    Returns
    -------
    float
    """
    n_samples = len(y)
    per_run = n_samples // (n_classes + 1)
    order = rng(seed, "threshold-samples").permutation(n_samples)
    cuts = []
    for run in range(runs):
        start = (run * per_run) % max(n_samples - per_run + 1, 1)
        chosen = order[start:start + per_run]
        labels = y.copy()
        labels[chosen] = n_classes
        accumulator = _MarginAccumulator(labels)
        train_proxy(X, labels, n_classes + 1, seed=derive_seed(seed, "threshold", run), hooks=[accumulator],
                    progress=scaled(progress, run / runs, (run + 1) / runs), cancel=cancel, **loop)
        cuts.append(np.percentile(accumulator.aum[chosen], percentile))
    return float(np.mean(cuts))


@register
class AreaUnderMargin(_DynamicsScorer):
    """Area under the margin (Pleiss et al. 2020), averaged over epochs and runs.

    The score is the epoch-averaged logit margin of the given label from the shared proxy loop.
    Flags use the paper's threshold samples: ``threshold_runs`` extra trainings, each with
    ``N / (C + 1)`` rows moved to a fake extra class, give the AUM a deliberately mislabeled row
    reaches (:func:`threshold_sample_cut`, its ``flag_percentile``); rows whose AUM is at or
    below it are flagged. One deviation, measured: the paper compares rows within the
    threshold run, but a short proxy run cannot memorise the fake class, which then takes about
    ``1 / (C + 1)`` of the probability everywhere and pulls every real row's margin towards 0
    (35 % of a clean, well-separated binary set fell below the cut that way); rows are therefore
    compared by their AUM from the shared runs, the score shown.

    Two classes: nothing is flagged and a warning says why. With a fake class as large as a real
    one, threshold samples between the two classes reach positive margins, and the cut still
    flagged 6-12 % of clean binary sets whose Bayes error is 2-7 %. Rank by the score instead,
    or use ``label_noise``'s flags. Nothing is flagged either with fewer than
    ``MIN_THRESHOLD_SAMPLES`` threshold samples per run.
    """

    name = "aum"
    description = ("Area under the margin (Pleiss et al. 2020): mean logit margin of the given label over training; "
                   "flags rows at or below threshold samples' AUM (3+ classes only).")
    higher_means = "more consistently learned as labelled; low values are likely mislabeled"
    keep = "high"
    hard = "low"
    needs_labels = True
    flags = True
    defaults = {**LOOP_DEFAULTS, "flag_percentile": 99.0, "threshold_runs": 2}
    MIN_THRESHOLD_SAMPLES = 20

    def own_shared_work(self, n_rows, n_features, n_classes) -> list:
        """The threshold runs (3+ classes), each with a fake extra class."""
        if not self.threshold_runs or n_classes < 3:
            return []
        units = training_units(int(self.threshold_runs), int(self.epochs), n_rows, int(self.hidden), n_features,
                               n_classes + 1)
        return [("aum threshold", "aum threshold runs", "mlp", {"units": units})]

    def _compute(self, ds, context) -> ScoreResult:
        records = self.records(context)
        aum = records.margin.mean(axis=2, dtype=np.float64).mean(axis=0)
        if not self.threshold_runs:  # flags turned off on purpose (e.g. by pseudo_aum)
            return ScoreResult(aum, flags=np.zeros(ds.n_samples, bool))
        reason = self._cannot_flag(ds)
        if reason:
            warnings.warn(WorkbenchWarning(f"aum flags nothing: {reason}"), stacklevel=3)
            return ScoreResult(aum, flags=np.zeros(ds.n_samples, bool))
        loop = {key: getattr(self, key) for key in LOOP_DEFAULTS if key != "runs"}
        cut = threshold_sample_cut(ds.X, ds.y, ds.n_classes, runs=int(self.threshold_runs),
                                   percentile=float(self.flag_percentile), seed=context.seed, device=context.device,
                                   progress=context.progress, cancel=context.cancel, **loop)
        return ScoreResult(aum, flags=aum <= cut)

    def _cannot_flag(self, ds) -> str:
        if ds.n_classes < 3:
            return ("with two classes, threshold samples cannot tell mislabeled rows from rows near the class "
                    "boundary for a proxy this small; rank by the aum score or use label_noise's flags.")
        if ds.n_samples // (ds.n_classes + 1) < self.MIN_THRESHOLD_SAMPLES:
            return (f"{ds.n_samples} rows in {ds.n_classes} classes give fewer than {self.MIN_THRESHOLD_SAMPLES} "
                    "threshold samples per run; rank by the aum score instead.")
        return ""


@register
class EarlyEL2N(_DynamicsScorer):
    name = "el2n_early"
    description = ("EL2N as Paul et al. 2021 define it: error-vector norm early in training (after ~20% of the "
                   "proxy loop's epochs), mean over runs.")
    higher_means = "harder (larger early error)"
    keep = "high"
    hard = "high"
    needs_labels = True

    def _compute(self, ds, context) -> ScoreResult:
        return ScoreResult(self.records(context).early_el2n.mean(axis=0, dtype=np.float64))
