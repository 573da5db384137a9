"""Session state: every key a session stores is declared here, with its accessor.

Two kinds of keys live in ``st.session_state``:

- the session's own values (:data:`KEYS`: the data set, its scores, the recipe, jobs...), each
  read and written only through this module;
- widget values, whose keys carry the page prefix of the page that draws them
  (:data:`WIDGET_PREFIXES`: ``tune_keep``, ``map_colour``...). Streamlit forgets the value of a
  widget that a page switch does not draw, so :func:`sticky` / :func:`remember` keep a copy in
  the declared ``widget_memory``.

A session never changes the process: operator settings (cache folder, server mode) are read
from the environment by :mod:`workbench.settings`, never written.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

import core
from core.foundation import for_app
from core.scorers import align_scores, join_scores
from core.selection import score_names
from workbench import loaders, sessions, settings

DEFAULT_RECIPE = {"strategy": "random", "keep": 0.7, "threshold": None}
WIDGET_PREFIXES = ("data_", "scores_", "map_", "tune_", "export_", "columns_", "incoming_", "settings_")


@dataclass(frozen=True)
class Key:
    """A declared session key: its default (a factory) and whether a new data set resets it."""

    name: str
    default: Callable[[], Any]
    doc: str
    per_dataset: bool = False


KEYS = {key.name: key for key in (
    Key("dataset", lambda: None, "the loaded Dataset"),
    Key("origin", lambda: None, "where the data came from, in words ('Sample: known_answer')"),
    Key("score_table", lambda: None, "DataFrame by id: every score computed so far", per_dataset=True),
    Key("table_version", lambda: 0, "bumped whenever the score table changes (memo keys use it)"),
    Key("forced", list, "map edits: [{'action': 'keep'|'drop', 'ids': [...], 'note': str}]", per_dataset=True),
    Key("recipe", lambda: dict(DEFAULT_RECIPE), "the strategy and budget chosen on Tune"),
    Key("curves", dict, "pruning curves by cache key", per_dataset=True),
    Key("auto_result", lambda: None, "the last auto recommendation", per_dataset=True),
    Key("exact_checks", dict, "exact-model checks by selection key", per_dataset=True),
    Key("fold_scores", lambda: None, "(table key, FoldScores): scores per fold made without its labels",
        per_dataset=True),
    Key("random_curve", lambda: None, "(evaluator key, RandomCurve): random pruning at every size "
        "(workbench.estimates)", per_dataset=True),
    Key("jobs", dict, "background jobs by name (workbench.jobs)"),
    Key("job_notes", dict, "how each job last ended, by name (failed or cancelled)"),
    Key("umap_job", lambda: None, "core's background UMAP job", per_dataset=True),
    Key("seed", lambda: 0, "seeds scorers, random strategies and folds"),
    Key("folds", lambda: 5, "cross-validation folds"),
    Key("preloaded", lambda: False, "whether the bundled sample was offered on first open"),
    Key("widget_memory", dict, "remembered widget values, by widget key"),
    Key("page", lambda: None, "url path of the page shown last"),
    Key("page_changed", lambda: False, "whether this run shows another page than the last run"),
    Key("session_token", lambda: None, "this session's Handle in workbench.sessions (memory bound over sessions)"),
    Key("released", lambda: None, "why this session's data were released for another user (said once)"),
    Key("column_curves", dict, "column-pruning curves by settings (Columns page)", per_dataset=True),
    Key("column_cut", lambda: None, "the column cut applied on the Columns page", per_dataset=True),
    Key("value_model", lambda: None, "the value model fitted on the Incoming page", per_dataset=True),
    Key("incoming_batch", lambda: None, "new rows read on the Incoming page: {'name', 'frame'}", per_dataset=True),
    Key("memo", dict, "derived values memoised for this session (selections, aligned scores, files)",
        per_dataset=True),
    Key("partitioned", lambda: None, "scored partitions behind a sampled data set (workbench.partitioned): "
        "{'source', 'scores', 'label', 'id', 'sample', 'table'}", per_dataset=True),
    Key("own_target", lambda: None, "the user's own target model named on Tune (workbench.target_form): "
        "{'text', 'params', 'estimator'}"),
    Key("own_target_results", dict, "the own target's trial, rank agreement and exact figures by key "
        "(workbench.target_form)", per_dataset=True),
    Key("full_selection", lambda: None, "the last full-data selection written from Export (workbench.partitioned)",
        per_dataset=True),
    Key("column_form_file", dict, "the file each Data column form was last drawn for, by form prefix "
        "(workbench.data_forms): another file starts from its own column defaults"),
)}


def init() -> None:
    """Give every declared key its default once per session."""
    for key in KEYS.values():
        if key.name not in st.session_state:
            st.session_state[key.name] = key.default()


def get(name: str) -> Any:
    """The value of declared key ``name``."""
    if name not in KEYS:
        raise KeyError(f"session key {name!r} is not declared in workbench.state.KEYS")
    if name not in st.session_state:
        st.session_state[name] = KEYS[name].default()
    return st.session_state[name]


def put(name: str, value: Any) -> None:
    """Set declared key ``name``."""
    if name not in KEYS:
        raise KeyError(f"session key {name!r} is not declared in workbench.state.KEYS")
    st.session_state[name] = value


def undeclared_keys() -> list:
    """Keys in the session that are neither declared nor a page-prefixed widget key (tests)."""
    return sorted(str(k) for k in st.session_state.keys()
                  if k not in KEYS and not str(k).startswith(WIDGET_PREFIXES))


# --- the data set and its scores ---------------------------------------------------------------


def dataset():
    """The loaded Dataset, or None."""
    return get("dataset")


def seed() -> int:
    return int(get("seed"))


def folds() -> int:
    return int(get("folds"))


def set_dataset(ds, origin: str) -> None:
    """Make ``ds`` current. A different data set starts clean: its scores, edits, curves, jobs and
    the data-dependent widget choices of the last one do not carry over."""
    previous = dataset()
    if previous is not None and previous.fingerprint == ds.fingerprint:
        put("origin", origin)
        put("dataset", ds)
        return
    operator = settings.operator()  # refused over the memory bound before anything of the last data set is dropped
    sessions.SESSIONS.admit(get("session_token") or sessions.Handle(), sessions.data_bytes(ds),
                            session_cap=operator.session_mb << 20, total_cap=operator.total_mb << 20)
    put("origin", origin)
    for job in list(get("jobs").values()) + [get("umap_job")]:
        if job is not None:
            job.cancel()  # the last data set's background work (its map included) stops
    put("jobs", {})
    put("job_notes", {})
    for key in KEYS.values():
        if key.per_dataset:
            put(key.name, key.default())
    _forget_widgets(keep_prefixes=("data_", "settings_"))
    put("dataset", ds)
    put("table_version", get("table_version") + 1)
    put("recipe", dict(DEFAULT_RECIPE))  # the default choices (strategy and keep fraction), as the README says
    _restore_cached_scores(ds)


def check_in() -> None:
    """Record this session's rerun (workbench.sessions); say once if its data were released meanwhile."""
    handle = get("session_token")
    if handle is None:
        handle = sessions.Handle()
        put("session_token", handle)
    ctx = get_script_run_ctx()
    if ctx is not None:
        handle.release = _releaser(ctx.session_state)
    sessions.SESSIONS.check_in(handle)
    note = get("released")
    if note:
        put("released", None)
        st.warning(note, icon=":material/memory:")


def _releaser(session) -> Callable[[str], None]:
    """Drops this session's data when another session's load needs the room (called from that session)."""

    def release(why: str) -> None:
        jobs = session["jobs"] if "jobs" in session else {}
        for job in list(jobs.values()) + [session["umap_job"] if "umap_job" in session else None]:
            if job is not None:
                job.cancel()
        for key in KEYS.values():
            if key.per_dataset or key.name in ("dataset", "origin", "jobs"):
                session[key.name] = key.default()
        session["released"] = why

    return release


def _restore_cached_scores(ds) -> None:
    """Scores of the default set computed earlier (any session, any day) come back without a click."""
    try:
        cached = core.scorers.cached_scores(ds, core.scorers.DEFAULT_SCORERS, seed(), folds=folds())
    except core.WorkbenchError:  # e.g. one class, or an unusable cache folder: nothing to restore
        return
    add_scores(cached)


def _forget_widgets(keep_prefixes: tuple) -> None:
    memory = get("widget_memory")
    for key in [k for k in memory if not k.startswith(keep_prefixes)]:
        del memory[key]
    for key in [k for k in st.session_state.keys() if str(k).startswith(WIDGET_PREFIXES)
                and not str(k).startswith(keep_prefixes)]:
        del st.session_state[key]


def scores() -> Optional[pd.DataFrame]:
    """Every score computed so far for the current data set (indexed by id), or None."""
    return get("score_table")


def add_scores(new: Optional[pd.DataFrame]) -> None:
    """Merge freshly computed score columns into the session's table (newer columns win)."""
    if dataset() is None or new is None or new.empty:
        return
    older = scores()
    if older is not None and len(older) == len(new):
        new = join_scores(older, new)
    put("score_table", new.copy())
    put("table_version", get("table_version") + 1)
    get("memo").clear()


def score_columns() -> list:
    """Names of the scorer columns (not flags or extras) computed so far."""
    table = scores()
    return [] if table is None else score_names(table.columns)


def set_seed(value: int) -> None:
    """A new seed: results of the old one (scores, curves, auto) no longer apply."""
    if int(value) == seed():
        return
    put("seed", int(value))
    for name in ("score_table", "curves", "auto_result", "exact_checks", "memo"):
        put(name, KEYS[name].default())
    put("table_version", get("table_version") + 1)
    if get("partitioned") is not None:  # scores read from partitions cannot be recomputed here: they stay
        add_scores(get("partitioned")["table"])


def memo(name: str, key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()`` memoised once per ``(name, key)`` for this session (one entry per name)."""
    store = get("memo")
    entry = store.get(name)
    if entry is not None and entry[0] == key:
        return entry[1]
    value = compute()
    store[name] = (key, value)
    return value


def aligned_scores() -> Optional[pd.DataFrame]:
    """The score table in the data set's row order (computed once per score table)."""
    ds, table = dataset(), scores()
    if ds is None or table is None:
        return None
    return memo("aligned", (ds.fingerprint, get("table_version")), lambda: align_scores(ds, table))


# --- forced rows -------------------------------------------------------------------------------


def forced() -> list:
    return list(get("forced"))


def add_forced(action: str, ids: Iterable, note: str) -> None:
    ids = list(ids)
    if ids:
        put("forced", forced() + [{"action": action, "ids": ids, "note": note}])


def undo_forced(index: Optional[int] = None) -> None:
    """Undo edit ``index`` (every edit when None)."""
    edits = forced()
    if index is None:
        edits = []
    elif 0 <= index < len(edits):
        edits.pop(index)
    put("forced", edits)


def forced_sets() -> tuple[list, list]:
    """(force_keep ids, force_drop ids): a later action on the same row wins."""
    final: dict = {}
    for entry in forced():
        for row_id in entry["ids"]:
            final[row_id] = entry["action"]
    return ([i for i, a in final.items() if a == "keep"], [i for i, a in final.items() if a == "drop"])


# --- recipe ------------------------------------------------------------------------------------


def recipe_now() -> dict:
    return dict(get("recipe"))


def set_recipe(strategy: str, keep: Optional[float], threshold: Optional[float]) -> None:
    put("recipe", {"strategy": strategy, "keep": keep, "threshold": threshold})


# --- sticky widgets ----------------------------------------------------------------------------


def sticky(key: str, default: Any, options: Optional[list] = None) -> None:
    """Give widget ``key`` its remembered value (or ``default``) before the widget is drawn.

    Call :func:`remember` with the widget's return value afterwards. Values no longer among
    ``options`` fall back to ``default``.
    """
    memory = get("widget_memory")
    if key not in st.session_state or (get("page_changed") and key in memory):
        value = memory.get(key, default)
        if options is not None and value not in options:
            value = default
        st.session_state[key] = value
    elif options is not None and st.session_state[key] not in options:
        st.session_state[key] = default


def remember(key: str, value: Any) -> Any:
    get("widget_memory")[key] = value
    return value


def set_widget(key: str, value: Any) -> None:
    """Set a widget's value from code (before the widget is drawn, e.g. in a callback)."""
    st.session_state[key] = value
    get("widget_memory")[key] = value


def reset_widgets(keys: Iterable[str]) -> None:
    """Forget widgets' values (drawn next with their defaults)."""
    memory = get("widget_memory")
    for key in keys:
        memory.pop(key, None)
        if key in st.session_state:
            del st.session_state[key]


def widget(key: str, default: Any = None) -> Any:
    """A widget's current (or remembered) value without drawing it."""
    return st.session_state.get(key, get("widget_memory").get(key, default))


# --- pages and errors --------------------------------------------------------------------------

PAGES: dict = {}  # filled by the router: page name -> st.Page


def page(name: str):
    return PAGES.get(name, f"pages/{name}.py")


def note_page(url_path: str) -> None:
    """Record which page this run shows (sticky widgets restore their value once per visit)."""
    put("page_changed", get("page") != url_path)
    put("page", url_path)


@contextmanager
def user_errors(prefix: str = ""):
    """Show a :class:`core.WorkbenchError` as a plain message; nothing in the session is lost."""
    try:
        yield
    except core.WorkbenchError as err:
        text = loaders.hide_server_paths(for_app(err))
        st.error(f"{prefix}{text}" if prefix else text, icon=":material/error:")


class PageEnd(Exception):
    """Raised by :func:`end_page`; the router catches it."""


def end_page() -> None:
    """End the page here. Unlike ``st.stop()``, the router still draws the sidebar afterwards."""
    raise PageEnd


def require_dataset():
    """The current data set, or end the page with a pointer to the Data page."""
    ds = dataset()
    if ds is None:
        st.info("Load a data set on the **Data** page first.", icon=":material/database:")
        st.page_link(page("data"), label="Go to Data", icon=":material/database:")
        end_page()
    return ds


def ids_of(positions: np.ndarray) -> list:
    ds = dataset()
    return [ds.ids[int(p)] for p in positions]
