"""Scores: choose scorers by family, compute them in the background, and look at what they say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.scorers import flag_column
from workbench import charts, galleries, jobs, resources, scoring, state

ds = state.require_dataset()
st.title("Scores")
st.caption("Each scorer gives every row one number. Computed once per data set and cached on disk.")

computed = state.score_columns()
label = f"Choose scorers ({len(computed)} computed)" if computed else "Choose scorers"
with st.expander(label, expanded=not computed or jobs.running("scores"), icon=":material/checklist:"):
    scoring.chooser(ds, resources.list_scorers())
jobs.panel("scores")

table, names, aligned = state.scores(), state.score_columns(), state.aligned_scores()
if table is None or not names:
    st.info("No scores yet: pick scorers above and press **Compute**.")
    state.end_page()


def _values(name: str) -> np.ndarray:
    return pd.to_numeric(aligned[name], errors="coerce").to_numpy(dtype=float)


tabs = st.tabs(["Distributions", "Agreement", "Data Map", "Lowest and highest", "Table"])
with tabs[0]:
    a, b, c = st.columns([2, 1, 2])
    state.sticky("scores_view", names[0], names)
    name = state.remember("scores_view", a.selectbox("Score", names, key="scores_view"))
    state.sticky("scores_plot", "Histogram", ["Histogram", "Violin"])
    kind = state.remember("scores_plot", b.radio("Plot", ["Histogram", "Violin"], key="scores_plot",
                                                 horizontal=True))
    meta = resources.scorer_meta(name) or {}
    values = _values(name)
    cut, cut_label = galleries.current_cut(values, name, state.recipe_now())
    c.caption(f"Higher means **{meta.get('higher_means', '?')}**; a default pruning keeps the "
              f"**{meta.get('keep', 'high')}** end.")
    if flag_column(name) in aligned.columns:
        c.caption(f"Flagged rows: **{int(aligned[flag_column(name)].fillna(False).astype(bool).sum()):,}**")
    if cut is None and cut_label:
        c.caption(cut_label)
    st.plotly_chart(charts.score_distribution(values, ds.y, ds.classes, name, threshold=cut,
                                              threshold_label=cut_label, kind=kind.lower(),
                                              higher_means=meta.get("higher_means", "")), key="scores_distribution")

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
        st.plotly_chart(charts.data_map(_values("datamap_confidence"), _values("datamap_variability"), ds.y,
                                        ds.classes, hover), key="scores_datamap")
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
    values = _values(gallery_name)
    order = np.argsort(np.nan_to_num(values, nan=np.inf), kind="stable")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Lowest {gallery_name}**")
        galleries.show(ds, order[:count], values, gallery_name, key="scores_low")
    with right:
        st.markdown(f"**Highest {gallery_name}**")
        galleries.show(ds, order[::-1][:count], values, gallery_name, key="scores_high")

with tabs[4]:
    st.dataframe(table.head(2000), height=420)
    st.caption(f"{len(table):,} rows × {table.shape[1]} columns (first 2,000 shown). Export them on the Export page.")

st.page_link(state.page("map"), label="Next: see the map", icon=":material/arrow_forward:")
