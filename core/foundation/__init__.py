"""Foundation: errors, progress and cancellation, the disk cache, encodings and numeric primitives.

Light on purpose: importing it pulls in neither torch nor scikit-learn.
"""

from core.foundation.encoding import to_jsonable
from core.foundation.errors import (
    Advice, Cancelled, ConfigError, DataFileError, IdError, LabelError, ManifestError, WorkbenchError, WorkbenchWarning, for_app,
)
from core.foundation.folds import fold_splits, stratified_folds
from core.foundation.linear import fit_softmax_regression, softmax, softmax_regression_proba, standardiser
from core.foundation.mlp import TrainingHook, TrainState, predict_logits, train_proxy
from core.foundation.neighbors import NeighborGraph, knn_graph
from core.foundation.progress import CancelToken, ProgressFn, check_cancelled, report, scaled
from core.foundation.scratch import process_folder
from core.foundation.seeds import derive_seed, rng, seed_sequence, torch_generator
from core.foundation.threads import single_threaded

__all__ = ["WorkbenchError", "Advice", "for_app", "ConfigError", "DataFileError", "IdError", "LabelError", "ManifestError",
           "WorkbenchWarning", "Cancelled", "CancelToken", "ProgressFn", "check_cancelled", "report", "scaled", "to_jsonable",
           "stratified_folds", "fold_splits", "rng", "derive_seed", "seed_sequence", "torch_generator",
           "single_threaded", "standardiser", "softmax", "fit_softmax_regression", "softmax_regression_proba",
           "train_proxy", "predict_logits", "TrainingHook", "TrainState", "NeighborGraph", "knn_graph", "process_folder"]
