"""Several visitors on one served app: the memory each session's data hold, bounded.

The design, kept simple on purpose:

- Each session's data (its Dataset: the original rows, the feature matrix, thumbnails) are counted
  when they are loaded (:func:`data_bytes`). One session may hold at most ``WORKBENCH_SESSION_MB``
  (default 2048): a larger data set is refused with a message that says so, before it becomes current.
- All sessions together may hold at most ``WORKBENCH_TOTAL_MB`` (default: half of this machine's
  memory). When a load would pass that, the data of the session that has been idle longest (no rerun
  for :data:`IDLE_SECONDS`) are released first: its data set, scores, curves and memos are dropped,
  its background jobs cancelled, and its next visit says why and asks to load again. When no
  idle session is left to release, the load is refused with a message (try again later).
- What sessions share is keyed by data, never by session: the loaders' and evaluators' caches
  (``st.cache_resource`` keyed by path, modification time and options, or by fingerprint) hold
  read-only objects, bounded by their ``max_entries``. Two sessions on the same file share one
  Dataset object; each is still counted in full here (the bound is conservative).

A session is known by a :class:`Handle` kept in its own state (Streamlit's session id is the same
for every ``AppTest``); the table holds it weakly, so a session Streamlit has dropped is forgotten
here too, and its data are freed with it. The handle's ``release`` drops the session's data.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from typing import Callable, Optional

from core.foundation import DataFileError

#: A session counts as idle when it has not rerun for this long (seconds).
IDLE_SECONDS = 120.0
MB = 1 << 20


class Handle:
    """One session, as the table knows it; ``release(why)`` drops its data (set by ``workbench.state``)."""

    def __init__(self) -> None:
        self.release: Callable[[str], None] = lambda why: None


@dataclass
class Entry:
    handle: "weakref.ref[Handle]"
    last_seen: float
    held: int = 0  # bytes of data this session holds


class Sessions:
    """The process-wide table of sessions and the bytes of data each holds (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, Entry] = {}

    def check_in(self, handle: Handle, now: Optional[float] = None) -> None:
        """Record a rerun of the session of ``handle`` (it is active now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._prune()
            entry = self._entries.get(id(handle))
            if entry is None or entry.handle() is not handle:
                self._entries[id(handle)] = Entry(weakref.ref(handle), now)
            else:
                entry.last_seen = now

    def admit(self, handle: Handle, nbytes: int, *, session_cap: int, total_cap: int,
              now: Optional[float] = None, idle: Optional[float] = None) -> int:
        """Let the session of ``handle`` hold ``nbytes`` of data, releasing idle sessions' data if needed.

        Returns how many sessions' data were released. Raises :class:`DataFileError` when the data
        are over the per-session cap, or when no idle session is left to make room.
        """
        now = time.monotonic() if now is None else now
        idle = IDLE_SECONDS if idle is None else idle
        if nbytes > session_cap:
            raise DataFileError(f"These data need about {nbytes / MB:,.0f} MB of memory; a session on this server "
                                f"may hold at most {session_cap / MB:,.0f} MB (WORKBENCH_SESSION_MB). Load fewer rows "
                                "or columns, or run the workbench on your own machine.")
        with self._lock:
            self._prune()
            victims = self._make_room(id(handle), nbytes, total_cap, now, idle)
            entry = self._entries.get(id(handle))
            if entry is None or entry.handle() is not handle:
                entry = self._entries[id(handle)] = Entry(weakref.ref(handle), now)
            entry.held, entry.last_seen = nbytes, now
        for victim in victims:
            victim.release(f"Your data were released after {idle / 60:.0f}+ minutes idle, to make room for another "
                           "user of this server. Load them again on the Data page (cached scores come back at once).")
        return len(victims)

    def _prune(self) -> None:
        """Forget sessions Streamlit has dropped (called under the lock)."""
        for key in [k for k, e in self._entries.items() if e.handle() is None]:
            del self._entries[key]

    def _make_room(self, key: int, nbytes: int, total_cap: int, now: float, idle: float) -> list:
        """The handles of the idle sessions to release, oldest first (called under the lock)."""
        others = sorted(((k, e) for k, e in self._entries.items() if k != key), key=lambda item: item[1].last_seen)
        total = sum(e.held for _, e in others) + nbytes
        chosen, freed = [], 0
        for _, entry in others:
            if total - freed <= total_cap:
                break
            if entry.held and now - entry.last_seen >= idle:
                chosen.append(entry)
                freed += entry.held
        if total - freed > total_cap:
            raise DataFileError(f"The server holds data for other users ({(total - nbytes) / MB:,.0f} MB of "
                                f"{total_cap / MB:,.0f} MB, WORKBENCH_TOTAL_MB), and none has been idle long enough "
                                "to make room. Try again in a few minutes, or load a smaller data set.")
        handles = []
        for entry in chosen:
            entry.held = 0
            handles.append(entry.handle())
        return [h for h in handles if h is not None]

    def held(self, handle: Handle) -> int:
        """Bytes of data the session of ``handle`` holds (0 once released)."""
        with self._lock:
            entry = self._entries.get(id(handle))
            return entry.held if entry is not None and entry.handle() is handle else 0

    def total(self) -> int:
        with self._lock:
            self._prune()
            return sum(e.held for e in self._entries.values())


SESSIONS = Sessions()


def data_bytes(ds) -> int:
    """The bytes a Dataset holds in memory: rows (text counted in full), features and thumbnails."""
    total = int(ds.X.nbytes) + int(ds.frame.memory_usage(index=True, deep=True).sum())
    if getattr(ds, "images", None) is not None:
        total += int(ds.images.nbytes)
    return total
