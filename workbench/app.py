"""The workbench app's router: ``streamlit run workbench/app.py``.

It sets up the page, shared session state and the sidebar, preloads a bundled sample on first
open (data only: nothing expensive is computed without a click), and hands over to the page the
user picked. Pages live in the top-level ``pages/`` folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run workbench/app.py` puts only workbench/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from workbench import maps, sidebar, state  # noqa: E402

st.set_page_config(page_title="Data Pruning Workbench", page_icon=":material/content_cut:", layout="wide",
                   initial_sidebar_state="expanded")
state.init()

PAGE_DIR = ROOT / "pages"
pages = {
    "data": st.Page(PAGE_DIR / "data.py", title="Data", icon=":material/database:", default=True),
    "scores": st.Page(PAGE_DIR / "scores.py", title="Scores", icon=":material/analytics:", url_path="scores"),
    "map": st.Page(PAGE_DIR / "map.py", title="Map", icon=":material/scatter_plot:", url_path="map"),
    "tune": st.Page(PAGE_DIR / "tune.py", title="Tune", icon=":material/tune:", url_path="tune"),
    "export": st.Page(PAGE_DIR / "export.py", title="Export", icon=":material/download:", url_path="export"),
}
state.PAGES.update(pages)
current = st.navigation(list(pages.values()))

if not st.session_state["preloaded"]:
    st.session_state["preloaded"] = True
    sample = os.environ.get("WORKBENCH_PRELOAD", "known_answer")
    if sample and state.dataset() is None:
        with state.user_errors("Could not preload the bundled sample: "):
            from workbench import loaders

            with st.spinner(f"Loading the bundled sample '{sample}'..."):
                state.set_dataset(loaders.load_sample(sample), f"Sample: {sample}")

if state.dataset() is not None and maps.umap_mode() == "load":
    maps.ensure_umap(state.dataset(), st.session_state["seed"])

# Widgets of a page that was not shown lose their state; sticky widgets restore it once per visit.
st.session_state["_page_changed"] = st.session_state.get("_last_page") != current.url_path
st.session_state["_last_page"] = current.url_path
sidebar.render()
try:
    current.run()
finally:  # fragment reruns (slider moves) happen after this and must not restore old values
    st.session_state["_page_changed"] = False
