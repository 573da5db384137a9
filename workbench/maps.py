"""The Map page's helpers: the background UMAP job, display downsampling and hover texts."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from core.foundation import rng
from core.projection import cached_projection, start_umap
from workbench import media, settings, state

MAX_POINTS = 20_000  # above this the display is downsampled (the data are not)
FLAGGED_SHARE = 0.25  # at most this share of a downsampled display goes to flagged rows first


def umap_mode() -> str:
    """When UMAP starts: "load" (as soon as data load), "map" (when the Map page opens) or "off"."""
    return settings.operator().umap


def ensure_umap(ds, seed: int = 0):
    """Start (once) the background UMAP job of ``ds``; None when UMAP is switched off."""
    if umap_mode() == "off":
        return None
    job = state.get("umap_job")
    if job is None or job.fingerprint != ds.fingerprint or job.seed != seed:
        job = start_umap(ds, seed=seed)
        state.put("umap_job", job)
    return job


def umap_coords(ds, seed: int = 0) -> Optional[np.ndarray]:
    """The UMAP map if it is ready (from the job or the disk cache), else None."""
    job = state.get("umap_job")
    if job is not None and job.fingerprint == ds.fingerprint and job.seed == seed:
        return job.poll()
    return cached_projection(ds, "umap", seed)


def display_sample(ds, mask: np.ndarray, flagged: np.ndarray, seed: int = 0,
                   limit: int = MAX_POINTS) -> np.ndarray:
    """Row positions to draw: every row up to ``limit``; above it a faithful sample.

    Flagged rows (what a user came to look at) come first, up to a quarter of ``limit``; the rest
    is sampled per (kept or dropped, class) in proportion to its size, so the shares of kept and
    dropped rows on screen are those of the data.

    Returns
    -------
    ndarray of shape (n_shown,)
        Sorted row positions.
    """
    n = ds.n_samples
    if n <= limit:
        return np.arange(n)
    generator = rng(seed, "map-sample")
    flagged_rows = np.flatnonzero(flagged)
    if len(flagged_rows) > FLAGGED_SHARE * limit:
        flagged_rows = generator.choice(flagged_rows, size=int(FLAGGED_SHARE * limit), replace=False)
    rest = np.setdiff1d(np.arange(n), flagged_rows, assume_unique=True)
    budget = limit - len(flagged_rows)
    strata = ds.y[rest] * 2 + mask[rest].astype(int)
    chosen = [flagged_rows]
    for code in np.unique(strata):
        members = rest[strata == code]
        take = min(len(members), int(round(budget * len(members) / len(rest))))
        if take:
            chosen.append(generator.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen))


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
