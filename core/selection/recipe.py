"""The recipe: what makes a selection, parsed once where it enters and carried as a value.

A :class:`Recipe` is made once per action by the face the user touched (the Tune form, a CLI
argument, a notebook call) with :meth:`Recipe.of`, which parses the strategy text with the one
grammar and checks its budget rule. From there the same frozen value travels through selection,
fold masks, the estimate, cache keys and the manifest, so nothing parses the text again::

    recipe = Recipe.of("ccs:el2n", keep=0.3, seed=0, score_columns=scores.columns)
    sel = core.select(ds, scores, recipe)            # no second parse
    recipe.key                                       # a hashable cache key
    recipe.reads_labels                              # whether its scores saw the labels
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Optional, Union

from core.foundation.errors import ConfigError
from core.selection.grammar import (
    StrategySpec, as_spec, check_budget, describe_strategy, format_strategy, needed_scorers, scores_read_labels,
)


def check_keep(keep) -> Optional[float]:
    """``keep`` as a float in (0, 1], or None; raises ConfigError otherwise."""
    if keep is None:
        return None
    try:
        keep = float(keep)
    except (TypeError, ValueError):
        raise ConfigError(f"keep must be a fraction in (0, 1], got {keep!r}.") from None
    if not 0 < keep <= 1:
        raise ConfigError(f"keep must be a fraction in (0, 1], got {keep}; e.g. keep=0.3 keeps 30% of rows.")
    return keep


def _ids(ids) -> tuple:
    return tuple(ids) if ids is not None else ()


@dataclass(frozen=True)
class Recipe:
    """A strategy, its budget, the seed and the forced rows: everything that makes a selection.

    Attributes
    ----------
    spec : StrategySpec
        The parsed strategy (:func:`core.selection.parse_strategy`).
    keep : float in (0, 1] or None
    threshold : float or None
        At most one of the two; which one the strategy needs is its kind's budget rule.
    seed : int
    force_keep, force_drop : tuple of ids
        Rows kept or dropped whatever the strategy says (the Map's edits).
    """

    spec: StrategySpec
    keep: Optional[float] = None
    threshold: Optional[float] = None
    seed: int = 0
    force_keep: tuple = ()
    force_drop: tuple = ()
    #: The strategy text as the user wrote it (what a manifest's ``strategy`` records); not part of equality.
    given: str = field(default="", compare=False, repr=False)

    @classmethod
    def of(cls, strategy: Union[str, StrategySpec, "Recipe"], keep=None, threshold=None, seed: int = 0, *,
           force_keep=(), force_drop=(), score_columns=None) -> "Recipe":
        """Parse ``strategy`` once and check the budget; the one constructor faces call.

        ``score_columns`` (the computed score columns) makes the parse check that every scorer named
        was computed; without it, that every scorer named is registered. A Recipe given as
        ``strategy`` comes back as it is (a caller holding one never re-parses).
        """
        if isinstance(strategy, Recipe):
            return strategy
        spec = as_spec(strategy, score_columns)
        keep = check_keep(keep)
        threshold = None if threshold is None else float(threshold)
        check_budget(spec, keep, threshold)
        return cls(spec=spec, keep=keep, threshold=threshold, seed=int(seed), force_keep=_ids(force_keep),
                   force_drop=_ids(force_drop), given=strategy.strip() if isinstance(strategy, str) else "")

    # ------------------------------------------------------------------ what the grammar says of it

    @cached_property
    def text(self) -> str:
        """The canonical strategy text (``ccs:el2n``, defaults left out): what manifests record."""
        return format_strategy(self.spec)

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def searched(self) -> bool:
        """Whether a search chooses the strategy (``auto``)."""
        return self.spec.info.searched

    @cached_property
    def needed_scorers(self) -> list:
        return needed_scorers(self.spec)

    @property
    def label_blind(self) -> bool:
        """Whether the kept rows depend on nothing but the rows' count and the seed: plain random.

        One all-rows mask then serves every evaluator fold. Random *with* class quotas is not: its
        quotas read the class counts (DRoP's also a model's held-out recall), so inside an estimate they
        must come from each fold's training rows like any strategy's scores.
        """
        return self.spec.kind == "random" and self.spec.quota is None

    @cached_property
    def reads_labels(self) -> bool:
        """Whether a score the strategy ranks by was computed from the labels (see the grammar)."""
        return scores_read_labels(self.spec)

    @property
    def uses_scores(self) -> bool:
        return bool(self.needed_scorers)

    def describe(self) -> str:
        return describe_strategy(self.spec)

    def check_columns(self, columns) -> None:
        """Raise ConfigError unless every scorer the recipe needs is among the computed ``columns``."""
        columns = set(columns)
        missing = [name for name in self.spec.scorers if name not in columns]
        if missing:
            raise ConfigError(f"Strategy '{self.text}' needs the score column(s) {', '.join(missing)}, which "
                              "were not computed; compute them first.")

    # ------------------------------------------------------------------ keys and changes

    @cached_property
    def key(self) -> tuple:
        """A hashable key of everything that changes the selection (cache keys use it)."""
        return (self.text, self.keep, self.threshold, self.seed, _digest(self.force_keep), _digest(self.force_drop))

    def with_budget(self, keep=None, threshold=None) -> "Recipe":
        """The same strategy with another budget (checked against the strategy's budget rule)."""
        keep = check_keep(keep)
        threshold = None if threshold is None else float(threshold)
        check_budget(self.spec, keep, threshold)
        return replace(self, keep=keep, threshold=threshold)

    def with_forced(self, force_keep=(), force_drop=()) -> "Recipe":
        return replace(self, force_keep=_ids(force_keep), force_drop=_ids(force_drop))

    def with_seed(self, seed: int) -> "Recipe":
        return replace(self, seed=int(seed))

    def to_dict(self) -> dict:
        return {"strategy": self.text, "keep": self.keep, "threshold": self.threshold, "seed": self.seed,
                "force_keep": list(self.force_keep), "force_drop": list(self.force_drop)}

    def __repr__(self) -> str:
        budget = f"keep={self.keep}" if self.keep is not None else f"threshold={self.threshold}"
        forced = f", forced={len(self.force_keep)}+/{len(self.force_drop)}-" if self.force_keep or self.force_drop else ""
        return f"Recipe({self.text!r}, {budget}, seed={self.seed}{forced})"


def _digest(ids: tuple) -> str:
    if not ids:
        return ""
    return hashlib.blake2b("\x1f".join(map(str, ids)).encode(), digest_size=12).hexdigest()
