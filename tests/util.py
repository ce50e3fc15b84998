"""Small helpers shared by tests (import as ``from tests.util import ...``)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx


def _find_shared() -> Path:
    """The steering repo's shared/ folder: $SPYGLASS_SHARED, else a `shared`
    sibling of the checkout or of one of its parents, else /work/shared."""
    env = os.environ.get("SPYGLASS_SHARED")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        cand = parent / "shared"
        if (cand / "DESIGN.md").is_file():
            return cand
    return Path("/work/shared")


SHARED = _find_shared()


def free_port() -> int:
    """A TCP port that was free a moment ago (tests run in parallel: never hard-code ports)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_peer(name: str) -> str | None:
    """Path of a Debian peer program, also where it is outside $PATH (/usr/sbin)."""
    return shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")


def peer_binary(name: str) -> str:
    """Path of a Debian peer program; fails (never skips) when `make test` did not install it."""
    path = find_peer(name)
    assert path, f"{name} is not installed: run `make test` (it installs the Debian peers)"
    return path


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30.0) -> bool:
    """Send ``sig`` and wait for the exit; kill the process when it outlives
    ``timeout``. Returns whether it stopped in time."""
    if proc.poll() is not None:
        return True
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return False


def send_body(
    handler: BaseHTTPRequestHandler, status: int, body: bytes = b"",
    content_type: str | None = None, encoding: str | None = None,
) -> None:
    """Answer an HTTP request with ``body`` as it is (already encoded as ``encoding`` says)."""
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    if encoding:
        handler.send_header("Content-Encoding", encoding)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    try:
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a scrape timeout): nothing left to answer


def wait_http(url: str, timeout: float = 30.0, ok=(200,)) -> httpx.Response:
    """Poll ``url`` until it answers with one of ``ok`` statuses."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url, timeout=2.0)
            if r.status_code in ok:
                return r
            last = AssertionError(f"{url} answered {r.status_code}: {r.text[:200]}")
        except httpx.HTTPError as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"{url} did not become ready in {timeout}s: {last}")
