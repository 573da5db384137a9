"""The Map page's pieces: the scatter for each colouring, the detail card and the list of edits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.scorers import flag_column
from workbench import charts, maps, media, state


def colour_options(aligned, names: list) -> list:
    flags = [n for n in names if aligned is not None and flag_column(n) in aligned.columns]
    return ["Kept / dropped", "Class"] + (["Flagged"] if flags else []) + [f"Score: {n}" for n in names]


def flagged_rows(ds, aligned, names: list) -> tuple[np.ndarray, list]:
    """(rows flagged by any computed flagging scorer, the names of those scorers)."""
    flaggers = [n for n in names if aligned is not None and flag_column(n) in aligned.columns]
    if not flaggers:
        return np.zeros(ds.n_samples, dtype=bool), []
    columns = [flag_column(n) for n in flaggers]
    return aligned[columns].fillna(False).astype(bool).any(axis=1).to_numpy(), flaggers


def figure(colour: str, ds, coords, shown, sel, aligned, flagged, flaggers, hover, method: str):
    """The map coloured as asked; above the display limit kept rows draw above dropped ones."""
    common = dict(hover=hover, values=None, value_name="")
    xy = coords[shown]
    if colour == "Kept / dropped":
        # up to the limit every dropped row shows on top (what a user came to inspect); above it the
        # display is a sample and kept rows go on top, so a 50% keep does not look mostly red
        on_top = 1 if ds.n_samples > maps.MAX_POINTS else 0
        return charts.map_scatter(xy, shown, colour_mode="category", categories=sel.mask[shown].astype(int),
                                  category_names=["dropped", "kept"], category_colours=[charts.DROPPED, charts.KEPT],
                                  title=f"{method} map — kept and dropped rows", on_top=on_top, **common)
    if colour == "Class":
        return charts.map_scatter(xy, shown, colour_mode="category", categories=ds.y[shown],
                                  category_names=[str(c) for c in ds.classes],
                                  category_colours=[charts.class_colour(i) for i in range(ds.n_classes)],
                                  title=f"{method} map — classes", **common)
    if colour == "Flagged":
        return charts.map_scatter(xy, shown, colour_mode="category", categories=(~flagged[shown]).astype(int),
                                  category_names=[f"flagged by {', '.join(flaggers)}", "not flagged"],
                                  category_colours=[charts.DROPPED, charts.RANDOM],
                                  title=f"{method} map — rows flagged by a scorer", **common)
    score = colour.removeprefix("Score: ")
    values = pd.to_numeric(aligned[score], errors="coerce").to_numpy(float)
    return charts.map_scatter(xy, shown, colour_mode="value", categories=None, category_names=[],
                              category_colours=[], title=f"{method} map — {score}", hover=hover,
                              values=values[shown], value_name=score)


def detail_card(ds, position: int, sel, aligned, names: list) -> None:
    """One row: id, label, kept or dropped, its picture or text, and its scores."""
    with st.container(border=True):
        st.caption(f"id `{ds.ids[position]}` · label **{ds.labels[position]}** · "
                   f"{'kept' if sel.mask[position] else 'dropped'}")
        if media.has_images(ds):
            st.image(media.thumbnail_png(ds.images[position], 112), width=112)
        elif ds.text_column is not None:
            st.write(media.snippet(ds.frame[ds.text_column].iloc[position], 400))
        if aligned is not None and names:
            st.dataframe(aligned.iloc[position][names].rename("score").to_frame(), height=200)


def edits_list() -> None:
    """The map edits in order, each with an undo button, and Clear all."""
    edits = state.forced()
    st.markdown(f"**Map edits ({len(edits)})**")
    for i, entry in enumerate(edits):
        row = st.columns([5, 1], vertical_alignment="center")
        verb = "Force-kept" if entry["action"] == "keep" else "Force-dropped"
        row[0].caption(f"{i + 1}. {verb}: {entry['note']}")
        if row[1].button("", key=f"map_undo_{i}", icon=":material/undo:", help="Undo this edit", type="tertiary"):
            state.undo_forced(i)
            st.rerun()
    if edits and st.button("Clear all edits", key="map_clear", icon=":material/undo:"):
        state.undo_forced(None)
        st.rerun()
