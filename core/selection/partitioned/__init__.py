"""The strategy kinds' partitioned halves: the contract each kind declares (:class:`PartitionedRule`,
a typed :class:`Rule`) and what the halves share (:mod:`core.selection.partitioned.rules`).

Each half lives in its kind's own module under :mod:`core.selection.strategies`, next to ``run``;
the partitioned engine (:func:`core.workflows.select_partitioned`) dispatches through
:func:`partitioned_kinds` and the kind's ``partitioned`` attribute, never through a list of names.
"""

from core.selection.partitioned.base import (
    PartitionedRule, Partitions, Rule, half_of, memory_only_kinds, partitioned_kinds, rule_from_dict,
)

__all__ = ["PartitionedRule", "Partitions", "Rule", "half_of", "memory_only_kinds", "partitioned_kinds",
           "rule_from_dict"]
