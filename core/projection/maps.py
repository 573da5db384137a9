"""2-D maps of a data set: PCA at once, UMAP when it is ready; both cached on disk by fingerprint.

umap-learn compiles numba code in every new process (up to a minute on a small machine) and then
needs a minute or more for 50k rows, so an interactive caller should never wait for it. Use
:func:`project` with ``method="pca"`` to show something at once and :func:`start_umap` to compute
UMAP in a separate process that writes its result into the same on-disk cache; poll it with
:meth:`UmapJob.poll` or simply :func:`cached_projection`. A separate process (not a thread) keeps
numba's compilation from holding the interpreter lock of the caller, e.g. a Streamlit server.
"""

from __future__ import annotations

import argparse
import atexit
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np

from core.foundation import cache
from core.foundation.errors import ConfigError
from core.foundation.progress import ProgressFn, check_cancelled, report
from core.foundation.neighbors import NeighborGraph
from core.projection.layout import UMAP_PARAMS, pca_2d, umap_layout
from core.scorers.context import ScoringContext

METHODS = ("pca", "umap")
_KIND = "projection"


def projection_key(fingerprint: str, method: str, seed: int = 0) -> str:
    """The on-disk cache key of a map."""
    params = UMAP_PARAMS if method == "umap" else {}
    return cache.cache_key("projection", fingerprint, method, int(seed), params)


def cached_projection(ds, method: str = "umap", seed: int = 0) -> Optional[np.ndarray]:
    """The cached map of shape (n_samples, 2), or None when it has not been computed yet."""
    _check_method(method)
    value = cache.load(_KIND, projection_key(ds.fingerprint, method, seed))
    if value is None or len(value) != ds.n_samples:
        return None
    return value


def project(ds, method: str = "pca", seed: int = 0, progress: Optional[ProgressFn] = None,
            cancel=None, *, use_cache: bool = True) -> np.ndarray:
    """A 2-D map of the data set's features.

    Parameters
    ----------
    ds : Dataset
    method : {"pca", "umap"}
        PCA takes well under a second at 50k rows; UMAP takes minutes in a fresh process
        (see :func:`start_umap` to compute it in the background).
    seed : int
    progress : callable, optional
        ``progress(done, total, message)``.
    cancel : object with ``is_set()``, optional
        Checked before the expensive step.

    Returns
    -------
    ndarray of shape (n_samples, 2), dtype float32
    """
    _check_method(method)
    key = projection_key(ds.fingerprint, method, seed)
    if use_cache:
        cached = cache.load(_KIND, key)
        if cached is not None and len(cached) == ds.n_samples:
            report(progress, 1, 1, f"{method.upper()} map loaded from cache")
            return cached
    report(progress, 0, 1, f"Computing the {method.upper()} map")
    check_cancelled(cancel)
    coords = pca_2d(ds.X, seed) if method == "pca" else umap_layout(ds.X, seed, stored_graph(ds, seed))
    cache.save(_KIND, key, coords)
    report(progress, 1, 1, f"{method.upper()} map ready")
    return coords


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"Unknown map method '{method}'. Choose one of {', '.join(METHODS)}.")


# --- background UMAP --------------------------------------------------------------------------

_JOBS: dict = {}
_JOBS_LOCK = threading.Lock()


class UmapJob:
    """A UMAP map being computed in a child process; the result lands in the disk cache.

    Create it with :func:`start_umap` (which reuses a running job for the same data).
    """

    def __init__(self, fingerprint: str, seed: int, n_samples: int, process: Optional[subprocess.Popen],
                 input_path: Optional[str], *, graph: bool = False, log=None):
        self.fingerprint = fingerprint
        self.seed = seed
        self.n_samples = n_samples
        self.started_at = time.monotonic()
        self.process_ = process
        self.input_path_ = input_path
        self.error_: Optional[str] = None
        self.graph = graph  # laid out on scoring's neighbour graph
        self.log_ = log  # the child's stderr (a file: a pipe nobody reads could fill and stall the child)

    @property
    def key(self) -> str:
        return projection_key(self.fingerprint, "umap", self.seed)

    @property
    def elapsed(self) -> float:
        """Seconds since the job started."""
        return time.monotonic() - self.started_at

    def poll(self) -> Optional[np.ndarray]:
        """The map when ready, else None. Check :attr:`failed` when None stays None."""
        value = cache.load(_KIND, self.key)
        if value is not None and len(value) == self.n_samples:
            self._cleanup()
            return value
        if self.process_ is not None and self.process_.poll() is not None and self.error_ is None:
            # the child exited without a result
            stderr = ""
            if self.log_ is not None:
                self.log_.seek(0)
                stderr = self.log_.read().decode(errors="replace")
            lines = [line for line in stderr.strip().splitlines() if line.strip()]
            self.error_ = lines[-1] if lines else f"exit code {self.process_.returncode}"
            self._cleanup()
        return None

    @property
    def running(self) -> bool:
        return self.process_ is not None and self.process_.poll() is None

    @property
    def failed(self) -> bool:
        self.poll()
        return self.error_ is not None

    def cancel(self) -> None:
        """Stop the child process (the cache is left as it was)."""
        if self.running:
            self.process_.terminate()
            try:
                self.process_.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process_.kill()
        self.error_ = self.error_ or "cancelled"
        self._cleanup()

    def _cleanup(self) -> None:
        if self.input_path_ and os.path.exists(self.input_path_) and not self.running:
            os.unlink(self.input_path_)
            self.input_path_ = None
        if self.log_ is not None and not self.running and self.error_ is not None:
            self.log_.close()


def graph_key(ds, seed: int = 0) -> str:
    """The disk-cache key of the neighbour graph that scoring ``ds`` with ``seed`` stores."""
    return ScoringContext(ds, seed=seed).neighbors_key()


def graph_stored(ds, seed: int = 0) -> bool:
    """Whether scoring has stored a neighbour graph for ``ds`` (a cheap look, nothing is read)."""
    return cache.contains("neighbors", graph_key(ds, seed))


def stored_graph(ds, seed: int = 0):
    """The neighbour graph scoring stored for ``ds`` (a NeighborGraph), or None; computes nothing."""
    graph = cache.load("neighbors", graph_key(ds, seed), cls=NeighborGraph)
    return graph if graph is not None and len(graph.indices) == ds.n_samples else None


def start_umap(ds, seed: int = 0) -> UmapJob:
    """Start computing the UMAP map of ``ds`` in a child process, unless cached or already running.

    When scoring has stored its neighbour graph (:func:`stored_graph`), the child lays the map out
    on it (:func:`core.projection.umap_layout`) instead of searching neighbours again.

    Returns a :class:`UmapJob` whose :meth:`~UmapJob.poll` returns the map once it is ready.
    """
    key = projection_key(ds.fingerprint, "umap", seed)
    with _JOBS_LOCK:
        job = _JOBS.get(key)
        if job is not None and (job.running or cache.load(_KIND, key) is not None):
            return job
        if cache.load(_KIND, key) is not None:
            job = UmapJob(ds.fingerprint, seed, ds.n_samples, None, None)
        else:
            fd, input_path = tempfile.mkstemp(prefix="umap-input-", suffix=".npy", dir=cache.cache_dir())
            with os.fdopen(fd, "wb") as handle:
                np.save(handle, np.asarray(ds.X, dtype=np.float32))
            graph = graph_stored(ds, seed)
            root = str(Path(__file__).resolve().parents[2])
            # one thread per pool: the layout runs with n_jobs=1, and a multi-threaded OpenBLAS called from
            # inside numba's OpenMP loops is what prints "OpenBLAS Warning: Detect OpenMP Loop"
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
                       OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
            command = [sys.executable, "-m", "core.projection.maps", "--input", input_path, "--key", key,
                       "--seed", str(seed)] + (["--graph", graph_key(ds, seed)] if graph else [])
            log = tempfile.TemporaryFile()
            process = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=log)
            job = UmapJob(ds.fingerprint, seed, ds.n_samples, process, input_path, graph=graph, log=log)
        _JOBS[key] = job
        return job


def stop_all() -> None:
    """Terminate every background UMAP process started by this interpreter."""
    with _JOBS_LOCK:
        jobs = list(_JOBS.values())
        _JOBS.clear()
    for job in jobs:
        job.cancel()


atexit.register(stop_all)


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Compute a UMAP map into the workbench cache.")
    parser.add_argument("--input", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--graph", default=None, help="disk-cache key of scoring's neighbour graph")
    args = parser.parse_args(argv)
    X = np.load(args.input)
    graph = None
    if args.graph:
        graph = cache.load("neighbors", args.graph, cls=NeighborGraph)
    # a low priority keeps the interactive app responsive on a 2-core machine
    if hasattr(os, "nice"):
        os.nice(5)
    cache.save(_KIND, args.key, umap_layout(X, args.seed, graph))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
