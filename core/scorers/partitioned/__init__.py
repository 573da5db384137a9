"""The scorers' partitioned halves: each registered beside its scorer's family module.

``neighbours`` (knn_density, prototypicality, duplicate, outlier), ``confident`` (label_noise) and
``shapley`` (knn_shapley) declare their halves with :func:`register_partitioned`; the partitioned
scoring driver (:func:`core.workflows.score_partitioned`) asks :func:`partitioned_half` for each.
"""

from core.scorers.partitioned import confident, neighbours, shapley
from core.scorers.partitioned.base import PartitionedScorer, partitioned_half, partitioned_scorers, register_partitioned
from core.scorers.partitioned.state import ScoreState

__all__ = ["PartitionedScorer", "register_partitioned", "partitioned_half", "partitioned_scorers", "ScoreState",
           "confident", "neighbours", "shapley"]
