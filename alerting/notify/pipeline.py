"""The notification pipeline one aggregation-group flush runs through.

Stages, as in Alertmanager: drop inhibited alerts, stop when the route is
outside its active time intervals or inside a mute interval, drop silenced
alerts; then, for every integration of the receiver concurrently: dedup
against the notification log, send with retries (exponential back-off until
the group interval runs out), and log what was sent. A flush succeeds when
every integration succeeded (or had nothing to do)::

    pipeline = Pipeline(integrations, inhibitor, silencer, intervals, nflog, clock, telemetry)
    ok = await pipeline.run(ctx, alerts)
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from alerting.notify.alert import Alert
from alerting.notify.clock import Clock
from alerting.notify.inhibit import Inhibitor
from alerting.notify.nflog import Entry, NotificationLog, ReceiverKey
from alerting.notify.silence import Silencer
from alerting.notify.telemetry import NotifyTelemetry
from alerting.notify.timeinterval import TimeInterval
from storage.labels import Labels

log = logging.getLogger("spyglass.notify")

# Alertmanager gives a flush at least this long to deliver, retries included.
MIN_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class NotifyContext:
    """What a flush knows besides its alerts (Alertmanager keeps it in a context)."""

    receiver: str
    group_key: str
    group_labels: Labels
    now_ns: int
    repeat_interval: float
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    # Epoch seconds after which retries stop.
    deadline: float = float("inf")
    # Fingerprints of firing / resolved alerts, set by the dedup stage.
    firing: tuple[int, ...] = field(default=())
    resolved: tuple[int, ...] = field(default=())


class NotifyError(Exception):
    """A failed send; ``retry`` says whether trying again may help."""

    def __init__(self, message: str, retry: bool = True):
        super().__init__(message)
        self.retry = retry


class Integration(Protocol):
    """One configured integration (one entry of a receiver's ``*_configs`` list)."""

    name: str  # "webhook", "slack", ...
    index: int  # position within its kind in the receiver
    send_resolved: bool

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        """Deliver one notification; raise ``NotifyError`` on failure."""
        ...

    async def close(self) -> None: ...


class ExponentialBackoff:
    """cenkalti/backoff defaults, as Alertmanager uses them: 0.5 s initial,
    x1.5 per retry, ±50 % jitter, 60 s ceiling."""

    def __init__(self, initial: float = 0.5, multiplier: float = 1.5, randomization: float = 0.5,
                 maximum: float = 60.0, rng: random.Random | None = None):
        self._interval = initial
        self._mult = multiplier
        self._rand = randomization
        self._max = maximum
        self._rng = rng or random.Random()

    def next(self) -> float:
        delta = self._rand * self._interval
        wait = self._interval - delta + self._rng.random() * 2 * delta
        self._interval = min(self._interval * self._mult, self._max)
        return wait


def needs_update(entry: Entry | None, firing: set[int], resolved: set[int], repeat: float,
                 send_resolved: bool, now_ns: int) -> bool:
    """Alertmanager's dedup decision for one integration."""
    if entry is None:
        return bool(firing)
    if not entry.is_firing_subset(firing):
        return True
    if not firing:
        # All resolved: notify (even without send_resolved) only if the last
        # notification had firing alerts, so the log forgets them.
        return bool(entry.firing)
    if send_resolved and not entry.is_resolved_subset(resolved):
        return True
    return entry.timestamp_ns < now_ns - int(repeat * 1e9)


class Pipeline:
    """Mute stages plus per-integration dedup, retry and log."""

    def __init__(self, integrations: Mapping[str, Sequence[Integration]], inhibitor: Inhibitor,
                 silencer: Silencer, time_intervals: Mapping[str, Sequence[TimeInterval]],
                 nflog: NotificationLog, clock: Clock, telemetry: NotifyTelemetry,
                 rng: random.Random | None = None):
        self.integrations = integrations
        self._inhibitor = inhibitor
        self._silencer = silencer
        self._intervals = time_intervals
        self._nflog = nflog
        self._clock = clock
        self._tel = telemetry
        self._rng = rng or random.Random()

    def _in_intervals(self, names: Sequence[str], now_ns: int) -> bool:
        sec = now_ns / 1e9
        for name in names:
            for ti in self._intervals.get(name, ()):
                if ti.contains(sec):
                    return True
        return False

    async def run(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> bool:
        integrations = self.integrations.get(ctx.receiver)
        if integrations is None:
            log.error("no receiver %r for group %s", ctx.receiver, ctx.group_key)
            return False
        alerts = [a for a in alerts if not self._inhibitor.mutes(a.labels, a.fingerprint)]
        if not alerts:
            return True
        if ctx.active_time_intervals and not self._in_intervals(ctx.active_time_intervals, ctx.now_ns):
            return True
        if ctx.mute_time_intervals and self._in_intervals(ctx.mute_time_intervals, ctx.now_ns):
            return True
        alerts = [a for a in alerts if not self._silencer.mutes(a.labels, a.fingerprint)]
        if not alerts:
            return True
        if not integrations:
            return True
        results = await asyncio.gather(*(self._integration(ctx, i, alerts) for i in integrations))
        return all(results)

    async def _integration(self, ctx: NotifyContext, integ: Integration, alerts: Sequence[Alert]) -> bool:
        recv = ReceiverKey(ctx.receiver, integ.name, integ.index)
        now = self._clock.now_ns()
        firing = tuple(a.fingerprint for a in alerts if not a.resolved_at(now))
        resolved = tuple(a.fingerprint for a in alerts if a.resolved_at(now))
        entry = self._nflog.query(recv, ctx.group_key)
        if not needs_update(entry, set(firing), set(resolved), ctx.repeat_interval, integ.send_resolved, now):
            return True
        ictx = replace(ctx, firing=firing, resolved=resolved)
        ok = await self._retry(ictx, integ, alerts, now)
        if ok:
            self._nflog.log(recv, ctx.group_key, firing, resolved, expiry=2 * ctx.repeat_interval)
        return ok

    async def _retry(self, ctx: NotifyContext, integ: Integration, alerts: Sequence[Alert], now: int) -> bool:
        if not integ.send_resolved:
            if not ctx.firing:
                return True  # nothing the receiver wants; still logged by the caller
            sent = [a for a in alerts if not a.resolved_at(now)]
        else:
            sent = list(alerts)
        name = integ.name
        self._tel.notifications.labels(name).inc()
        backoff = ExponentialBackoff(rng=self._rng)
        attempt = 0
        last: NotifyError | None = None
        while True:
            attempt += 1
            if self._clock.now() >= ctx.deadline:
                break
            t0 = time.monotonic()
            try:
                await integ.notify(ctx, sent)
                err = None
            except NotifyError as e:
                err = e
            except Exception as e:  # a bug in an integration must not kill the group
                log.exception("integration %s[%d] raised", name, integ.index)
                err = NotifyError(f"{type(e).__name__}: {e}", retry=False)
            self._tel.latency.labels(name).observe(time.monotonic() - t0)
            self._tel.requests.labels(name).inc()
            if err is None:
                if attempt > 1:
                    log.info("notify success for %s/%s[%d] after %d attempts", ctx.receiver, name,
                             integ.index, attempt)
                return True
            self._tel.requests_failed.labels(name).inc()
            if not err.retry:
                log.error("%s/%s[%d]: notify retry canceled due to unrecoverable error after %d attempts: %s",
                          ctx.receiver, name, integ.index, attempt, err)
                self._tel.notifications_failed.labels(name).inc()
                return False
            if last is None or str(last) != str(err):
                log.warning("%s/%s[%d]: notify attempt %d failed, will retry later: %s", ctx.receiver,
                            name, integ.index, attempt, err)
            last = err
            wait = backoff.next()
            if self._clock.now() + wait >= ctx.deadline:
                break
            await self._clock.sleep(wait)
        log.error("%s/%s[%d]: notify retry canceled after %d attempts: %s", ctx.receiver, name, integ.index,
                  attempt, last or "deadline exceeded")
        self._tel.notifications_failed.labels(name).inc()
        return False
