"""The selection behind every page: strategy strings from Tune's widgets, memoised selections.

The Map, Tune and Export pages all show the same selection: the recipe Tune stored in session
state plus the rows forced on the Map. :func:`current_selection` builds it once per recipe.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Optional

import streamlit as st

import core
from core.foundation import cache
from core.selection.subset import jsonable
from workbench import state

KINDS = {
    "random": "Random (the baseline)",
    "top": "Top by one score",
    "ccs": "Coverage-centric (CCS)",
    "balanced": "Class-balanced quotas",
    "band": "Drop both tails of a score",
    "drop-flagged": "Drop flagged rows",
    "scorecard": "Weighted scorecard",
    "kcenter": "k-center coreset",
    "kmeans-diversity": "k-means diversity coreset",
    "facility-location": "Facility-location coreset",
}
SCORE_FREE = ("random", "kcenter", "kmeans-diversity", "facility-location")
CURVE_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def strategy_string(kind: str, *, scorer: Optional[str] = None, end: str = "default", beta: float = 0.1,
                    mode: str = "proportional", low: float = 0.05, high: float = 0.05,
                    flaggers: Optional[list] = None, weights: Optional[dict] = None) -> str:
    """The ``core.selection`` strategy string for the widgets' choices."""
    suffix = "" if end == "default" else f":{end}"
    if kind in SCORE_FREE:
        return kind
    if kind == "top":
        return f"{scorer}{suffix}"
    if kind == "ccs":
        return f"ccs:{scorer}:beta={beta:g}"
    if kind == "balanced":
        target = scorer or "random"
        return f"balanced:{target}{suffix if scorer else ''}:mode={mode}"
    if kind == "band":
        return f"band:{scorer}:low={low:g}:high={high:g}"
    if kind == "drop-flagged":
        return "drop-flagged:" + ",".join(flaggers or [])
    if kind == "scorecard":
        terms = [f"{name}={w:g}" for name, w in (weights or {}).items() if w > 0]
        return "scorecard:" + ",".join(terms)
    raise ValueError(kind)


def widgets_from_strategy(strategy: str, score_columns: list) -> dict:
    """Tune widget values that rebuild ``strategy`` (used to apply auto's recommendation)."""
    from core.selection.subset import parse_strategy

    spec = parse_strategy(strategy, score_columns)
    values = {"tune_kind": spec.kind if spec.kind in KINDS else "random"}
    if spec.scorers:
        values["tune_scorer"] = spec.scorers[0]
    if spec.end:
        values["tune_end"] = spec.end
    options = spec.option
    if "beta" in options:
        values["tune_beta"] = float(options["beta"])
    if "mode" in options:
        values["tune_mode"] = options["mode"]
    if spec.kind == "drop-flagged":
        values["tune_flaggers"] = list(spec.scorers)
    if spec.kind == "scorecard":
        for name in score_columns:
            values[f"tune_weight_{name}"] = 0.0
        for name, weight in zip(spec.scorers, spec.weights):
            values[f"tune_weight_{name}"] = float(weight)
    return values


COSTLY_ROWS = 10_000  # coresets above this size take seconds to a minute: computed on request


def is_costly(ds, strategy: str) -> bool:
    """Whether ``strategy`` is too slow on ``ds`` to recompute on every slider move."""
    return strategy in SCORE_FREE[1:] and ds.n_samples > COSTLY_ROWS


def _memo() -> OrderedDict:
    return st.session_state.setdefault("_selection_memo", OrderedDict())


def _base_key(ds, recipe: dict) -> tuple:
    return (ds.fingerprint, recipe["strategy"], recipe.get("keep"), recipe.get("threshold"),
            int(st.session_state["seed"]), st.session_state.get("scores_version", 0))


def compute_base(ds, recipe: dict, seed: int, scores, progress=None, cancel=None):
    """The strategy's Selection without map edits (safe to call from a job thread)."""
    return core.select(ds, scores, strategy=recipe["strategy"], keep=recipe.get("keep"),
                       threshold=recipe.get("threshold"), seed=seed, progress=progress, cancel=cancel)


def remember_base(ds, recipe: dict, sel) -> None:
    memo = _memo()
    memo[_base_key(ds, recipe)] = sel
    while len(memo) > 48:
        memo.popitem(last=False)


def current_selection(ds=None, recipe: Optional[dict] = None, *, compute: bool = True):
    """The Selection of the stored recipe plus the Map's forced rows.

    The strategy's own selection is memoised per recipe, so map edits never recompute it. With
    ``compute=False`` a selection not memoised yet gives None (for costly coresets).
    """
    ds = ds if ds is not None else state.dataset()
    recipe = recipe or state.recipe()
    key = _base_key(ds, recipe)
    memo = _memo()
    if key in memo:
        memo.move_to_end(key)
        base = memo[key]
    elif compute:
        base = compute_base(ds, recipe, int(st.session_state["seed"]), state.scores())
        remember_base(ds, recipe, base)
    else:
        return None
    return with_edits(ds, base, *state.forced_sets())


def with_edits(ds, base, force_keep: list, force_drop: list):
    """``base`` with forced rows applied on top, as ``core.select(force_keep=, force_drop=)`` does."""
    if not force_keep and not force_drop:
        return base
    mask = base.mask.copy()
    mask[ds.index_of(force_keep)] = True
    mask[ds.index_of(force_drop)] = False
    params = dict(base.params, force_keep=list(force_keep), force_drop=list(force_drop))
    return dataclasses.replace(base, mask=mask, kept_ids=ds.ids[mask], n_kept=int(mask.sum()),
                               params=jsonable(params))


def safe_selection(ds=None):
    """:func:`current_selection`, falling back to random when the recipe does not apply (e.g. its
    scorer was computed for another seed) or a costly coreset was not computed yet.

    Returns (selection, problem or None)."""
    ds = ds if ds is not None else state.dataset()
    recipe = state.recipe()
    fallback = {"strategy": "random", "keep": recipe.get("keep") or 0.7, "threshold": None}
    try:
        sel = current_selection(ds, compute=not is_costly(ds, recipe["strategy"]))
    except core.WorkbenchError as err:
        return current_selection(ds, fallback), str(err)
    if sel is None:
        return current_selection(ds, fallback), (f"the {recipe['strategy']} selection has not been computed yet; "
                                                 "compute it on the Tune page")
    return sel, None


def training_saving(n_kept: int, n_input: int) -> float:
    """Share of training time saved, assuming cost grows linearly with rows (SGD epochs, ridge)."""
    return 1.0 - n_kept / max(n_input, 1)


def curve_key(ds, strategies: list, seed: int, folds: int) -> str:
    return cache.cache_key("app-curve", ds.fingerprint, sorted(strategies), seed, folds, CURVE_FRACTIONS)
