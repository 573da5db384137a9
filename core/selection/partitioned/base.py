"""The partitioned half of a strategy kind: a typed rule, how it is planned, and each partition's mask.

A strategy kind declares its partitioned half next to its in-memory ``run``, in its own module::

    register_strategy(StrategyKind(..., run=_run, partitioned=PartitionedRule(rule=TopRule, plan=_plan,
                                                                              mask=_mask, how="exact")))

``plan(where, recipe, engine) -> rule`` fixes the *rule* from per-partition summaries (a cut, how
many rows tied at it each partition takes, CCS's bins...): a frozen dataclass per kind whose
:meth:`Rule.to_dict` is the manifest's ``rule`` block and whose :meth:`Rule.from_dict` reads it back
(also the rule dicts written before rules were typed: same keys). ``mask(index, where, rule)`` is the
kept mask of partition ``index``: select and apply call the same function, so the same rule keeps the
same rows. ``where`` (:class:`Partitions`) is where it runs: the data, one scores file per partition,
the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar

from core.data.partitions import PartitionedData
from core.foundation.errors import ManifestError
from core.selection.registry import get_kind, strategy_kinds


@dataclass(frozen=True)
class Partitions:
    """Where a rule runs: the partitioned data, the scores file of each partition, the seed."""

    data: PartitionedData
    scores: tuple
    seed: int = 0

    @property
    def count(self) -> int:
        return len(self.data.partitions)

    @property
    def parts(self) -> range:
        return range(len(self.data.partitions))


def _frozen(value):
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(item) for item in value)
    return value


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class Rule:
    """Base of the typed rules: ``kind`` names the strategy kind; fields are JSON numbers, text and tuples."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict:
        """The manifest's ``rule`` block: ``kind`` and every field that is set (tuples as lists)."""
        values = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        return {"kind": self.kind, **{key: value for key, value in values.items() if value is not None}}

    @classmethod
    def from_dict(cls, block: dict) -> "Rule":
        """The rule of a manifest's ``rule`` block; keys the rule does not know are ignored."""
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{key: _frozen(value) for key, value in block.items() if key in known})
        except TypeError as err:
            raise ManifestError(f"The manifest's {block.get('kind')!r} rule is incomplete ({err}); select again "
                                "with `workbench select` to get a manifest apply can re-run.") from None


@dataclass(frozen=True)
class PartitionedRule:
    """The partitioned half of a strategy kind (see the module docstring).

    Attributes
    ----------
    rule : type of :class:`Rule`
    plan : callable ``(where, recipe, engine) -> Rule``
    mask : callable ``(index, where, rule) -> ndarray of bool``
    how : str
        What agrees with the in-memory kind (counts, cuts) and what may differ (rows among ties).
    """

    rule: type
    plan: Callable
    mask: Callable
    how: str = ""


def partitioned_kinds() -> list:
    """The strategy kinds that declare a partitioned half, in menu order."""
    return [kind for kind in strategy_kinds() if kind.partitioned is not None]


def memory_only_kinds() -> list:
    """The strategy kinds that still run in memory only, in menu order."""
    return [kind for kind in strategy_kinds() if kind.partitioned is None]


def half_of(kind_name: str) -> Any:
    """The partitioned half of the kind ``kind_name``, or None."""
    kind = get_kind(kind_name)
    return kind.partitioned if kind is not None else None


def rule_from_dict(block: dict) -> Rule:
    """The typed rule a manifest's ``rule`` block records (ManifestError when no kind reads it)."""
    half = half_of(str((block or {}).get("kind")))
    if half is None:
        raise ManifestError(f"The manifest's rule kind {(block or {}).get('kind')!r} has no partitioned half; select "
                            "again with `workbench select` to get a manifest apply can re-run.")
    return half.rule.from_dict(block)
