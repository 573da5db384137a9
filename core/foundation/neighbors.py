"""Exact k-nearest-neighbour graph in chunks: the one graph behind the geometry and valuation scorers.

On CPU the graph comes from scikit-learn's brute-force search (a fused, multi-threaded
distance-and-select kernel that is hard to beat on two cores); on a CUDA device from torch
(matrix product plus top-k per chunk of query rows). Both give the same neighbours up to ties.
Memory is O(n * k) for the result plus O(chunk * n) scratch, never O(n^2).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.foundation.progress import CancelToken, ProgressFn, check_cancelled, report


@dataclass
class NeighborGraph:
    """The k nearest other rows of every row, nearest first.

    Attributes
    ----------
    indices : ndarray of shape (n_samples, k), dtype int64
        Row positions of the neighbours; a row is never its own neighbour.
    distances : ndarray of shape (n_samples, k), dtype float32
        Euclidean distances to those neighbours, non-decreasing along each row.
    """

    indices: np.ndarray
    distances: np.ndarray

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def first(self, k: int) -> "NeighborGraph":
        """The graph restricted to the ``k`` nearest neighbours (a view, no copy)."""
        return NeighborGraph(self.indices[:, :k], self.distances[:, :k])


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
    X = np.ascontiguousarray(X, dtype=np.float32)
    n_samples = X.shape[0]
    k = int(min(k, n_samples - 1))
    if k < 1:
        raise ValueError("a neighbour graph needs at least two rows")
    device = resolve_device(device)
    search = _torch_search(X, k, device) if device != "cpu" else _sklearn_search(X, k)
    indices = np.empty((n_samples, k), dtype=np.int64)
    distances = np.empty((n_samples, k), dtype=np.float32)
    for start in range(0, n_samples, chunk_size):
        check_cancelled(cancel)
        stop = min(start + chunk_size, n_samples)
        distances[start:stop], indices[start:stop] = search(start, stop)
        report(progress, stop, n_samples, "nearest neighbours")
    return NeighborGraph(indices=indices, distances=distances)


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
