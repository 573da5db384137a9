"""The Map page's helpers: when UMAP starts, which points are drawn and in what order, and which
rows a drawn area holds."""

from __future__ import annotations

from typing import Optional

import numpy as np

from core.foundation import rng
from core.projection import cached_projection, graph_stored, start_umap
from workbench import jobs, settings, state

#: Every row is drawn up to this many (WebGL; the coordinates travel once, see workbench.map_canvas);
#: above it the display is a faithful sample. Selections always test every row.
MAX_POINTS = 500_000
FLAGGED_SHARE = 0.25  # at most this share of a downsampled display goes to flagged rows first
SCORING_JOB = "scores"  # the background job that builds the neighbour graph the map reuses


def umap_mode() -> str:
    """When UMAP may start: "load" (as soon as scoring has stored its neighbour graph, or when the
    Map page opens), "map" (when the Map page opens) or "off"."""
    return settings.operator().umap


def ensure_umap(ds, seed: int = 0, *, asked: bool = False):
    """The one place the UMAP map is started (a compute plan may route this call); its job or None.

    Policy: never beside scoring, and on scoring's neighbour graph when there is one. While scoring
    runs nothing starts, and a UMAP job that began without the graph is stopped (it would compete
    for the cores and search the neighbours scoring is finding). Otherwise it starts when scoring
    has stored its graph (:func:`core.projection.graph_stored`; the child lays the map out on it),
    or when the Map page asks (``asked``) without one. Meanwhile the page shows PCA.
    """
    if umap_mode() == "off":
        return None
    job = state.get("umap_job")
    if job is not None and (job.fingerprint != ds.fingerprint or job.seed != seed):
        job = None
    if jobs.running(SCORING_JOB):
        if job is not None and job.running and not job.graph:
            job.cancel()
            state.put("umap_job", None)
            return None
        return job
    if job is not None and not (job.failed and job.error_ == "cancelled"):
        return job
    if asked or graph_stored(ds, seed) or cached_projection(ds, "umap", seed) is not None:
        job = start_umap(ds, seed=seed)
        jobs.yield_process(job.process_)  # idle work of the compute plan: paused while other work runs
        state.put("umap_job", job)
    return job


def waiting_for_scoring() -> bool:
    """Whether UMAP is held back because scoring is running."""
    return umap_mode() != "off" and jobs.running(SCORING_JOB)


def umap_coords(ds, seed: int = 0) -> Optional[np.ndarray]:
    """The UMAP map if it is ready (from the job or the disk cache), else None."""
    job = state.get("umap_job")
    if job is not None and job.fingerprint == ds.fingerprint and job.seed == seed:
        value = job.poll()
        if value is not None:
            return value
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


def draw_order(shown: np.ndarray, seed: int = 0) -> np.ndarray:
    """The shown rows in a shuffled order: points drawn later cover earlier ones, so a random order
    lets every colour show in proportion to its share (no group is always on top)."""
    return shown[rng(seed, "map-draw-order").permutation(len(shown))]


def rows_inside(coords: np.ndarray, area: Optional[dict]) -> np.ndarray:
    """Which rows lie inside a drawn area, tested on every row's coordinates.

    Parameters
    ----------
    coords : ndarray of shape (n_samples, 2)
    area : dict or None
        ``{"x": [...], "y": [...]}``: a lasso polygon (3 or more vertices) or a box (two corners).

    Returns
    -------
    ndarray of shape (n_samples,), bool
    """
    inside = np.zeros(len(coords), dtype=bool)
    if not area:
        return inside
    x, y = np.asarray(area.get("x", []), dtype=float), np.asarray(area.get("y", []), dtype=float)
    if len(x) != len(y) or len(x) < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return inside
    if len(x) == 2:
        return ((coords[:, 0] >= x.min()) & (coords[:, 0] <= x.max())
                & (coords[:, 1] >= y.min()) & (coords[:, 1] <= y.max()))
    from matplotlib.path import Path

    low, high = np.array([x.min(), y.min()]), np.array([x.max(), y.max()])
    candidates = np.flatnonzero(((coords >= low) & (coords <= high)).all(axis=1))  # bounding box first
    if len(candidates):
        inside[candidates] = Path(np.c_[x, y]).contains_points(coords[candidates])
    return inside


def selection_words(n_selected_shown: int, n_shown: int, n_inside: int) -> str:
    """The selection count the way users ask for it: '1,924 selected · of 20,000 shown · 9,611 rows inside the area'."""
    return f"{n_selected_shown:,} selected · of {n_shown:,} shown · {n_inside:,} rows inside the area"
