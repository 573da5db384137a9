"""Geometry scorers: computed from the feature matrix alone (prototypicality's class-centroid option also uses labels).

``knn_density``, ``duplicate`` and ``outlier`` read the one shared euclidean neighbour graph of
the call (:meth:`core.scorers.context.ScoringContext.neighbors`).
"""

from __future__ import annotations

import numpy as np

from core.foundation.errors import ConfigError
from core.foundation.seeds import derive_seed, rng
from core.scorers.base import Scorer, ScoreResult, register
from core.foundation.neighbors import NeighborGraph


class _GraphScorer(Scorer):
    family = "geometry"
    cost = "fast"
    needs_labels = False

    def needs(self) -> dict:
        return {"neighbors": int(self.k)}


@register
class KnnDensity(_GraphScorer):
    name = "knn_density"
    description = "Mean euclidean distance to the k nearest other rows."
    higher_means = "sparser neighbourhood (rarer, more unusual row); low values are redundant"
    keep = "high"
    hard = "high"
    defaults = {"k": 10}

    def _compute(self, ds, context) -> ScoreResult:
        return ScoreResult(context.neighbors(self.k).distances.mean(axis=1, dtype=np.float64))


def local_outlier_factor(graph: NeighborGraph) -> np.ndarray:
    """Local outlier factor (Breunig et al. 2000) of every row from its k-neighbour graph.

    ``lrd(a) = 1 / mean_b max(kdist(b), d(a, b))`` over a's neighbours ``b``, and
    ``LOF(a) = mean_b lrd(b) / lrd(a)``: about 1 inside a cluster, well above 1 for rows far from
    neighbours that are themselves in dense places.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    distances = graph.distances.astype(np.float64)
    k_distance = distances[:, -1]
    reach = np.maximum(k_distance[graph.indices], distances).mean(axis=1)
    # Exact duplicates give zero reach distances; a floor keeps the ratio finite and near 1.
    floor = max(float(np.median(reach)) * 1e-6, 1e-12)
    density = 1.0 / np.maximum(reach, floor)
    return density[graph.indices].mean(axis=1) / density


@register
class Outlier(_GraphScorer):
    name = "outlier"
    description = "Local outlier factor on the k-nearest-neighbour graph; flags rows far from dense neighbours."
    higher_means = "more of an outlier"
    keep = "low"
    hard = "high"
    flags = True
    defaults = {"k": 20, "flag_above": 1.5}

    def _compute(self, ds, context) -> ScoreResult:
        lof = local_outlier_factor(context.neighbors(self.k))
        return ScoreResult(lof, flags=lof > self.flag_above)


def neighbor_cosines(X: np.ndarray, indices: np.ndarray, distances: np.ndarray = None,
                     chunk_size: int = 4096) -> np.ndarray:
    """Cosine similarity of every row to each of its listed neighbours, shape like ``indices``.

    With the graph's euclidean ``distances`` the cosine comes from the law of cosines,
    ``(|a|^2 + |b|^2 - |a - b|^2) / (2 |a| |b|)``, which reads one norm per neighbour instead of
    its whole row: linear in the rows (gathering ``k`` full rows per row from a table larger than
    the caches cost ``n^1.5``: 0.69 s at 300k x 128, 4.39 s at 1M). Without them the rows are
    gathered and multiplied. The two agree to 3e-7 on digits and a generated 128-column table
    (float32 distances); the error grows with the ratio of the two norms (1e-4 at a thousandfold),
    where the cosine is far from any duplicate threshold. A zero row has cosine 0 with everything.
    """
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1).astype(np.float64)
    cosines = np.empty(indices.shape, dtype=np.float64)
    if distances is not None:
        for start in range(0, len(X), chunk_size):
            stop = min(start + chunk_size, len(X))
            cosines[start:stop] = cosines_from_distances(norms[start:stop], norms[indices[start:stop]],
                                                         distances[start:stop])
        return cosines
    unit = X / np.maximum(norms, 1e-12)[:, None].astype(np.float32)
    for start in range(0, len(X), chunk_size):
        stop = min(start + chunk_size, len(X))
        cosines[start:stop] = np.einsum("id,ikd->ik", unit[start:stop], unit[indices[start:stop]])
    return np.clip(cosines, -1.0, 1.0)


def cosines_from_distances(own_norms: np.ndarray, other_norms: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Cosines by the law of cosines: ``own_norms`` (m,), ``other_norms`` and euclidean ``distances`` (m, k).

    Zero rows get cosine 0; the result is clipped to [-1, 1]. Both graph paths (in memory and
    partitioned) use it, so the two duplicate scorers compute the same numbers from the same graph.
    """
    own = np.asarray(own_norms, dtype=np.float64)[:, None]
    other = np.asarray(other_norms, dtype=np.float64)
    gap = np.asarray(distances, dtype=np.float64)
    scale = 2.0 * own * other
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (own ** 2 + other ** 2 - gap ** 2) / scale
    return np.clip(np.where(scale > 1e-24, value, 0.0), -1.0, 1.0)


def duplicate_groups(graph: NeighborGraph, cosines: np.ndarray, threshold: float,
                     relative_distance: float) -> np.ndarray:
    """Groups of near-duplicates: connected components of linked neighbour pairs.

    A pair is linked when its cosine similarity is at least ``threshold`` *and* its euclidean
    distance is at most ``relative_distance`` times the median distance from a row to its nearest
    other row. Cosine alone is not enough outside high-dimensional embeddings: on the bundled
    penguins (15 features) 88 % of rows have a neighbour at cosine >= 0.95, on digits 41 %,
    while true near-duplicates sit at a small fraction of the typical spacing.

    Returns
    -------
    ndarray of shape (n_samples,), int64
        Group id per row (0, 1, ... in order of each group's first row), -1 for rows in no group.
    """
    indices, distances = graph.indices, graph.distances
    nearest = distances[:, 0][distances[:, 0] > 0]
    spacing = float(np.median(nearest)) if len(nearest) else 0.0
    rows, cols = np.nonzero((cosines >= threshold) & (distances <= relative_distance * spacing))
    grouped, ids, _ = duplicate_components(np.column_stack([rows, indices[rows, cols]]).astype(np.int64))
    groups = np.full(len(indices), -1, dtype=np.int64)
    groups[grouped] = ids
    return groups


def duplicate_components(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Duplicate groups from linked pairs: connected components, numbered by their first row.

    Takes only the linked pairs (which grow with the duplicates, not the rows), so partitioned data
    reduce their per-partition pairs here too.

    Parameters
    ----------
    edges : ndarray of shape (n_edges, 2), int64
        Row positions of linked pairs.

    Returns
    -------
    rows : ndarray of shape (n_grouped,)
        Sorted positions of the rows in some group.
    groups : ndarray of shape (n_grouped,)
        Group id of each (0, 1, ... in order of each group's first row).
    flags : ndarray of shape (n_grouped,), bool
        True for every member but the group's first row.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(edges) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, bool)
    rows, inverse = np.unique(np.asarray(edges).ravel(), return_inverse=True)
    pairs = inverse.reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(rows), len(rows)))
    _, component = connected_components(graph, directed=True, connection="weak")
    _, first, inverse = np.unique(component, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")  # rows are sorted: first = first row
    flags = np.ones(len(rows), dtype=bool)
    flags[first] = False
    return rows.astype(np.int64), rank[inverse].astype(np.int64), flags


@register
class Duplicate(_GraphScorer):
    """Near-duplicate detection in the spirit of SemDeDup (Abbas et al. 2023), not SemDeDup itself.

    The score is the highest cosine similarity between a row and its ``k`` nearest (euclidean)
    neighbours - a near-duplicate is always among them. Pairs with cosine at or above ``threshold``
    that are also closer than ``relative_distance`` times the typical nearest-neighbour spacing
    are linked (see :func:`duplicate_groups`) and each connected component is a duplicate group
    (column ``duplicate_group``). Every member but the group's first row in data order is
    flagged, so dropping the flags keeps exactly one representative per group; which copy of a
    near-identical pair is the original cannot be told from the data.

    Differences from SemDeDup: SemDeDup clusters embeddings with k-means and compares all pairs
    inside each cluster with a cosine threshold alone, then keeps the member least similar to its
    cluster centroid. Here candidate pairs come from the k-nearest-neighbour graph (no clusters;
    a group larger than ``k + 1`` may be linked only through chains), a distance condition is
    added because cosine alone links unrelated rows in low-dimensional tables, groups are closed
    transitively, and the kept member is the first in data order.
    """

    name = "duplicate"
    description = ("Highest cosine similarity to a k-NN neighbour; flags all but the first row of each group of rows "
                   "that are both cosine-similar and close (SemDeDup-like, without its k-means clusters).")
    higher_means = "more redundant (closer to being a copy of another row)"
    keep = "low"
    hard = "high"
    flags = True
    defaults = {"k": 10, "threshold": 0.95, "relative_distance": 0.2}

    def own_work(self, n_rows, n_features, n_classes) -> float:
        return float(n_rows * self.k * n_features)  # a cosine per neighbour pair

    def _compute(self, ds, context) -> ScoreResult:
        graph = context.neighbors(self.k)
        # Large (approximate) graphs take the linear law-of-cosines route; exact graphs (small data)
        # keep the dot products, whose bytes do not depend on how BLAS split the distance products.
        distances = graph.distances if graph.method == "approximate" else None
        cosines = neighbor_cosines(ds.X, graph.indices, distances)
        groups = duplicate_groups(graph, cosines, self.threshold, self.relative_distance)
        flags = np.zeros(ds.n_samples, dtype=bool)
        grouped = np.flatnonzero(groups >= 0)
        _, first = np.unique(groups[grouped], return_index=True)
        flags[grouped] = True
        flags[grouped[first]] = False
        return ScoreResult(cosines.max(axis=1), flags=flags, extra={"group": groups})


@register
class Prototypicality(Scorer):
    """Distance to the nearest self-supervised prototype (Sorscher et al. 2022, "Beyond neural
    scaling laws").

    ``method="kmeans"`` (default, the paper's metric): k-means with ``clusters`` centroids is
    fitted on all rows without their labels (``clusters=0`` means one per class) and the score is
    the euclidean distance to the nearest centroid. No label is read, so mislabeled rows are not
    drawn to either end. ``method="class_centroid"`` measures the distance to the mean of the
    row's *given* class instead; a mislabeled row lies far from its wrong class's centre, so
    that variant's high (kept) end collects label errors - use it to find them, not to prune.
    """

    name = "prototypicality"
    family = "geometry"
    description = ("Distance to the nearest k-means prototype, fitted without labels (Sorscher et al. 2022); "
                   "method='class_centroid' uses the given class's mean and its high end collects label errors.")
    higher_means = "less prototypical (harder)"
    keep = "high"
    hard = "high"
    needs_labels = False
    cost = "fast"
    defaults = {"method": "kmeans", "clusters": 0}

    def __init__(self, **params):
        super().__init__(**params)
        if self.method not in ("kmeans", "class_centroid"):
            raise ConfigError(f"prototypicality method must be 'kmeans' or 'class_centroid', not {self.method!r}.")
        # The class-centroid variant reads the labels; the instance says so to compute_scores.
        self.needs_labels = self.method == "class_centroid"

    def own_shared_work(self, n_rows, n_features, n_classes) -> list:
        if self.method != "kmeans":
            return []
        clusters = min(int(self.clusters) or max(n_classes, 2), n_rows)
        return [("kmeans", "kmeans prototypes", "kmeans", {"units": float(n_rows * n_features * clusters)})]

    def _compute(self, ds, context) -> ScoreResult:
        if self.method == "kmeans":
            clusters = min(int(self.clusters) or max(ds.n_classes, 2), ds.n_samples)
            return ScoreResult(nearest_prototype_distance(ds.X, clusters, context.seed))
        X = ds.X.astype(np.float64)
        centroids = np.zeros((ds.n_classes, ds.n_features))
        for label in np.unique(ds.y):
            centroids[label] = X[ds.y == label].mean(axis=0)
        return ScoreResult(np.linalg.norm(X - centroids[ds.y], axis=1))


#: Above this many rows prototypicality fits its k-means on this many rows drawn uniformly (seeded, no
#: label read) and measures every row against those centroids, so its cost grows linearly in the rows
#: (a full fit's Lloyd iterations grow with the rows too: CPU exponent 1.3-1.45 between 100k and 300k).
#: At 300k x 128 the sampled score agrees with the full fit (Spearman 0.66) as well as the full fit
#: agrees with itself under another seed (0.63): k-means' local optimum, not the sample, moves it.
PROTOTYPE_FIT_ROWS = 100_000


def nearest_prototype_distance(X: np.ndarray, clusters: int, seed: int, fit_rows: int = PROTOTYPE_FIT_ROWS,
                               chunk_size: int = 65536) -> np.ndarray:
    """Euclidean distance of every row to its nearest of ``clusters`` k-means centroids.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    clusters : int
    seed : int
        Seeds k-means++ initialisation (three restarts, the best inertia wins) and the fitting sample.
    fit_rows : int
        Above this many rows the centroids are fitted on ``fit_rows`` rows drawn uniformly; every row
        is then measured against them (in chunks, so no float64 copy of all rows is made).

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    if len(X) <= fit_rows:
        X = np.asarray(X, dtype=np.float64)
        return fit_kmeans(X, clusters, seed).transform(X).min(axis=1).astype(np.float64)
    sample = np.sort(rng(seed, "prototypes").choice(len(X), size=int(fit_rows), replace=False))
    fitted = fit_kmeans(np.asarray(X[sample], dtype=np.float64), clusters, seed)
    distances = np.empty(len(X), dtype=np.float64)
    for start in range(0, len(X), chunk_size):
        chunk = np.asarray(X[start:start + chunk_size], dtype=np.float64)
        distances[start:start + len(chunk)] = fitted.transform(chunk).min(axis=1)
    return distances


def fit_kmeans(X: np.ndarray, clusters: int, seed: int):
    """k-means with k-means++ starts (three restarts, the best inertia wins), seeded locally.

    Shared by :class:`Prototypicality` and the pseudo labels of :mod:`core.scorers.pseudo`.

    Returns
    -------
    sklearn.cluster.KMeans
        Fitted; ``labels_`` has shape (n_samples,).
    """
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=clusters, n_init=3, random_state=derive_seed(seed)).fit(X)
