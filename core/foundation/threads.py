"""Run a block of numerical work on one thread.

The workbench's products are small (thin matrices, a few-thousand-row minibatches) and its
target is a busy 2-core laptop: extra BLAS, OpenMP or torch threads mostly wait for cores that
other work (the app, another scorer) is using. Measured on the 2-core reference machine, one
thread was 3-10 times faster for L-BFGS on thin products, ridge fold solves and proxy epochs.
This module is the one place that limits threads, and it restores the caller's setting after
the block, so a library call never changes the process for good.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

KINDS = ("blas", "openmp", "torch")

_CONTROLLER = None  # threadpoolctl's library scan is slow: done again only after new imports
_SCANNED_MODULES = -1


def _threadpool_controller():
    """threadpoolctl's view of the thread pools loaded, scanned again when modules were imported since.

    A scan made once per process missed the BLAS libraries loaded after it (faiss's and SciPy's
    OpenBLAS, imported after the app's first speed probe), so those ran on every core inside
    :func:`single_threaded`. Imports are what load libraries, so a changed module count triggers a scan.
    """
    global _CONTROLLER, _SCANNED_MODULES
    if _CONTROLLER is None or len(sys.modules) != _SCANNED_MODULES:
        from threadpoolctl import ThreadpoolController  # ships with scikit-learn

        _CONTROLLER, _SCANNED_MODULES = ThreadpoolController(), len(sys.modules)
    return _CONTROLLER


@contextlib.contextmanager
def _torch_single_thread() -> Iterator[None]:
    import torch  # heavy: only callers that train with torch pay for it

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def single_threaded(kind: str = "blas"):
    """A context in which one kind of thread pool runs on a single thread.

    Parameters
    ----------
    kind : {"blas", "openmp", "torch"}
        ``"blas"``: NumPy/SciPy linear algebra; ``"openmp"``: scikit-learn's OpenMP loops
        (gradient boosting); ``"torch"``: torch's intra-op CPU threads.

    Returns
    -------
    context manager
        Restores the previous thread count on exit.
    """
    if kind == "torch":
        return _torch_single_thread()
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return _threadpool_controller().limit(limits=1, user_api=kind)
