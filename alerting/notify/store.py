"""Where received alerts live, and the marker that records why one is muted.

``AlertStore`` is Alertmanager's in-memory alert provider: ``put`` merges an
update into the stored alert when their activity ranges overlap, keeps it,
and tells subscribers (the dispatcher, the inhibitor); ``gc`` drops resolved
alerts. ``Marker`` remembers, per fingerprint, the silences and inhibiting
alerts last found to mute it, which the API reports as the alert's status::

    store = AlertStore(clock)
    store.subscribe(dispatcher.on_alerts)
    store.put([alert])

Both are safe to use from several threads (API handlers, the rule manager).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from alerting.notify.alert import Alert
from alerting.notify.clock import Clock

STATE_UNPROCESSED = "unprocessed"
STATE_ACTIVE = "active"
STATE_SUPPRESSED = "suppressed"


class AlertStore:
    """Received alerts by fingerprint; subscribers see every stored update in order."""

    def __init__(self, clock: Clock, on_delete: Callable[[list[Alert]], None] | None = None):
        self._clock = clock
        self._alerts: dict[int, Alert] = {}
        self._lock = threading.RLock()
        self._subscribers: list[Callable[[list[Alert]], None]] = []
        self._on_delete = on_delete

    def subscribe(self, fn: Callable[[list[Alert]], None]) -> None:
        with self._lock:
            self._subscribers.append(fn)

    def subscribe_with_replay(self, fn: Callable[[list[Alert]], None]) -> None:
        """Subscribe and first hand ``fn`` every stored alert, with no update lost between."""
        with self._lock:
            current = list(self._alerts.values())
            if current:
                fn(current)
            self._subscribers.append(fn)

    def unsubscribe(self, fn: Callable[[list[Alert]], None]) -> None:
        with self._lock:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

    def put(self, alerts: Iterable[Alert]) -> list[Alert]:
        """Store alerts (merging with what is there); returns what was stored."""
        now = self._clock.now_ns()
        stored: list[Alert] = []
        # One lock around merge + notify keeps subscribers in the store's order.
        with self._lock:
            for a in alerts:
                old = self._alerts.get(a.fingerprint)
                if old is not None and (
                    (old.starts_at.ns < a.ends_at.ns < old.ends_at.ns)
                    or (old.starts_at.ns < a.starts_at.ns < old.ends_at.ns)
                ):
                    a = old.merge(a, now)
                self._alerts[a.fingerprint] = a
                stored.append(a)
            if stored:
                for fn in list(self._subscribers):
                    fn(stored)
        return stored

    def get(self, fp: int) -> Alert | None:
        with self._lock:
            return self._alerts.get(fp)

    def list(self) -> list[Alert]:
        with self._lock:
            return list(self._alerts.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._alerts)

    def gc(self) -> list[Alert]:
        """Forget resolved alerts; returns them."""
        now = self._clock.now_ns()
        with self._lock:
            gone = [a for a in self._alerts.values() if a.resolved_at(now)]
            for a in gone:
                del self._alerts[a.fingerprint]
        if gone and self._on_delete:
            self._on_delete(gone)
        return gone


@dataclass(slots=True)
class AlertStatus:
    """What the API shows for an alert: its state and who mutes it."""

    state: str = STATE_UNPROCESSED
    silenced_by: list[str] = field(default_factory=list)
    inhibited_by: list[str] = field(default_factory=list)
    pending_silences: list[str] = field(default_factory=list)
    silences_version: int = -1


class Marker:
    """Per-fingerprint mute status, written by the silencer and the inhibitor."""

    def __init__(self):
        self._m: dict[int, AlertStatus] = {}
        self._lock = threading.Lock()

    def _get(self, fp: int) -> AlertStatus:
        s = self._m.get(fp)
        if s is None:
            s = self._m[fp] = AlertStatus()
        return s

    def set_active_or_silenced(self, fp: int, version: int, active_ids: list[str],
                               pending_ids: list[str]) -> None:
        with self._lock:
            s = self._get(fp)
            s.silenced_by = list(active_ids)
            s.pending_silences = list(pending_ids)
            s.silences_version = version
            s.state = STATE_SUPPRESSED if (s.silenced_by or s.inhibited_by) else STATE_ACTIVE

    def set_inhibited(self, fp: int, ids: list[str]) -> None:
        with self._lock:
            s = self._get(fp)
            s.inhibited_by = list(ids)
            s.state = STATE_SUPPRESSED if (s.silenced_by or s.inhibited_by) else STATE_ACTIVE

    def status(self, fp: int) -> AlertStatus:
        with self._lock:
            s = self._m.get(fp)
            if s is None:
                return AlertStatus()
            return AlertStatus(s.state, list(s.silenced_by), list(s.inhibited_by),
                               list(s.pending_silences), s.silences_version)

    def delete(self, fps: Iterable[int]) -> None:
        with self._lock:
            for fp in fps:
                self._m.pop(fp, None)

    def count(self, state: str | None = None) -> int:
        with self._lock:
            if state is None:
                return len(self._m)
            return sum(1 for s in self._m.values() if s.state == state)
