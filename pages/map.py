"""Map: a 2-D map of every row (PCA at once, UMAP when ready); draw an area to force-keep or drop its rows."""

from __future__ import annotations

import numpy as np
import streamlit as st

from workbench import map_canvas, map_views, maps, media, resources, state, tuning

ds = state.require_dataset()
seed = state.seed()
st.title("Map")
st.caption("Each point is a row. Draw a lasso or a box to select every row inside it, then force-keep or "
           "force-drop them; click a point to see it.")

maps.ensure_umap(ds, seed, asked=True)
umap = maps.umap_coords(ds, seed)
sel, problem = tuning.safe_selection(ds)
if problem:
    st.warning(f"The Tune recipe does not apply ({problem}); showing a random selection instead.")
aligned, names = state.aligned_scores(), state.score_columns()

top = st.columns([1.1, 1.4, 1.3, 1.2])
methods = ["UMAP", "PCA"] if umap is not None else ["PCA"]
method_key = f"map_method_{len(methods)}"  # a new key when UMAP arrives, so the map switches to it by itself
state.sticky(method_key, methods[0], methods)
method = state.remember(method_key, top[0].radio("Layout", methods, key=method_key, horizontal=True))
colours = map_views.colour_options(aligned, names)
state.sticky("map_colour", colours[0], colours)
colour = state.remember("map_colour", top[1].selectbox("Colour by", colours, key="map_colour"))
map_views.keep_slider(top[2])


@st.fragment(run_every=3)
def umap_status() -> None:
    """Say how UMAP is doing; rerun the page once it is ready."""
    job = state.get("umap_job")
    if job is None or job.fingerprint != ds.fingerprint:
        if maps.waiting_for_scoring():
            st.caption(":material/hourglass_top: UMAP starts when scoring is done (it reuses scoring's "
                       "neighbour search). The PCA map is shown meanwhile.")
        return
    if job.poll() is not None:
        st.rerun()
    if job.failed:
        st.caption(f"UMAP could not be computed ({job.error_}); the PCA map is shown.")
        return
    how = "on scoring's neighbour search" if job.graph else "with its own neighbour search (score first to reuse it)"
    st.caption(f":material/hourglass_top: UMAP is computing in the background {how}: {job.elapsed:.0f} s so far. "
               "The PCA map is shown meanwhile and switches over when UMAP is ready.")


with top[3]:
    if umap is not None:
        st.caption("UMAP ready (cached on disk for this data set).")
    elif maps.umap_mode() == "off":
        st.caption("UMAP is switched off by the operator (WORKBENCH_UMAP=off); the PCA map is shown.")
    else:
        umap_status()

coords = umap if method == "UMAP" and umap is not None else resources.pca_map(ds, seed)
flagged, flaggers = map_views.flagged_rows(ds, aligned, names)
shown = maps.display_sample(ds, sel.mask, flagged, seed)
order = maps.draw_order(shown, seed)
if len(shown) < ds.n_samples:
    st.info(f"Drawing {len(shown):,} of {ds.n_samples:,} points: flagged rows first, then a sample with the data's "
            "shares of kept and dropped rows per class. A drawn area selects every row inside it, drawn or not.",
            icon=":material/filter_alt:")
canvas_key = f"map_canvas_{ds.fingerprint[:8]}_{method}"
event = state.widget(canvas_key) or {}
area = event if event.get("kind") == "area" else None
inside = maps.rows_inside(coords, area)
if event.get("kind") == "point" and 0 <= int(event.get("index", -1)) < len(order):
    inside[order[int(event["index"])]] = True
picked = np.flatnonzero(inside)
groups = map_views.duplicate_groups(aligned, names)
base = map_views.picture(colour, ds, sel, aligned, flagged, flaggers, method, groups)
pic = base.with_selection(inside if len(picked) else None)
if len(picked):
    kept_inside = int(sel.mask[picked].sum())
    pic.notes = pic.notes + [f"Selected area: {len(picked):,} rows, {kept_inside:,} kept "
                             f"({kept_inside / len(picked):.0%}); the other rows are greyed."]

chart_col, side_col = st.columns([3, 1.25], gap="medium")
with side_col:
    if len(picked):
        st.markdown(f"**{maps.selection_words(int(inside[shown].sum()), len(shown), len(picked))}**")
        picked_ids, note = state.ids_of(picked), f"{len(picked):,} rows on the {method} map"
        a, b = st.columns(2)
        # callbacks: the edit is in place before the script runs, so one run draws it
        a.button("Force keep", key="map_keep", icon=":material/add_circle:", type="primary",
                 on_click=state.add_forced, args=("keep", picked_ids, note))
        b.button("Force drop", key="map_drop", icon=":material/remove_circle:",
                 on_click=state.add_forced, args=("drop", picked_ids, note))
        map_views.detail_card(ds, int(picked[0]), sel, aligned, names)
        if media.has_images(ds) and len(picked) > 1:
            st.caption("The first selected row is shown; hover a point for its label, click it to see its picture.")
    else:
        st.markdown(f"**Nothing selected** · {len(shown):,} of {ds.n_samples:,} rows shown")
        st.caption("Use the lasso or box tool in the chart's toolbar, or click a point.")
    map_views.edits_list()
    st.caption(f"Current selection keeps **{sel.n_kept:,}** of {ds.n_samples:,} rows (`{sel.resolved_strategy}`).")

with chart_col:  # drawn last: the words above reach the browser before the map repaints
    tag = f"{ds.fingerprint}:{method}:{seed}"
    ids_name, write_ids = map_canvas.ids_file(ds.ids, order, tag)
    map_canvas.draw(xy=map_canvas.coordinates_file(coords, order, tag), ids=ids_name,
                    codes=pic.codes[order], palette=pic.palette, names=pic.names,
                    layers=pic.layers or [list(range(len(pic.palette)))],
                    legend={"items": pic.items, "notes": pic.notes, "scale": pic.scale}, title=pic.title,
                    sizes=pic.sizes, area=area, key=canvas_key)
    write_ids()  # after the map's message: hover needs the ids, the first draw does not
