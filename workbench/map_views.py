"""The Map page's pieces: the colouring of each point, its legend, the detail card and the list of edits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd
import streamlit as st

from core.scorers import extra_column, flag_column
from workbench import charts, media, state

UNSELECTED = "rgba(160,164,168,0.35)"  # points outside a selection: greyed, never hidden
SCORE_STEPS = 64  # colour steps of a score
DUPLICATES = "Duplicates: which copy survives"
NOT_DUPLICATED = "#D3D6DA"


@dataclass
class Picture:
    """How the map is coloured: one code per row, what each code looks like and means, and the legend.

    ``layers`` lists codes bottom to top; within a layer points keep the shuffled draw order.
    """

    title: str
    codes: np.ndarray  # shape (n_samples,), uint8
    palette: list
    names: list
    items: list = field(default_factory=list)  # legend entries
    notes: list = field(default_factory=list)
    scale: Optional[list] = None
    layers: Optional[list] = None
    sizes: Optional[list] = None  # point size (pixels) per code; None: every point the same size

    def with_selection(self, selected: Optional[np.ndarray]) -> "Picture":
        """Rows outside ``selected`` greyed, still drawn (None: no selection). An area's rows are all
        selected and the rest all grey, so the draw order needs no change (no points resent)."""
        if selected is None:
            return self
        grey = len(self.palette)
        codes = np.where(selected, self.codes, grey).astype(np.uint8)
        layers = [layer + ([grey] if i == 0 else []) for i, layer in enumerate(self.layers)] if self.layers else None
        sizes = self.sizes + [min(self.sizes)] if self.sizes else None
        return Picture(self.title, codes, self.palette + [UNSELECTED], self.names + ["not selected"], self.items,
                       self.notes, self.scale, layers, sizes)


def colour_options(aligned, names: list) -> list:
    flags = [n for n in names if aligned is not None and flag_column(n) in aligned.columns]
    copies = [DUPLICATES] if duplicate_groups(aligned, names) is not None else []
    return ["Kept / dropped", "Class"] + (["Flagged"] if flags else []) + copies + [f"Score: {n}" for n in names]


def duplicate_groups(aligned, names: list) -> Optional[np.ndarray]:
    """Duplicate group per row (-1: in none) from the first computed scorer that groups rows (the
    ``duplicate`` scorer's ``duplicate_group``), or None when no scorer grouped any row."""
    for name in names:
        column = extra_column(name, "group")
        if aligned is not None and column in aligned.columns:
            groups = pd.to_numeric(aligned[column], errors="coerce").fillna(-1).to_numpy(np.int64)
            if (groups >= 0).any():
                return groups
    return None


def flagged_rows(ds, aligned, names: list) -> tuple[np.ndarray, list]:
    """(rows flagged by any computed flagging scorer, the names of those scorers)."""
    flaggers = [n for n in names if aligned is not None and flag_column(n) in aligned.columns]
    if not flaggers:
        return np.zeros(ds.n_samples, dtype=bool), []
    columns = [flag_column(n) for n in flaggers]
    return aligned[columns].fillna(False).astype(bool).any(axis=1).to_numpy(), flaggers


def _item(name: str, colour: str, count: int, total: int) -> dict:
    share = count / max(total, 1)
    return {"name": name, "colour": colour, "count": int(count), "share": round(share, 6),
            "label": f"{name}: {count:,} ({share:.1%})"}


def picture(colour: str, ds, sel, aligned, flagged, flaggers, method: str, groups=None) -> Picture:
    """The map coloured as asked. Kept and dropped rows are drawn in one shuffled order, so each
    shows in proportion to its share at any size; the legend gives the shares of all rows.
    ``groups``: :func:`duplicate_groups`, for the duplicates colouring."""
    n = ds.n_samples
    if colour == "Kept / dropped":
        kept = int(sel.mask.sum())
        return Picture(f"{method} map — kept and dropped rows", sel.mask.astype(np.uint8),
                       [charts.DROPPED, charts.KEPT], ["dropped", "kept"],
                       [_item("kept", charts.KEPT, kept, n), _item("dropped", charts.DROPPED, n - kept, n)])
    if colour == "Class":
        top = min(ds.n_classes, 250)  # codes are bytes: classes past the 250th share the last code
        counts = np.bincount(ds.y, minlength=ds.n_classes)
        names = [str(c) for c in ds.classes[:top]]
        palette = [charts.class_colour(i) for i in range(top)]
        items = [_item(names[i], palette[i], counts[i], n) for i in range(top)]
        return Picture(f"{method} map — classes", np.minimum(ds.y, top - 1).astype(np.uint8), palette, names, items)
    if colour == "Flagged":
        count = int(flagged.sum())
        name = f"flagged by {', '.join(flaggers)}"
        return Picture(f"{method} map — rows flagged by a scorer", flagged.astype(np.uint8),
                       [charts.RANDOM, charts.DROPPED], ["not flagged", name],
                       [_item(name, charts.DROPPED, count, n), _item("not flagged", charts.RANDOM, n - count, n)],
                       notes=["Flagged rows are drawn on top of the others."], layers=[[0], [1]])
    if colour == DUPLICATES and groups is not None:
        return _duplicates_picture(groups, sel.mask, method)
    return _score_picture(colour.removeprefix("Score: "), aligned, n, method)


def _duplicates_picture(groups: np.ndarray, mask: np.ndarray, method: str) -> Picture:
    """Each duplicate group's survivor (its one kept member) against its removed copies.

    Codes: 0 in no group, 1 survivor, 2 removed copy (dropped while a group-mate is kept), 3 kept beside
    another kept copy (the recipe does not dedupe that group), 4 in a group the recipe drops entirely.
    Removed copies are drawn larger and under the survivors, so a copy lying on its survivor shows as a ring.
    """
    n, grouped = len(groups), groups >= 0
    kept_in_group = np.zeros(int(groups.max(initial=-1)) + 1, dtype=np.int64)
    np.add.at(kept_in_group, groups[grouped & mask], 1)
    kept_here = np.where(grouped, kept_in_group[np.maximum(groups, 0)], 0)
    codes = np.zeros(n, dtype=np.uint8)
    codes[grouped & mask & (kept_here == 1)] = 1
    codes[grouped & ~mask & (kept_here >= 1)] = 2
    codes[grouped & mask & (kept_here >= 2)] = 3
    codes[grouped & (kept_here == 0)] = 4
    counts = np.bincount(codes, minlength=5)
    palette = [NOT_DUPLICATED, charts.KEPT, charts.DROPPED, charts.ACCENT, charts.FULL]
    names = ["not a duplicate", "survivor (the copy kept)", "removed copy", "copy kept beside another copy",
             "copy in a group dropped entirely"]
    items = [_item(names[c], palette[c], counts[c], n) for c in (1, 2, 3, 4, 0) if counts[c] or c in (1, 2)]
    n_groups = len(np.unique(groups[grouped]))
    notes = [f"{n_groups:,} duplicate groups with {int(grouped.sum()):,} rows; {int(counts[1]):,} keep exactly one "
             "copy. Removed copies are drawn larger, under their survivor (a ring around it where they coincide)."]
    return Picture(f"{method} map — duplicates: the copy kept and the copies removed", codes, palette, names,
                   items, notes, layers=[[0], [2, 4], [3, 1]], sizes=[4, 4, 8, 5, 5])


def _score_picture(score: str, aligned, n: int, method: str) -> Picture:
    from plotly.colors import sample_colorscale

    values = pd.to_numeric(aligned[score], errors="coerce").to_numpy(float)
    finite = np.isfinite(values)
    low, high = (np.quantile(values[finite], [0.01, 0.99]) if finite.any() else (0.0, 1.0))
    steps = np.clip((values - low) / ((high - low) or 1.0) * (SCORE_STEPS - 1), 0, SCORE_STEPS - 1)
    codes = np.where(finite, np.nan_to_num(steps).round(), SCORE_STEPS).astype(np.uint8)
    palette = sample_colorscale("Viridis", list(np.linspace(0, 1, SCORE_STEPS))) + [UNSELECTED]
    edges = np.linspace(low, high, SCORE_STEPS)
    names = [f"{score} ≈ {v:.3g}" for v in edges] + [f"{score}: not computed"]
    notes = [f"low {low:.3g} → high {high:.3g} (the lowest and highest 1% share the end colours)"]
    if not finite.all():
        notes.append(f"{int((~finite).sum()):,} rows without a score are grey.")
    return Picture(f"{method} map — {score}", codes, palette, names, notes=notes, scale=palette[:SCORE_STEPS:8])


def keep_slider(container) -> None:
    """The Tune recipe's keep fraction, movable from the map (the same recipe and the same Tune slider);
    a caption instead when the recipe keeps by threshold or decides its own size."""
    recipe = state.recipe_now()
    if recipe.get("keep") is None or recipe.get("threshold") is not None:
        container.caption("The recipe sets its own size or cuts at a threshold: change it on the Tune page.")
        return
    pct = int(round(100 * recipe["keep"]))
    if st.session_state.get("map_keep_fraction") != pct:
        st.session_state["map_keep_fraction"] = pct  # follows the recipe when Tune moved it

    def moved() -> None:
        now = int(st.session_state["map_keep_fraction"])
        state.set_widget("tune_keep", now)
        state.set_recipe(state.recipe_now()["strategy"], now / 100, None)

    container.slider("Keep fraction", 1, 100, step=1, format="%d%%", key="map_keep_fraction", on_change=moved,
                     help="The Tune recipe's share of rows kept; the map recolours without redrawing its points.")


def detail_card(ds, position: int, sel, aligned, names: list) -> None:
    """One row: id, label, kept or dropped, its picture or text, and its scores."""
    with st.container(border=True):
        st.caption(f"{media.caption(ds, position)} · {'kept' if sel.mask[position] else 'dropped'}")
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
