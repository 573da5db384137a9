"""What every partition task of the partitioned scorers reads: settings, the shared files, global summaries.

Each task reads one partition's rows of the feature store and of the neighbour graph
(:mod:`core.scorers.partitioned.graph`), plus the per-row columns of *other* rows it needs (a
neighbour's label, k-distance or reach) from memory-mapped files in the shared scratch folder.
Global quantities come from per-partition summaries reduced on the driver by each scorer's half.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from core.data.partitions import PartitionedData, open_store
from core.scorers.oof import FoldModels


@dataclass
class ScoreState:
    """Settings and the global summaries found so far; each scorer's half fills its own fields."""

    data: PartitionedData
    scratch: str
    params: dict  # scorer name -> its parameters
    seed: int
    folds: int
    fold_models: Optional[FoldModels] = None
    prototypes: Optional[np.ndarray] = None
    spacing: float = 0.0
    reach_floor: float = 1e-12
    stack_weights: Optional[np.ndarray] = None
    class_thresholds: Optional[np.ndarray] = None
    cell_thresholds: dict = field(default_factory=dict)
    cell_ties_taken: dict = field(default_factory=dict)  # (given, true) -> rows tied at the cut taken per partition
    duplicate_rows: Optional[np.ndarray] = None  # sorted global positions of rows in a duplicate group
    duplicate_groups: Optional[np.ndarray] = None
    duplicate_flags: Optional[np.ndarray] = None

    def wants(self, name: str) -> bool:
        return name in self.params

    def rows(self, index: int) -> slice:
        part = self.data.partitions[index]
        return slice(part.start, part.stop)

    @property
    def parts(self) -> range:
        return range(len(self.data.partitions))

    def labels(self, rows: slice) -> np.ndarray:
        """Label codes of global rows ``rows``, int64."""
        _, y = open_store(self.scratch)
        return np.asarray(y[rows], dtype=np.int64)


def column(state: ScoreState, name: str, mode: str = "r"):
    """A per-row file of the scratch folder, memory-mapped."""
    return np.load(Path(state.scratch) / name, mmap_mode=mode)


def write_rows(state: ScoreState, name: str, rows: slice, values: np.ndarray) -> None:
    """Write a partition's slice of a per-row scratch file."""
    target = column(state, name, "r+")
    target[rows] = values
    target.flush()
