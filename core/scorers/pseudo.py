"""The label-free path: difficulty scores against k-means pseudo labels (ELFS, Zheng et al. 2025).

When the given labels are doubtful or missing, a difficulty score computed against them says
more about the labels than about the rows. ELFS replaces them with cluster assignments: cluster
the features, treat each cluster as a class, and compute the usual training-dynamics or
out-of-fold difficulty against those pseudo labels. The scores below do that with k-means on the
feature matrix (the paper clusters self-supervised embeddings with a deep-clustering method; for
text and images our features already are embeddings). No given label is read, so the scores need
none and need no refitting inside cross-validation.

ELFS pairs the scores with *double-end pruning* (drop the hardest fraction first, then keep the
hardest of the rest), which is the ``band:<score>`` strategy; ``ccs:<score>`` also applies.
"""

from __future__ import annotations

import hashlib

import numpy as np

from core.data.dataset import Dataset
from core.scorers.base import Scorer, ScoreResult, get_scorer, register
from core.scorers.context import ScoringContext
from core.scorers.geometry import fit_kmeans
from core.scorers.records import LOOP_DEFAULTS

#: Clusters when the data has fewer than two classes and ``clusters=0``.
UNLABELLED_CLUSTERS = 10


def pseudo_cluster_count(ds: Dataset, clusters: int) -> int:
    """``clusters``, or for 0 one per class (``UNLABELLED_CLUSTERS`` without two classes), at most n/2."""
    wanted = int(clusters) or (ds.n_classes if ds.n_classes >= 2 else UNLABELLED_CLUSTERS)
    return int(max(2, min(wanted, ds.n_samples // 2)))


def pseudo_labelled(ds: Dataset, clusters: int, seed: int) -> Dataset:
    """``ds`` with its labels replaced by k-means cluster ids (classes ``0 .. clusters - 1``).

    The fingerprint derives from the original's, the cluster count and the seed, so cached work
    on the pseudo-labelled data never collides with work on the real labels.
    """
    fitted = fit_kmeans(ds.X.astype(np.float64), clusters, seed)
    labels = fitted.labels_.astype(np.int64)
    digest = hashlib.sha256(f"{ds.fingerprint}|kmeans-pseudo-labels|{clusters}|{int(seed)}".encode())
    return Dataset(frame=ds.frame, ids=ds.ids, y=labels, classes=np.arange(clusters), X=ds.X,
                   feature_names=list(ds.feature_names), label_column=ds.label_column,
                   id_column=ds.id_column, kind=ds.kind, fingerprint=digest.hexdigest(),
                   warnings=list(ds.warnings), settings=dict(ds.settings), source=ds.source,
                   images=ds.images, text_column=ds.text_column)


class _PseudoLabelScorer(Scorer):
    """Runs the scorer named ``inner`` on the pseudo-labelled data; flags are dropped."""

    inner = ""
    needs_labels = False
    flags = False

    def _inner_params(self) -> dict:
        return {}

    def needs(self) -> dict:
        return {}  # the shared work is the pseudo-labelled data's, made in its own context

    def inner_scorer(self) -> Scorer:
        """The scorer run on the pseudo-labelled data, configured as this scorer runs it."""
        return get_scorer(self.inner)(**self._inner_params())

    def _compute(self, ds, context) -> ScoreResult:
        clusters = pseudo_cluster_count(ds, self.clusters)
        pseudo = pseudo_labelled(ds, clusters, context.seed)
        inner_context = ScoringContext(pseudo, seed=context.seed, folds=context.folds, model=context.model,
                                       device=context.device, cache=context.cache,
                                       progress=context.progress, cancel=context.cancel)
        scorer = self.inner_scorer()
        inner_context.plan([scorer])
        return ScoreResult(scorer.compute(pseudo, inner_context).scores)


@register
class PseudoEL2N(_PseudoLabelScorer):
    name = "pseudo_el2n"
    inner = "el2n"
    family = "model"
    description = ("Label-free difficulty (ELFS-style): out-of-fold EL2N against k-means cluster ids used as "
                   "pseudo labels; never reads the given labels.")
    higher_means = "harder (far from its cluster's decision region)"
    keep = "high"
    hard = "high"
    cost = "medium"
    defaults = {"clusters": 0}


@register
class PseudoAUM(_PseudoLabelScorer):
    name = "pseudo_aum"
    inner = "aum"
    family = "dynamics"
    description = ("Label-free difficulty (ELFS, Zheng et al. 2025): area under the margin of the proxy trained on "
                   "k-means cluster ids as pseudo labels; never reads the given labels.")
    higher_means = "easier (consistently learned as its cluster); low = ambiguous between clusters"
    keep = "high"
    hard = "low"
    cost = "slow"
    defaults = {"clusters": 0, **LOOP_DEFAULTS}

    def _inner_params(self) -> dict:
        # Only the ranking is used: no threshold-sample runs for flags that would be dropped.
        return {**{key: getattr(self, key) for key in LOOP_DEFAULTS}, "threshold_runs": 0}
