"""Map: a 2-D map of the rows (PCA at once, UMAP when ready); lasso rows to force-keep or drop them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from workbench import charts, maps, media, resources, state, tuning

ds = state.require_dataset()
seed = int(st.session_state["seed"])
st.title("Map")
st.caption("Each point is a row. Draw a lasso or a box around points to force-keep or force-drop them; "
           "click a point to see it.")

if maps.umap_mode() != "off":
    maps.ensure_umap(ds, seed)
umap = maps.umap_coords(ds, seed)
job = st.session_state.get("umap_job")
sel, problem = tuning.safe_selection(ds)
if problem:
    st.warning(f"The Tune recipe does not apply ({problem}); showing a random selection instead.")
aligned = state.aligned_scores()
names = state.score_columns()

top = st.columns([1.2, 1.6, 1.2])
methods = ["UMAP", "PCA"] if umap is not None else ["PCA"]
# the key changes when UMAP arrives, so the map switches to it by itself
method_key = f"map_method_{len(methods)}"
state.sticky(method_key, methods[0], methods)
method = state.remember(method_key, top[0].radio("Layout", methods, key=method_key, horizontal=True))
flag_columns = [c for c in (aligned.columns if aligned is not None else []) if c.endswith("_flag")]
colour_options = ["Kept / dropped", "Class"] + (["Flagged"] if flag_columns else []) + [f"Score: {n}" for n in names]
state.sticky("map_colour", "Kept / dropped", colour_options)
colour = state.remember("map_colour", top[1].selectbox("Colour by", colour_options, key="map_colour"))


@st.fragment(run_every=3)
def umap_status() -> None:
    """Say how UMAP is doing; rerun the page once it is ready."""
    job = st.session_state.get("umap_job")
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
    if umap is None:
        if maps.umap_mode() == "off":
            st.caption("UMAP is switched off (WORKBENCH_UMAP=off); the PCA map is shown.")
        else:
            umap_status()
    else:
        st.caption("UMAP ready (cached on disk for this data set).")

coords = umap if method == "UMAP" and umap is not None else resources.pca_map(ds, seed)
flagged = (aligned[flag_columns].fillna(False).astype(bool).any(axis=1).to_numpy() if flag_columns
           else np.zeros(ds.n_samples, dtype=bool))
shown = maps.display_sample(ds, sel.mask, flagged, seed)
if len(shown) < ds.n_samples:
    st.info(f"Showing {len(shown):,} of {ds.n_samples:,} points to keep the map fast: every dropped or flagged "
            "row plus a class-stratified sample of the rest. Selections and exports use all rows.",
            icon=":material/filter_alt:")

hover = maps.hover_texts(ds, shown, sel.mask, aligned, names)
if colour == "Kept / dropped":
    fig = charts.map_scatter(coords[shown], shown, colour_mode="category", categories=sel.mask[shown].astype(int),
                             category_names=["dropped", "kept"], category_colours=[charts.DROPPED, charts.KEPT],
                             values=None, value_name="", hover=hover, title=f"{method} map — kept and dropped rows")
elif colour == "Class":
    fig = charts.map_scatter(coords[shown], shown, colour_mode="category", categories=ds.y[shown],
                             category_names=[str(c) for c in ds.classes],
                             category_colours=[charts.class_colour(i) for i in range(ds.n_classes)],
                             values=None, value_name="", hover=hover, title=f"{method} map — classes")
elif colour == "Flagged":
    by = ", ".join(c.removesuffix("_flag") for c in flag_columns)
    # code 0 draws on top: the flagged rows
    fig = charts.map_scatter(coords[shown], shown, colour_mode="category", categories=(~flagged[shown]).astype(int),
                             category_names=[f"flagged by {by}", "not flagged"],
                             category_colours=[charts.DROPPED, charts.RANDOM], values=None, value_name="",
                             hover=hover, title=f"{method} map — rows flagged by a scorer")
else:
    score = colour.removeprefix("Score: ")
    values = pd.to_numeric(aligned[score], errors="coerce").to_numpy(float)
    fig = charts.map_scatter(coords[shown], shown, colour_mode="value", categories=None, category_names=[],
                             category_colours=[], values=values[shown], value_name=score, hover=hover,
                             title=f"{method} map — {score}")

chart_col, side_col = st.columns([3, 1], gap="medium")
with chart_col:
    event = st.plotly_chart(fig, key=f"map_chart_{ds.fingerprint[:8]}_{method}", on_select="rerun",
                            selection_mode=("points", "box", "lasso"), config={"displaylogo": False})
points = (event.selection.points if event and event.selection else []) or []
picked = sorted({int(np.ravel(p["customdata"])[0]) for p in points if p.get("customdata") is not None})

with side_col:
    st.markdown(f"**Selected: {len(picked):,} point{'s' if len(picked) != 1 else ''}**")
    if picked:
        picked_ids = state.ids_of(np.asarray(picked))
        note = f"{len(picked):,} rows on the {method} map"
        a, b = st.columns(2)
        if a.button("Force keep", key="map_keep", icon=":material/add_circle:", type="primary"):
            state.add_forced("keep", picked_ids, note)
            st.rerun()
        if b.button("Force drop", key="map_drop", icon=":material/remove_circle:"):
            state.add_forced("drop", picked_ids, note)
            st.rerun()
        first = picked[0]
        with st.container(border=True):
            st.caption(f"id `{ds.ids[first]}` · label **{ds.labels[first]}** · "
                       f"{'kept' if sel.mask[first] else 'dropped'}")
            if media.has_images(ds):
                st.image(media.thumbnail_png(ds.images[first], 112), width=112)
            elif ds.text_column is not None:
                st.write(media.snippet(ds.frame[ds.text_column].iloc[first], 400))
            if aligned is not None and names:
                st.dataframe(aligned.iloc[first][names].rename("score").to_frame(), height=200)
        if media.has_images(ds):
            st.caption("Plotly hovers cannot show images: the first selected point is shown here.")
    else:
        st.caption("Use the lasso or box tool in the chart's toolbar, or click a point.")
    forced = st.session_state.get("forced") or []
    st.markdown(f"**Map edits ({len(forced)})**")
    for i, entry in enumerate(forced):
        row = st.columns([5, 1], vertical_alignment="center")
        verb = "kept" if entry["action"] == "keep" else "dropped"
        row[0].caption(f"{i + 1}. Forced {verb}: {entry['note']}")
        if row[1].button("", key=f"map_undo_{i}", icon=":material/undo:", help="Undo this edit",
                         type="tertiary"):
            state.undo_forced(i)
            st.rerun()
    if forced and st.button("Clear all edits", key="map_clear", icon=":material/undo:"):
        st.session_state["forced"] = []
        st.rerun()
    st.caption(f"Current selection keeps **{sel.n_kept:,}** of {ds.n_samples:,} rows (`{sel.strategy}`).")
