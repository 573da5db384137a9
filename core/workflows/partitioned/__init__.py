"""The partitioned engine: score, select and apply on a partitioned Parquet dataset, partition by partition.

The drivers only: each scorer's partitioned half is declared beside it (:mod:`core.scorers.partitioned`),
each strategy kind's in its own module (:mod:`core.selection.strategies`, contract in
:mod:`core.selection.partitioned`), the numeric parts sit in :mod:`core.foundation`
(:mod:`~core.foundation.order_statistics`, :mod:`~core.foundation.cluster_index`), and one manifest
writer (:func:`core.outputs.manifest.partitioned_manifest`) records the typed rule.
"""

from core.selection.partitioned import partitioned_kinds
from core.workflows.partitioned.applying import apply_partitioned, is_partitioned_manifest
from core.workflows.partitioned.engine import SerialEngine, dask_engine, open_engine
from core.workflows.partitioned.scoring import load_partitioned_sample, score_partitioned
from core.workflows.partitioned.selecting import select_partitioned

#: Names of the strategy kinds that run on partitions (those that declare a partitioned half).
PARTITIONED_KINDS = tuple(kind.name for kind in partitioned_kinds())

__all__ = ["score_partitioned", "load_partitioned_sample", "select_partitioned", "apply_partitioned",
           "is_partitioned_manifest", "SerialEngine", "dask_engine", "open_engine", "PARTITIONED_KINDS"]
