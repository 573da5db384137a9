"""The Map page's helpers: the background UMAP job, display downsampling and hover texts."""

from __future__ import annotations

import os
from typing import Optional

import numpy as np
import pandas as pd
import streamlit as st

from core.projection import maps as projection
from workbench import media

MAX_POINTS = 20_000  # above this the display is downsampled (the data are not)


def umap_mode() -> str:
    """When UMAP starts: "load" (as soon as data load), "map" (when the Map page opens) or "off"."""
    mode = os.environ.get("WORKBENCH_UMAP", "load").lower()
    return mode if mode in ("load", "map", "off") else "load"


def ensure_umap(ds, seed: int = 0) -> Optional[projection.UmapJob]:
    """Start (once) the background UMAP job of ``ds``; None when UMAP is switched off."""
    if umap_mode() == "off":
        return None
    job = st.session_state.get("umap_job")
    if job is None or job.fingerprint != ds.fingerprint or job.seed != seed:
        job = projection.start_umap(ds, seed=seed)
        st.session_state["umap_job"] = job
    return job


def umap_coords(ds, seed: int = 0) -> Optional[np.ndarray]:
    """The UMAP map if it is ready (from the job or the disk cache), else None."""
    job = st.session_state.get("umap_job")
    if job is not None and job.fingerprint == ds.fingerprint:
        return job.poll()
    return projection.cached_projection(ds, "umap", seed)


def display_sample(ds, mask: np.ndarray, flagged: np.ndarray, seed: int = 0,
                   limit: int = MAX_POINTS) -> np.ndarray:
    """Row positions to draw: all rows up to ``limit``; above it a class-stratified sample that
    always includes dropped and flagged rows (the ones a user came to look at)."""
    n = ds.n_samples
    if n <= limit:
        return np.arange(n)
    must = np.flatnonzero(~mask | flagged)
    if len(must) >= limit:
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(must, size=limit, replace=False))
    rest = np.setdiff1d(np.arange(n), must, assume_unique=True)
    budget = limit - len(must)
    rng = np.random.default_rng(seed)
    chosen = []
    labels = ds.y[rest]
    for code in range(ds.n_classes):
        members = rest[labels == code]
        take = int(round(budget * len(members) / max(len(rest), 1)))
        if take and len(members):
            chosen.append(rng.choice(members, size=min(take, len(members)), replace=False))
    return np.sort(np.concatenate([must] + chosen))


def hover_texts(ds, positions: np.ndarray, mask: np.ndarray, aligned: Optional[pd.DataFrame],
                score_columns: list) -> np.ndarray:
    """One HTML hover text per shown point: id, label, kept/dropped, scores and a text snippet.

    ``aligned`` holds the scores in the data set's row order (:func:`workbench.state.aligned_scores`).
    """
    labels = ds.classes[ds.y[positions]].astype(str)
    ids = ds.ids[positions].astype(str)
    status = np.where(mask[positions], "kept", "dropped")
    parts = [np.char.add(np.char.add("<b>id ", ids), "</b>"),
             np.char.add("label: ", labels), np.char.add("status: ", status)]
    if aligned is not None:
        for column in score_columns[:6]:
            values = pd.to_numeric(aligned[column].iloc[positions], errors="coerce").to_numpy()
            parts.append(np.char.add(f"{column}: ", np.char.mod("%.3f", values)))
    text = parts[0]
    for part in parts[1:]:
        text = np.char.add(np.char.add(text, "<br>"), part)
    if ds.text_column is not None:
        snippets = np.asarray([media.snippet(t, 90) for t in ds.frame[ds.text_column].iloc[positions]], dtype=str)
        text = np.char.add(np.char.add(text, "<br><i>"), np.char.add(snippets, "</i>"))
    return text.astype(object)
