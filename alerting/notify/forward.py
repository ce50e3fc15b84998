"""Forward alerts to existing Alertmanagers instead of notifying from Spyglass.

Works like Prometheus's notifier: alerts go into a bounded queue (the oldest
are dropped, and counted, when it overflows), a worker thread sends them in
batches of up to 64 with ``POST /api/v2/alerts`` to every configured
Alertmanager concurrently, and a batch counts as delivered when at least one
Alertmanager accepted it. External labels are added where an alert lacks
them::

    fwd = AlertmanagerForwarder([ForwardTarget("http://alertmanager:9093")])
    fwd.start()
    fwd.send([PostableAlert({"alertname": "Down"}, starts_at=t)])
    fwd.stop()
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from alerting.notify.alert import PostableAlert, to_postable
from alerting.notify.telemetry import NotifyTelemetry
from alerting.notify.wire import GoTime
from spyglass.configtypes import HTTPClientConfig

log = logging.getLogger("spyglass.notify.forward")

MAX_BATCH = 64


@dataclass(frozen=True)
class ForwardTarget:
    """One Alertmanager: its base URL (``http://am:9093``, path prefix included)."""

    url: str
    http_config: HTTPClientConfig = field(default_factory=HTTPClientConfig)
    timeout: float = 10.0

    @property
    def alerts_url(self) -> str:
        return self.url.rstrip("/") + "/api/v2/alerts"


def targets_from_prometheus(alertmanagers: Iterable[Any]) -> list[ForwardTarget]:
    """Targets from Prometheus-style ``alerting.alertmanagers`` entries (static_configs,
    scheme, path_prefix, timeout and the HTTP client fields)."""
    out: list[ForwardTarget] = []
    for am in alertmanagers:
        http_fields = {k: getattr(am, k) for k in HTTPClientConfig.model_fields if hasattr(am, k)}
        http = HTTPClientConfig(**http_fields) if http_fields else HTTPClientConfig()
        prefix = "/" + str(getattr(am, "path_prefix", "/") or "/").strip("/")
        for sc in getattr(am, "static_configs", []):
            for target in sc.targets:
                out.append(ForwardTarget(f"{getattr(am, 'scheme', 'http')}://{target}{prefix.rstrip('/')}",
                                         http, float(getattr(am, "timeout", 10.0))))
    return out


def alert_to_json(a: PostableAlert, external_labels: Mapping[str, str]) -> dict[str, Any]:
    labels = dict(a.labels)
    for k, v in external_labels.items():
        if not labels.get(k):
            labels[k] = v
    out: dict[str, Any] = {"labels": labels, "annotations": dict(a.annotations)}
    starts, ends = GoTime.coerce(a.starts_at), GoTime.coerce(a.ends_at)
    if not starts.is_zero():
        out["startsAt"] = starts.rfc3339nano()
    if not ends.is_zero():
        out["endsAt"] = ends.rfc3339nano()
    if a.generator_url:
        out["generatorURL"] = a.generator_url
    return out


class AlertmanagerForwarder:
    """A queue plus a sender thread; ``send`` never blocks on the network."""

    def __init__(self, targets: Iterable[ForwardTarget], *, queue_capacity: int = 10_000,
                 external_labels: Mapping[str, str] | None = None, registry: CollectorRegistry | None = None,
                 client_factory: Callable[[ForwardTarget], httpx.Client] | None = None):
        self.targets = list(targets)
        self._cap = queue_capacity
        self._ext = dict(external_labels or {})
        self._tel = NotifyTelemetry.for_registry(registry)
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        make = client_factory or (lambda t: httpx.Client(timeout=t.timeout, **t.http_config.httpx_kwargs()))
        self._clients = [make(t) for t in self.targets]
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.targets)), thread_name_prefix="am-forward")

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="spyglass-am-forward", daemon=True)
            self._thread.start()

    def stop(self, drain_timeout: float = 5.0) -> None:
        """Send what is queued (for up to ``drain_timeout``), then stop."""
        deadline = time.monotonic() + drain_timeout
        with self._cv:
            while self._queue and time.monotonic() < deadline and self._thread is not None:
                self._cv.wait(0.05)
            self._stop = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(drain_timeout + 1)
            self._thread = None
        self._pool.shutdown(wait=False)
        for c in self._clients:
            c.close()

    def send(self, alerts: Iterable[PostableAlert | Mapping[str, Any]]) -> None:
        items = [alert_to_json(to_postable(a), self._ext) for a in alerts]
        with self._cv:
            if len(items) > self._cap:
                dropped = len(items) - self._cap
                items = items[dropped:]
                self._tel.forward_dropped.inc(dropped)
            overflow = len(self._queue) + len(items) - self._cap
            for _ in range(max(0, overflow)):
                self._queue.popleft()
            if overflow > 0:
                self._tel.forward_dropped.inc(overflow)
                log.warning("alert forwarding queue full, dropped %d alerts", overflow)
            self._queue.extend(items)
            self._tel.forward_queue.set(len(self._queue))
            self._cv.notify_all()

    def notify(self, expr: str, alerts: Iterable[Any]) -> None:
        """The rule manager's ``NotifyFunc``."""
        self.send(alerts)

    def queue_length(self) -> int:
        with self._cv:
            return len(self._queue)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stop:
                    self._cv.wait()
                if self._stop and not self._queue:
                    return
                batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
                self._tel.forward_queue.set(len(self._queue))
                self._cv.notify_all()
            self._deliver(batch)

    def _deliver(self, batch: list[dict[str, Any]]) -> bool:
        body = json.dumps(batch, separators=(",", ":")).encode("utf-8")
        futures = [self._pool.submit(self._post, i, body, len(batch)) for i in range(len(self.targets))]
        # Wait for every target (a list, not a short-circuiting any() over a generator).
        results = [f.result() for f in futures]
        ok = any(results)
        if not ok and self.targets:
            log.error("failed to send %d alerts to any Alertmanager", len(batch))
        return ok

    def _post(self, i: int, body: bytes, n: int) -> bool:
        t = self.targets[i]
        t0 = time.monotonic()
        try:
            r = self._clients[i].post(t.alerts_url, content=body, headers={"Content-Type": "application/json"})
            ok = r.status_code // 100 == 2
            if not ok:
                log.warning("Alertmanager %s answered %d: %s", t.url, r.status_code, r.text[:200])
        except httpx.HTTPError as e:
            log.warning("sending alerts to %s failed: %s", t.url, e)
            ok = False
        self._tel.forward_latency.labels(t.url).observe(time.monotonic() - t0)
        if ok:
            self._tel.forward_sent.labels(t.url).inc(n)
        else:
            self._tel.forward_errors.labels(t.url).inc()
        return ok
