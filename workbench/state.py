"""Session state shared by the pages: the data set, its scores, forced rows and the tuning recipe.

Everything a user loaded or computed lives in ``st.session_state`` under the keys in
:data:`DEFAULTS`, so switching pages never recomputes. Widget values are copied to "sticky"
keys because Streamlit forgets the state of widgets that a page switch does not render.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Optional

import numpy as np
import pandas as pd
import streamlit as st

from core.foundation import cache
from core.foundation.errors import WorkbenchError

DEFAULTS: dict[str, Any] = {
    "ds": None,  # the loaded Dataset
    "ds_origin": None,  # where it came from, in words ("Sample: known_answer", "Upload: x.csv")
    "scores": None,  # DataFrame by id: every scorer computed so far for ds
    "scores_job": None,  # workbench.jobs.Job computing scores in the background
    "forced": [],  # list of {"action": "keep"|"drop", "ids": [...], "note": str}
    "recipe": {"strategy": "random", "keep": 0.7, "threshold": None},  # what Tune selected
    "curves": {},  # pruning curves by recipe key
    "auto_result": None,  # last auto recommendation (dict)
    "umap_job": None,  # core.projection.UmapJob
    "seed": 0,
    "folds": 5,
    "preloaded": False,
    "scores_version": 0,  # bumped whenever the score table changes (memo keys use it)
}

SCORES_KIND = "app_scores"  # disk cache of the merged score table of a data set


def init() -> None:
    """Initialise shared state once per session."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value.copy() if isinstance(value, (dict, list)) else value)


def dataset():
    """The loaded Dataset, or None."""
    return st.session_state.get("ds")


def set_dataset(ds, origin: str) -> None:
    """Make ``ds`` current; scores already computed for it (this or an earlier session) come back."""
    previous = st.session_state.get("ds")
    if previous is not None and previous.fingerprint == ds.fingerprint:
        st.session_state["ds"], st.session_state["ds_origin"] = ds, origin
        return
    job = st.session_state.get("scores_job")
    if job is not None and job.running:
        job.cancel()
    st.session_state.update({
        "ds": ds,
        "ds_origin": origin,
        "scores": cache.load(SCORES_KIND, scores_key(ds)),
        "scores_version": st.session_state.get("scores_version", 0) + 1,
        "scores_job": None,
        "forced": [],
        "curves": {},
        "auto_result": None,
        "umap_job": None,
    })
    recipe = dict(st.session_state["recipe"])
    if recipe["strategy"] != "random" and not _strategy_fits(recipe["strategy"], st.session_state["scores"]):
        recipe.update(strategy="random", threshold=None, keep=recipe["keep"] or 0.7)
    st.session_state["recipe"] = recipe


def _strategy_fits(strategy: str, scores: Optional[pd.DataFrame]) -> bool:
    try:
        from core.selection.subset import parse_strategy

        parse_strategy(strategy, [] if scores is None else scores.columns)
        return True
    except Exception:
        return False


def scores_key(ds) -> str:
    return cache.cache_key("app-scores", ds.fingerprint, int(st.session_state.get("seed", 0)),
                           int(st.session_state.get("folds", 5)))


def scores() -> Optional[pd.DataFrame]:
    """Every score computed so far for the current data set (indexed by id), or None."""
    return st.session_state.get("scores")


def add_scores(new: Optional[pd.DataFrame]) -> None:
    """Merge freshly computed score columns into the session and the disk cache.

    What is on disk (e.g. computed by another session on the same data) is merged in too, so
    the cached table only ever grows; newer columns win.
    """
    ds = dataset()
    if ds is None or new is None or new.empty:
        return
    merged = new
    for older in (scores(), cache.load(SCORES_KIND, scores_key(ds))):
        if older is not None and len(older) == len(new):
            kept_columns = [c for c in older.columns if c not in merged.columns]
            merged = older[kept_columns].join(merged, how="outer") if kept_columns else merged
    merged = merged.copy()
    st.session_state["scores"] = merged
    st.session_state["scores_version"] = st.session_state.get("scores_version", 0) + 1
    cache.save(SCORES_KIND, scores_key(ds), merged)


def score_columns() -> list:
    """Names of the scorer columns (not flags or extras) computed so far."""
    table = scores()
    if table is None:
        return []
    columns = list(table.columns)
    return [c for c in columns if not any(c != o and c.startswith(o + "_") for o in columns)
            and pd.api.types.is_numeric_dtype(table[c]) and table[c].dtype != bool]


# --- forced rows --------------------------------------------------------------------------------


def add_forced(action: str, ids: Iterable, note: str) -> None:
    ids = list(ids)
    if ids:
        st.session_state["forced"] = st.session_state["forced"] + [{"action": action, "ids": ids, "note": note}]


def undo_forced(index: int) -> None:
    forced = list(st.session_state["forced"])
    if 0 <= index < len(forced):
        forced.pop(index)
    st.session_state["forced"] = forced


def forced_sets() -> tuple[list, list]:
    """(force_keep ids, force_drop ids): a later action on the same row wins."""
    final: dict = {}
    for entry in st.session_state.get("forced", []):
        for row_id in entry["ids"]:
            final[row_id] = entry["action"]
    keep = [i for i, a in final.items() if a == "keep"]
    drop = [i for i, a in final.items() if a == "drop"]
    return keep, drop


# --- recipe -------------------------------------------------------------------------------------


def recipe() -> dict:
    return dict(st.session_state["recipe"])


def set_recipe(strategy: str, keep: Optional[float], threshold: Optional[float]) -> None:
    st.session_state["recipe"] = {"strategy": strategy, "keep": keep, "threshold": threshold}


# --- sticky widgets -----------------------------------------------------------------------------


def sticky(key: str, default: Any, options: Optional[list] = None) -> None:
    """Give widget ``key`` its remembered value (or ``default``) before the widget is drawn.

    Call :func:`remember` with the widget's return value afterwards. Values no longer among
    ``options`` fall back to ``default``.
    """
    store = "_sticky_" + key
    if key not in st.session_state or (st.session_state.get("_page_changed") and store in st.session_state):
        value = st.session_state.get(store, default)
        if options is not None and value not in options:
            value = default
        st.session_state[key] = value
    elif options is not None and st.session_state[key] not in options:
        st.session_state[key] = default


def remember(key: str, value: Any) -> Any:
    st.session_state["_sticky_" + key] = value
    return value


def set_widget(key: str, value: Any) -> None:
    """Set a widget's value from code (call it before the widget is drawn, e.g. in a callback)."""
    st.session_state[key] = value
    st.session_state["_sticky_" + key] = value


# --- errors -------------------------------------------------------------------------------------


@contextmanager
def user_errors(prefix: str = ""):
    """Show a :class:`WorkbenchError` as a plain message; nothing in the session is lost."""
    try:
        yield
    except WorkbenchError as err:
        st.error(f"{prefix}{err}" if prefix else str(err), icon=":material/error:")


def require_dataset():
    """The current data set, or stop the page with a pointer to the Data page."""
    ds = dataset()
    if ds is None:
        st.info("Load a data set on the **Data** page first.", icon=":material/database:")
        st.page_link(page("data"), label="Go to Data", icon=":material/database:")
        st.stop()
    return ds


# Pages are registered by the router; other pages link to them by name.
PAGES: dict = {}


def page(name: str):
    return PAGES.get(name, f"pages/{name}.py")


def ids_of(positions: np.ndarray) -> list:
    ds = dataset()
    return [ds.ids[int(p)] for p in positions]


def aligned_scores() -> Optional[pd.DataFrame]:
    """The score table in the data set's row order (computed once per score table)."""
    ds, table = dataset(), scores()
    if ds is None or table is None:
        return None
    memo = st.session_state.get("_aligned")
    if memo is not None and memo[0] is table and memo[1] == ds.fingerprint:
        return memo[2]
    from core.selection.subset import align_scores

    aligned = align_scores(ds, table)
    st.session_state["_aligned"] = (table, ds.fingerprint, aligned)
    return aligned
