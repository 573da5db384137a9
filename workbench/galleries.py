"""Galleries of rows (thumbnails, text snippets or table rows) and the current cut of a score."""

from __future__ import annotations

from typing import Optional

import numpy as np
import streamlit as st

from core.foundation import WorkbenchError
from core.selection import parse_strategy
from workbench import media, resources


def current_cut(values: np.ndarray, name: str, recipe: dict) -> tuple[Optional[float], str]:
    """Where the Tune recipe cuts this score, with a label; (None, why not) when it does not.

    Only a ranking by this very score cuts it at one value (a threshold, or the value at the keep
    fraction); every other strategy (random, CCS, coresets...) keeps rows on both sides.
    """
    try:
        spec = parse_strategy(recipe.get("strategy") or "random")
    except WorkbenchError:
        return None, ""
    if spec.kind != "top" or tuple(spec.scorers) != (name,):
        return None, f"The current strategy ({recipe.get('strategy')}) does not cut {name} at one value."
    end = spec.end or (resources.scorer_meta(name) or {}).get("keep", "high")
    if recipe.get("threshold") is not None:
        return float(recipe["threshold"]), f"threshold: keeps the {end} end"
    finite = values[np.isfinite(values)]
    keep = recipe.get("keep")
    if finite.size == 0 or keep is None:
        return None, ""
    cut = np.quantile(finite, 1 - keep) if end == "high" else np.quantile(finite, keep)
    return float(cut), f"keeps {keep:.0%}: the {end} end"


def show(ds, positions: np.ndarray, values: np.ndarray, name: str, *, key: str, per_row: int = 4) -> None:
    """Show rows as thumbnails (images), snippets (text) or a table (tabular)."""
    positions = np.asarray(positions, dtype=int)
    if media.has_images(ds):
        for start in range(0, len(positions), per_row):
            cols = st.columns(per_row)
            for col, p in zip(cols, positions[start:start + per_row]):
                col.image(media.thumbnail_png(ds.images[p], 72), width=72)
                col.caption(media.caption(ds, p, f"{name} {values[p]:.3g}"))
        return
    if ds.text_column is not None:
        for p in positions:
            with st.container(border=True):
                st.markdown(media.caption(ds, p, f"{name} `{values[p]:.3g}`"))
                st.caption(media.snippet(ds.frame[ds.text_column].iloc[p], 240))
        return
    rows = ds.frame.iloc[positions].copy()
    # columns that are not features (id, label, notes, ground truth) first: they explain the row
    used = set(map(str, (ds.settings or {}).get("features") or []))
    first = [c for c in rows.columns if str(c) not in used]
    first = [c for c in (ds.id_column, ds.label_column) if c in first] + \
        [c for c in first if c not in (ds.id_column, ds.label_column)]
    rows = rows[first + [c for c in rows.columns if c not in first]]
    rows.insert(0, name, values[positions])
    st.dataframe(rows, hide_index=True, key=key, height=min(420, 38 + 35 * len(rows)))
