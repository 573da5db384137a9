"""How far a new batch lies from the data a value model was fitted on.

The measure, in one sentence: the share of new rows whose nearest scored row is farther away than
95 % of the scored rows are from their own nearest neighbour. On rows drawn like the scored data
it is about 5 %; much more means the batch holds rows unlike anything the model saw, where its
predictions are extrapolations.

Distances are euclidean in the model's standardised feature space (labels not included). The
model file keeps a random sample of at most :data:`REFERENCE_ROWS` scored rows (their featurized
values) and the 95th percentile of their nearest-neighbour distance within that sample.
"""

from __future__ import annotations

import numpy as np

from core.foundation import rng

__all__ = ["REFERENCE_ROWS", "EXPECTED_SHARE", "reference_sample", "drift_report", "cover_gaps"]

REFERENCE_ROWS = 2000
#: The share of rows beyond the 95th percentile on data like the scored data.
EXPECTED_SHARE = 0.05
#: Warn when the share is at least this large (and beyond three binomial standard errors of 5 %).
WARN_SHARE = 0.10


def _nearest(queries: np.ndarray, reference: np.ndarray, *, exclude_self: bool, chunk: int = 2048) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row, in chunks."""
    queries = np.asarray(queries, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    ref_sq = (reference ** 2).sum(1)
    out = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk]
        d2 = (block ** 2).sum(1)[:, None] - 2 * block @ reference.T + ref_sq[None]
        if exclude_self:
            d2[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        out[start:start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def reference_sample(X: np.ndarray, seed: int = 0) -> tuple:
    """``(sample, threshold)``: at most :data:`REFERENCE_ROWS` rows of ``X`` (float32) and the 95th
    percentile of each sampled row's distance to its nearest other sampled row."""
    X = np.asarray(X, dtype=np.float64)
    if len(X) > REFERENCE_ROWS:
        X = X[np.sort(rng(seed, "value-drift").choice(len(X), REFERENCE_ROWS, replace=False))]
    if len(X) < 2:
        return X.astype(np.float32), 0.0
    own = _nearest(X, X, exclude_self=True)
    return X.astype(np.float32), float(np.percentile(own, 100 * (1 - EXPECTED_SHARE)))


def drift_report(X_new: np.ndarray, sample: np.ndarray, threshold: float) -> dict:
    """How far new rows lie from the scored data.

    Returns
    -------
    dict
        ``share`` (new rows farther from every sampled scored row than ``threshold``), ``expected``
        (5 %), ``rows``, ``threshold``, ``outside`` (True when the share is clearly above what data
        like the scored data give) and a one-sentence ``summary``.
    """
    n = len(X_new)
    if n == 0 or len(sample) == 0:
        return {"share": 0.0, "expected": EXPECTED_SHARE, "rows": n, "threshold": threshold, "outside": False,
                "summary": "No rows to compare with the scored data."}
    share = float((_nearest(X_new, sample, exclude_self=False) > threshold).mean())
    noise = 3 * np.sqrt(EXPECTED_SHARE * (1 - EXPECTED_SHARE) / n)
    outside = bool(share >= max(WARN_SHARE, EXPECTED_SHARE + noise))
    summary = (f"{100 * share:.1f}% of the {n} new rows are farther from every scored row than 95% of the scored "
               f"rows are from their nearest neighbour (about {100 * EXPECTED_SHARE:.0f}% on data like the scored "
               "data)")
    if outside:
        summary += ": the batch holds rows unlike the ones the model was fitted on, where its predictions extrapolate"
    return {"share": share, "expected": EXPECTED_SHARE, "rows": n, "threshold": float(threshold),
            "outside": outside, "summary": summary + "."}


def cover_gaps(X_new: np.ndarray, X_reference: np.ndarray, budget: int, *, chunk: int = 4096) -> np.ndarray:
    """Greedy k-center over new rows, seeded with the rows already kept.

    Parameters
    ----------
    X_new : ndarray of shape (n_new, n_features)
    X_reference : ndarray of shape (n_reference, n_features)
        The kept rows; a new row near one of them adds little.
    budget : int
        New rows to choose.

    Returns
    -------
    ndarray of shape (budget,), int64
        Positions in ``X_new``, in the order chosen (farthest from everything chosen so far first).
    """
    X_new = np.asarray(X_new, dtype=np.float64)
    budget = int(min(max(budget, 0), len(X_new)))
    nearest = np.full(len(X_new), np.inf)
    reference = np.asarray(X_reference, dtype=np.float64)
    for start in range(0, len(reference), chunk):  # chunks keep memory at O(n_new x chunk)
        block = reference[start:start + chunk]
        d2 = (X_new ** 2).sum(1)[:, None] - 2 * X_new @ block.T + (block ** 2).sum(1)[None]
        nearest = np.minimum(nearest, d2.min(axis=1))
    chosen = np.empty(budget, dtype=np.int64)
    for step in range(budget):
        pick = int(np.argmax(nearest)) if np.isfinite(nearest).any() else step
        chosen[step] = pick
        nearest = np.minimum(nearest, ((X_new - X_new[pick]) ** 2).sum(1))
        nearest[chosen[:step + 1]] = -np.inf
    return chosen
