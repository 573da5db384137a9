"""Start a Streamlit server for a test, wait until it answers its health check, always stop it."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(port: int, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                if reply.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"streamlit did not answer on port {port} within {timeout:.0f} s")


@contextmanager
def serving(command: list, port: int, *, cwd, env=None, log=None, timeout: float = 90):
    """Run ``command`` (which must serve Streamlit on ``port``) until the ``with`` block ends."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log or subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    try:
        wait_healthy(port, process, timeout)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
