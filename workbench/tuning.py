"""The selection behind every page: the Tune recipe plus the Map's edits, memoised per session.

The Map, Tune and Export pages all show the same selection: the recipe Tune stored in session
state plus the rows forced on the Map, parsed once into a :class:`core.selection.Recipe`
(:func:`recipe`) and made by one ``core.select`` call per recipe.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Optional

import numpy as np

import core
from core.foundation import for_app
from core.selection import Recipe, format_strategy
from workbench import state

CURVE_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
COSTLY_ROWS = 10_000  # strategies on the feature matrix take seconds to a minute above this: on request
MEMO_SIZE = 32


def recipe(recipe_text: Optional[dict] = None) -> Recipe:
    """The session's recipe (the Tune choice plus the Map's forced rows), parsed once per change."""
    chosen = recipe_text or state.recipe_now()
    keep_ids, drop_ids = state.forced_sets()
    table = state.scores()
    key = (chosen["strategy"], chosen.get("keep"), chosen.get("threshold"), state.seed(),
           tuple(map(str, keep_ids)), tuple(map(str, drop_ids)), state.get("table_version"))
    return state.memo("recipe", key, lambda: Recipe.of(
        chosen["strategy"], chosen.get("keep"), chosen.get("threshold"), state.seed(), force_keep=keep_ids,
        force_drop=drop_ids, score_columns=list(table.columns) if table is not None else []))


def is_costly(ds, parsed: Recipe) -> bool:
    """Whether the recipe's strategy is too slow on ``ds`` to recompute on every slider move."""
    return bool(parsed.spec.info.needs_features) and ds.n_samples > COSTLY_ROWS


def _key(ds, parsed: Recipe) -> tuple:
    return (ds.fingerprint, parsed.key, state.get("table_version"))


def _store() -> OrderedDict:
    memo = state.get("memo")
    return memo.setdefault("selections", OrderedDict())


def compute(ds, parsed: Recipe, scores, progress=None, cancel=None):
    """The Selection of a parsed recipe (job-safe: reads no session state)."""
    return core.select(ds, scores, parsed, progress=progress, cancel=cancel)


def remember(key: tuple, sel) -> None:
    store = _store()
    store[key] = sel
    while len(store) > MEMO_SIZE:
        store.popitem(last=False)


def current_selection(ds=None, parsed: Optional[Recipe] = None, *, compute_now: bool = True):
    """The Selection of the session's recipe (None when not memoised and ``compute_now`` is False,
    as for costly coresets)."""
    ds = ds if ds is not None else state.dataset()
    parsed = parsed or recipe()
    key = _key(ds, parsed)
    store = _store()
    if key in store:
        store.move_to_end(key)
        return store[key]
    if not compute_now:
        return None
    sel = compute(ds, parsed, state.scores())
    remember(key, sel)
    return sel


def selection_key(ds, parsed: Optional[Recipe] = None) -> tuple:
    """The memo key a background job stores its selection under."""
    return _key(ds, parsed or recipe())


def safe_selection(ds=None):
    """:func:`current_selection`, falling back to random when the recipe does not apply (e.g. its
    scorer was computed for another seed) or a costly coreset was not computed yet.

    Returns (selection, problem or None)."""
    ds = ds if ds is not None else state.dataset()
    chosen = state.recipe_now()
    fallback = dict(state.DEFAULT_RECIPE, keep=chosen.get("keep") or state.DEFAULT_RECIPE["keep"])
    try:
        parsed = recipe(chosen)
        sel = current_selection(ds, parsed, compute_now=not is_costly(ds, parsed))
    except core.WorkbenchError as err:
        return current_selection(ds, recipe(fallback)), for_app(err)
    if sel is None:
        return current_selection(ds, recipe(fallback)), (f"the {chosen['strategy']} selection has not been "
                                                         "computed yet; compute it on the Tune page")
    return sel, None


def identity(sel) -> tuple:
    """What tells two selections apart (memo keys): the recipe and a digest of the kept mask."""
    digest = hashlib.sha256(np.packbits(sel.mask).tobytes()).hexdigest()[:16]
    return (sel.data_fingerprint, sel.resolved_strategy, sel.keep, sel.threshold, sel.seed, digest)


def canonical(strategies) -> list:
    """Each strategy once, in the grammar's canonical form (``ccs:el2n`` == ``ccs:el2n:beta=0.1``)."""
    seen: dict = {}
    for text in strategies:
        seen.setdefault(format_strategy(text), None)
    return list(seen)


def canonical_each(strategies) -> list:
    """The canonical form of each strategy (same length; a text the grammar refuses stays as it is)."""
    out = []
    for text in strategies:
        try:
            out.append(format_strategy(text))
        except core.WorkbenchError:
            out.append(text)
    return out


def curve_key(ds, strategies: list, seed: int, folds: int) -> tuple:
    return (ds.fingerprint, tuple(sorted(canonical(strategies))), seed, folds, CURVE_FRACTIONS,
            state.get("table_version"))
