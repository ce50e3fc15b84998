"""ASGI middleware shared by every listener: request telemetry and authentication."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable

import bcrypt
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

# Paths a load balancer or kubelet probes without credentials.
UNAUTHENTICATED_PATHS = ("/-/healthy", "/-/ready")


class HTTPTelemetry:
    def __init__(self, registry: CollectorRegistry):
        self.requests = Counter(
            "spyglass_http_requests_total",
            "HTTP requests served, by handler and status code.",
            ["handler", "code"],
            registry=registry,
        )
        self.duration = Histogram(
            "spyglass_http_request_duration_seconds",
            "Time to serve HTTP requests, by handler.",
            ["handler"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=registry,
        )


def _handler_name(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return path
    p = scope.get("path", "")
    # the UI and its assets are one handler; anything else unknown is "other"
    if p.startswith("/api/") or p.startswith("/-/") or p in ("/metrics",):
        return p if len(p) < 64 else "other"
    return "/ui"


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, telemetry: HTTPTelemetry):
        self.app = app
        self.t = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            handler = _handler_name(scope)
            self.t.requests.labels(handler, str(status["code"])).inc()
            self.t.duration.labels(handler).observe(time.perf_counter() - start)


class AuthMiddleware:
    """Basic auth (bcrypt hashes, like Prometheus's web config) and static bearer tokens.

    Successful checks are cached by a SHA-256 of the credentials, because bcrypt
    is deliberately slow and every remote-write request carries the header.
    """

    def __init__(self, app: ASGIApp, basic_users: dict[str, str], bearer_tokens: Iterable[str]):
        self.app = app
        self.users = {u: h.encode() for u, h in basic_users.items()}
        self.tokens = [t.encode() for t in bearer_tokens]
        self._ok: set[bytes] = set()

    @property
    def enabled(self) -> bool:
        return bool(self.users or self.tokens)

    def check(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, cred = header.partition(" ")
        key = hashlib.sha256(header.encode()).digest()
        if key in self._ok:
            return True
        ok = False
        if scheme.lower() == "bearer" and self.tokens:
            ok = any(hmac.compare_digest(cred.encode(), t) for t in self.tokens)
        elif scheme.lower() == "basic" and self.users:
            try:
                user, _, pw = base64.b64decode(cred).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            h = self.users.get(user)
            if h is not None:
                try:
                    ok = bcrypt.checkpw(pw.encode(), h)
                except ValueError:
                    ok = False
        if ok:
            if len(self._ok) > 10_000:
                self._ok.clear()
            self._ok.add(key)
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.enabled or scope.get("path") in UNAUTHENTICATED_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization")
        if self.check(auth.decode("latin-1") if auth else None):
            await self.app(scope, receive, send)
            return
        body = b"Unauthorized\n"
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"www-authenticate", b'Basic realm="spyglass"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
