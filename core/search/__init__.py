"""Search: strategies chosen by cross-validation (auto, smallest_within) and pruning curves. Column pruning
lives in :mod:`core.columns` and value models for rows that arrive later in :mod:`core.value`; their names
stay importable from here as aliases."""

from core.search.auto import auto_select, smallest_within
from core.columns import column_curve, columns_block, kept_columns, prune_columns, rank_columns, suggest_cut
from core.search.curves import curve_on_folds, pruning_curve
from core.value import BACKTEST_KEEPS, DECISION_COLUMN, ValueModel, cover_gaps, describe_backtest, fit_value_model
from core.value import load_value_model

__all__ = ["auto_select", "smallest_within", "curve_on_folds", "pruning_curve",
           "rank_columns", "column_curve", "kept_columns", "suggest_cut", "prune_columns", "columns_block",
           "ValueModel", "fit_value_model", "load_value_model", "cover_gaps", "BACKTEST_KEEPS", "describe_backtest",
           "DECISION_COLUMN"]
