"""Where partition tasks run: in this process, or on a Dask ``distributed`` cluster.

Dask rather than Ray: the work here is a handful of map-over-partitions stages with small
per-partition summaries reduced in between, which ``Client.map``/``gather`` express directly; Dask
reads Parquet natively, its local cluster starts in seconds in plain worker processes (Ray starts a
raylet, a GCS server and a dashboard), and it installs from PyPI as pure Python.

Every engine has ``map(function, items, *args)``: run ``function(item, *args)`` for every item and
return the results in order. Results are small summaries; bulk data moves through files in a
shared scratch folder, never through the driver.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

from core.foundation.errors import ConfigError


class SerialEngine:
    """Runs partition tasks one after another in this process (the single-machine path)."""

    description = {"engine": "serial", "workers": 1}

    def map(self, function: Callable, items, *args) -> list:
        return [function(item, *args) for item in items]


class DaskEngine:
    """Runs partition tasks on a ``distributed`` client, one task per item.

    Parameters
    ----------
    client : distributed.Client
    description : dict
        What the manifest records about the engine (address or local cluster, worker count).
    scratch : Path, optional
        A local cluster's scratch folder (its workers' spill and lock files), removed when it closes.
    """

    def __init__(self, client, description: dict, scratch: Optional[Path] = None):
        self.client = client
        self.description = description
        self.scratch = scratch

    def map(self, function: Callable, items, *args) -> list:
        items = list(items)
        futures = self.client.map(function, items, *[[arg] * len(items) for arg in args], pure=False)
        return self.client.gather(futures)


@contextmanager
def dask_engine(address: Optional[str] = None, *, workers: int = 2,
                threads_per_worker: int = 1) -> Iterator[DaskEngine]:
    """A Dask engine attached to ``address``, or on a local cluster of ``workers`` processes.

    The local cluster (and the client in both cases) is always closed on exit, also on errors.

    Raises
    ------
    ConfigError
        When ``distributed`` is not installed or the address cannot be reached.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - an optional extra
        raise ConfigError("The distributed engine needs Dask: pip install 'data-pruning-workbench[distributed]' "
                          "(or pip install 'dask[distributed]').") from err
    cluster, scratch, workers_started = None, None, []
    try:
        if address:
            try:
                client = Client(address, timeout="10s")
            except (OSError, TimeoutError, ValueError, TypeError) as err:  # unreachable, or not an address
                raise ConfigError(f"Cannot reach the Dask scheduler at {address!r} ({err}); check --cluster "
                                  "(e.g. tcp://host:8786) or leave it out to start a local cluster.") from err
            description = {"engine": "dask", "cluster": address,
                           "workers": len(client.scheduler_info().get("workers", {}))}
        else:
            # a scratch folder of its own: Dask's default (dask-scratch-space in the temp folder) outlives the run
            import dask

            scratch = Path(tempfile.mkdtemp(prefix="workbench-dask-"))
            before = {child.pid for child in _children()}
            with dask.config.set({"temporary-directory": str(scratch)}):  # this process's lock files go there too
                cluster = LocalCluster(n_workers=int(workers), threads_per_worker=int(threads_per_worker),
                                       processes=True, dashboard_address=":0", worker_dashboard_address=":0",
                                       silence_logs=logging.ERROR, local_directory=str(scratch))
            workers_started = [child for child in _children() if child.pid not in before and _is_worker(child)]
            client = Client(cluster)
            description = {"engine": "dask", "cluster": "local", "workers": int(workers)}
        try:
            yield DaskEngine(client, description, scratch)
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
            _wait_for_exit(workers_started)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _children() -> list:
    import psutil  # distributed's own dependency

    return psutil.Process().children(recursive=True)


def _is_worker(process) -> bool:
    """A spawned worker process, not the resource tracker multiprocessing starts beside them: the tracker lives
    as long as this process, so waiting for it cost every local cluster the whole timeout (15 s a command)."""
    import psutil

    try:
        return any("spawn_main" in part for part in process.cmdline())
    except psutil.Error:  # gone already: nothing to wait for
        return False


def _wait_for_exit(processes: list, timeout: float = 15.0) -> None:
    """Wait (bounded) for the worker processes the local cluster started to exit: those that appeared while it
    started, so another thread's processes (the app's) are not waited for. After an interrupt
    ``cluster.close()`` can return while a worker still runs its exit handlers, which remove the worker's
    folder in the scratch folder: removing the scratch folder under it made each worker log a
    "Failed to remove" error after the CLI's one interrupted line (CI, 2026-12-07)."""
    import psutil

    psutil.wait_procs(processes, timeout=timeout)


@contextmanager
def open_engine(cluster: Optional[str] = None, *, workers: int = 0) -> Iterator:
    """The engine to run partition tasks on: Dask at ``cluster``, a local Dask cluster of ``workers``
    processes (``workers > 0``), else :class:`SerialEngine` in this process. Always shut down on exit."""
    if cluster or workers > 0:
        with dask_engine(cluster, workers=max(int(workers), 1)) as engine:
            yield engine
    else:
        yield SerialEngine()
