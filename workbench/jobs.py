"""Background jobs: long computations run in a thread while the page polls their progress.

A button click reruns a Streamlit script from the top, which would interrupt a computation done
inline, so long work runs in a :class:`Job` thread that reports through ``core``'s
``progress(done, total, message)`` callback and stops at the next chunk when its cancel token
(a ``threading.Event``) is set. Results finished before a cancel are kept in ``partial``.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

from core.foundation.errors import Cancelled, WorkbenchError


class Job:
    """Run ``target(job)`` in a daemon thread.

    ``target`` receives the job and should call :meth:`progress` and pass :attr:`cancel_event`
    on to ``core``; it may store finished pieces in :attr:`partial`. Its return value becomes
    :attr:`result`.
    """

    def __init__(self, target: Callable[["Job"], Any], *, label: str):
        self.label = label
        self.cancel_event = threading.Event()
        self.partial: Any = None
        self.result: Any = None
        self.error: Optional[str] = None
        self.status = "pending"  # pending | running | done | failed | cancelled
        self.done_steps, self.total_steps, self.message = 0, 1, "Starting..."
        self.started_at = time.monotonic()
        self.finished_at: Optional[float] = None
        self._target = target
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"workbench-{label}", daemon=True)

    def start(self) -> "Job":
        self.status = "running"
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self._target(self)
            self.status = "done"
        except Cancelled:
            self.status = "cancelled"
        except WorkbenchError as err:
            self.error, self.status = str(err), "failed"
        except Exception as err:  # a bug, not a user error: keep the message for the page to show
            self.error, self.status = f"{type(err).__name__}: {err}", "failed"
        finally:
            self.finished_at = time.monotonic()

    def progress(self, done: int, total: int, message: str = "") -> None:
        with self._lock:
            self.done_steps, self.total_steps = int(done), max(int(total), 1)
            if message:
                self.message = message

    @property
    def fraction(self) -> float:
        with self._lock:
            return min(max(self.done_steps / self.total_steps, 0.0), 1.0)

    @property
    def running(self) -> bool:
        return self.status in ("pending", "running")

    @property
    def elapsed(self) -> float:
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started_at

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the job ends (tests, benchmarks); True when it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


def progress_panel(session_key: str, on_finish: Callable[[Job], None], *, cancel_label: str = "Cancel") -> None:
    """Poll the job in ``st.session_state[session_key]`` twice a second: a progress bar and a
    cancel button while it runs; ``on_finish(job)`` and a full rerun when it ends."""
    import streamlit as st

    @st.fragment(run_every=0.5)
    def _panel() -> None:
        job = st.session_state.get(session_key)
        if job is None:
            return
        if not job.running:
            on_finish(job)
            st.session_state[session_key] = None
            st.rerun()
        with st.container(border=True):
            st.progress(job.fraction, text=f"{job.label}: {job.message} — {job.elapsed:.0f} s")
            if st.button(cancel_label, key=f"{session_key}_cancel", icon=":material/stop:"):
                job.cancel()
                st.toast("Cancelling after the current step.")

    _panel()
