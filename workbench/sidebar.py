"""The sidebar: what is loaded, what the current selection keeps, and settings (cache folder, seed)."""

from __future__ import annotations

import os

import streamlit as st

from core.foundation import cache
from workbench import state


def render() -> None:
    with st.sidebar:
        ds = state.dataset()
        if ds is None:
            st.caption("No data loaded yet.")
        else:
            st.markdown(f"**{st.session_state.get('ds_origin') or 'Data'}**")
            st.caption(f"{ds.n_samples:,} rows · {ds.n_features:,} features · {ds.n_classes} classes · {ds.kind}")
            n_scores = len(state.score_columns())
            recipe = state.recipe()
            budget = (f"keep {recipe['keep']:.0%}" if recipe.get("keep") is not None
                      else f"threshold {recipe.get('threshold')}")
            st.caption(f"Scores: {n_scores or 'none yet'} · Strategy: `{recipe['strategy']}` ({budget})")
            forced = st.session_state.get("forced") or []
            if forced:
                st.caption(f"Manual edits on the map: {len(forced)}")
        with st.expander("Settings", icon=":material/settings:"):
            _settings()


def _settings() -> None:
    st.caption("Results are cached on disk by data fingerprint, so reopening the app never recomputes.")
    st.text_input("Cache folder", value=str(cache.cache_dir()), key="settings_cache_dir",
                  help="Set WORKBENCH_CACHE_DIR before starting the app to change the default.")
    wanted = st.session_state.get("settings_cache_dir", "").strip()
    if wanted and wanted != str(cache.cache_dir()):
        if st.button("Use this folder", key="settings_use_cache"):
            os.environ["WORKBENCH_CACHE_DIR"] = wanted
            try:
                cache.cache_dir()
                st.rerun()
            except OSError as err:
                st.error(f"Cannot use {wanted} as the cache folder ({err.strerror}). Pick a writable folder.")
    seed = st.number_input("Seed", min_value=0, max_value=10_000, value=int(st.session_state["seed"]), step=1,
                           key="settings_seed", help="Seeds scorers, random strategies and the CV folds.")
    if int(seed) != st.session_state["seed"]:
        st.session_state.update(seed=int(seed), curves={}, auto_result=None,
                                scores_version=st.session_state.get("scores_version", 0) + 1)
        ds = state.dataset()
        # scores of this seed may already be cached on disk
        st.session_state["scores"] = None if ds is None else cache.load(state.SCORES_KIND, state.scores_key(ds))
