"""``auto``: the strategy chosen by cross-validation. Declared here; :mod:`core.search` runs the search."""

from __future__ import annotations

from core.selection.registry import StrategyKind, register_strategy

register_strategy(StrategyKind(
    name="auto", title="Auto (chosen by cross-validation)", order=90, syntax="auto", target="none", budget="keep",
    help="Try the candidate strategies on the training folds and keep the best; random unless beaten beyond "
         "the spread.",
    run=None,
))
