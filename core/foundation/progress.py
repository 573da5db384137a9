"""Progress reporting and cancellation shared by every long computation in ``core``.

A progress callback has the signature ``progress(done, total, message)``. A cancel token is any
object with an ``is_set()`` method (``threading.Event`` works); long loops call
:func:`check_cancelled` between chunks, which raises :class:`core.errors.Cancelled`.
"""

from __future__ import annotations

from typing import Callable, Optional, Protocol

from core.foundation.errors import Cancelled

ProgressFn = Callable[[int, int, str], None]


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


def report(progress: Optional[ProgressFn], done: int, total: int, message: str = "") -> None:
    """Call ``progress`` if one was given."""
    if progress is not None:
        progress(int(done), int(total), str(message))


def check_cancelled(cancel: Optional[CancelToken]) -> None:
    """Raise :class:`Cancelled` if the user asked to stop."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("The computation was cancelled; nothing partial was kept. Start it again when ready.")


def scaled(progress: Optional[ProgressFn], start: float, stop: float) -> Optional[ProgressFn]:
    """A callback that maps a sub-task's progress into the ``[start, stop]`` share of a parent's.

    The parent's total is 1000 steps so that sub-tasks of any size map smoothly.
    """
    if progress is None:
        return None

    def _inner(done: int, total: int, message: str) -> None:
        fraction = done / total if total else 1.0
        progress(int(1000 * (start + (stop - start) * fraction)), 1000, message)

    return _inner
