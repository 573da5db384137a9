"""The k-nearest-neighbour graph in chunks: the one graph behind the geometry and valuation scorers.

Exact search: on CPU scikit-learn's brute force (a fused, multi-threaded distance-and-select
kernel that is hard to beat on two cores); on a CUDA device torch (matrix product plus top-k per
chunk of query rows). Both give the same neighbours up to ties. Its cost grows as n^2 * d.

Approximate search (CPU, above :data:`APPROXIMATE_FROM` rows) has two methods, both faiss, both with
a search effort chosen by measured recall (the fewest of a list of steps whose recall@10 on
:data:`CALIBRATION_QUERIES` calibration rows reaches :data:`RECALL_TARGET`), both returning exact
distances for the neighbours found:

- ``"hnsw"``: a hierarchical navigable small-world graph (``IndexHNSWFlat``, Malkov &
  Yashunin 2018) built on the rows, then every row searched with a candidate list of
  :data:`WIDTH_STEPS` width. Rows are first ordered by a k-means of at most :data:`ORDER_CELLS` cells,
  so that rows stored and searched one after another are near each other and stay in cache (2.3x less
  search CPU at 300k x 128). Its work grows a little faster than ``n log n``: at the floor width (k + 1,
  which held recall from 100k to 1M low-rank rows) a row's search took about 65 steps at every size but
  computed 654 / 790 / 927 distances at 100k / 300k / 1M (``n^0.15`` a row; the inverted file's 1,732 /
  3,598 / 8,487, ``n^0.69``), and its seconds grow as ``n^1.2`` (rows that outgrow the caches). Up to a million rows it costs
  more than the inverted file: 1.3-2.4x on rows of low intrinsic dimension, 3x and short of the
  recall target on rows that fill their 128 dimensions (where 16 links are too few; 32 still cost
  2.5x). It pays from a couple of million rows of low intrinsic dimension: the default above
  :data:`HNSW_FROM` (``"auto"``, :func:`resolve_search`).
- ``"ivf"`` (the default up to :data:`HNSW_FROM` rows): an inverted file (``IndexIVFFlat``): k-means
  cuts the space into :func:`ivf_cells` (about ``2 sqrt(n)``) cells and each row searches its nearest
  few (:func:`choose_probes`). With a fixed
  count recall falls as the rows grow (16 cells on 128-feature clustered rows: 0.998 at 100k, 0.995 at
  300k, 0.975 at 1M), because each row's true neighbours spread over more cells; holding recall costs a
  growing count, so the search costs about ``n^1.5 * d`` (``benchmarks/scale.py --mode stages``).

faiss over pynndescent (already installed with umap-learn): pynndescent recompiles its numba code in
every new process, about 100 s on the 2-core reference machine, which a CLI run would pay each time;
faiss is compiled code and imports in under a second.

Memory is O(n * k) for the result plus O(chunk * n) scratch, never O(n^2).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.foundation.errors import ConfigError
from core.foundation.progress import CancelToken, ProgressFn, check_cancelled, report
from core.foundation.seeds import derive_seed, rng

#: Above this many rows exact search stops paying on CPU, so :class:`core.scorers.context.ScoringContext`
#: switches to :func:`approximate_knn_graph`. Measured with ``benchmarks/scorers.py --neighbors`` (k = 30,
#: 64 features, busy 2-core machine, medians of 3): approximate was 1.35x faster at 10k rows (about a
#: second saved), 2.0x at 20k and 4.7x at 50k, with recall@10 of 0.99 or more at every size.
APPROXIMATE_FROM = 20_000
#: Recall@10 the approximate graph's probe count is chosen for (on a calibration sample; the bar is 0.95).
RECALL_TARGET = 0.97
#: Probe counts tried, fewest first: the first whose calibration recall reaches the target is used.
PROBE_STEPS = (6, 8, 10, 12, 14, 16, 20, 24, 32, 40, 48, 64, 96, 128)
#: Approximate search methods. ``"auto"`` (the default) is the inverted file up to :data:`HNSW_FROM` rows
#: and the HNSW graph above: at the sizes one machine usually holds the inverted file was faster on every
#: table measured, and far faster where the rows fill their dimensions (100k x 128 isotropic classes: 14 s
#: CPU and recall 0.98 against HNSW's 47 s and 0.96 at its widest search; in the app, 17 s against 38 s
#: from click to scores); its cost grows as n^1.5, so past a couple of million rows the graph wins
#: (``benchmarks/scale.py --mode stages``, 128 features of 16 latent dimensions: 143 against 190 s CPU at
#: 1M rows, 1,040 against 750 s at 3M).
SEARCHES = ("auto", "ivf", "hnsw")
#: Above this many rows ``"auto"`` searches with the HNSW graph.
HNSW_FROM = 2_000_000
#: Links per row of the HNSW graph (``M``; twice as many on its bottom layer). On ``benchmarks/scale.py``'s
#: 300k x 128 rows both 12 and 16 reached the 0.97 calibration target at the narrowest search, but 12 read
#: 0.951 on other rows (16: 0.987) for 18 % less CPU; too close to the 0.95 bar.
HNSW_LINKS = 16
#: Candidate list while the graph is built (``efConstruction``).
HNSW_BUILD_WIDTH = 40
#: Candidate-list widths tried when searching (``efSearch``), narrowest first; a search for ``k`` neighbours
#: is never narrower than ``k``, so the steps below ``k + 1`` are skipped and ``k + 1`` is tried first.
WIDTH_STEPS = (64, 80, 96, 128, 160, 192, 256, 384, 512)
#: Most k-means cells the rows are ordered by before the graph is built (at least 256 rows each).
ORDER_CELLS = 1024
#: Rows assigned to their k-means cell per call.
ASSIGN_CHUNK = 65536
#: Rows whose exact neighbours calibrate the probe count (one pass over the rows finds them all).
CALIBRATION_QUERIES = 300


def resolve_search(search: str, n_samples: int) -> str:
    """The method ``search`` stands for on ``n_samples`` rows: ``"ivf"`` or ``"hnsw"``."""
    if search not in SEARCHES:
        raise ConfigError(f"Unknown neighbour search {search!r}; choose one of {', '.join(SEARCHES)}.")
    if search == "auto":
        return "hnsw" if n_samples > HNSW_FROM else "ivf"
    return search


@dataclass
class NeighborGraph:
    """The k nearest other rows of every row, nearest first.

    Attributes
    ----------
    indices : ndarray of shape (n_samples, k), dtype int64
        Row positions of the neighbours; a row is never its own neighbour.
    distances : ndarray of shape (n_samples, k), dtype float32
        Euclidean distances to those neighbours, non-decreasing along each row.
    method : {"exact", "approximate"}
        How the graph was searched.
    probes : int or None
        Approximate graphs searched with the inverted file: cells each row searched.
    search : {"hnsw", "ivf"} or None
        Approximate graphs: the method (:data:`SEARCHES`).
    width : int or None
        Approximate graphs searched with HNSW: the candidate list of each row's search (``efSearch``).
    """

    indices: np.ndarray
    distances: np.ndarray
    method: str = "exact"
    probes: Optional[int] = None
    search: Optional[str] = None
    width: Optional[int] = None

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def first(self, k: int) -> "NeighborGraph":
        """The graph restricted to the ``k`` nearest neighbours (a view, no copy)."""
        return NeighborGraph(self.indices[:, :k], self.distances[:, :k], self.method, self.probes, self.search,
                             self.width)


# Device nodes that exist whenever torch.cuda could find a GPU (NVIDIA's driver, or ROCm's).
_GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd")


def resolve_device(device: Optional[str] = None) -> str:
    """``device`` if given, else ``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    if device:
        return device
    if "torch" not in sys.modules and not any(os.path.exists(node) for node in _GPU_DEVICE_NODES):
        return "cpu"  # no GPU driver here: skip importing torch (over a second) just to be told so
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but geometry works without it
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def knn_graph(
    X: np.ndarray,
    k: int,
    *,
    device: Optional[str] = None,
    chunk_size: int = 4096,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
) -> NeighborGraph:
    """Exact euclidean k-nearest-neighbour graph, excluding each row itself.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    k : int
        Neighbours per row; clipped to ``n_samples - 1``.
    device : str, optional
        ``"cpu"`` uses scikit-learn, anything else (``"cuda"``) uses torch on that device.
        Defaults to CUDA when available.
    chunk_size : int
        Query rows per chunk; progress is reported and cancellation checked between chunks.

    Returns
    -------
    NeighborGraph
    """
    X, k = _prepare(X, k)
    device = resolve_device(device)
    search = _torch_search(X, k, device) if device != "cpu" else _sklearn_search(X, k)
    return _search_in_chunks(search, len(X), k, "exact", chunk_size, progress, cancel)


def approximate_knn_graph(
    X: np.ndarray,
    k: int,
    *,
    search: str = SEARCHES[0],
    clusters: Optional[int] = None,
    probes: Optional[int] = None,
    width: Optional[int] = None,
    target_recall: float = RECALL_TARGET,
    seed: int = 0,
    chunk_size: int = 4096,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
) -> NeighborGraph:
    """Approximate euclidean k-nearest-neighbour graph (faiss), on CPU.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    k : int
        Neighbours per row; clipped to ``n_samples - 1``.
    search : {"auto", "ivf", "hnsw"}
        The method (see the module's notes and :func:`resolve_search`): an inverted file, a navigable
        small-world graph, or (``"auto"``) the inverted file up to :data:`HNSW_FROM` rows and the graph above.
    clusters : int, optional
        ``"ivf"``: cells of the index; default :func:`ivf_cells`.
    probes : int, optional
        ``"ivf"``: cells each row searches: more is slower and closer to exact. Default: chosen by
        :func:`choose_probes` for ``target_recall``.
    width : int, optional
        ``"hnsw"``: candidate list of each row's search (at least ``k + 1``): wider is slower and
        closer to exact. Default: chosen by :func:`choose_width` for ``target_recall``.
    target_recall : float
        Recall@10 the default probe count or width is chosen for.
    seed : int
        Seeds the k-means of the cells (or of the rows' order), their training sample and the
        calibration sample.

    Returns
    -------
    NeighborGraph
        ``method="approximate"``, ``search``, and ``probes`` or ``width`` as searched; distances are
        exact for the neighbours found.
    """
    search = resolve_search(search, len(X))
    X, k = _prepare(X, k)
    if search == "hnsw":
        return _hnsw_graph(X, k, width=width, target_recall=target_recall, seed=seed, chunk_size=chunk_size,
                           progress=progress, cancel=cancel)
    report(progress, 0, len(X), "nearest neighbours: building the approximate index")
    index, order = _ivf_index(X, clusters=clusters, seed=seed)
    if probes is None:
        report(progress, 0, len(X), "nearest neighbours: choosing the cells each row searches")
        probes = choose_probes(index, X, target_recall, seed=seed)
    index.nprobe = max(1, min(int(probes), index.nlist))
    search_fn = _index_search(index, X, k, order)
    graph = _search_in_chunks(search_fn, len(X), k, "approximate", chunk_size, progress, cancel, order=order)
    graph.probes, graph.search = int(index.nprobe), "ivf"
    return graph


def ivf_cells(n_samples: int) -> int:
    """Cells of the approximate graph's inverted file: about ``2 sqrt(n)``, at least 39 rows each (faiss's minimum)."""
    return int(max(1, min(round(2 * np.sqrt(n_samples)), n_samples // 39)))


def choose_probes(index, X: np.ndarray, target_recall: float = RECALL_TARGET, *, seed: int = 0,
                  queries: int = CALIBRATION_QUERIES, steps=PROBE_STEPS) -> int:
    """The fewest of ``steps`` cells to search for recall@10 of at least ``target_recall``.

    Recall is measured on ``queries`` rows drawn with their own seed stream (not the rows the
    recorded recall is measured on), against their exact neighbours (one pass over ``X``). When no
    step reaches the target every cell is searched, which is exact.

    Parameters
    ----------
    index : faiss.IndexIVF
        Trained and filled with ``X``.
    X : ndarray of shape (n_samples, n_features), float32

    Returns
    -------
    int
    """
    def found(probes, rows, count):
        index.nprobe = int(probes)
        return index.search(X[rows], count)[1]

    return _fewest_reaching([p for p in steps if p < index.nlist] + [index.nlist], found, X, target_recall,
                            seed=seed, queries=queries, otherwise=int(index.nlist))


def choose_width(index, X: np.ndarray, order: np.ndarray, k: int, target_recall: float = RECALL_TARGET, *,
                 seed: int = 0, queries: int = CALIBRATION_QUERIES, steps=WIDTH_STEPS) -> int:
    """The narrowest HNSW search (``efSearch``, at least ``k + 1``) of ``steps`` whose recall@10 reaches ``target_recall``.

    Measured as :func:`choose_probes` does, on the same calibration rows. When no step reaches the
    target the widest is used (the graph is not exact at any width).

    Parameters
    ----------
    index : faiss.IndexHNSW
        Filled with ``X[order]``.
    order : ndarray of shape (n_samples,)
        The row of ``X`` stored at each position of the index.
    """
    widths = [k + 1] + [w for w in steps if w > k + 1]

    def found(width, rows, count):
        index.hnsw.efSearch = int(width)
        hits = index.search(X[rows], count)[1]
        return np.where(hits >= 0, order[np.maximum(hits, 0)], -1)

    return _fewest_reaching(widths, found, X, target_recall, seed=seed, queries=queries, otherwise=int(widths[-1]))


def recall_of(exact, found) -> float:
    """Share of the ``exact`` neighbours (one row of ids per sampled row) that ``found`` (the same rows' found ids,
    in the same order; rows may differ in length) holds: recall@k with k the width of ``exact``."""
    total = sum(len(row) for row in exact)
    hits = sum(len(np.intersect1d(truth, ids)) for truth, ids in zip(exact, found))
    return hits / float(total) if total else 1.0


def _fewest_reaching(steps, found, X: np.ndarray, target_recall: float, *, seed: int, queries: int,
                     otherwise: int) -> int:
    """The first of ``steps`` whose search (``found(step, rows, count)``: neighbour rows of ``rows``,
    themselves included) reaches recall@10 ``target_recall`` on the calibration rows; else ``otherwise``."""
    rows = np.sort(rng(seed, "probe-calibration").choice(len(X), size=min(int(queries), len(X)), replace=False))
    k = int(min(10, len(X) - 1))
    _, truth = _exact_among(X, rows, k)
    for step in steps:
        hits = found(step, rows, k + 1)
        if recall_of(truth, [hits[i][hits[i] != row][:k] for i, row in enumerate(rows)]) >= target_recall:
            return int(step)
    return int(otherwise)


def neighbor_recall(X: np.ndarray, graph: NeighborGraph, *, k: int = 10, queries: int = 500, seed: int = 0) -> float:
    """Share of the true ``k`` nearest neighbours that ``graph`` found, on ``queries`` sampled rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The rows the graph was built on.
    graph : NeighborGraph
    k : int
        Neighbours compared per row (recall@k); clipped to ``graph.k``.

    Returns
    -------
    float in [0, 1]
        1.0 for an exact graph up to ties.
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    k = int(min(k, graph.k))
    rows = np.sort(rng(seed, "recall").choice(len(X), size=min(int(queries), len(X)), replace=False))
    if not len(rows):
        return 1.0
    _, truth = _exact_among(X, rows, k)  # all queries at once: one pass over X per block of rows
    return recall_of(truth, graph.indices[rows, :k])


def headroom(k: int, folds: int) -> int:
    """Neighbours to list per row so that ``k`` remain for nearly every row once one of ``folds`` folds is removed.

    A row's listed neighbours fall outside a given fold each with probability ``1 - 1/folds``, so
    of ``m`` listed about ``m (1 - 1/folds)`` remain, with binomial spread. ``m = k folds / (folds - 1)
    + 3 sqrt(k)`` leaves fewer than ``k`` for about one row in 10^5 at ``k = 30``, five folds (and
    :func:`without_rows` searches those exactly).
    """
    k, folds = int(k), max(int(folds), 2)
    return int(np.ceil(k * folds / (folds - 1) + 3.0 * np.sqrt(k))) if k > 0 else 0


def without_rows(graph: NeighborGraph, X: np.ndarray, dropped: np.ndarray, k: int) -> NeighborGraph:
    """The graph of the rows not ``dropped``: each kept row's ``k`` nearest other kept rows.

    Read off ``graph`` (built on all rows): a kept row's listed neighbours that are dropped are
    skipped and the next listed ones move up, which is exactly the graph searched on the kept
    rows alone whenever ``graph`` is exact and at least ``k`` kept neighbours are listed (see
    :func:`headroom`; ties aside). Rows with fewer are searched exactly among the kept rows. The
    graph holds no labels, so dropping an evaluator fold's rows gives that fold's training rows
    their neighbours without anything of the fold's labels.

    Parameters
    ----------
    graph : NeighborGraph
        Over all rows of ``X``.
    X : ndarray of shape (n_samples, n_features)
    dropped : ndarray of shape (n_samples,), bool
    k : int
        Clipped to the kept rows minus one.

    Returns
    -------
    NeighborGraph
        Over the kept rows in row order: ``indices`` are positions among the kept rows; the method
        is ``graph``'s.
    """
    dropped = np.asarray(dropped, dtype=bool)
    kept = np.flatnonzero(~dropped)
    k = int(min(k, len(kept) - 1))
    if k < 1:
        raise ValueError("a neighbour graph needs at least two rows")
    position = np.full(len(dropped), -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    listed = graph.indices[kept]
    usable = ~dropped[listed]
    order = np.argsort(~usable, axis=1, kind="stable")[:, :k]  # usable ones first, each still nearest first
    indices = position[np.take_along_axis(listed, order, axis=1)]
    distances = np.take_along_axis(graph.distances[kept], order, axis=1)
    short = np.flatnonzero(usable.sum(axis=1) < k)
    if short.size:
        distances[short], indices[short] = _exact_among(np.ascontiguousarray(X[kept], dtype=np.float32), short, k)
    return NeighborGraph(indices=indices, distances=distances, method=graph.method)


def _exact_among(X: np.ndarray, rows: np.ndarray, k: int, chunk_size: int = 256,
                 block_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest other rows of ``X[rows]`` among all of ``X``: (distances, indices).

    Candidates come from one matrix product per chunk of queries and block of ``X`` (``|a|^2 -
    2 a.b + |b|^2``), so scratch memory is ``chunk_size * block_size`` whatever the rows; the
    nearest ``k + 8`` are then measured directly and sorted, so rounding in the product cannot
    reorder them.
    """
    sq_norms = np.einsum("ij,ij->i", X, X)
    count = min(k + 8, len(X) - 1)
    distances = np.empty((len(rows), k), dtype=np.float32)
    indices = np.empty((len(rows), k), dtype=np.int64)
    for start in range(0, len(rows), chunk_size):
        part = rows[start:start + chunk_size]
        queries = X[part]
        candidates = np.empty((len(part), 0), dtype=np.int64)
        nearest = np.empty((len(part), 0), dtype=np.float32)
        for first in range(0, len(X), block_size):
            last = min(first + block_size, len(X))
            squared = sq_norms[None, first:last] - 2.0 * (queries @ X[first:last].T) + sq_norms[part, None]
            inside = np.flatnonzero((part >= first) & (part < last))
            squared[inside, part[inside] - first] = np.inf  # never one's own neighbour
            keep = np.argpartition(squared, min(count, last - first) - 1, axis=1)[:, :count]
            nearest = np.concatenate([nearest, np.take_along_axis(squared, keep, axis=1)], axis=1)
            candidates = np.concatenate([candidates, keep + first], axis=1)
            if nearest.shape[1] > count:  # merge with the earlier blocks' nearest
                keep = np.argpartition(nearest, count - 1, axis=1)[:, :count]
                nearest = np.take_along_axis(nearest, keep, axis=1)
                candidates = np.take_along_axis(candidates, keep, axis=1)
        exact = ((X[candidates] - queries[:, None, :]).astype(np.float64) ** 2).sum(axis=2)
        exact[candidates == part[:, None]] = np.inf
        order = np.argsort(exact, axis=1, kind="stable")[:, :k]
        indices[start:start + len(part)] = np.take_along_axis(candidates, order, axis=1)
        distances[start:start + len(part)] = np.sqrt(np.take_along_axis(exact, order, axis=1))
    return distances, indices


def _prepare(X: np.ndarray, k: int) -> tuple[np.ndarray, int]:
    X = np.ascontiguousarray(X, dtype=np.float32)
    k = int(min(k, X.shape[0] - 1))
    if k < 1:
        raise ValueError("a neighbour graph needs at least two rows")
    return X, k


def _search_in_chunks(search, n_samples: int, k: int, method: str, chunk_size: int, progress, cancel,
                      order: Optional[np.ndarray] = None) -> NeighborGraph:
    """Run ``search(start, stop)`` over the rows in chunks; with ``order``, chunk ``[start, stop)`` is rows ``order[start:stop]``."""
    indices = np.empty((n_samples, k), dtype=np.int64)
    distances = np.empty((n_samples, k), dtype=np.float32)
    for start in range(0, n_samples, chunk_size):
        check_cancelled(cancel)
        stop = min(start + chunk_size, n_samples)
        rows = slice(start, stop) if order is None else order[start:stop]
        distances[rows], indices[rows] = search(start, stop)
        report(progress, stop, n_samples, "nearest neighbours")
    return NeighborGraph(indices=indices, distances=distances, method=method)


def _drop_self(dist: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Exact duplicates can come before a row itself, so remove it wherever it landed, and drop the
    # farthest candidate of rows where it did not come back at all.
    is_self = idx == rows[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    keep = ~is_self
    k = idx.shape[1] - 1
    return dist[keep].reshape(-1, k), idx[keep].reshape(-1, k)


def _sklearn_search(X: np.ndarray, k: int):
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X)

    def search(start: int, stop: int):
        dist, idx = index.kneighbors(X[start:stop])
        return _drop_self(dist.astype(np.float32), idx.astype(np.int64), np.arange(start, stop))

    return search


def _torch_search(X: np.ndarray, k: int, device: str):
    import torch

    data = torch.from_numpy(X).to(device)
    sq_norms = (data * data).sum(dim=1)

    def search(start: int, stop: int):
        query = data[start:stop]
        squared = torch.addmm(sq_norms[None, :], query, data.T, alpha=-2.0).add_(sq_norms[start:stop, None])
        rows = torch.arange(stop - start, device=device)
        squared[rows, rows + start] = float("inf")  # never one's own neighbour
        values, idx = torch.topk(squared, k, dim=1, largest=False, sorted=True)
        dist = values.clamp_min_(0.0).sqrt_()
        return dist.cpu().numpy(), idx.cpu().numpy().astype(np.int64)

    return search


def _ivf_index(X: np.ndarray, *, clusters: Optional[int], seed: int):
    """The trained and filled inverted file of ``X``, and its rows in the order of its lists."""
    import faiss  # compiled; imported only where the approximate graph is built

    n_samples, n_features = X.shape
    cells = max(1, min(int(clusters), n_samples // 39)) if clusters else ivf_cells(n_samples)
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(n_features), n_features, cells)
    index.cp.niter = 10  # cells only route the search; a rough k-means serves as well as a tight one
    index.cp.seed = derive_seed(seed, "neighbors") % (2**31)
    # faiss wants >= 39 training rows per cell; more only slows the k-means down.
    training = X[np.sort(rng(seed, "neighbors").choice(
        n_samples, min(n_samples, 39 * cells), replace=False))]
    index.train(training)
    index.add(X)
    # Rows are searched list by list: consecutive queries then probe nearly the same lists, which
    # stay in cache (2.2x less CPU at 100k x 128 than searching in row order, same neighbours).
    lists = index.invlists
    order = np.concatenate([faiss.rev_swig_ptr(lists.get_ids(cell), lists.list_size(cell)).copy()
                            for cell in range(cells) if lists.list_size(cell)]).astype(np.int64)
    return index, order


def _index_search(index, X: np.ndarray, k: int, order: np.ndarray, stored: Optional[np.ndarray] = None):
    """Search chunk ``[start, stop)`` of the rows ``order`` lists in a faiss index; ``stored``: the row of
    ``X`` at each position of the index (None: the index holds ``X`` in row order)."""
    def search(start: int, stop: int):
        rows = order[start:stop]
        squared, hits = index.search(X[rows], k + 1)
        idx = hits if stored is None else np.where(hits >= 0, stored[np.maximum(hits, 0)], -1)
        for position in np.flatnonzero((hits < 0).any(axis=1)):  # fewer than k + 1 found: search it exactly
            squared[position], idx[position] = _exact_row(X, int(rows[position]), k + 1)
        dist = np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)
        return _drop_self(dist, idx.astype(np.int64), rows)

    return search


def _locality_order(X: np.ndarray, seed: int) -> np.ndarray:
    """Rows grouped by the nearest of at most :data:`ORDER_CELLS` k-means cells (a fixed count, so linear in
    the rows): stored and searched in this order, consecutive rows touch nearly the same graph nodes."""
    import faiss

    n_samples, n_features = X.shape
    cells = int(min(ORDER_CELLS, n_samples // 256))
    if cells < 2:
        return np.arange(n_samples)
    kmeans = faiss.Kmeans(n_features, cells, niter=10, seed=derive_seed(seed, "neighbor-order") % (2**31),
                          max_points_per_centroid=64)
    training = X[np.sort(rng(seed, "neighbor-order").choice(n_samples, min(n_samples, 64 * cells), replace=False))]
    kmeans.train(training)
    cell = np.empty(n_samples, dtype=np.int64)
    for start in range(0, n_samples, ASSIGN_CHUNK):
        cell[start:start + ASSIGN_CHUNK] = kmeans.index.search(X[start:start + ASSIGN_CHUNK], 1)[1][:, 0]
    return np.argsort(cell, kind="stable")


def _hnsw_graph(X: np.ndarray, k: int, *, width: Optional[int], target_recall: float, seed: int, chunk_size: int,
                progress, cancel) -> NeighborGraph:
    import faiss

    n_samples = len(X)
    report(progress, 0, n_samples, "nearest neighbours: ordering the rows")
    order = _locality_order(X, seed)
    index = faiss.IndexHNSWFlat(X.shape[1], HNSW_LINKS)
    index.hnsw.efConstruction = HNSW_BUILD_WIDTH
    check_cancelled(cancel)
    report(progress, 0, n_samples, "nearest neighbours: building the graph")
    # One call: faiss inserts the rows level by level in its own shuffled order. Added a chunk at a
    # time in this order (or in the order of sorted data), the graph joined the cells poorly and
    # recall@10 stopped near 0.96 however wide the search (0.972 needed a width of 384 at 100k x 128,
    # 55 this way); in a seeded random order a chunk at a time it needed 128, and the search lost the
    # rows' locality. A Ctrl-C stops the call within half a second (faiss's own interrupt callback asks
    # Python for pending signals), but only on the main thread: a cancel token set while the call runs
    # in a job thread is seen when it returns (about half the graph's time).
    index.add(X[order])
    if width is None:
        report(progress, 0, n_samples, "nearest neighbours: choosing the search width")
        width = choose_width(index, X, order, k, target_recall, seed=seed)
    index.hnsw.efSearch = max(int(width), k + 1)
    search = _index_search(index, X, k, order, stored=order)  # stored, and searched, in cell order
    graph = _search_in_chunks(search, n_samples, k, "approximate", chunk_size, progress, cancel, order=order)
    graph.search, graph.width = "hnsw", int(index.hnsw.efSearch)
    return graph


def _exact_row(X: np.ndarray, row: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    squared = ((X - X[row]) ** 2).sum(axis=1)
    nearest = np.argpartition(squared, count - 1)[:count]
    nearest = nearest[np.argsort(squared[nearest], kind="stable")]
    return squared[nearest], nearest
