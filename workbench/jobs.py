"""Background jobs: every long action of the app runs through this one helper.

A click reruns a Streamlit script from the top, which would interrupt a computation done inline,
so long work runs in a :class:`Job` thread that reports through ``core``'s
``progress(done, total, message)`` callback and stops at the next chunk when its cancel token
(a ``threading.Event``) is set. Results finished before a cancel are kept in ``partial``.

A page uses two calls per action::

    jobs.button("curve", "Compute the pruning curve", target, key="tune_curve", label="Pruning curve",
                on_done=store_curve)   # on_done(job) runs once, in the script, when the job ends
    jobs.panel("curve")                # progress + cancel while it runs; a note if it failed or was cancelled

A job that ends while its page is not shown is settled by the router on the next run
(:func:`settle`), and the sidebar's poller (:func:`sidebar_status`) asks for that run, so the
sidebar and every page reflect a finished job at once, wherever the user is.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

import streamlit as st

from core.foundation import Cancelled, WorkbenchError
from workbench import state


class Job:
    """Run ``target(job)`` in a daemon thread.

    ``target`` receives the job and should call :meth:`progress` and pass :attr:`cancel_event`
    on to ``core``; it may store finished pieces in :attr:`partial`. Its return value becomes
    :attr:`result`. ``context`` holds what the finishing code needs (e.g. the recipe it ran for).
    """

    def __init__(self, target: Callable[["Job"], Any], *, label: str, context: Optional[dict] = None,
                 on_done: Optional[Callable[["Job"], None]] = None):
        self.label = label
        self.on_done = on_done
        self.context = dict(context or {})
        self.cancel_event = threading.Event()
        self.partial: Any = None
        self.result: Any = None
        self.error: Optional[str] = None
        self.status = "pending"  # pending | running | done | failed | cancelled
        self.done_steps, self.total_steps, self.message = 0, 1, "starting"
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

    def describe(self) -> str:
        """One line for the progress bar: the label, then core's message without repeating it."""
        message = self.message.strip()
        if message.lower().startswith(self.label.lower()):
            message = message[len(self.label):].lstrip(" :—-")
        return f"{self.label} — {message} · {self.elapsed:.0f} s" if message else f"{self.label} · {self.elapsed:.0f} s"

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the job ends (tests, benchmarks); True when it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


def current(name: str) -> Optional[Job]:
    """The job called ``name`` of this session (running or just ended), or None."""
    return state.get("jobs").get(name)


def running(name: str) -> bool:
    job = current(name)
    return job is not None and job.running


def start(name: str, target: Callable[[Job], Any], *, label: str, context: Optional[dict] = None,
          on_done: Optional[Callable[[Job], None]] = None) -> Job:
    """Start ``target`` as this session's job ``name`` (its last note is cleared); ``on_done(job)``
    runs in a script run once the job has ended, whichever way."""
    state.get("job_notes").pop(name, None)
    job = Job(target, label=label, context=context, on_done=on_done).start()
    state.get("jobs")[name] = job
    return job


def button(name: str, text: str, target: Callable[[Job], Any], *, key: str, label: str,
           context: Optional[dict] = None, on_done: Optional[Callable[[Job], None]] = None,
           disabled: bool = False, **button_args) -> bool:
    """A button that starts ``target`` as job ``name``; disabled while that job runs.

    Returns True on the run the job started.
    """
    if st.button(text, key=key, disabled=disabled or running(name), **button_args):
        start(name, target, label=label, context=context, on_done=on_done)
        return True
    return False


def settle() -> None:
    """Finish every job of this session that has ended (the router calls it before the page runs)."""
    for name, job in list(state.get("jobs").items()):
        if not job.running:
            _finish(name, job)


def _finish(name: str, job: Job) -> None:
    if state.get("jobs").get(name) is not job:
        return  # already settled
    del state.get("jobs")[name]
    if job.on_done is not None:
        job.on_done(job)  # called for every ending: a cancelled job may leave partial results
    if job.status == "failed":
        state.get("job_notes")[name] = ("error", f"{job.label} stopped: {job.error}")
    elif job.status == "cancelled":
        state.get("job_notes")[name] = ("info", f"{job.label} was cancelled after {job.elapsed:.0f} s."
                                        + (f" {job.context['on_cancel']}" if job.context.get("on_cancel") else ""))


def panel(name: str, *, cancel_text: str = "Cancel") -> None:
    """Progress and a cancel button while job ``name`` runs (polled twice a second); when it ends,
    its ``on_done`` and a full rerun; afterwards, a note if it failed or was cancelled."""

    @st.fragment(run_every=0.5)
    def _poll() -> None:
        job = current(name)
        if job is None:
            return
        if not job.running:
            _finish(name, job)
            st.rerun()
        with st.container(border=True):
            st.progress(job.fraction, text=job.describe())
            if st.button(cancel_text, key=f"{_widget_prefix()}{name}_cancel", icon=":material/stop:"):
                job.cancel()
                st.toast("Cancelling after the current step.")

    if current(name) is not None:
        _poll()
    note = state.get("job_notes").get(name)
    if note is not None:
        kind, text = note
        (st.error if kind == "error" else st.info)(text, icon=":material/error:" if kind == "error"
                                                   else ":material/info:")


def sidebar_status() -> None:
    """One line per running job wherever the user is, and a full rerun as soon as one ends."""

    @st.fragment(run_every=1.0)
    def _poll() -> None:
        found = list(state.get("jobs").values())
        if any(not job.running for job in found):
            st.rerun()
        for job in found:
            st.caption(f":material/hourglass_top: {job.describe()} ({job.fraction:.0%})")

    if state.get("jobs"):
        _poll()


def _widget_prefix() -> str:
    """The current page's widget prefix (``tune_``...), so cancel buttons follow the key rule."""
    page = state.get("page") or ""
    return f"{page}_" if f"{page}_" in state.WIDGET_PREFIXES else "data_"
