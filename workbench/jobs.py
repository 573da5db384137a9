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

**One compute plan.** Every job is planned work:

- it has a ``key`` (what it computes): a request for work whose key is already running under that
  name joins it instead of starting it again (:func:`start` returns the running job);
- CPU-heavy jobs pass through one process-wide :data:`SCHEDULER`, which runs at most as many of
  them at once as the machine has cores and starts the waiting ones by ``priority``
  (:data:`NOW` what the visible page waits for, :data:`ASKED` what a click asked for,
  :data:`AHEAD` work computed ahead of need, :data:`IDLE` the map projection, started only when
  nothing else waits or runs);
- a job can wait for other jobs (``deps``) before it takes a slot, so Auto, the curve and Export
  reuse the one fold-wise scores job instead of computing their own;
- reference work (``yields``: the random curve and references, whose results are cached fit by fit)
  gives way to work a user clicked for (``clicked``: Auto, the curve): it does not start while a
  click's job waits or runs, and a running one is paused at its next fit (cancelled and queued
  again, so it resumes from its cached fits) when a click's job asks for a core;
- progress only moves forward, and the time left counts the whole job (every pass and fold).
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import signal
import threading
import time
from typing import Any, Callable, Optional

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.foundation import Cancelled, WorkbenchError
from workbench import state


#: Priorities (lower starts first).
NOW, ASKED, AHEAD, IDLE = 0, 1, 2, 3


class Scheduler:
    """At most ``slots`` CPU-heavy jobs at once in this process, started by priority.

    A job asks for a slot in its own thread (:meth:`acquire`) and gives it back when it ends
    (:meth:`release`). A waiting job with a lower priority number starts first; among equals, the
    job of the session with the fewest jobs running, then the older request. :data:`IDLE` work
    starts only while no other job runs or waits. Cancelling a waiting job (from any thread)
    drops it from the queue within 0.2 s.

    A ``yields`` job (reference work) waits while any ``clicked`` job waits or runs, whatever
    their priorities, and a clicked job asking for a slot pauses every running yielding job
    (:meth:`Job.pause`: each gives its slot back at its next fit and queues again), so the
    click's job has the cores to itself.
    """

    def __init__(self, slots: int):
        self.slots = max(1, int(slots))
        self._cond = threading.Condition()
        self._waiting: list = []  # (priority, order, job)
        self._running: set = set()
        self._order = itertools.count()

    def acquire(self, job: "Job") -> bool:
        """Block until ``job`` may run; False when it was cancelled while waiting."""
        with self._cond:
            self._waiting.append((job.priority, next(self._order), job))
            try:
                while not job.cancel_event.is_set():
                    self._make_room(job)
                    if self._may_start(job):
                        self._drop(job)
                        self._running.add(job)
                        return True
                    self._cond.wait(0.2)
                return False
            finally:
                self._drop(job)
                self._cond.notify_all()

    def _drop(self, job: "Job") -> None:
        self._waiting = [entry for entry in self._waiting if entry[2] is not job]

    def _may_start(self, job: "Job") -> bool:
        entry = self._next()
        if entry[2] is not job:
            return False
        if entry[0] >= IDLE:
            return not self._running and len(self._waiting) == 1
        if job.yields and self._clicks():
            return False
        return len(self._running) < self.slots

    def _clicks(self) -> bool:
        """Whether a job a user clicked for waits or runs (reference work gives way to it)."""
        return any(j.clicked and not j.yields for j in self._running) or any(
            e[2].clicked and not e[2].yields for e in self._waiting)

    def _make_room(self, job: "Job") -> None:
        """A clicked job about to start pauses every running yielding job: the click gets the cores."""
        if not job.clicked or job.yields:
            return
        for other in self._running:
            if other.yields and not other.pausing:
                other.pause()

    def _next(self):
        """The waiting job to start next: the most urgent priority (reference work after any click's
        job); among equals, the session with the fewest jobs running (so one session's queue cannot
        hold every slot), then the oldest request."""
        running = {}
        for job in self._running:
            running[job.owner] = running.get(job.owner, 0) + 1
        held = self._clicks()
        return min(self._waiting, key=lambda e: (held and e[2].yields, e[0], running.get(e[2].owner, 0), e[1]))

    def promote(self, job: "Job", priority: int) -> None:
        """Raise a waiting job's priority (a page now waits for work asked ahead of need)."""
        with self._cond:
            if priority >= job.priority:
                return
            job.priority = int(priority)
            for i, entry in enumerate(self._waiting):
                if entry[2] is job:
                    self._waiting[i] = (job.priority, entry[1], job)
                    break
            self._cond.notify_all()

    def release(self, job: "Job") -> None:
        with self._cond:
            self._running.discard(job)
            self._cond.notify_all()

    def busy(self) -> bool:
        """Whether any heavy job runs or waits (work that yields to everything else pauses meanwhile)."""
        with self._cond:
            return bool(self._running or self._waiting)


#: The one scheduler of this process (every session's heavy jobs share the cores).
SCHEDULER = Scheduler(os.cpu_count() or 1)


class Job:
    """Run ``target(job)`` in a daemon thread.

    ``target`` receives the job and should call :meth:`progress` and pass :attr:`cancel_event`
    on to ``core``; it may store finished pieces in :attr:`partial`. Its return value becomes
    :attr:`result`. ``context`` holds what the finishing code needs (e.g. the recipe it ran for).

    ``key`` says what the job computes (a request with the same key joins it); ``heavy`` jobs run
    through :data:`SCHEDULER` at ``priority``; ``deps`` are jobs that must end first (their results
    are in :meth:`dep`). The job is ``queued`` until its dependencies are done and it has a slot.
    ``clicked``: a user clicked for it; ``yields``: reference work that gives way to clicked jobs
    (``target`` must then be safe to run again from the start: it is, when paused).
    """

    def __init__(self, target: Callable[["Job"], Any], *, label: str, context: Optional[dict] = None,
                 on_done: Optional[Callable[["Job"], None]] = None, key: Any = None, priority: int = ASKED,
                 heavy: bool = True, deps: tuple = (), owner: Any = None, clicked: bool = False,
                 yields: bool = False):
        self.label = label
        self.on_done = on_done
        self.context = dict(context or {})
        self.key = key
        self.priority = int(priority)
        self.heavy = heavy
        self.owner = owner  # the session that asked (sessions share the slots fairly)
        self.deps = tuple(d for d in deps if d is not None)
        self.clicked, self.yields = bool(clicked), bool(yields)
        self.pausing, self.pauses = False, 0  # asked to give its slot back / times it did
        self._cancelled = False  # by the user (a pause also sets cancel_event, then clears it)
        self.cancel_event = threading.Event()
        self.partial: Any = None
        self.result: Any = None
        self.error: Optional[str] = None
        self.status = "pending"  # pending | queued | running | done | failed | cancelled
        self.done_steps, self.total_steps, self.message = 0, 1, "starting"
        self._fraction = 0.0
        self.started_at = time.monotonic()
        self.running_since: Optional[float] = None
        self.paused_at: Optional[float] = None
        self.finished_at: Optional[float] = None
        self._target = target
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"workbench-{label}", daemon=True)

    def start(self) -> "Job":
        self.status = "queued" if (self.heavy or self.deps) else "running"
        self._thread.start()
        return self

    def dep(self, index: int = 0) -> Any:
        """The result of dependency ``index`` (it has ended when the target runs)."""
        return self.deps[index].result

    def _wait_for_deps(self) -> bool:
        for dep in self.deps:
            while not dep.wait(0.2):
                if self.cancel_event.is_set():
                    return False
            if dep.status != "done":
                self.error = f"{dep.label} {dep.status}" + (f": {dep.error}" if dep.error else "")
                self.status = "failed" if dep.status == "failed" else "cancelled"
                return False
        return not self.cancel_event.is_set()

    def _run(self) -> None:
        slot = False
        try:
            if not self._wait_for_deps():
                if self.status in ("queued", "pending"):
                    self.status = "cancelled"
                return
            while True:
                slot = self.heavy and SCHEDULER.acquire(self)
                if self.heavy and not slot:
                    self.status = "cancelled"
                    return
                self._resumed()
                try:
                    self.result = self._target(self)
                except Cancelled:
                    if not self._paused_now():
                        raise
                    slot = False  # given back: queue again, and run again from the start (its fits are cached)
                    continue
                self.status = "done"
                return
        except Cancelled:
            self.status = "cancelled"
        except WorkbenchError as err:
            self.error, self.status = str(err), "failed"
        except Exception as err:  # a bug, not a user error: keep the message for the page to show
            self.error, self.status = f"{type(err).__name__}: {err}", "failed"
        finally:
            if slot:
                SCHEDULER.release(self)
            self.finished_at = time.monotonic()

    def pause(self) -> None:
        """Ask a running yielding job to give its slot back at its next fit (the scheduler calls it)."""
        if self.yields and not self._cancelled:
            self.pausing = True
            self.cancel_event.set()

    def _paused_now(self) -> bool:
        """After a Cancelled: True when it was a pause (the slot is given back, the job queues again)."""
        if not self.pausing or self._cancelled:
            return False
        SCHEDULER.release(self)
        self.pausing, self.pauses, self.paused_at = False, self.pauses + 1, time.monotonic()
        self.status = "queued"
        self.cancel_event.clear()
        if self._cancelled:  # cancelled by the user between the two lines above
            self.cancel_event.set()
        return True

    def _resumed(self) -> None:
        now = time.monotonic()
        if self.running_since is not None and self.paused_at is not None:
            self.running_since += now - self.paused_at  # the time left counts running time only
            self.paused_at = None
        elif self.running_since is None:
            self.running_since = now
        self.status = "running"

    def progress(self, done: int, total: int, message: str = "") -> None:
        """core's progress callback; the fraction shown never goes back."""
        with self._lock:
            self.done_steps, self.total_steps = int(done), max(int(total), 1)
            self._fraction = max(self._fraction, min(max(self.done_steps / self.total_steps, 0.0), 1.0))
            if message:
                self.message = message

    @property
    def fraction(self) -> float:
        with self._lock:
            return self._fraction

    @property
    def running(self) -> bool:
        return self.status in ("pending", "queued", "running")

    @property
    def elapsed(self) -> float:
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started_at

    def seconds_left(self) -> Optional[float]:
        """Time left from the whole job's pace so far (every pass counted), or None before 5 %."""
        fraction = self.fraction
        if self.running_since is None or fraction < 0.05 or fraction >= 1:
            return None
        spent = time.monotonic() - self.running_since
        return spent * (1 - fraction) / fraction

    def describe(self) -> str:
        """One line for the progress bar: the label, core's message, time spent and time left."""
        if self.status == "queued":
            waiting = [d.label for d in self.deps if d.running]
            why = (f"waits for {waiting[0]}" if waiting else "paused while work you asked for runs" if self.pauses
                   else "waits for a free core")
            return f"{self.label} — {why} · {self.elapsed:.0f} s"
        message = _strip_eta(self.message.strip())
        if message.lower().startswith(self.label.lower()):
            message = message[len(self.label):].lstrip(" :—-")
        left = self.seconds_left()
        eta = f" · about {_seconds(left)} left" if left is not None else ""
        head = f"{self.label} — {message}" if message else self.label
        return f"{head} · {self.elapsed:.0f} s{eta}"

    def cancel(self) -> None:
        self._cancelled = True
        self.cancel_event.set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the job ends (tests, benchmarks); True when it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


_YIELDING: dict = {}  # pid -> process: children that run only while the plan is idle
_YIELD_LOCK = threading.Lock()


def yield_process(process) -> None:
    """Run a child process (the UMAP map) as :data:`IDLE` work of the plan.

    A watcher pauses it (SIGSTOP) while any heavy job of the plan runs or waits, and resumes it
    (SIGCONT) when the plan is idle, so the map never takes cores from scoring, the leak-free
    figure or a search. The watcher ends with the process.
    """
    if process is None or not hasattr(signal, "SIGSTOP"):
        return
    with _YIELD_LOCK:
        if process.pid in _YIELDING:
            return
        _YIELDING[process.pid] = process

    def watch() -> None:
        paused = False
        try:
            while process.poll() is None:
                busy = SCHEDULER.busy()
                if busy != paused:
                    process.send_signal(signal.SIGSTOP if busy else signal.SIGCONT)
                    paused = busy
                time.sleep(0.5)
        except OSError:  # the process ended between the check and the signal
            pass
        finally:
            with _YIELD_LOCK:
                _YIELDING.pop(process.pid, None)

    threading.Thread(target=watch, name="workbench-idle-child", daemon=True).start()


@atexit.register
def _resume_children() -> None:
    """A paused child must be running to act on the terminate the app sends it at exit."""
    with _YIELD_LOCK:
        children = list(_YIELDING.values())
    for process in children:
        try:
            process.send_signal(signal.SIGCONT)
        except OSError:
            pass


def _strip_eta(message: str) -> str:
    """core's own 'about N s left' counts one pass only: the job's line says the whole job's."""
    return re.sub(r",?\s*(about [0-9.]+ s left|under a second left)", "", message)


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 90 else f"{value / 60:.0f} min"


def current(name: str) -> Optional[Job]:
    """The job called ``name`` of this session (running or just ended), or None."""
    return state.get("jobs").get(name)


def running(name: str) -> bool:
    job = current(name)
    return job is not None and job.running


def start(name: str, target: Callable[[Job], Any], *, label: str, context: Optional[dict] = None,
          on_done: Optional[Callable[[Job], None]] = None, key: Any = None, priority: int = ASKED,
          heavy: bool = True, deps: tuple = (), clicked: bool = False, yields: bool = False) -> Job:
    """Start ``target`` as this session's job ``name``; ``on_done(job)`` runs in a script run once
    the job has ended, whichever way.

    A request for work already running under ``name`` with the same ``key`` joins it (the running
    job comes back, raised to ``priority`` if that is more urgent); a running job of another key is
    superseded (cancelled). ``heavy`` jobs wait for a slot of :data:`SCHEDULER`. ``clicked`` and
    ``yields``: see :class:`Job` (reference work gives way to what a user clicked for).
    """
    running_job = current(name)
    if running_job is not None and running_job.running:
        if key is not None and running_job.key == key:
            SCHEDULER.promote(running_job, priority)
            return running_job
        running_job.cancel()
    state.get("job_notes").pop(name, None)
    job = Job(target, label=label, context=context, on_done=on_done, key=key, priority=priority, heavy=heavy,
              deps=deps, owner=_session_id(), clicked=clicked, yields=yields).start()
    state.get("jobs")[name] = job
    return job


def button(name: str, text: str, target: Callable[[Job], Any], *, key: str, label: str,
           context: Optional[dict] = None, on_done: Optional[Callable[[Job], None]] = None,
           disabled: bool = False, work: Any = None, priority: int = ASKED, deps: Any = (),
           **button_args) -> bool:
    """A button that starts ``target`` as job ``name`` (``work``: its plan key); disabled while it runs.

    ``deps``: jobs it waits for, or a callable that asks the plan for them when the button is clicked.

    Returns True on the run the job started; a toast confirms the click at once.
    """
    if st.button(text, key=key, disabled=disabled or running(name), **button_args):
        deps = deps() if callable(deps) else deps  # asked for on the click only: nothing starts before it
        job = start(name, target, label=label, context=context, on_done=on_done, key=work, priority=priority,
                    deps=tuple(deps or ()), clicked=True)
        st.toast(f"{label}: started" if job.status == "running" else f"{label}: queued — {job.describe()}",
                 icon=":material/hourglass_top:")
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


def _session_id() -> Optional[str]:
    """The id of the session whose script runs now (None outside a script run)."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def _widget_prefix() -> str:
    """The current page's widget prefix (``tune_``...), so cancel buttons follow the key rule."""
    page = state.get("page") or ""
    return f"{page}_" if f"{page}_" in state.WIDGET_PREFIXES else "data_"
