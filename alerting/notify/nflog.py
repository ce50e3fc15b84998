"""The notification log: what was last sent, per aggregation group and integration.

The dedup stage compares a flush with the last entry for its group key and
receiver integration, so a group is re-notified only when its firing set grew,
alerts resolved (with ``send_resolved``) or ``repeat_interval`` passed. The
log is persisted (see FORMAT.md), so a restart does not re-send what was
already sent. Entries expire after ``2 * repeat_interval`` (or the retention,
whichever is shorter), as in Alertmanager::

    nflog = NotificationLog(clock, path=os.path.join(data_dir, "nflog"))
    nflog.log(ReceiverKey("team", "webhook", 0), gkey, firing={1, 2}, resolved=set(), expiry=8 * 3600)
    nflog.query(ReceiverKey("team", "webhook", 0), gkey).firing   # frozenset({1, 2})
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from alerting.notify.clock import Clock
from alerting.notify.recordlog import RecordLog
from alerting.notify.wire import NS

DEFAULT_RETENTION = 120 * 3600.0


class ReceiverKey(NamedTuple):
    """One integration of one receiver: ``team-x/webhook/0``."""

    group_name: str
    integration: str
    idx: int

    def __str__(self) -> str:
        return f"{self.group_name}/{self.integration}/{self.idx}"


@dataclass(frozen=True, slots=True)
class Entry:
    receiver: ReceiverKey
    group_key: str
    timestamp_ns: int
    firing: frozenset[int]
    resolved: frozenset[int]
    expires_at_ns: int

    def is_firing_subset(self, firing: Iterable[int]) -> bool:
        """Whether every alert firing now was already firing in this entry."""
        return all(h in self.firing for h in firing)

    def is_resolved_subset(self, resolved: Iterable[int]) -> bool:
        return all(h in self.resolved for h in resolved)

    def to_record(self) -> dict[str, Any]:
        return {
            "op": "set",
            "receiver": list(self.receiver),
            "group_key": self.group_key,
            "ts": self.timestamp_ns,
            "firing": sorted(self.firing),
            "resolved": sorted(self.resolved),
            "expires_at": self.expires_at_ns,
        }

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Entry:
        g, i, n = r["receiver"]
        return cls(ReceiverKey(g, i, int(n)), r["group_key"], int(r["ts"]), frozenset(r["firing"]),
                   frozenset(r["resolved"]), int(r["expires_at"]))


def _key(recv: ReceiverKey, group_key: str) -> str:
    return f"{group_key}:{recv}"


class NotificationLog:
    """Thread-safe, persisted map (group key, receiver integration) -> last entry."""

    def __init__(self, clock: Clock, path: str | None = None, retention: float = DEFAULT_RETENTION,
                 telemetry=None):
        self._clock = clock
        self._retention_ns = int(retention * NS)
        self._st: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self._log = RecordLog(path) if path else None
        self._telemetry = telemetry
        if self._log:
            now = clock.now_ns()
            for rec in self._log.load():
                if rec.get("op") == "set":
                    e = Entry.from_record(rec)
                    if e.expires_at_ns > now:
                        self._merge(e)
                elif rec.get("op") == "del":
                    self._st.pop(rec["key"], None)

    def _merge(self, e: Entry) -> bool:
        k = _key(e.receiver, e.group_key)
        prev = self._st.get(k)
        if prev is None or prev.timestamp_ns < e.timestamp_ns:
            self._st[k] = e
            return True
        return False

    def log(self, recv: ReceiverKey, group_key: str, firing: Iterable[int], resolved: Iterable[int],
            expiry: float) -> None:
        now = self._clock.now_ns()
        expires = now + self._retention_ns
        expiry_ns = int(expiry * NS)
        if expiry_ns > 0 and self._retention_ns > expiry_ns:
            expires = now + expiry_ns
        e = Entry(recv, group_key, now, frozenset(firing), frozenset(resolved), expires)
        with self._lock:
            prev = self._st.get(_key(recv, group_key))
            if prev is not None and prev.timestamp_ns > now:
                return
            self._st[_key(recv, group_key)] = e
            if self._log:
                self._log.append(e.to_record())
                compact = self._log.appended > 2 * len(self._st) + 100
            else:
                compact = False
        if compact:
            self.snapshot()

    def query(self, recv: ReceiverKey, group_key: str) -> Entry | None:
        if self._telemetry:
            self._telemetry.nflog_queries.inc()
        with self._lock:
            return self._st.get(_key(recv, group_key))

    def gc(self) -> int:
        now = self._clock.now_ns()
        with self._lock:
            gone = [k for k, e in self._st.items() if e.expires_at_ns <= now]
            for k in gone:
                del self._st[k]
                if self._log:
                    self._log.append({"op": "del", "key": k})
        return len(gone)

    def snapshot(self) -> int:
        if not self._log:
            return 0
        with self._lock:
            recs = [e.to_record() for e in self._st.values()]
        size = self._log.rewrite(recs)
        if self._telemetry:
            self._telemetry.nflog_snapshot_size.set(size)
        return size

    def close(self) -> None:
        if self._log:
            self.snapshot()
            self._log.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._st)
