"""The notification side of alerting as one object the rest of Spyglass wires.

``Notifier`` holds the alert store, silences, notification log, inhibitor,
templates, integrations and dispatcher built from an ``alertmanager.yml``. It
runs on its own event loop in a background thread (``start``), or inside a
running loop (``await start_async()``, what fake-clock tests do). Everything
public is safe to call from any thread::

    notifier = Notifier(load_config("alertmanager.yml"), "data/alerting",
                        external_url="http://spyglass:9700")
    notifier.start()
    notifier.put_alerts([PostableAlert({"alertname": "Down"}, {"summary": "..."}, starts_at=t)])
    app.include_router(alerting.api.router(notifier))
    notifier.reload(load_config("alertmanager.yml"))
    notifier.shutdown()
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from alerting.notify.alert import Alert, PostableAlert, to_postable
from alerting.notify.clock import Clock, SystemClock, TimerHandle
from alerting.notify.config import AlertmanagerConfig
from alerting.notify.dispatch import Dispatcher, GroupSnapshot
from alerting.notify.inhibit import Inhibitor
from alerting.notify.nflog import NotificationLog
from alerting.notify.pipeline import Pipeline
from alerting.notify.receivers import build_integrations
from alerting.notify.receivers.base import (
    HTTPClientFactory,
    IntegrationDeps,
    default_client_factory,
)
from alerting.notify.receivers.netguard import AddressGuard
from alerting.notify.route import Route
from alerting.notify.silence import STATE_ACTIVE, STATE_EXPIRED, STATE_PENDING, Silencer, Silences
from alerting.notify.store import STATE_ACTIVE as A_ACTIVE
from alerting.notify.store import (
    STATE_SUPPRESSED,
    STATE_UNPROCESSED,
    AlertStatus,
    AlertStore,
    Marker,
)
from alerting.notify.telemetry import NotifyTelemetry
from alerting.notify.templates import Templates
from alerting.notify.wire import GoTime

log = logging.getLogger("spyglass.notify")

VERSION = "0.1.0"
ALERT_GC_INTERVAL = 30 * 60.0
MAINTENANCE_INTERVAL = 15 * 60.0


class _Runtime:
    """Everything rebuilt on reload."""

    def __init__(self, config: AlertmanagerConfig, route: Route, inhibitor: Inhibitor, dispatcher: Dispatcher,
                 integrations: dict[str, list], templates: Templates):
        self.config = config
        self.route = route
        self.inhibitor = inhibitor
        self.dispatcher = dispatcher
        self.integrations = integrations
        self.templates = templates


class Notifier:
    """The Alertmanager-compatible notification pipeline.

    ``data_dir`` holds ``silences`` and ``nflog`` (see FORMAT.md); ``None``
    keeps them in memory only. ``http_client`` is a factory
    ``(http_config) -> httpx.AsyncClient`` for tests; the default one refuses
    link-local and cloud-metadata targets unless ``allow_link_local_targets``.
    """

    def __init__(self, config: AlertmanagerConfig, data_dir: str | None = None, *,
                 clock: Clock | None = None, http_client: HTTPClientFactory | None = None,
                 registry: CollectorRegistry | None = None, external_url: str | None = None,
                 allow_link_local_targets: bool = False, retention: float = 120 * 3600.0):
        self.clock = clock or SystemClock()
        self.telemetry = NotifyTelemetry.for_registry(registry)
        self.external_url = (external_url or f"http://{socket.gethostname()}:9700").rstrip("/")
        self.guard = AddressGuard(allow_link_local_targets)
        self._client_factory = http_client or default_client_factory(self.guard)
        self.data_dir = data_dir
        if data_dir:
            os.makedirs(data_dir, exist_ok=True)
        self.marker = Marker()
        self.store = AlertStore(self.clock, on_delete=lambda gone: self.marker.delete(a.fingerprint for a in gone))
        self.silences = Silences(self.clock, os.path.join(data_dir, "silences") if data_dir else None,
                                 retention=retention, telemetry=self.telemetry)
        self.nflog = NotificationLog(self.clock, os.path.join(data_dir, "nflog") if data_dir else None,
                                     retention=retention, telemetry=self.telemetry)
        self.silencer = Silencer(self.silences, self.marker, self.clock)
        self._config = config
        self._rt: _Runtime | None = None
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._thread: threading.Thread | None = None
        self._timers: list[TimerHandle] = []
        self.started_at = GoTime(self.clock.now_ns(), 0)
        self.telemetry.state.source = self._state_numbers
        self.telemetry.config_reload_ok.set(1)
        self.telemetry.config_reload_time.set(self.clock.now())

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Run on a private event loop in a daemon thread."""
        if self._thread is not None:
            return
        ready = threading.Event()
        errors: list[BaseException] = []

        def run():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as e:  # noqa: BLE001 - surface start errors to the caller
                errors.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="spyglass-notify", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            self._thread = None
            raise errors[0]

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the background loop started by ``start`` (flushes persisted state)."""
        if self._thread is None or self._loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self.shutdown_async(), self._loop)
        try:
            fut.result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            self._thread = None

    async def start_async(self) -> None:
        """Start inside the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        rt = self._build(self._config)
        self._activate(rt)
        self._schedule(ALERT_GC_INTERVAL, self._gc_alerts)
        self._schedule(MAINTENANCE_INTERVAL, self._maintenance)

    async def shutdown_async(self) -> None:
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        rt = self._rt
        if rt is not None:
            self.store.unsubscribe(rt.dispatcher.on_alerts)
            self.store.unsubscribe(rt.inhibitor.on_alerts)
            await rt.dispatcher.stop()
            await self._close_integrations(rt)
        self.silences.close()
        self.nflog.close()

    def reload(self, config: AlertmanagerConfig) -> None:
        """Apply a new config (thread-safe); groups are rebuilt, silences and the log kept.

        Raises (and keeps the running config) when the new one cannot be built."""
        if self._loop is None:
            self._config = config
            return
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("inside the notifier's event loop, await reload_async() instead")
        fut = asyncio.run_coroutine_threadsafe(self.reload_async(config), self._loop)
        fut.result(60)

    async def reload_async(self, config: AlertmanagerConfig) -> None:
        try:
            rt = self._build(config)
        except Exception:
            self.telemetry.config_reload_ok.set(0)
            raise
        old = self._rt
        if old is not None:
            self.store.unsubscribe(old.dispatcher.on_alerts)
            self.store.unsubscribe(old.inhibitor.on_alerts)
            await old.dispatcher.stop()
            await self._close_integrations(old)
        self._config = config
        self._activate(rt)
        self.telemetry.config_reload_ok.set(1)
        self.telemetry.config_reload_time.set(self.clock.now())

    def _build(self, config: AlertmanagerConfig) -> _Runtime:
        templates = Templates.load(config.template_files(), now_ns=self.clock.now_ns)
        route = Route.build(config.route)
        inhibitor = Inhibitor(config.inhibit_rules, self.marker, self.clock)
        integrations: dict[str, list] = {}
        for rcv in config.receivers:
            deps = IntegrationDeps(rcv.name, templates, self.external_url, self.clock, self.telemetry,
                                   self._client_factory, self.guard)
            integrations[rcv.name] = build_integrations(rcv, deps)
        pipeline = Pipeline(integrations, inhibitor, self.silencer, config.time_interval_map(), self.nflog,
                            self.clock, self.telemetry)
        dispatcher = Dispatcher(route, pipeline, self.clock, self.telemetry)
        return _Runtime(config, route, inhibitor, dispatcher, integrations, templates)

    def _activate(self, rt: _Runtime) -> None:
        rt.dispatcher.start()
        with self._lock:
            self._rt = rt
        self.store.subscribe_with_replay(rt.inhibitor.on_alerts)
        self.store.subscribe_with_replay(rt.dispatcher.on_alerts)

    async def _close_integrations(self, rt: _Runtime) -> None:
        for ints in rt.integrations.values():
            for i in ints:
                try:
                    await i.close()
                except Exception:
                    log.exception("closing %r", i)

    def _schedule(self, every: float, fn) -> None:
        def tick():
            try:
                fn()
            except Exception:
                log.exception("maintenance failed")
            self._timers.append(self.clock.call_at(self.clock.now() + every, tick))

        self._timers.append(self.clock.call_at(self.clock.now() + every, tick))

    def _gc_alerts(self) -> None:
        self.store.gc()
        rt = self._rt
        if rt:
            rt.inhibitor.gc()

    def _maintenance(self) -> None:
        self.silences.gc()
        self.silences.snapshot()
        self.nflog.gc()
        self.nflog.snapshot()

    def busy(self) -> bool:
        """Whether a flush is running (tests drive a fake clock until it is not)."""
        return bool(self._rt and self._rt.dispatcher.busy())

    async def wait_idle(self) -> None:
        """Wait for running flushes to finish (tests)."""
        if self._rt:
            await self._rt.dispatcher.idle()

    # -- alerts in -----------------------------------------------------------------------
    def put_alerts(self, alerts: Iterable[PostableAlert | Mapping[str, Any]]) -> list[str]:
        """Receive alerts as Alertmanager's ``POST /api/v2/alerts`` does; returns the
        validation errors of the alerts that were refused (the others are kept)."""
        now = GoTime(self.clock.now_ns(), 0)
        resolve_timeout = self._config.global_.resolve_timeout
        valid: list[Alert] = []
        errors: list[str] = []
        for raw in alerts:
            try:
                pa = to_postable(raw)
                starts = GoTime.coerce(pa.starts_at)
                ends = GoTime.coerce(pa.ends_at)
            except (ValueError, TypeError) as e:
                errors.append(str(e))
                self.telemetry.alerts_invalid.inc()
                continue
            timeout = False
            if starts.is_zero():
                starts = now if ends.is_zero() else ends
            if ends.is_zero():
                timeout = True
                ends = now.add(resolve_timeout)
            self.telemetry.alerts_received.labels("firing" if ends.ns > self.clock.now_ns() else "resolved").inc()
            a = Alert.create(pa.labels, pa.annotations, starts, ends, pa.generator_url, now, timeout)
            try:
                a.validate()
            except ValueError as e:
                errors.append(str(e))
                self.telemetry.alerts_invalid.inc()
                continue
            valid.append(a)
        if valid:
            self.store.put(valid)
        return errors

    def notify(self, expr: str, alerts: Iterable[Any]) -> None:
        """The rule manager's ``NotifyFunc``: alerts due for (re)sending after a rule ran."""
        errors = self.put_alerts(alerts)
        if errors:
            log.warning("refused %d alerts of rule %r: %s", len(errors), expr, "; ".join(errors[:3]))

    # -- queries (the API uses these) -----------------------------------------------------
    @property
    def config(self) -> AlertmanagerConfig:
        return self._config

    @property
    def route(self) -> Route:
        rt = self._rt
        return rt.route if rt else Route.build(self._config.route)

    def update_status(self, alert: Alert) -> AlertStatus:
        """Re-evaluate inhibition and silences for one alert, then read its status."""
        rt = self._rt
        if rt is not None:
            rt.inhibitor.mutes(alert.labels, alert.fingerprint)
            self.silencer.mutes(alert.labels, alert.fingerprint)
        return self.marker.status(alert.fingerprint)

    def receivers_of(self, alert: Alert) -> list[str]:
        return [r.opts.receiver for r in self.route.match(alert.labels)]

    def groups(self, route_filter=None, alert_filter=None) -> tuple[list[GroupSnapshot], dict[int, list[str]]]:
        rt = self._rt
        if rt is None:
            return [], {}
        return rt.dispatcher.groups(route_filter, alert_filter)

    def _state_numbers(self) -> dict[str, dict[str, float]]:
        alerts = {A_ACTIVE: 0.0, STATE_SUPPRESSED: 0.0, STATE_UNPROCESSED: 0.0}
        now = self.clock.now_ns()
        for a in self.store.list():
            if a.resolved_at(now):
                continue
            alerts[self.marker.status(a.fingerprint).state] += 1
        return {
            "alerts": alerts,
            "silences": {s: float(self.silences.count(s)) for s in (STATE_ACTIVE, STATE_PENDING, STATE_EXPIRED)},
            "nflog": {"entries": float(len(self.nflog))},
        }

    def version_info(self) -> dict[str, str]:
        import platform

        return {"version": VERSION, "revision": "", "branch": "", "buildUser": "spyglass",
                "buildDate": "", "goVersion": f"python{platform.python_version()}"}
