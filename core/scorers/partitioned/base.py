"""The partitioned half of a scorer, and the registry every half joins beside its scorer.

A scorer's in-memory half is its class (:mod:`core.scorers.base`); its partitioned half is a
:class:`PartitionedScorer` registered under the same name by a module of this package that sits
beside the scorer's family module (``neighbours.py`` beside ``geometry.py``, ``confident.py``
beside ``model.py``, ``shapley.py`` beside ``valuation.py``). The partitioned scoring driver
(:func:`core.workflows.score_partitioned`) asks this registry which scorers run on partitions and
runs each half's stages; nothing keeps a list of names.

A half runs in three stages, all over partitions (``engine.map``), with small summaries reduced on
the driver in between:

``fit(state, sample)``
    optional: fit what the scorer needs from the bounded stratified sample (``sample`` holds
    ``X``, ``y`` and ``fold``), e.g. the out-of-fold models or the prototypes;
``reduce(engine, state)``
    optional: the global statistics, once the shared neighbour graph is written;
``columns(index, state)``
    the scorer's columns for one partition: ``{"scores": {...}, "flags": {...}, "extras": {...}}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from core.scorers.base import get_scorer, registered_names


@dataclass(frozen=True)
class PartitionedScorer:
    """How one scorer runs partition by partition (see the module docstring).

    Attributes
    ----------
    name : str
        The scorer it belongs to (a registered :class:`core.scorers.Scorer` name).
    columns : callable ``(index, state) -> dict``
    reduce : callable ``(engine, state) -> None``, optional
    fit : callable ``(state, sample) -> None``, optional
    check : callable ``(scorer) -> str or None``, optional
        Why these parameters cannot run on partitions (None when they can).
    how : str
        One line on how the partitioned half relates to the in-memory scorer (exact, or the approximation).
    """

    name: str
    columns: Callable
    reduce: Optional[Callable] = None
    fit: Optional[Callable] = None
    check: Optional[Callable] = None
    how: str = ""


_HALVES: dict[str, PartitionedScorer] = {}


def register_partitioned(half: PartitionedScorer) -> PartitionedScorer:
    """Declare the partitioned half of the registered scorer ``half.name``."""
    get_scorer(half.name)  # the scorer must exist: a half never stands alone
    if half.name in _HALVES:
        raise ValueError(f"scorer {half.name!r} already has a partitioned half")
    _HALVES[half.name] = half
    return half


def partitioned_half(name: str) -> Optional[PartitionedScorer]:
    """The partitioned half of scorer ``name``, or None when it runs in memory only."""
    return _HALVES.get(name)


def partitioned_scorers() -> list:
    """Names of the scorers with a partitioned half, in the scorer registry's order."""
    return [name for name in registered_names() if name in _HALVES]
