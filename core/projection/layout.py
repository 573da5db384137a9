"""The UMAP layout as a plain function, optionally on the neighbour graph that scoring already built.

umap-learn spends most of a cold run on two things: compiling pynndescent's numba code and
searching neighbours. Scoring already holds the k-nearest-neighbour graph of the same rows
(:class:`core.foundation.neighbors.NeighborGraph`, cached on disk by
:class:`core.scorers.context.ScoringContext`), so :func:`umap_layout` hands it to umap-learn as
``precomputed_knn`` and skips both. The layout starts from the PCA map (no spectral
eigendecomposition of a 100k-row graph), so the map the user already sees turns into the UMAP one.
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from core.foundation.seeds import derive_seed
from core.foundation.threads import single_threaded

#: UMAP settings; part of the on-disk cache key of the map (:func:`core.projection.maps.projection_key`).
UMAP_PARAMS = {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean", "input_dim": 32, "init": "pca"}
#: Optimisation epochs by size: umap-learn's own default (500 below 10k rows, 200 above) is kept
#: up to :data:`FEWER_EPOCHS_FROM` rows; above, 100 epochs draw the same clusters at half the time.
FEWER_EPOCHS_FROM = 50_000


#: Up to this many features the principal components come from the covariance matrix (one pass over
#: the rows and a d x d eigendecomposition: 0.3 s at 200k x 64 on the busy 2-core machine, against
#: 5-10 s for scikit-learn's randomized solver there); wider data use the randomized solver.
COVARIANCE_PCA_UP_TO = 1024


def pca(X: np.ndarray, n_components: int, seed: int = 0) -> np.ndarray:
    """The first ``n_components`` principal components of ``X`` (centred ``X`` when it is that thin).

    Each component's sign is fixed (its largest loading positive), so the map does not flip
    between runs or machines.
    """
    X = np.asarray(X, dtype=np.float32)
    n_components = max(1, min(n_components, X.shape[1], X.shape[0]))
    if X.shape[1] <= n_components:
        return X - X.mean(axis=0)
    with single_threaded("blas"):  # one thread is fastest for these thin products on a busy 2-core machine
        if X.shape[1] <= COVARIANCE_PCA_UP_TO:
            centred = X - X.mean(axis=0, dtype=np.float64).astype(np.float32)
            values, vectors = np.linalg.eigh((centred.T @ centred).astype(np.float64))
            components = vectors[:, ::-1][:, :n_components].astype(np.float32)
            components *= np.sign(components[np.abs(components).argmax(axis=0), np.arange(n_components)])
            return centred @ components
        from sklearn.decomposition import PCA

        return PCA(n_components=n_components, svd_solver="randomized",
                   random_state=derive_seed(seed)).fit_transform(X)


def pca_2d(X: np.ndarray, seed: int = 0) -> np.ndarray:
    """The PCA map: shape (n_samples, 2), float32 (a single feature spreads along x only)."""
    coords = pca(X, 2, seed)
    if coords.shape[1] == 1:
        coords = np.hstack([coords, np.zeros_like(coords)])
    return np.ascontiguousarray(coords, dtype=np.float32)


def graph_for_umap(graph, n_neighbors: int) -> Optional[tuple]:
    """``(indices, distances)`` as umap-learn wants them (each row its own first neighbour), or None
    when ``graph`` is missing or holds fewer than ``n_neighbors - 1`` neighbours per row."""
    if graph is None or graph.k < n_neighbors - 1:
        return None
    n = len(graph.indices)
    own = np.arange(n, dtype=np.int64)[:, None]
    indices = np.hstack([own, np.asarray(graph.indices[:, :n_neighbors - 1], dtype=np.int64)])
    distances = np.hstack([np.zeros((n, 1), np.float32), np.asarray(graph.distances[:, :n_neighbors - 1], np.float32)])
    return indices, distances


def umap_layout(X: np.ndarray, seed: int = 0, graph=None, *, init: Optional[np.ndarray] = None) -> np.ndarray:
    """The 2-D UMAP map of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    seed : int
    graph : NeighborGraph, optional
        The euclidean k-nearest-neighbour graph of the rows of ``X`` (self excluded, as scoring
        builds it), with at least ``n_neighbors - 1`` neighbours per row; used instead of a search.
    init : ndarray of shape (n_samples, 2), optional
        Starting positions; the PCA map of ``X`` by default.

    Returns
    -------
    ndarray of shape (n_samples, 2), dtype float32
    """
    import umap  # heavy (numba): imported only by the process that lays the map out

    reduced = pca(X, UMAP_PARAMS["input_dim"], seed).astype(np.float32)
    n = len(reduced)
    n_neighbors = int(min(UMAP_PARAMS["n_neighbors"], max(2, n - 1)))
    start = pca_2d(X, seed) if init is None else np.asarray(init, dtype=np.float32)
    if len(np.unique(start, axis=0)) < n:  # duplicate rows: umap-learn would search neighbours to spread them
        start = start + np.random.default_rng(derive_seed(seed)).normal(0, 1e-4 * (np.ptp(start) or 1), start.shape)
    knn = graph_for_umap(graph, n_neighbors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_jobs/random_state/precomputed-knn notices are not for the user
        model = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=UMAP_PARAMS["min_dist"],
                          metric=UMAP_PARAMS["metric"], random_state=derive_seed(seed), n_jobs=1, low_memory=True,
                          init=start.astype(np.float64), n_epochs=100 if n > FEWER_EPOCHS_FROM else None,
                          precomputed_knn=knn if knn is not None else (None, None, None))
        coords = model.fit_transform(reduced)
    return np.ascontiguousarray(coords, dtype=np.float32)
