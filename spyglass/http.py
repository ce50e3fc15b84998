"""ASGI middleware shared by every listener: request telemetry, authentication, and
a direct route table for the hot API endpoints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import time
from collections.abc import Iterable

import bcrypt
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Match, Route
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
    if p.startswith(("/api/", "/-/")) or p == "/metrics":
        return p if len(p) < 64 else "other"
    return "/ui"


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, telemetry: HTTPTelemetry):
        self.app = app
        self.t = telemetry
        # labelled children by (handler, code) and handler: ``labels()`` validates and
        # locks on every call, a few µs of each request
        self._requests: dict[tuple[str, int], object] = {}
        self._durations: dict[str, object] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        code = 500

        async def send_wrapper(message):
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            handler = _handler_name(scope)
            counter = self._requests.get((handler, code))
            if counter is None:
                counter = self._requests[(handler, code)] = self.t.requests.labels(handler, str(code))
            duration = self._durations.get(handler)
            if duration is None:
                duration = self._durations[handler] = self.t.duration.labels(handler)
            counter.inc()
            duration.observe(time.perf_counter() - start)


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


class RouteTable:
    """ASGI middleware: requests for the routes added here go straight to their
    endpoint; everything else goes on to ``app`` (the FastAPI application).

    The hot API endpoints (``/api/v1/query`` and friends) are plain
    ``request -> Response`` functions that need none of the FastAPI layers in
    front of a route (exception middleware, exit stack, body limit, router
    walk): skipping them is a tenth of a small query's time. The routes must
    also be mounted in ``app``, ahead of any other route for the same path, so
    that both ways give the same answer; the method-not-allowed answer and
    multipart form bodies (whose parse errors are FastAPI's 400) are left to ``app``::

        table = RouteTable(app)
        table.add(api.router().routes)
    """

    def __init__(self, app: ASGIApp):
        self.app = app
        self._exact: dict[str, Route] = {}
        self._templated: list[Route] = []

    def add(self, routes: Iterable[Route]) -> None:
        exact, templated = dict(self._exact), list(self._templated)
        for r in routes:
            if not isinstance(r, Route) or not inspect.iscoroutinefunction(r.endpoint):
                continue  # only ``async def endpoint(request) -> Response`` is called directly
            if r.param_convertors:
                templated.append(r)
            else:
                exact.setdefault(r.path, r)
        # replaced whole: requests are served while routes are added (during open())
        self._exact, self._templated = exact, templated

    def _find(self, scope: Scope) -> tuple[Route | None, Scope]:
        route = self._exact.get(scope["path"])
        if route is not None:
            match, child = route.matches(scope)
            return (route, child) if match is Match.FULL else (None, {})
        for route in self._templated:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return route, child
        return None, {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http" and not (scope["method"] == "POST" and _multipart(scope)):
            route, child = self._find(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        scope.update(child)
        scope["route"] = route  # request metrics name the handler by its route
        try:
            response = await route.endpoint(Request(scope, receive, send))
        except Exception:
            # as Starlette's ServerErrorMiddleware: a plain 500, then the server logs it
            await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
            raise
        await response(scope, receive, send)


def _multipart(scope: Scope) -> bool:
    for k, v in scope["headers"]:
        if k == b"content-type":
            return v.startswith(b"multipart/")
    return False
