"""The workbench app's router: ``streamlit run workbench/app.py``.

It sets up the page and the session's state, offers a bundled sample on first open (data only:
nothing expensive is computed without a click), runs the page the user picked, and then draws
the sidebar so that it describes what the page just did. Pages live in the top-level ``pages/``
folder. Operator settings (server mode, cache folder) are in :mod:`workbench.settings`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run workbench/app.py` puts only workbench/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from core.scorers import machine_factor  # noqa: E402

from workbench import jobs, maps, settings, sidebar, state  # noqa: E402

# a local icon: a ":material/...:" page icon makes the browser fetch the favicon from the internet
st.set_page_config(page_title="Data Pruning Workbench", page_icon=str(ROOT / "workbench" / "icon.png"),
                   layout="wide", initial_sidebar_state="expanded")
state.init()
state.check_in()  # several users on one server: this session's data count toward the memory bound

PAGE_DIR = ROOT / "pages"
pages = {
    "data": st.Page(PAGE_DIR / "data.py", title="Data", icon=":material/database:", default=True),
    "scores": st.Page(PAGE_DIR / "scores.py", title="Scores", icon=":material/analytics:", url_path="scores"),
    "map": st.Page(PAGE_DIR / "map.py", title="Map", icon=":material/scatter_plot:", url_path="map"),
    "tune": st.Page(PAGE_DIR / "tune.py", title="Tune", icon=":material/tune:", url_path="tune"),
    "export": st.Page(PAGE_DIR / "export.py", title="Export", icon=":material/download:", url_path="export"),
    "columns": st.Page(PAGE_DIR / "columns.py", title="Columns", icon=":material/view_column:", url_path="columns"),
    "incoming": st.Page(PAGE_DIR / "incoming.py", title="Incoming", icon=":material/move_to_inbox:",
                        url_path="incoming"),
}
state.PAGES.update(pages)
current = st.navigation(list(pages.values()))
sidebar_slot = st.sidebar.container()
state.note_page(current.url_path or "data")


def _preload() -> None:
    """Open the bundled sample before the first page is drawn (about 0.1 s): a rerun after the first
    draw would redraw the page under a click the user made meanwhile and lose it."""
    state.put("preloaded", True)
    sample = settings.operator().preload
    if sample and state.dataset() is None:
        with state.user_errors("Could not preload the bundled sample: "):
            from workbench import loaders

            with sidebar_slot, st.spinner(f"Opening the bundled sample '{sample}'..."):
                state.set_dataset(loaders.load_sample(sample), f"Sample: {sample}")


if not state.get("preloaded"):
    machine_factor()  # this machine's speed for time estimates, probed before the session starts any work
    _preload()
jobs.settle()  # jobs that ended while their page was not shown land in the state before anything is drawn
if state.dataset() is not None and settings.operator().umap == "load":
    maps.ensure_umap(state.dataset(), state.seed())

try:
    current.run()
except state.PageEnd:  # a page ended early (no data yet); the sidebar still follows
    pass
state.put("page_changed", False)
sidebar.render(sidebar_slot)
