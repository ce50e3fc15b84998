"""What every integration shares: HTTP clients, limits, secrets, rendering.

An integration is one entry of a receiver's ``*_configs`` list. Each owns its
HTTP client (built from its ``http_config``), a concurrency limit and an
optional rate limit on the injected clock, so one slow or throttled platform
never holds up another. Failures become ``NotifyError`` with ``retry`` set for
network errors, 5xx, 429 and the platform's own rate-limit codes::

    class MyIntegration(HTTPIntegration):
        name = "mine"
        async def notify(self, ctx, alerts):
            data = self.data(ctx, alerts)
            await self.post_json(self.url, {"text": self.render(self.conf.message, data)}, ctx)
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from alerting.notify.alert import Alert
from alerting.notify.clock import Clock
from alerting.notify.pipeline import NotifyContext, NotifyError
from alerting.notify.receivers.netguard import AddressGuard, GuardedBackend, TargetRefused
from alerting.notify.telemetry import NotifyTelemetry
from alerting.notify.templates import TemplateError, Templates
from alerting.notify.tmpldata import Data, build_data
from spyglass.configtypes import HTTPClientConfig, read_secret_file

USER_AGENT = "Spyglass-Alertmanager/0.1"
DEFAULT_REQUEST_TIMEOUT = 30.0
MIN_REQUEST_TIMEOUT = 5.0

# (http_config) -> AsyncClient; the Notifier's `http_client` parameter.
HTTPClientFactory = Callable[[HTTPClientConfig | None], httpx.AsyncClient]


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with a network backend that refuses forbidden addresses."""

    def __init__(self, guard: AddressGuard, **kw):
        super().__init__(**kw)
        pool = self._pool
        # Through a proxy the proxy connects; the URL's host is still checked
        # before every request (HTTPIntegration.post).
        if type(pool) is httpcore.AsyncConnectionPool:
            pool._network_backend = GuardedBackend(guard, inner=pool._network_backend)


def default_client_factory(guard: AddressGuard) -> HTTPClientFactory:
    def make(cfg: HTTPClientConfig | None) -> httpx.AsyncClient:
        cfg = cfg or HTTPClientConfig()
        kw = cfg.httpx_kwargs()
        transport = _GuardedTransport(guard, verify=kw.pop("verify"), trust_env=kw.get("trust_env", False),
                                      proxy=kw.pop("proxy", None))
        return httpx.AsyncClient(transport=transport, timeout=DEFAULT_REQUEST_TIMEOUT, **kw)

    return make


def read_secret(value: str | None, path: str | None) -> str:
    if path:
        try:
            return read_secret_file(path) or ""
        except OSError as e:
            raise NotifyError(f"cannot read {path}: {e.strerror}", retry=False) from None
    return value or ""


class RateLimiter:
    """At most ``count`` sends per ``window`` seconds (sliding window, injected clock)."""

    def __init__(self, clock: Clock, count: int, window: float):
        self._clock = clock
        self._count = count
        self._window = window
        self._sent: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()

    async def acquire(self, on_wait: Callable[[], None] | None = None) -> None:
        async with self._lock:
            while True:
                now = self._clock.now()
                while self._sent and self._sent[0] <= now - self._window:
                    self._sent.popleft()
                if len(self._sent) < self._count:
                    self._sent.append(now)
                    return
                if on_wait:
                    on_wait()
                    on_wait = None
                await self._clock.sleep(self._sent[0] + self._window - now)


@dataclass(frozen=True)
class IntegrationDeps:
    """Collaborators every integration gets from the Notifier."""

    receiver: str
    templates: Templates
    external_url: str
    clock: Clock
    telemetry: NotifyTelemetry
    client_factory: HTTPClientFactory
    guard: AddressGuard


class BaseIntegration:
    """Fields and helpers common to all integrations."""

    name = "base"
    # Platform limits; subclasses override (None = unlimited).
    rate_limit: tuple[int, float] | None = None
    max_concurrency = 4

    def __init__(self, conf, index: int, deps: IntegrationDeps):
        self.conf = conf
        self.index = index
        self.deps = deps
        self.send_resolved = bool(getattr(conf, "send_resolved", False))
        self._sem = asyncio.Semaphore(self.max_concurrency)
        self._limiter = RateLimiter(deps.clock, *self.rate_limit) if self.rate_limit else None

    def __repr__(self) -> str:
        return f"{self.name}[{self.index}]"

    # -- rendering --------------------------------------------------------------
    def data(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> Data:
        return build_data(ctx.receiver, ctx.group_labels, alerts, self.deps.external_url,
                          self.deps.clock.now_ns())

    def render(self, text: str, data: Data) -> str:
        try:
            return self.deps.templates.render(text, data)
        except TemplateError as e:
            raise NotifyError(f"template error: {e}", retry=False) from None

    async def close(self) -> None:
        pass

    async def limited(self) -> None:
        if self._limiter:
            await self._limiter.acquire(lambda: self.deps.telemetry.rate_limited.labels(self.name).inc())


class HTTPIntegration(BaseIntegration):
    """An integration that POSTs to an HTTP endpoint."""

    def __init__(self, conf, index: int, deps: IntegrationDeps):
        super().__init__(conf, index, deps)
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = self.deps.client_factory(getattr(self.conf, "http_config", None))
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _timeout(self, ctx: NotifyContext) -> float:
        # The flush deadline bounds retries; one request that got its turn still
        # gets a fair chance (at least MIN_REQUEST_TIMEOUT), and at most its own
        # `timeout` when configured.
        left = ctx.deadline - self.deps.clock.now()
        own = getattr(self.conf, "timeout", 0) or 0
        t = min(left, DEFAULT_REQUEST_TIMEOUT * 4)
        if own:
            t = min(t, own)
        return max(t, min(own or MIN_REQUEST_TIMEOUT, MIN_REQUEST_TIMEOUT))

    async def post(self, url: str, ctx: NotifyContext, *, content: bytes,
                   headers: Mapping[str, str] | None = None, limit: bool = True) -> httpx.Response:
        """POST with the integration's limits; network trouble is a retryable error."""
        u = urlsplit(url)
        port = u.port or (443 if u.scheme == "https" else 80)
        try:
            await self.deps.guard.check_host(u.hostname or "", port)
        except TargetRefused as e:
            self.deps.telemetry.refused_targets.labels(self.name).inc()
            raise NotifyError(str(e), retry=False) from None
        except OSError as e:
            raise NotifyError(f"cannot resolve {u.hostname}: {e}", retry=True) from None
        if limit:
            await self.limited()
        h = {"User-Agent": USER_AGENT}
        h.update(headers or {})
        async with self._sem:
            try:
                return await self.client().post(url, content=content, headers=h, timeout=self._timeout(ctx))
            except httpx.HTTPError as e:
                if _refused(e):
                    self.deps.telemetry.refused_targets.labels(self.name).inc()
                    raise NotifyError(str(e), retry=False) from None
                raise NotifyError(f"{type(e).__name__}: {e} ({_redact(url)})", retry=True) from None

    async def post_json(self, url: str, payload: Any, ctx: NotifyContext,
                        headers: Mapping[str, str] | None = None, limit: bool = True) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return await self.post(url, ctx, content=body, headers=h, limit=limit)


def _refused(e: BaseException) -> bool:
    # The guarded backend raises from TargetRefused; httpcore and httpx wrap it.
    seen = 0
    cur: BaseException | None = e
    while cur is not None and seen < 8:
        if isinstance(cur, TargetRefused):
            return True
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return False


def _redact(url: str) -> str:
    # Robot URLs carry their token in the query; never log it.
    u = urlsplit(url)
    return f"{u.scheme}://{u.hostname}{u.path[:40]}"


def check_status(resp: httpx.Response, retry_codes: Sequence[int] = (429,)) -> None:
    """Alertmanager's Retrier: 2xx is success; 5xx and ``retry_codes`` are retryable."""
    code = resp.status_code
    if code // 100 == 2:
        return
    retry = code // 100 == 5 or code in retry_codes
    body = resp.text[:500]
    raise NotifyError(f"unexpected status code {code}" + (f": {body}" if body else ""), retry=retry)


def json_body(resp: httpx.Response) -> dict:
    try:
        v = resp.json()
    except ValueError:
        raise NotifyError(f"unexpected non-JSON response: {resp.text[:200]}", retry=False) from None
    if not isinstance(v, dict):
        raise NotifyError(f"unexpected response: {resp.text[:200]}", retry=False)
    return v


def truncate_bytes(s: str, limit: int, marker: str = "…") -> str:
    """Cut ``s`` to at most ``limit`` UTF-8 bytes, on a character boundary, marking the cut."""
    b = s.encode("utf-8")
    if len(b) <= limit:
        return s
    m = marker.encode("utf-8")
    cut = b[: max(0, limit - len(m))].decode("utf-8", "ignore")
    return cut + marker


def truncate_runes(s: str, limit: int, marker: str = "…") -> str:
    if len(s) <= limit:
        return s
    return s[: max(0, limit - 1)] + marker
