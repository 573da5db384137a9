"""The workflow layer: load -> score -> select -> estimate -> export -> apply, shared by all faces."""

from core.outputs.manifest import apply_and_export, apply_manifest
from core.data.partitions import is_partitioned
from core.workflows.partitioned import (
    PARTITIONED_KINDS, SerialEngine, apply_partitioned, dask_engine, is_partitioned_manifest, load_partitioned_sample,
    open_engine, score_partitioned, select_partitioned,
)
from core.workflows.pipeline import (
    build_manifest, estimate, estimate_warning, export, fold_scores_for, fold_scores_of, labelled_scorers,
    manifest_bytes, pruning_curve, rows_bytes, score, select,
)

__all__ = ["select", "estimate", "estimate_warning", "fold_scores_for", "fold_scores_of", "labelled_scorers",
           "pruning_curve", "build_manifest", "manifest_bytes", "rows_bytes", "export", "score",
           "apply_manifest", "apply_and_export",
           "is_partitioned", "load_partitioned_sample", "score_partitioned", "select_partitioned", "dask_engine",
           "open_engine", "SerialEngine",
           "PARTITIONED_KINDS", "apply_partitioned", "is_partitioned_manifest"]
