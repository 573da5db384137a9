"""The per-call :class:`ScoringContext`: shared work computed once, lazily, and cached on disk.

One call of :func:`core.compute_scores` builds one context. Scorers ask it for

* :meth:`ScoringContext.out_of_fold` - one set of cross-fitted probabilities for every
  model-based scorer;
* :meth:`ScoringContext.neighbors` - one euclidean k-nearest-neighbour graph for the geometry and
  valuation scorers (built once with the largest ``k`` any requested scorer needs);
* :meth:`ScoringContext.dynamics` - one set of training-dynamics records for the dynamics scorers.

Each is memoised for the call and, when ``cache`` is on, stored with :mod:`core.cache` under the
data fingerprint and the settings that made it, so a later call with other scorers reuses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from core.foundation import cache as disk_cache
from core.foundation.progress import CancelToken, ProgressFn
from core.foundation.neighbors import NeighborGraph, knn_graph, resolve_device
from core.scorers.oof import OutOfFold, out_of_fold
from core.scorers.records import DynamicsRecords, record_dynamics

if TYPE_CHECKING:  # pragma: no cover
    from core.data.dataset import Dataset

#: Bump when a shared computation changes meaning, so stale disk entries are not reused.
SHARED_VERSION = 2


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
                 progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None):
        self.ds = ds
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
        """Note what the scorers about to run need, so shared work is sized for all of them."""
        for scorer in scorers:
            self.planned_neighbors = max(self.planned_neighbors, int(scorer.needs().get("neighbors", 0)))

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
            key = disk_cache.cache_key(self.ds.fingerprint, "neighbors", SHARED_VERSION)
            graph = disk_cache.load("neighbors", key, cls=NeighborGraph) if self.cache else None
            if graph is None or graph.k < wanted:
                graph = knn_graph(self.ds.X, wanted, device=self.device, progress=self.progress, cancel=self.cancel)
                if self.cache:
                    disk_cache.save("neighbors", key, graph)
            self._graph = graph
        return self._graph.first(k)

    def out_of_fold(self) -> OutOfFold:
        """Cross-fitted class probabilities of the proxy model (see :mod:`core.scorers.oof`)."""
        if self._oof is None:
            ds = self.ds
            graph = self.neighbors(10) if self.model == "knn" else None
            key = disk_cache.cache_key(ds.fingerprint, "oof", self.model, self.folds, self.seed,
                                        self.device if self.model == "mlp" else "any", SHARED_VERSION)
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
