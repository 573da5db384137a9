"""Search: strategies chosen by cross-validation (auto, smallest_within), pruning curves and value models
for rows that arrive later (with their backtest). Column pruning lives in :mod:`core.columns`; its names
stay importable from here as aliases."""

from core.search.auto import auto_select, smallest_within
from core.columns import column_curve, columns_block, kept_columns, prune_columns, rank_columns, suggest_cut
from core.search.curves import pruning_curve
from core.search.value_backtest import KEEPS as BACKTEST_KEEPS
from core.search.value_backtest import describe_entry as describe_backtest
from core.search.value_model import DECISION_COLUMN, ValueModel, cover_gaps, fit_value_model, load_value_model

__all__ = ["auto_select", "smallest_within", "pruning_curve",
           "rank_columns", "column_curve", "kept_columns", "suggest_cut", "prune_columns", "columns_block",
           "ValueModel", "fit_value_model", "load_value_model", "cover_gaps", "BACKTEST_KEEPS", "describe_backtest",
           "DECISION_COLUMN"]
