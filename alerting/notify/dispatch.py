"""The dispatcher: routes alerts into aggregation groups and flushes them on time.

An aggregation group is one (route, group labels) pair; its key is
Alertmanager's ``<route key>:<group labels>`` (``{}/{team="db"}:{alertname="Down"}``).
A new group flushes after ``group_wait`` (at once if its first alert already
started longer ago than that), then every ``group_interval``; each flush
hands the group's alerts to the pipeline, and after a successful flush the
resolved alerts that did not change meanwhile leave the group. Empty groups
are removed every 30 s. All timers run on the injected clock, in the event
loop the dispatcher was started in::

    d = Dispatcher(route_tree, pipeline, clock, telemetry)
    d.start()                 # inside the notifier's event loop
    store.subscribe(d.on_alerts)
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from alerting.notify.alert import Alert, before, sort_alerts
from alerting.notify.clock import Clock, TimerHandle
from alerting.notify.pipeline import MIN_TIMEOUT, NotifyContext, Pipeline
from alerting.notify.route import Route
from alerting.notify.telemetry import NotifyTelemetry
from alerting.notify.wire import ZERO, go_quote
from storage.labels import Labels

log = logging.getLogger("spyglass.notify")

MAINTENANCE_INTERVAL = 30.0


def labels_string(labels: Labels) -> str:
    """Alertmanager 0.25's ``LabelSet.String``: ``name="value"`` pairs, Go-quoted,
    sorted as strings, joined by ", " inside braces."""
    return "{" + ", ".join(sorted(f"{n}={go_quote(v)}" for n, v in labels.items())) + "}"


class AggregationGroup:
    """Alerts of one route that share the route's group_by label values."""

    __slots__ = (
        "alerts",
        "flushing",
        "has_flushed",
        "key",
        "labels",
        "next_at",
        "pending",
        "route",
        "timer",
    )

    def __init__(self, route: Route, labels: Labels):
        self.route = route
        self.labels = labels
        self.key = f"{route.key}:{labels_string(labels)}"
        self.alerts: dict[int, Alert] = {}
        self.has_flushed = False
        self.timer: TimerHandle | None = None
        self.flushing = False
        self.pending = False
        self.next_at = 0.0

    def empty(self) -> bool:
        return not self.alerts


@dataclass(frozen=True, slots=True)
class GroupSnapshot:
    """A group as the API shows it (``GET /api/v2/alerts/groups``)."""

    labels: Labels
    receiver: str
    route: Route
    alerts: tuple[Alert, ...]
    key: str


class Dispatcher:
    """Owns the aggregation groups; call ``start`` from inside the event loop."""

    def __init__(self, route: Route, pipeline: Pipeline, clock: Clock, telemetry: NotifyTelemetry):
        self.route = route
        self.pipeline = pipeline
        self._clock = clock
        self._tel = telemetry
        self._groups: dict[tuple[str, Labels], AggregationGroup] = {}
        self._lock = threading.Lock()  # guards _groups against API readers in other threads
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._tasks: set[asyncio.Task] = set()
        self._maint: TimerHandle | None = None
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._schedule_maintenance()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop timers; give running flushes ``grace`` seconds, then cancel them."""
        self._stopped = True
        if self._maint:
            self._maint.cancel()
        with self._lock:
            for g in self._groups.values():
                if g.timer:
                    g.timer.cancel()
            self._groups.clear()
        self._tel.aggregation_groups.set(0)
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    def busy(self) -> bool:
        """Whether a flush is running."""
        return any(not t.done() for t in self._tasks)

    async def idle(self) -> None:
        """Wait until no flush is running (tests use this between steps)."""
        while True:
            tasks = [t for t in self._tasks if not t.done()]
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- input -----------------------------------------------------------------------
    def on_alerts(self, alerts: list[Alert]) -> None:
        """Alert-store subscriber; safe from any thread."""
        if self._stopped or self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._process(alerts)
        else:
            self._loop.call_soon_threadsafe(self._process, alerts)

    def _process(self, alerts: list[Alert]) -> None:
        if self._stopped:
            return
        t0 = time.perf_counter()
        for a in alerts:
            for r in self.route.match(a.labels):
                self._insert(a, r)
        self._tel.processing.observe(time.perf_counter() - t0)

    def _insert(self, a: Alert, route: Route) -> None:
        gl = route.group_labels(a.labels)
        k = (route.id, gl)
        now = self._clock.now()
        with self._lock:
            g = self._groups.get(k)
            created = g is None
            if created:
                g = AggregationGroup(route, gl)
                self._groups[k] = g
            g.alerts[a.fingerprint] = a
        if created:
            self._tel.aggregation_groups.set(len(self._groups))
            self._arm(g, now + route.opts.group_wait)
        # An alert that started more than group_wait ago need not wait again.
        if (not g.has_flushed and g.next_at > now
                and a.starts_at.ns + int(route.opts.group_wait * 1e9) < self._clock.now_ns()):
            self._arm(g, now)

    def _arm(self, g: AggregationGroup, when: float) -> None:
        if g.timer:
            g.timer.cancel()
        g.next_at = when
        g.timer = self._clock.call_at(when, lambda: self._fire(g))

    # -- flushing --------------------------------------------------------------------
    def _fire(self, g: AggregationGroup) -> None:
        if self._stopped:
            return
        with self._lock:
            alive = self._groups.get((g.route.id, g.labels)) is g
        if not alive:
            return
        if g.flushing:
            g.pending = True  # run again as soon as the current flush ends
            g.timer = None
            return
        now = self._clock.now()
        g.has_flushed = True
        self._arm(g, now + g.route.opts.group_interval)
        task = self._loop.create_task(self._flush(g, now))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, g: AggregationGroup, now: float) -> None:
        g.flushing = True
        try:
            if g.empty():
                return
            now_ns = round(now * 1e9)
            snapshot = []
            with self._lock:
                current = list(g.alerts.values())
            for a in current:
                # Alerts must not resolve as time moves on during the flush.
                snapshot.append(a if a.resolved_at(now_ns) else a.with_(ends_at=ZERO))
            alerts = sort_alerts(snapshot)
            opts = g.route.opts
            ctx = NotifyContext(
                receiver=opts.receiver,
                group_key=g.key,
                group_labels=g.labels,
                now_ns=now_ns,
                repeat_interval=opts.repeat_interval,
                mute_time_intervals=opts.mute_time_intervals,
                active_time_intervals=opts.active_time_intervals,
                deadline=now + max(opts.group_interval, MIN_TIMEOUT),
            )
            try:
                ok = await self.pipeline.run(ctx, alerts)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("flush of %s failed", g.key)
                ok = False
            if ok:
                with self._lock:  # API readers iterate g.alerts
                    for a in alerts:
                        got = g.alerts.get(a.fingerprint)
                        if got is not None and a.resolved_at(now_ns) and got.updated_at == a.updated_at:
                            del g.alerts[a.fingerprint]
        finally:
            g.flushing = False
            if g.pending and not self._stopped:
                g.pending = False
                self._fire(g)

    # -- housekeeping ----------------------------------------------------------------
    def _schedule_maintenance(self) -> None:
        if self._stopped:
            return
        self._maint = self._clock.call_at(self._clock.now() + MAINTENANCE_INTERVAL, self._maintenance)

    def _maintenance(self) -> None:
        with self._lock:
            for k, g in list(self._groups.items()):
                if g.empty() and not g.flushing:
                    if g.timer:
                        g.timer.cancel()
                    del self._groups[k]
            n = len(self._groups)
        self._tel.aggregation_groups.set(n)
        self._schedule_maintenance()

    # -- queries ---------------------------------------------------------------------
    def groups(self, route_filter: Callable[[Route], bool] | None = None,
               alert_filter: Callable[[Alert], bool] | None = None) -> tuple[list[GroupSnapshot], dict[int, list[str]]]:
        """Groups (sorted by labels, then receiver) and, per alert, the receivers holding it."""
        with self._lock:
            items = [(g, list(g.alerts.values())) for g in self._groups.values()]
        out: list[GroupSnapshot] = []
        receivers: dict[int, list[str]] = {}
        for g, alerts in items:
            if route_filter and not route_filter(g.route):
                continue
            keep = [a for a in alerts if alert_filter is None or alert_filter(a)]
            if not keep:
                continue
            for a in keep:
                receivers.setdefault(a.fingerprint, []).append(g.route.opts.receiver)
            out.append(GroupSnapshot(g.labels, g.route.opts.receiver, g.route, tuple(sort_alerts(keep)), g.key))

        def cmp(x: GroupSnapshot, y: GroupSnapshot) -> int:
            if x.labels == y.labels:
                return (x.receiver > y.receiver) - (x.receiver < y.receiver)
            return -1 if before(x.labels, y.labels) else 1

        out.sort(key=functools.cmp_to_key(cmp))
        for v in receivers.values():
            v.sort()
        return out, receivers

    def group_count(self) -> int:
        with self._lock:
            return len(self._groups)
