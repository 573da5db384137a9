"""Training-dynamics scorers: forgetting, data maps, AUM and early-epoch EL2N.

All of them read one set of records (:class:`core.scorers.records.DynamicsRecords`) of the
shared proxy-training loop: a one-hidden-layer MLP trained for ``epochs`` epochs, ``runs`` times
with different seeds, evaluated on every training row after every epoch. Each scorer computes its
statistic per run and averages over the runs.
"""

from __future__ import annotations

import numpy as np

from core.scorers.base import Scorer, ScoreResult, register
from core.scorers.records import LOOP_DEFAULTS, DynamicsRecords


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
