"""Selection: the strategy grammar and registry, the selection algorithms and :class:`Selection`.

Every face asks this package - never a copy of it - how to parse a strategy, which scorers it
needs, whether a keep fraction or a threshold applies, and what to call it on screen.
"""

from core.selection.ends import ccs_hard_end, default_end
from core.selection.grammar import (
    StrategySpec, budget_rule, check_budget, describe_strategy, format_strategy, list_strategies, needed_scorers,
    parse_strategy, score_names, scores_read_labels,
)
from core.selection.registry import Option, Request, StrategyKind, aliases, get_kind, register_strategy, strategy_kinds
from core.selection.quotas import MODES as QUOTA_MODES
from core.selection.recipe import Recipe, check_keep
from core.selection.subset import (Selection, as_recipe, force_positions, make_selection, select, select_recipe,
                                   select_without_search)

__all__ = [
    "Recipe", "as_recipe", "QUOTA_MODES", "Selection", "select_without_search", "select", "select_recipe",
    "make_selection", "check_keep", "force_positions",
    "StrategySpec", "parse_strategy", "format_strategy", "describe_strategy", "needed_scorers", "budget_rule",
    "check_budget", "scores_read_labels", "list_strategies", "score_names", "default_end", "ccs_hard_end",
    "StrategyKind", "Option", "Request", "register_strategy", "get_kind", "strategy_kinds", "aliases",
]
