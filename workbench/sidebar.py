"""The sidebar: what is loaded, what the current selection keeps, and the session's settings.

The router draws it after the page has run, so it describes the state the page just left
(a moved slider, an applied recommendation, a newly loaded data set) on the same run.
"""

from __future__ import annotations

import streamlit as st

from workbench import cards, jobs, settings, state


def summary_lines() -> list:
    """The sidebar's description of the session, one line each (also checked by the tests)."""
    ds = state.dataset()
    if ds is None:
        return ["No data loaded yet."]
    recipe = state.recipe_now()
    if recipe.get("threshold") is not None:
        budget = f"threshold {recipe['threshold']:.4g}"
    elif recipe.get("keep") is not None:
        budget = f"keep {recipe['keep']:.0%}"
    else:
        budget = "no budget"
    lines = [f"{ds.n_samples:,} rows · {ds.n_features:,} features · {ds.n_classes} classes · {ds.kind}",
             f"Scores: {len(state.score_columns()) or 'none yet'}",
             f"Strategy: {recipe['strategy']} ({budget})"]
    edits = state.forced()
    if edits:
        lines.append(f"Map edits: {len(edits)}")
    return lines


def render(container) -> None:
    """Fill ``container`` (a slot in the sidebar made before the page ran)."""
    with container:
        if state.dataset() is not None:
            st.markdown(f"**{cards.literal(state.get('origin') or 'Data')}**")
        for line in summary_lines():
            st.caption(line)
        jobs.sidebar_status()
        with st.expander("Settings", icon=":material/settings:"):
            _settings()


def _settings() -> None:
    state.sticky("settings_seed", state.seed())
    st.number_input("Seed", min_value=0, max_value=10_000, step=1, key="settings_seed", on_change=_new_seed,
                    help="Seeds scorers, random strategies and the CV folds.")
    if settings.server_mode():
        st.caption("Results are cached on this server by data fingerprint.")
        return
    folder = settings.operator().cache_dir or "the default folder (~/.cache/data-pruning-workbench)"
    st.caption(f"Results are cached on disk by data fingerprint in {folder}, so reopening the app never "
               "recomputes. To use another folder, start the app with WORKBENCH_CACHE_DIR set.")


def _new_seed() -> None:
    """Runs before the next script run, so the page already uses the new seed."""
    state.set_seed(int(state.remember("settings_seed", state.widget("settings_seed"))))
