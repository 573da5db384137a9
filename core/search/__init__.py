"""Search: strategies chosen by cross-validation (auto, smallest_within) and pruning curves."""

from core.search.auto import auto_select, smallest_within
from core.search.curves import pruning_curve

__all__ = ["auto_select", "smallest_within", "pruning_curve"]
