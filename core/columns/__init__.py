"""Column pruning: rank the table's original feature columns, draw the honest curve as the least
important go (beside all columns and random column subsets), pick a cut, and record it in the manifest."""

from core.columns.pruning import (METHODS, column_curve, column_groups, columns_block, kept_columns, prune_columns,
                                  rank_columns, suggest_cut)

__all__ = ["rank_columns", "column_curve", "kept_columns", "suggest_cut", "prune_columns", "columns_block",
           "column_groups", "METHODS"]
