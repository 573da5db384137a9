"""The strategy registry: every strategy kind declares its grammar, budget rule and algorithm once.

A strategy kind is one module under :mod:`core.selection.strategies` that calls
:func:`register_strategy` with a :class:`StrategyKind`. The grammar (:mod:`core.selection.grammar`),
:func:`core.selection.select`, the CLI and the app all ask this registry - for parsing, for whether a
budget or a threshold applies, for titles and help texts - so adding a kind touches one module plus
its test.

Budget rules (``StrategyKind.budget``):

``"keep"``
    needs a keep fraction;
``"keep-or-threshold"``
    needs a keep fraction or a threshold on the score (single-score ranking);
``"optional-keep"``
    takes a keep fraction if given, else its own options decide (``band``);
``"none"``
    takes no budget: the strategy decides how many rows go (``drop-flagged``).

Targets (``StrategyKind.target``): ``"none"`` (no scorer: ``random``, coresets), ``"scorer"``
(``ccs:<scorer>``), ``"scorer-or-random"`` (``balanced:random``), ``"flagging-scorers"``
(``drop-flagged[:a,b]``), ``"terms"`` (``scorecard:a=2,b:low=1``) and ``"bare-scorer"`` (the kind
a bare scorer name parses to).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

import core.selection.strategies as package
from core.foundation.errors import ConfigError
from core.selection.ends import default_end

BUDGETS = ("keep", "keep-or-threshold", "optional-keep", "none")
TARGETS = ("none", "scorer", "scorer-or-random", "flagging-scorers", "terms", "bare-scorer")


@dataclass(frozen=True)
class Option:
    """A ``key=value`` option of a strategy kind.

    ``check(value)`` returns an error text (what must hold) or None when the value is valid;
    ``choices``, when given, are the only valid values (and what a form offers).
    """

    type: type
    default: Any
    help: str = ""
    check: Optional[Callable[[Any], Optional[str]]] = None
    choices: tuple = ()

    def problem(self, value) -> Optional[str]:
        """Why ``value`` is not valid, or None."""
        if self.choices and value not in self.choices:
            return "must be " + " or ".join(map(str, self.choices))
        return self.check(value) if self.check else None


@dataclass(frozen=True)
class StrategyKind:
    """What the grammar, the faces and :func:`core.selection.select` know of one kind."""

    name: str
    title: str
    help: str
    syntax: str
    target: str = "none"
    budget: str = "keep"
    options: dict = field(default_factory=dict)
    takes_end: bool = False
    needs_features: bool = False
    #: Scorers the kind always reads besides any named in the strategy (``ambiguous`` reads
    #: ``datamap_variability``); :func:`core.selection.needed_scorers` lists them.
    scorers: tuple = ()
    #: ``run(request) -> (mask, params, details)``; None for kinds chosen by a search (``auto``),
    #: which :func:`core.select` routes to :mod:`core.search`.
    run: Optional[Callable] = None
    #: Listing order in menus (lower first).
    order: int = 100
    #: The kind's partitioned half (:class:`core.selection.partitioned.PartitionedRule`), declared in its
    #: own module next to ``run``; None for kinds that run in memory only.
    partitioned: Optional[Any] = None

    @property
    def searched(self) -> bool:
        return self.run is None


@dataclass
class Request:
    """What a kind's ``run`` receives: the data, aligned scores, the parsed spec and the budget."""

    ds: Any
    frame: pd.DataFrame
    spec: Any
    keep: Optional[float]
    budget: Optional[int]
    threshold: Optional[float]
    seed: int
    progress: Any = None
    cancel: Any = None

    def values(self, name: str) -> np.ndarray:
        """The score column ``name`` as float64 (non-numbers become NaN)."""
        return pd.to_numeric(self.frame[name], errors="coerce").to_numpy(dtype=float)

    def oriented(self, name: str, end: Optional[str] = None) -> tuple:
        """``(values, end)`` with values negated when the low end is kept: higher = keep first."""
        end = end or default_end(name)
        values = self.values(name)
        return (values if end == "high" else -values), end


_KINDS: dict[str, StrategyKind] = {}
_ALIASES: dict[str, str] = {}
_LOADED = False


def register_strategy(kind: StrategyKind, *, aliases: Optional[dict] = None) -> StrategyKind:
    """Add a kind to the registry; a second kind of the same name raises.

    ``aliases`` maps a shorthand to the strategy text it stands for (``{"dedupe": "drop-flagged:duplicate"}``).
    """
    if kind.budget not in BUDGETS or kind.target not in TARGETS:
        raise TypeError(f"strategy kind {kind.name!r} has an invalid budget or target")
    if kind.name in _KINDS:
        raise ValueError(f"a strategy kind named {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    _ALIASES.update(aliases or {})
    return kind


def _load_builtin() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{package.__name__}.{info.name}")


def get_kind(name: str) -> Optional[StrategyKind]:
    """The registered kind called ``name``, or None."""
    _load_builtin()
    return _KINDS.get(name)


def strategy_kinds() -> list[StrategyKind]:
    """Every registered kind, in menu order."""
    _load_builtin()
    return sorted(_KINDS.values(), key=lambda k: (k.order, k.name))


def aliases() -> dict:
    """Shorthands and the strategy text each stands for."""
    _load_builtin()
    return dict(_ALIASES)


def run_kind(kind: StrategyKind, request: Request) -> tuple:
    """Run a kind's algorithm; a search kind cannot run here (see :func:`core.select`)."""
    if kind.run is None:
        raise ConfigError(f"Strategy '{kind.name}' is chosen by cross-validation; call core.select, "
                          "which runs the search.")
    return kind.run(request)
