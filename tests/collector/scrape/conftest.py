"""A tiny configurable HTTP target for scrape tests, and what the tests read back."""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry

from collector.scrape.manager import ScrapeManager
from storage.labels import Labels, Matcher
from tests.util import send_body


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

    def series(self, name: str, job: str = "j", **labels: str) -> Labels:
        """The labels series ``name`` of this target is stored with in ``job``."""
        return Labels.from_dict({"__name__": name, "job": job, "instance": self.address, **labels})


def stored(store, name: str | None = None) -> dict:
    """Series of metric ``name`` (or all) in ``store``: labels -> (timestamps, values)."""
    ms = [Matcher("=", "__name__", name)] if name else [Matcher("=~", "__name__", ".+")]
    ss = store.querier(-(2**62), 2**62).select(ms)
    return {ss.labels[i]: ss.series(i) for i in range(len(ss))}


def wait_for(cond, timeout: float = 10.0, step: float = 0.02) -> bool:
    """Poll ``cond`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    raise AssertionError("condition not met in time")


@contextlib.contextmanager
def running_manager(store, **options) -> Iterator[ScrapeManager]:
    """A started ``ScrapeManager`` over ``store`` with a registry of its own."""
    m = ScrapeManager(store, registry=CollectorRegistry(), **options)
    m.start()
    try:
        yield m
    finally:
        m.stop()


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
                send_body(self, 401)
                return
            reply = state.replies.get(self.path.split("?")[0]) or state.replies.get("*")
            if reply is None:
                send_body(self, 404)
                return
            if reply.delay:
                time.sleep(reply.delay)
            body = reply.body
            if callable(body):
                body = body(sum(1 for p, _ in state.requests if p == self.path) - 1)
            body = body.encode() if isinstance(body, str) else body
            encoding = None
            if reply.gzip_ok and "gzip" in (self.headers.get("Accept-Encoding") or ""):
                body, encoding = gzip.compress(body), "gzip"
            send_body(self, reply.status, body, reply.content_type, encoding)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    yield state
    server.shutdown()
    server.server_close()
