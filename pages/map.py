"""Map: a 2-D map of the rows (PCA at once, UMAP when ready); lasso rows to force-keep or drop them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from workbench import map_views, maps, media, resources, state, tuning

ds = state.require_dataset()
seed = state.seed()
st.title("Map")
st.caption("Each point is a row. Draw a lasso or a box around points to force-keep or force-drop them; "
           "click a point to see it.")

if maps.umap_mode() != "off":
    maps.ensure_umap(ds, seed)
umap = maps.umap_coords(ds, seed)
sel, problem = tuning.safe_selection(ds)
if problem:
    st.warning(f"The Tune recipe does not apply ({problem}); showing a random selection instead.")
aligned, names = state.aligned_scores(), state.score_columns()

top = st.columns([1.2, 1.6, 1.2])
methods = ["UMAP", "PCA"] if umap is not None else ["PCA"]
method_key = f"map_method_{len(methods)}"  # a new key when UMAP arrives, so the map switches to it by itself
state.sticky(method_key, methods[0], methods)
method = state.remember(method_key, top[0].radio("Layout", methods, key=method_key, horizontal=True))
colours = map_views.colour_options(aligned, names)
state.sticky("map_colour", colours[0], colours)
colour = state.remember("map_colour", top[1].selectbox("Colour by", colours, key="map_colour"))


@st.fragment(run_every=3)
def umap_status() -> None:
    """Say how UMAP is doing; rerun the page once it is ready."""
    job = state.get("umap_job")
    if job is None or job.fingerprint != ds.fingerprint:
        return
    if job.poll() is not None:
        st.rerun()
    if job.failed:
        st.caption(f"UMAP could not be computed ({job.error_}); the PCA map is shown.")
        return
    st.caption(f":material/hourglass_top: UMAP is computing in the background ({job.elapsed:.0f} s so far; "
               "about a minute for a few thousand rows, a few minutes at 50k). The PCA map is shown meanwhile "
               "and switches over when UMAP is ready.")


with top[2]:
    if umap is not None:
        st.caption("UMAP ready (cached on disk for this data set).")
    elif maps.umap_mode() == "off":
        st.caption("UMAP is switched off by the operator (WORKBENCH_UMAP=off); the PCA map is shown.")
    else:
        umap_status()

coords = umap if method == "UMAP" and umap is not None else resources.pca_map(ds, seed)
flagged, flaggers = map_views.flagged_rows(ds, aligned, names)
shown = maps.display_sample(ds, sel.mask, flagged, seed)
if len(shown) < ds.n_samples:
    st.info(f"Showing {len(shown):,} of {ds.n_samples:,} points to keep the map fast: flagged rows first, then a "
            "sample with the data's shares of kept and dropped rows per class. Selections and exports use all rows.",
            icon=":material/filter_alt:")
hover = maps.hover_texts(ds, shown, sel.mask, aligned, names)
fig = map_views.figure(colour, ds, coords, shown, sel, aligned, flagged, flaggers, hover, method)

chart_col, side_col = st.columns([3, 1], gap="medium")
with chart_col:
    event = st.plotly_chart(fig, key=f"map_chart_{ds.fingerprint[:8]}_{method}", on_select="rerun",
                            selection_mode=("points", "box", "lasso"), config={"displaylogo": False})
points = (event.selection.points if event and event.selection else []) or []
picked = sorted({int(np.ravel(p["customdata"])[0]) for p in points if p.get("customdata") is not None})

with side_col:
    st.markdown(f"**Selected: {len(picked):,} point{'s' if len(picked) != 1 else ''}**")
    if picked:
        picked_ids, note = state.ids_of(np.asarray(picked)), f"{len(picked):,} rows on the {method} map"
        a, b = st.columns(2)
        if a.button("Force keep", key="map_keep", icon=":material/add_circle:", type="primary"):
            state.add_forced("keep", picked_ids, note)
            st.rerun()
        if b.button("Force drop", key="map_drop", icon=":material/remove_circle:"):
            state.add_forced("drop", picked_ids, note)
            st.rerun()
        map_views.detail_card(ds, picked[0], sel, aligned, names)
        if media.has_images(ds):
            st.caption("Plotly hovers cannot show images: the first selected point is shown here.")
    else:
        st.caption("Use the lasso or box tool in the chart's toolbar, or click a point.")
    map_views.edits_list()
    st.caption(f"Current selection keeps **{sel.n_kept:,}** of {ds.n_samples:,} rows (`{sel.resolved_strategy}`).")
