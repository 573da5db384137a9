"""Selections: a kept mask plus the recipe that made it, built from a strategy string.

:func:`select` validates once, parses the strategy with the one grammar
(:mod:`core.selection.grammar`), checks its budget rule, runs the kind's algorithm through the
registry (:mod:`core.selection.registry`) and applies the manual force-keep and force-drop lists on
top. Kinds chosen by a search (``auto``) are routed by :func:`core.select` in the workflow layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Optional

import numpy as np

from core.foundation.encoding import to_jsonable
from core.foundation.errors import ConfigError
from core.scorers.table import align_scores
from core.selection.algorithms import budget_from_keep
from core.selection.grammar import parse_strategy
from core.selection.recipe import Recipe, check_keep
from core.selection.quotas import run_with_quota
from core.selection.registry import Request, get_kind, run_kind


@dataclass(frozen=True)
class Selection:
    """A kept mask and the recipe that made it.

    Attributes
    ----------
    mask : ndarray of shape (n_samples,), dtype bool
        True for kept rows, in the Dataset's row order.
    kept_ids : ndarray of shape (n_kept,)
    strategy : str
        The strategy string as given; ``resolved_strategy`` is what ran (differs for ``auto``).
    params : dict
        Parsed parameters (scorer, end, beta, weights, force lists...).
    details : dict
        What the strategy wants to tell: CCS bins, auto's candidate table and nested estimate.
    """

    mask: np.ndarray
    kept_ids: np.ndarray
    strategy: str
    resolved_strategy: str
    params: dict
    keep: Optional[float]
    threshold: Optional[float]
    seed: int
    data_fingerprint: str
    n_input: int
    n_kept: int
    details: dict = field(default_factory=dict)
    #: The :class:`~core.selection.recipe.Recipe` that made it (None for masks made by hand).
    recipe: Optional[Recipe] = field(default=None, compare=False)

    @cached_property
    def resolved_recipe(self) -> Recipe:
        """The recipe of what ran (for ``auto``: the strategy it chose), parsed once per selection.

        Fold masks and the estimate re-run exactly this on each fold's training rows.
        """
        if self.recipe is not None and not self.recipe.searched:
            return self.recipe
        forced = {name: tuple(self.params.get(name, ())) for name in ("force_keep", "force_drop")}
        return Recipe(spec=parse_strategy(self.resolved_strategy), keep=self.keep, threshold=self.threshold,
                      seed=self.seed, **forced)

    def to_dict(self) -> dict:
        """JSON-able recipe (no mask and no id list; a manifest adds ``kept_ids``)."""
        return to_jsonable({
            "strategy": self.strategy, "resolved_strategy": self.resolved_strategy, "params": self.params,
            "keep": self.keep, "threshold": self.threshold, "seed": self.seed,
            "data_fingerprint": self.data_fingerprint, "n_input": self.n_input, "n_kept": self.n_kept,
            "details": self.details,
        })

    def __repr__(self) -> str:
        return (f"Selection(strategy={self.resolved_strategy!r}, n_kept={self.n_kept}/{self.n_input}, "
                f"keep={self.keep}, threshold={self.threshold}, seed={self.seed})")


def make_selection(ds, mask, strategy: str, *, resolved=None, params=None, details=None, keep=None,
                   threshold=None, seed: int = 0, recipe: Optional[Recipe] = None) -> Selection:
    """The one constructor of a :class:`Selection` from a kept mask."""
    mask = np.asarray(mask, dtype=bool)
    return Selection(mask=mask, kept_ids=ds.ids[mask], strategy=strategy, resolved_strategy=resolved or strategy,
                     params=to_jsonable(params or {}), keep=keep, threshold=threshold, seed=int(seed),
                     data_fingerprint=ds.fingerprint, n_input=ds.n_samples, n_kept=int(mask.sum()),
                     details=to_jsonable(details or {}), recipe=recipe)


def select_without_search(ds, scores=None, strategy: str = "random", keep: Optional[float] = None,
                          threshold: Optional[float] = None, seed: int = 0, *, force_keep=(), force_drop=(),
                          progress=None, cancel=None) -> Selection:
    """Turn scores into a kept subset with any strategy that is not chosen by a search.

    ``core.select`` (:func:`core.workflows.select`) also runs the strategies a cross-validated search
    chooses (``auto``); this layer has no evaluator, so it refuses them. ``core.selection.select`` is
    the same function under its older public name.

    Parameters
    ----------
    ds : Dataset
    scores : DataFrame indexed by id, or None
        From :func:`core.compute_scores`; not needed for ``random`` and the coreset strategies.
    strategy : str or Recipe
        A strategy string (:mod:`core.selection.grammar`), or a :class:`~core.selection.recipe.Recipe`
        parsed once by the caller (then ``keep``, ``threshold``, ``seed`` and the force lists come
        from it and must not be given again).
    keep : float in (0, 1], optional
        Fraction of rows to keep (``round(keep * n)`` rows, at least one).
    threshold : float, optional
        Instead of ``keep``, for single-score strategies: keep rows on the kept side of the
        threshold (``score >= threshold`` when the high end is kept, ``<=`` when the low end is).
    seed : int
        Seeds random choices and tie-breaking.
    force_keep, force_drop : sequences of ids
        Applied on top of any strategy (so ``n_kept`` can differ from the budget).
    """
    frame = align_scores(ds, scores)
    recipe = as_recipe(strategy, keep, threshold, seed, force_keep=force_keep, force_drop=force_drop,
                       score_columns=frame.columns)
    return select_recipe(ds, frame, recipe, given=strategy if isinstance(strategy, str) else None,
                         progress=progress, cancel=cancel)


#: The public name it had before ``core.select`` (the workflow's, which also searches) shared it.
select = select_without_search


def as_recipe(strategy, keep=None, threshold=None, seed: int = 0, *, force_keep=(), force_drop=(),
              score_columns=None) -> Recipe:
    """``strategy`` as a :class:`Recipe`: parsed here when text, checked against the columns when a Recipe.

    A Recipe carries its own budget, seed and forced rows; giving others beside it is an error.
    """
    if not isinstance(strategy, Recipe):
        return Recipe.of(strategy, keep, threshold, seed, force_keep=force_keep, force_drop=force_drop,
                         score_columns=score_columns)
    if keep is not None or threshold is not None or list(force_keep or ()) or list(force_drop or ()):
        raise ConfigError("A Recipe carries its own budget and forced rows; pass it alone "
                          "(recipe.with_budget(...) makes another).")
    if score_columns is not None:
        strategy.check_columns(score_columns)
    return strategy


def select_recipe(ds, frame, recipe: Recipe, *, given: Optional[str] = None, progress=None,
                  cancel=None) -> Selection:
    """Run a parsed recipe on aligned scores ``frame`` (no parse): the one place a kind's rule is run."""
    force_keep_pos, force_drop_pos = force_positions(ds, recipe.force_keep, recipe.force_drop)
    keep, threshold = recipe.keep, recipe.threshold
    budget = budget_from_keep(keep, ds.n_samples) if keep is not None else None
    request = Request(ds=ds, frame=frame, spec=recipe.spec, keep=keep, budget=budget, threshold=threshold,
                      seed=recipe.seed, progress=progress, cancel=cancel)
    if recipe.spec.quota:  # class quotas around the kind: its own order within each class
        mask, params, details = run_with_quota(get_kind(recipe.kind), request, run_kind)
    else:
        mask, params, details = run_kind(get_kind(recipe.kind), request)
    given = given or recipe.given
    sel = make_selection(ds, mask, given or recipe.text, resolved=None if given else recipe.text,
                         params=params, details=details, keep=keep, threshold=threshold, seed=recipe.seed,
                         recipe=recipe)
    return apply_forced(ds, sel, force_keep_pos, force_drop_pos)


def apply_forced(ds, sel: Selection, force_keep_pos, force_drop_pos) -> Selection:
    """A new Selection with the forced rows kept or dropped and recorded in its params."""
    if not len(force_keep_pos) and not len(force_drop_pos):
        return sel
    mask = sel.mask.copy()
    mask[force_keep_pos] = True
    mask[force_drop_pos] = False
    params = dict(sel.params, force_keep=[ds.ids[p] for p in force_keep_pos],
                  force_drop=[ds.ids[p] for p in force_drop_pos])
    return make_selection(ds, mask, sel.strategy, resolved=sel.resolved_strategy, params=params,
                          details=sel.details, keep=sel.keep, threshold=sel.threshold, seed=sel.seed,
                          recipe=sel.recipe)


def force_positions(ds, force_keep, force_drop) -> tuple:
    """Row positions of the force-keep and force-drop id lists (raises ConfigError on unknown ids)."""
    out = []
    for name, ids in (("force_keep", force_keep), ("force_drop", force_drop)):
        ids = list(ids) if ids is not None else []
        try:
            out.append(ds.index_of(ids) if ids else np.zeros(0, dtype=np.int64))
        except KeyError as err:
            raise ConfigError(f"{name} names ids that are not in the data: {err.args[0]}; check the id column.") from None
    both = np.intersect1d(out[0], out[1])
    if len(both):
        raise ConfigError(f"ids are in both force_keep and force_drop: {list(ds.ids[both][:5])}; pick one.")
    return out[0], out[1]
