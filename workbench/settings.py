"""Operator settings: read from the environment once, when the app process starts; never written.

Safe by default: the app listens on loopback (``127.0.0.1``: ``workbench app``, ``make run`` and
``.streamlit/config.toml`` say so) unless the operator chooses an address. Local files (Data >
Local path and Data > Scored partitions, Export > Write to a folder and Export > Write the selection
for the full data, Incoming > Local path) and the cache settings are offered only while the app is
bound to loopback, or when the operator turned them on for a trusted network.

``WORKBENCH_ADDRESS``
    The address ``workbench app`` and ``make run`` listen on (default ``127.0.0.1``; ``0.0.0.0`` serves
    every interface). ``--server.address`` given to streamlit says the same.
``WORKBENCH_SERVER_MODE=1``
    The app is served to others (``workbench app --server`` sets it): local files are off whatever
    the address. Uploads stay, bounded by ``server.maxUploadSize`` in ``.streamlit/config.toml``.
``WORKBENCH_LOCAL_FILES=1``
    Offer local files although the app listens beyond loopback (a trusted network; not with server mode).
``WORKBENCH_TARGETS``
    The target models a visitor may name as ``module:Class`` on Tune (Your own target model), comma
    separated (``sklearn.ensemble:RandomForestClassifier,sklearn.svm:SVC``), or ``*`` for any. Naming
    a class imports its module, which runs code: on loopback any name is allowed (the person at the
    keyboard runs the server); when served, only the names listed here (none by default).
``WORKBENCH_MLFLOW_STORES``
    The MLflow tracking stores a visitor may log to from Export when the app is served, comma separated
    (``http://mlflow:5000``); none by default. A store decides where its runs' files go (a SQLite URI names a
    file of this machine, a tracking server may name a local artifact folder), so a visitor does not choose it.
``WORKBENCH_SESSION_MB``, ``WORKBENCH_TOTAL_MB``
    The most memory the data of one session (default 2048) and of all sessions together (default:
    half of this machine's memory) may hold; the oldest idle session's data are released first
    (see :mod:`workbench.sessions`).
``WORKBENCH_UMAP``
    When the UMAP map starts: ``load`` (as soon as data load, the default), ``map`` (when the Map
    page opens) or ``off``.
``WORKBENCH_PRELOAD``
    The bundled sample offered on first open (``known_answer``); empty for none.
``WORKBENCH_CACHE_DIR``
    The disk cache folder (read by ``core``); shown in local mode, never changed by a session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

TRUE = ("1", "true", "yes", "on")
#: Addresses only this machine can reach.
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
DEFAULT_ADDRESS = "127.0.0.1"


@dataclass(frozen=True)
class Operator:
    server_mode: bool  # served to others: explicit server mode, or bound beyond loopback
    local_files: bool  # whether a visitor may read or write this machine's files by path
    address: str  # what the server listens on ("" when no server runs, e.g. AppTest)
    umap: str
    preload: str
    cache_dir: str
    session_mb: int
    total_mb: int
    targets: tuple = ()  # module:Class names a visitor may use as the target model ("*": any)
    any_target: bool = True  # whether any module:Class may be named (loopback, or "*" listed)
    mlflow_stores: tuple = ()  # tracking stores a visitor may log to when served


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in TRUE


def bound_address() -> Optional[str]:
    """The address the running Streamlit server listens on; None when no server runs (AppTest, scripts)."""
    from streamlit import config
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    return (config.get_option("server.address") or "").strip()  # empty: every interface


def is_loopback(address: Optional[str]) -> bool:
    """True for an address only this machine reaches; None (no server at all) counts as local."""
    return address is None or address.strip().lower() in LOOPBACK


@lru_cache(maxsize=1)
def operator() -> Operator:
    """The settings of this app process (read once; tests call ``operator.cache_clear()``)."""
    umap = os.environ.get("WORKBENCH_UMAP", "load").strip().lower()
    address = bound_address()
    explicit_server = _flag("WORKBENCH_SERVER_MODE")
    served = explicit_server or not is_loopback(address)
    session_mb = _megabytes("WORKBENCH_SESSION_MB", 2048)
    targets = tuple(t for t in (_target_name(t) for t in os.environ.get("WORKBENCH_TARGETS", "").split(",")) if t)
    return Operator(
        server_mode=served,
        local_files=not explicit_server and (not served or _flag("WORKBENCH_LOCAL_FILES")),
        address="" if address is None else address,
        umap=umap if umap in ("load", "map", "off") else "load",
        preload=os.environ.get("WORKBENCH_PRELOAD", "known_answer").strip(),
        cache_dir=os.environ.get("WORKBENCH_CACHE_DIR", "").strip(),
        session_mb=session_mb,
        total_mb=max(session_mb, _megabytes("WORKBENCH_TOTAL_MB", _half_of_memory_mb())),
        targets=targets,
        any_target=not served or "*" in targets,
        mlflow_stores=tuple(u.strip() for u in os.environ.get("WORKBENCH_MLFLOW_STORES", "").split(",") if u.strip()),
    )


def _megabytes(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, "").strip() or default))
    except ValueError:
        return default


def _half_of_memory_mb() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 20) / 2)
    except (ValueError, OSError, AttributeError):
        return 8192


def server_mode() -> bool:
    """Whether the app is served to others (explicit server mode, or listening beyond loopback)."""
    return operator().server_mode


def local_files_allowed() -> bool:
    """Whether a visitor may read or write files of this machine by path (loopback, or the operator's choice)."""
    return operator().local_files


def mlflow_refusal(uri: str) -> Optional[str]:
    """Why a visitor may not log to the MLflow store ``uri`` (None: allowed): any store with local files on;
    when served, only the operator's ``WORKBENCH_MLFLOW_STORES``."""
    op = operator()
    if op.local_files or uri.strip() in op.mlflow_stores:
        return None
    listed = ", ".join(op.mlflow_stores) if op.mlflow_stores else "none"
    return ("This app is served to others: runs go only to the tracking stores the operator lists in "
            f"WORKBENCH_MLFLOW_STORES ({listed}), since a store decides where files are written.")


def _target_name(text: str) -> str:
    """``module:Class`` as compared with the operator's list (spaces dropped)."""
    return "".join(str(text).split())


def target_refusal(text: str) -> Optional[str]:
    """Why a visitor may not name ``text`` as the target model (None: allowed)."""
    op = operator()
    if op.any_target or _target_name(text) in op.targets:
        return None
    listed = ", ".join(op.targets) if op.targets else "none"
    return (f"{text} is not allowed here: this app is served to others, and naming a module imports it, which runs "
            f"code. The operator allows the target models listed in WORKBENCH_TARGETS ({listed}).")


def targets_offered() -> bool:
    """Whether a visitor may name any target model at all (loopback, or the operator listed some)."""
    op = operator()
    return op.any_target or bool(op.targets)
