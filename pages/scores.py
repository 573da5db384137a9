"""Scores: choose scorers by family, compute them in the background, and look at what they say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from workbench import charts, galleries, jobs, resources, scoring, state

ds = state.require_dataset()
st.title("Scores")
st.caption("Each scorer gives every row one number. Computed once per data set and cached on disk.")

scorers = resources.list_scorers()
computed = set(state.score_columns())
defaults = set(resources.default_scorers())
job = st.session_state.get("scores_job")
busy = job is not None and job.running

chooser_label = f"Choose scorers ({len(computed)} computed)" if computed else "Choose scorers"
with st.expander(chooser_label, expanded=not computed or busy, icon=":material/checklist:"):
    families = [f for f in scoring.FAMILY_ORDER if any(m["family"] == f for m in scorers)]
    columns = st.columns(len(families))
    picked = []
    for column, family in zip(columns, families):
        with column:
            st.markdown(f"**{scoring.FAMILY_TITLES.get(family, family)}**")
            for meta in [m for m in scorers if m["family"] == family]:
                name = meta["name"]
                key = f"scores_pick_{name}"
                state.sticky(key, name in defaults)
                done = " ✓" if name in computed else ""
                value = st.checkbox(f"{name}{done} · {scoring.COST_HINTS.get(meta.get('cost'), '')}", key=key,
                                    help=f"{meta['description']} Higher means {meta['higher_means']}.",
                                    disabled=busy)
                state.remember(key, value)
                st.caption(meta["description"])
                if value:
                    picked.append(name)
    todo = [n for n in picked if n not in computed]
    left, right = st.columns([1, 3])
    clicked = left.button(f"Compute {len(todo)} scorer{'s' if len(todo) != 1 else ''}", type="primary",
                          key="scores_compute", disabled=busy or not todo, icon=":material/play_arrow:")
    right.caption("Already computed scorers (✓) load from the cache. Slow scorers train a small model several "
                  "times; you can cancel at any point and keep what finished.")
    if clicked and todo:
        job = scoring.start(ds, todo, st.session_state["seed"], st.session_state["folds"])
        busy = True


jobs.progress_panel("scores_job", scoring.collect)

last = st.session_state.get("scores_last_job")
if last and last["status"] == "failed":
    st.error(f"Scoring stopped: {last['error']}", icon=":material/error:")
elif last and last["status"] == "cancelled":
    kept = ", ".join(last["partial"]) or "nothing new"
    st.info(f"Cancelled. Kept what finished before the cancel: {kept}.", icon=":material/info:")

table = state.scores()
names = state.score_columns()
if table is None or not names:
    st.info("No scores yet: pick scorers above and press **Compute**. The default set takes seconds.")
    st.stop()

aligned = state.aligned_scores()
tabs = st.tabs(["Distributions", "Agreement", "Data Map", "Lowest and highest", "Table"])

with tabs[0]:
    a, b, c = st.columns([2, 1, 2])
    state.sticky("scores_view", names[0], names)
    name = state.remember("scores_view", a.selectbox("Score", names, key="scores_view"))
    state.sticky("scores_plot", "Histogram", ["Histogram", "Violin"])
    kind = state.remember("scores_plot", b.radio("Plot", ["Histogram", "Violin"], key="scores_plot",
                                                 horizontal=True))
    meta = resources.scorer_meta(name) or {}
    values = pd.to_numeric(aligned[name], errors="coerce").to_numpy(dtype=float)
    cut, cut_label = galleries.current_cut(values, name, meta, state.recipe())
    c.caption(f"Higher means **{meta.get('higher_means', '?')}**; a default pruning keeps the "
              f"**{meta.get('keep', 'high')}** end.")
    flag = f"{name}_flag"
    if flag in aligned.columns:
        c.caption(f"Flagged rows: **{int(aligned[flag].fillna(False).astype(bool).sum()):,}**")
    st.plotly_chart(charts.score_distribution(values, ds.y, ds.classes, name, threshold=cut,
                                              threshold_label=cut_label, kind=kind.lower(),
                                              higher_means=meta.get("higher_means", "")),
                    key="scores_distribution")

with tabs[1]:
    if len(names) < 2:
        st.info("Compute at least two scorers to see how they agree.")
    else:
        st.plotly_chart(charts.correlation_heatmap(aligned[names].apply(pd.to_numeric, errors="coerce")),
                        key="scores_heatmap")
        st.caption("Spearman rank correlation: scorers near +1 rank rows alike; near 0 they see different things.")

with tabs[2]:
    if {"datamap_confidence", "datamap_variability"} <= set(aligned.columns):
        hover = [f"id {i} · {lab}" for i, lab in zip(ds.ids.astype(str), ds.labels.astype(str))]
        st.plotly_chart(charts.data_map(aligned["datamap_confidence"].to_numpy(float),
                                        aligned["datamap_variability"].to_numpy(float), ds.y, ds.classes, hover),
                        key="scores_datamap")
        st.caption("Low confidence and low variability: hard to learn, often mislabeled. High variability: "
                   "ambiguous rows that help generalisation (Swayamdipta et al. 2020).")
    else:
        st.info("The Data Map needs the training-dynamics scorers **datamap_confidence** and "
                "**datamap_variability**: tick them above and compute.")

with tabs[3]:
    a, b = st.columns([2, 1])
    state.sticky("scores_gallery", names[0], names)
    gallery_name = state.remember("scores_gallery", a.selectbox("Score", names, key="scores_gallery"))
    count = b.slider("Rows each side", 4, 24, 8, step=4, key="scores_gallery_n")
    values = pd.to_numeric(aligned[gallery_name], errors="coerce").to_numpy(dtype=float)
    order = np.argsort(np.nan_to_num(values, nan=np.inf), kind="stable")
    low, high = order[:count], order[::-1][:count]
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Lowest {gallery_name}**")
        galleries.show(ds, low, values, gallery_name, key="scores_low")
    with right:
        st.markdown(f"**Highest {gallery_name}**")
        galleries.show(ds, high, values, gallery_name, key="scores_high")

with tabs[4]:
    st.dataframe(table.head(2000), height=420)
    st.caption(f"{len(table):,} rows × {table.shape[1]} columns (first 2,000 shown). Export them on the Export page.")

st.page_link(state.page("map"), label="Next: see the map", icon=":material/arrow_forward:")
