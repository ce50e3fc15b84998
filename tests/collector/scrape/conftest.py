"""A tiny configurable HTTP target for scrape tests."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Reply:
    # bytes, or a function of the request's number (0, 1, ...) for bodies that change
    body: bytes | str | Callable[[int], bytes] = b""
    status: int = 200
    content_type: str | None = "text/plain; version=0.0.4; charset=utf-8"
    delay: float = 0.0
    gzip_ok: bool = True


@dataclass
class FakeTarget:
    """Serves ``replies[path]``; records each request's path and headers."""

    port: int = 0
    replies: dict[str, Reply] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    arrivals: list[tuple[str, float]] = field(default_factory=list)  # (path, time.monotonic())
    auth: str | None = None  # required Authorization header value

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def fake_target():
    state = FakeTarget()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            state.arrivals.append((self.path, time.monotonic()))
            state.requests.append((self.path, dict(self.headers)))
            if state.auth is not None and self.headers.get("Authorization") != state.auth:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            reply = state.replies.get(self.path.split("?")[0]) or state.replies.get("*")
            if reply is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if reply.delay:
                time.sleep(reply.delay)
            body = reply.body
            if callable(body):
                body = body(sum(1 for p, _ in state.requests if p == self.path) - 1)
            body = body.encode() if isinstance(body, str) else body
            self.send_response(reply.status)
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            if reply.gzip_ok and "gzip" in (self.headers.get("Accept-Encoding") or ""):
                body = gzip.compress(body)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    yield state
    server.shutdown()
    server.server_close()
