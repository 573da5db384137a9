"""The per-call :class:`ScoringContext`: shared work computed once, lazily, and cached on disk.

One call of :func:`core.compute_scores` builds one context. Scorers ask it for

* :meth:`ScoringContext.out_of_fold` - one set of cross-fitted probabilities for every
  model-based scorer;
* :meth:`ScoringContext.neighbors` - one euclidean k-nearest-neighbour graph for the geometry and
  valuation scorers (built once with the largest ``k`` any requested scorer needs);
* :meth:`ScoringContext.dynamics` - one set of training-dynamics records for the dynamics scorers.

Each is memoised for the call and, when ``cache`` is on, stored with :mod:`core.foundation.cache` under the
data fingerprint and the settings that made it, so a later call with other scorers reuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from core.foundation import cache as disk_cache
from core.foundation.progress import CancelToken, ProgressFn
from core.foundation.neighbors import (APPROXIMATE_FROM, HNSW_BUILD_WIDTH, HNSW_LINKS, RECALL_TARGET, SEARCHES, NeighborGraph,
                                       approximate_knn_graph, headroom, knn_graph, neighbor_recall, resolve_device,
                                       resolve_search)
from core.scorers.oof import OutOfFold, fit_sample_rows, out_of_fold, sampled_out_of_fold
from core.scorers.records import DynamicsRecords, record_dynamics

if TYPE_CHECKING:  # pragma: no cover
    from core.data.dataset import Dataset

#: Bump when a shared computation changes meaning, so stale disk entries are not reused.
SHARED_VERSION = 2
#: Evaluator folds the all-rows graph leaves room for (the live estimate's default): see :meth:`ScoringContext.plan`.
FOLDWISE_FOLDS = 5


@dataclass(frozen=True)
class LargeData:
    """Where scoring switches to methods that scale, and their settings (recorded in the scorer records).

    Attributes
    ----------
    approximate_above : int
        Above this many rows the neighbour graph is approximate
        (:func:`core.foundation.neighbors.approximate_knn_graph`), and its recall@10 against exact
        neighbours is measured on ``recall_queries`` rows and recorded.
    search : {"auto", "ivf", "hnsw"}
        The approximate method: an inverted file (cost about n^1.5, the cheaper of the two up to a
        million rows on every table measured), a navigable small-world graph (about n log n; cheaper
        from a couple of million rows of low intrinsic dimension), or ``"auto"`` (the default): the
        inverted file up to :data:`core.foundation.neighbors.HNSW_FROM` rows, the graph above.
    width : int
        ``"hnsw"``: candidate list of each row's search (None: the narrowest whose recall@10 on a
        calibration sample reaches ``target_recall``, :func:`core.foundation.neighbors.choose_width`).
    clusters, probes : int
        ``"ivf"``: cells of the index (None: its default) and cells each row searches (None: the fewest
        whose recall@10 on a calibration sample reaches ``target_recall``,
        :func:`core.foundation.neighbors.choose_probes`).
    target_recall : float
        Recall@10 the width or probe count is chosen for when not given.
    fit_rows : int
        Above this many rows the logistic out-of-fold models are fitted on a stratified sample of
        about this size, and every row is predicted by the model of its own fold
        (:func:`core.scorers.oof.sampled_out_of_fold`).
    """

    approximate_above: int = APPROXIMATE_FROM
    search: str = SEARCHES[0]
    width: Optional[int] = None
    clusters: Optional[int] = None
    probes: Optional[int] = None
    target_recall: float = RECALL_TARGET
    fit_rows: int = 200_000
    recall_queries: int = 200

    def __post_init__(self):
        resolve_search(self.search, 0)  # an unknown method is one clear error when the settings are made


class ScoringContext:
    """Shared, lazily computed inputs of the scorers for one data set and one set of settings.

    Parameters
    ----------
    ds : Dataset
    seed : int
        Seeds the folds, the proxy models and k-means.
    folds : int
        Folds of the cross-fitting.
    model : {"logreg", "mlp", "knn"}
        Proxy model of the model-based scorers.
    device : str, optional
        Torch device; CUDA when available, else CPU.
    cache : bool
        Read and write shared work in the on-disk cache.
    progress, cancel
        Progress callback and cancel token; :func:`core.compute_scores` points ``progress`` at
        the share of the scorer currently running.
    """

    def __init__(self, ds: "Dataset", *, seed: int = 0, folds: int = 5, model: str = "logreg",
                 device: Optional[str] = None, cache: bool = True,
                 progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None,
                 large: Optional[LargeData] = None):
        self.ds = ds
        self.large = large or LargeData()
        self.recall: Optional[float] = None
        self.seed = int(seed)
        self.folds = int(folds)
        self.model = model
        self.device = resolve_device(device)
        self.cache = cache
        self.progress = progress
        self.cancel = cancel
        self.planned_neighbors = 0
        self._graph: Optional[NeighborGraph] = None
        self._oof: Optional[OutOfFold] = None
        self._dynamics: dict = {}

    def plan(self, scorers) -> None:
        """Note what the scorers about to run need, so shared work is sized for all of them.

        The graph of a label-using scorer gets the headroom of :data:`FOLDWISE_FOLDS` folds: fold-wise
        scores (:func:`core.evaluation.fold_scores`) re-read this graph with one evaluator fold removed.
        Each scorer still reads its own ``k`` nearest, so the scores do not change.
        """
        for scorer in scorers:
            wanted = int(scorer.needs().get("neighbors", 0))
            if scorer.needs_labels:
                wanted = headroom(wanted, FOLDWISE_FOLDS)
            self.planned_neighbors = max(self.planned_neighbors, wanted)

    def _cached(self, kind: str, key: str, cls: type, compute):
        if self.cache:
            value = disk_cache.load(kind, key, cls=cls)
            if value is not None:
                return value
        value = compute()
        if self.cache:
            disk_cache.save(kind, key, value)
        return value

    def neighbors(self, k: int) -> NeighborGraph:
        """The ``k`` nearest other rows of every row (euclidean on ``ds.X``), nearest first."""
        k = min(int(k), self.ds.n_samples - 1)
        if self._graph is None or self._graph.k < k:
            wanted = min(max(k, self.planned_neighbors), self.ds.n_samples - 1)
            key = self.neighbors_key()
            graph = disk_cache.load("neighbors", key, cls=NeighborGraph) if self.cache else None
            if graph is None or graph.k < wanted:
                graph = self._build_graph(wanted)
                if self.cache:
                    disk_cache.save("neighbors", key, graph)
            self._graph = graph
        return self._graph.first(k)

    def neighbors_key(self) -> str:
        """The disk-cache key (kind ``"neighbors"``) of this context's neighbour graph: the map reuses it."""
        return disk_cache.cache_key(self.ds.fingerprint, "neighbors", SHARED_VERSION, *self._neighbor_key())

    def _approximate(self) -> bool:
        return self.ds.n_samples > self.large.approximate_above

    def _search(self) -> str:
        return resolve_search(self.large.search, self.ds.n_samples)

    def _sampled_fit(self) -> bool:
        return self.model == "logreg" and self.ds.n_samples > self.large.fit_rows

    def _neighbor_key(self) -> tuple:
        if not self._approximate():
            return ()
        if self._search() == "hnsw":
            width = self.large.width if self.large.width is not None else ("recall", self.large.target_recall)
            return ("approximate", "hnsw", width, self.seed)
        probes = self.large.probes if self.large.probes is not None else ("recall", self.large.target_recall)
        return ("approximate", self.large.clusters, probes, self.seed)

    def _build_graph(self, k: int) -> NeighborGraph:
        if not self._approximate():
            return knn_graph(self.ds.X, k, device=self.device, progress=self.progress, cancel=self.cancel)
        graph = approximate_knn_graph(self.ds.X, k, search=self._search(), clusters=self.large.clusters,
                                      probes=self.large.probes, width=self.large.width,
                                      target_recall=self.large.target_recall, seed=self.seed,
                                      progress=self.progress, cancel=self.cancel)
        if self.large.recall_queries:
            self.recall = neighbor_recall(self.ds.X, graph, k=min(10, graph.k), queries=self.large.recall_queries,
                                          seed=self.seed)
        return graph

    def choices(self) -> dict:
        """How the shared work is done for this data: ``{"neighbors": {...}, "oof": {...}}`` for the records."""
        if self._approximate() and self._search() == "hnsw":
            neighbors = {"method": "approximate", "search": "HNSW graph (faiss)", "links": HNSW_LINKS,
                         "build_width": HNSW_BUILD_WIDTH,
                         "width": self._graph.width if self._graph is not None and self._graph.width else self.large.width}
            if self.large.width is None:
                neighbors["width_chosen_for_recall"] = self.large.target_recall
        elif self._approximate():
            neighbors = {"method": "approximate", "search": "inverted file (faiss)",
                         "clusters": self.large.clusters or "default",
                         "probes": self._graph.probes if self._graph is not None and self._graph.probes else self.large.probes}
            if self.large.probes is None:
                neighbors["probes_chosen_for_recall"] = self.large.target_recall
        if self._approximate():
            if self.recall is not None:
                neighbors["recall_at_10"] = round(float(self.recall), 4)
                neighbors["recall_queries"] = self.large.recall_queries
        else:
            neighbors = {"method": "exact"}
        if self._sampled_fit():
            # rows: the sample's size, counted (as the partitioned path records it); target_rows: what was asked
            oof = {"fit": "stratified sample",
                   "rows": fit_sample_rows(self.ds.y, self.ds.n_classes, self.large.fit_rows, self.seed),
                   "target_rows": self.large.fit_rows, "of": self.ds.n_samples,
                   "apply": "every row by the model of its own fold"}
        else:
            oof = {"fit": "all rows"}
        return {"neighbors": neighbors, "oof": oof}

    def scale_key(self) -> tuple:
        """The part of the large-data settings that changes this data's shared work (for cache keys)."""
        return self._neighbor_key() + (("sample", self.large.fit_rows) if self._sampled_fit() else ())

    def out_of_fold(self) -> OutOfFold:
        """Cross-fitted class probabilities of the proxy model (see :mod:`core.scorers.oof`)."""
        if self._oof is None:
            ds = self.ds
            graph = self.neighbors(10) if self.model == "knn" else None
            key = disk_cache.cache_key(ds.fingerprint, "oof", self.model, self.folds, self.seed,
                                        self.device if self.model == "mlp" else "any", SHARED_VERSION,
                                        *self.scale_key())
            if self._sampled_fit():
                self._oof = self._cached("oof", key, OutOfFold, lambda: sampled_out_of_fold(
                    ds.X, ds.y, ds.n_classes, max_rows=self.large.fit_rows, folds=self.folds, seed=self.seed,
                    progress=self.progress, cancel=self.cancel))
                return self._oof
            self._oof = self._cached("oof", key, OutOfFold, lambda: out_of_fold(
                ds.X, ds.y, ds.n_classes, model=self.model, folds=self.folds, seed=self.seed,
                device=self.device, neighbors=graph, progress=self.progress, cancel=self.cancel))
        return self._oof

    def dynamics(self, params: dict) -> DynamicsRecords:
        """Training-dynamics records of the shared proxy-training loop for the given loop settings."""
        frozen = tuple(sorted(params.items()))
        if frozen not in self._dynamics:
            ds = self.ds
            key = disk_cache.cache_key(ds.fingerprint, "dynamics", frozen, self.seed, self.device, SHARED_VERSION)
            self._dynamics[frozen] = self._cached("dynamics", key, DynamicsRecords, lambda: record_dynamics(
                ds.X, ds.y, ds.n_classes, seed=self.seed, device=self.device,
                progress=self.progress, cancel=self.cancel, **params))
        return self._dynamics[frozen]


class FoldContext(ScoringContext):
    """The context of one evaluator fold's training rows that reads work shared by every fold.

    ``ds`` is the rows outside the fold. Instead of building a graph and fitting proxies on them,
    it asks ``neighbors(k)`` (the all-rows graph with the fold's rows removed,
    :func:`core.foundation.neighbors.without_rows`) and ``out_of_fold()`` (models fitted without
    the fold, :func:`core.scorers.oof.pairwise_out_of_fold`); everything else (training dynamics)
    is computed on ``ds`` as :class:`ScoringContext` does. Nothing is cached on disk by it.
    """

    def __init__(self, ds: "Dataset", *, neighbors, out_of_fold, described: dict, seed: int = 0, folds: int = 5,
                 progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None):
        super().__init__(ds, seed=seed, folds=folds, cache=False, progress=progress, cancel=cancel)
        self._neighbors_of, self._oof_of, self._described = neighbors, out_of_fold, described

    def plan(self, scorers) -> None:
        for scorer in scorers:
            self.planned_neighbors = max(self.planned_neighbors, int(scorer.needs().get("neighbors", 0)))

    def neighbors(self, k: int) -> NeighborGraph:
        k = min(int(k), self.ds.n_samples - 1)
        if self._graph is None or self._graph.k < k:
            self._graph = self._neighbors_of(min(max(k, self.planned_neighbors), self.ds.n_samples - 1))
        return self._graph.first(k)

    def out_of_fold(self) -> OutOfFold:
        if self._oof is None:
            self._oof = self._oof_of()
        return self._oof

    def choices(self) -> dict:
        return dict(self._described)
