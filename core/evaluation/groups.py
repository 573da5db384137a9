"""Duplicate groups for the folds: exact and near copies found without labels.

A row and its near copy on two sides of a fold let the model recall the copy instead of
generalising (a 1-nearest-neighbour target reads 2.5 points high on the bundled known_answer
set). :func:`copy_groups` finds the groups the evaluators keep on one side of every fold
(:func:`core.foundation.folds.stratified_folds` with ``groups``).

The rule is the duplicate scorer's (:class:`core.scorers.geometry.Duplicate`): two rows are
linked when their cosine similarity is at least its ``threshold`` *and* their euclidean distance
is at most ``relative_distance`` times the median distance from a row to its nearest other row;
groups are the connected components. The search is cheaper than the scorer's k-NN graph (38 s
at 100k x 128 on the busy reference machine; this takes about 9 s there, load 17): candidate
pairs share a bucket of one of :data:`TABLES` p-stable hash tables scaled to the linking radius
(:func:`_candidate_pairs`), and every candidate is checked exactly. The spacing is measured on a sample of
:data:`SPACING_SAMPLE` rows, beyond each row's own copies (see :func:`median_spacing`). The result
is cached on disk by data fingerprint.
"""

from __future__ import annotations

import numpy as np

from core.foundation import cache as disk_cache
from core.foundation.folds import stratified_folds
from core.foundation.seeds import rng
from core.scorers.geometry import Duplicate

TABLES = 10
FUNCTIONS = 8
WIDTH = 4.0
WINDOW = 32
SPACING_SAMPLE = 500
SPACING_NEIGHBOURS = 10
GAP = 5.0
_VERSION = 2
_CACHE_KIND = "copy_groups"


def rule_description() -> str:
    """The linking rule in words (for the manifest and the method lines)."""
    d = Duplicate.defaults
    return (f"cosine >= {d['threshold']} and distance <= {d['relative_distance']} x the median nearest-row "
            "spacing between distinct rows (the duplicate scorer's rule; spacing measured beyond each row's own "
            "copies), found without labels")


def copy_groups(ds, *, cache: bool = True) -> np.ndarray:
    """Group id per row (``0 ..``), rows that are no one's copy in a group of their own.

    Parameters
    ----------
    ds : Dataset
    cache : bool
        Read and write the result in the disk cache under the data fingerprint.

    Returns
    -------
    ndarray of shape (n_samples,), int64
        Equal ids for the rows of one duplicate group; ids are numbered by first row.
    """
    key = disk_cache.cache_key(ds.fingerprint, _CACHE_KIND, _VERSION, Duplicate.defaults["threshold"],
                               Duplicate.defaults["relative_distance"], TABLES, FUNCTIONS, WIDTH, WINDOW)
    if cache:
        held = disk_cache.load(_CACHE_KIND, key)
        if isinstance(held, np.ndarray) and held.shape == (ds.n_samples,):
            return held
    groups = near_copy_groups(ds.X)
    if cache:
        disk_cache.save(_CACHE_KIND, key, groups)
    return groups


def near_copy_groups(X, threshold=None, relative_distance=None) -> np.ndarray:
    """Components of the rows linked by the duplicate rule (see the module docstring)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    threshold = Duplicate.defaults["threshold"] if threshold is None else threshold
    relative_distance = Duplicate.defaults["relative_distance"] if relative_distance is None else relative_distance
    X = np.ascontiguousarray(X, dtype=np.float32)
    n = len(X)
    if n < 2:
        return np.arange(n, dtype=np.int64)
    radius = relative_distance * median_spacing(X)
    rows, cols = _candidate_pairs(X, radius)
    rows, cols = _linked(X, rows, cols, radius, threshold)
    edges = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, component = connected_components(edges, directed=False)
    _, first, inverse = np.unique(component, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first, kind="stable"), kind="stable")  # number groups by their first row
    return order[inverse].astype(np.int64)


def median_spacing(X: np.ndarray, sample: int = SPACING_SAMPLE) -> float:
    """The typical distance between distinct rows, over a sample of rows.

    The duplicate scorer's spacing is the median distance from a row to its nearest other row.
    Where copies are common that median is a copy's distance (30 % of rows with two near copies
    are 56 % of all rows), so here each sampled row's spacing is its distance to the nearest row
    *beyond its own copies*: among its :data:`SPACING_NEIGHBOURS` nearest rows, the first that is
    :data:`GAP` times farther than the one before (exact copies, at distance 0, always end
    before such a step), or the nearest one when there is no such step. Without copies this is
    the scorer's spacing.
    """
    n = len(X)
    query = np.sort(rng(0, "copy-groups", "spacing").choice(n, min(sample, n), replace=False))
    Q = X[query]
    sq_q = np.einsum("ij,ij->i", Q, Q, dtype=np.float64)
    k = min(SPACING_NEIGHBOURS, n - 1)
    best = np.full((len(query), 0), np.inf)
    for start in range(0, n, 4096):
        block = X[start:start + 4096]
        d2 = sq_q[:, None] + np.einsum("ij,ij->i", block, block, dtype=np.float64)[None, :] - 2.0 * (Q @ block.T)
        inside = (query >= start) & (query < start + len(block))
        d2[np.flatnonzero(inside), query[inside] - start] = np.inf  # the row itself
        d2[d2 <= 1e-5 * np.maximum(sq_q[:, None], 1.0)] = 0.0  # float error around exact copies
        both = np.concatenate([best, d2], axis=1)
        best = np.partition(both, k - 1, axis=1)[:, :k] if both.shape[1] > k else both
    distances = np.sqrt(np.sort(np.maximum(best, 0.0), axis=1))
    step = distances[:, 1:] > GAP * distances[:, :-1]
    first = np.where(step.any(axis=1), step.argmax(axis=1) + 1, 0)
    spacing = distances[np.arange(len(query)), first]
    spacing = spacing[np.isfinite(spacing) & (spacing > 0)]
    return float(np.median(spacing)) if len(spacing) else 0.0


def _candidate_pairs(X: np.ndarray, radius: float) -> tuple:
    """Row pairs that share a bucket of one of :data:`TABLES` p-stable hash tables (Datar et al. 2004).

    Each table concatenates :data:`FUNCTIONS` functions ``floor((a.x + b) / w)`` with gaussian ``a``
    and ``w = WIDTH x radius``: a pair at the radius collides in a table with probability about
    0.17 (0.8 per function), one at half of it about 0.43, one at five times it (the typical
    nearest-row distance) about 1e-4. Within a bucket rows are ordered along a random line and
    compared with the next :data:`WINDOW` rows (bounds the work in a dense clump; chains still
    link it).
    """
    n, d = X.shape
    if radius <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    generator = rng(0, "copy-groups", "hash")
    width = WIDTH * radius
    line = X @ generator.standard_normal(d).astype(np.float32)
    mix = generator.integers(1, 2 ** 61, size=FUNCTIONS, dtype=np.int64) | 1
    keys = []
    for t in range(TABLES):
        project = generator.standard_normal((d, FUNCTIONS)).astype(np.float32)
        shift = generator.uniform(0, width, FUNCTIONS)
        cells = np.floor((X @ project + shift) / width).astype(np.int64)
        keys.append(cells @ mix)  # wraps around: a 64-bit mix of the cell numbers
    rows, cols = [], []
    for key in keys:
        order = np.lexsort((line, key))
        bucket = key[order]
        for offset in range(1, min(WINDOW, n - 1) + 1):
            same = np.flatnonzero(bucket[offset:] == bucket[:-offset])
            if not len(same):
                break
            rows.append(order[same])
            cols.append(order[same + offset])
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    low, high = np.concatenate(rows), np.concatenate(cols)
    low, high = np.minimum(low, high), np.maximum(low, high)
    unique = np.unique(low * n + high)
    return unique // n, unique % n


def _linked(X, rows, cols, radius: float, threshold: float, chunk: int = 1 << 18) -> tuple:
    """The candidate pairs that meet the rule: close (``<= radius``) and cosine-similar."""
    norms = np.linalg.norm(X, axis=1)
    keep = np.zeros(len(rows), dtype=bool)
    for start in range(0, len(rows), chunk):
        a, b = rows[start:start + chunk], cols[start:start + chunk]
        diff = X[a] - X[b]
        distance = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        dot = np.einsum("ij,ij->i", X[a], X[b])
        cosine = dot / np.maximum(norms[a] * norms[b], 1e-12)
        keep[start:start + chunk] = (distance <= radius) & ((cosine >= threshold) | (distance == 0))
    return rows[keep], cols[keep]


STRATIFIED_RULE = "stratified by label (copies may sit on both sides of a fold)"
GIVEN_RULE = "fold codes given by the caller"


def grouped_rule(n_groups: int, n_rows: int) -> str:
    """The fold rule in words, with the number of duplicate groups kept whole."""
    return (f"stratified by label; {n_groups} duplicate groups ({n_rows} rows) each kept on one side "
            f"of every fold ({rule_description()})")


def evaluation_folds(ds, folds: int, seed: int, *, group_copies: bool = True, cache: bool = True) -> tuple:
    """(fold code per row, fold info) of an evaluator: stratified, duplicate groups kept whole.

    The info is ``{"rule": str, "grouped": bool, "groups": int, "grouped_rows": int}``: the rule
    in words, whether copies were grouped, the number of groups of two or more rows and the rows
    in them (0 and 0 when the data has no copies; then the folds equal the plain ones).
    """
    if not group_copies:
        return stratified_folds(ds.y, folds, seed), {"rule": STRATIFIED_RULE, "grouped": False, "groups": 0,
                                                     "grouped_rows": 0}
    groups = copy_groups(ds, cache=cache)
    sizes = np.bincount(groups)
    n_groups, n_rows = int((sizes > 1).sum()), int(sizes[sizes > 1].sum())
    info = {"rule": grouped_rule(n_groups, n_rows), "grouped": True, "groups": n_groups, "grouped_rows": n_rows}
    return stratified_folds(ds.y, folds, seed, groups=groups if n_groups else None), info
