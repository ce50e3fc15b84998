"""Silences: matchers plus a time window during which matching alerts stay quiet.

Semantics follow Alertmanager: a silence is *pending* before ``starts_at``,
*active* until ``ends_at`` and *expired* after; updating an active silence in
place is allowed only when its matchers and start stay the same (otherwise
the old one is expired and a new ID issued); expiring a pending silence
collapses it to ``[now, now]``; expired silences are kept for ``retention``
(Alertmanager's ``--data.retention``, 120h) and then forgotten. Every change
is persisted (see FORMAT.md), so silences survive restarts::

    silences = Silences(clock, path=os.path.join(data_dir, "silences"))
    sid = silences.set(Silence.new([Matcher("=", "job", "api")], start, end, "me", "deploy"))
    silences.expire(sid)
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from alerting.notify.clock import Clock
from alerting.notify.matchers import (
    Matcher,
    MatchType,
    compile_regex,
    is_valid_label_name,
    is_valid_utf8,
)
from alerting.notify.recordlog import RecordLog
from alerting.notify.store import Marker
from alerting.notify.wire import NS, ZERO, GoTime

STATE_ACTIVE = "active"
STATE_PENDING = "pending"
STATE_EXPIRED = "expired"

DEFAULT_RETENTION = 120 * 3600.0


class SilenceNotFound(KeyError):
    """No silence has this ID (the API answers 404)."""

    def __str__(self) -> str:
        return "silence not found"


class InvalidSilence(ValueError):
    """A silence breaks the rules; the message says which (the API answers 400)."""


@dataclass(frozen=True, slots=True)
class Silence:
    """One silence; immutable, replaced by every update."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: GoTime
    ends_at: GoTime
    updated_at: GoTime = ZERO
    created_by: str = ""
    comment: str = ""

    @classmethod
    def new(cls, matchers: Iterable[Matcher], starts_at: GoTime, ends_at: GoTime,
            created_by: str = "", comment: str = "", id: str = "") -> Silence:
        return cls(id, tuple(matchers), starts_at.in_utc(), ends_at.in_utc(), ZERO, created_by, comment)

    def state(self, now_ns: int) -> str:
        if now_ns < self.starts_at.ns:
            return STATE_PENDING
        if now_ns < self.ends_at.ns:
            return STATE_ACTIVE
        return STATE_EXPIRED

    def matches(self, labels: Mapping[str, str]) -> bool:
        get = labels.get
        return all(m.matches(get(m.name, "")) for m in self.matchers)

    def same_matchers(self, other: Silence) -> bool:
        return [(m.type, m.name, m.value) for m in self.matchers] == [
            (m.type, m.name, m.value) for m in other.matchers]

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [{"type": int(m.type), "name": m.name, "pattern": m.value} for m in self.matchers],
            "starts_at": self.starts_at.ns,
            "ends_at": self.ends_at.ns,
            "updated_at": self.updated_at.ns,
            "created_by": self.created_by,
            "comment": self.comment,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Silence:
        return cls(
            r["id"],
            tuple(Matcher(MatchType(m["type"]), m["name"], m["pattern"]) for m in r["matchers"]),
            GoTime(int(r["starts_at"])), GoTime(int(r["ends_at"])), GoTime(int(r["updated_at"])),
            r.get("created_by", ""), r.get("comment", ""),
        )


def _matches_empty(m: Matcher) -> bool:
    if m.type is MatchType.EQUAL:
        return m.value == ""
    if m.type is MatchType.REGEX:
        # Upstream tests the unanchored pattern against "".
        return compile_regex(m.value).search("") is not None
    return False


def validate(s: Silence) -> None:
    if not s.id:
        raise InvalidSilence("ID missing")
    if not s.matchers:
        raise InvalidSilence("at least one matcher required")
    all_empty = True
    for i, m in enumerate(s.matchers):
        if not is_valid_label_name(m.name):
            raise InvalidSilence(f'invalid label matcher {i}: invalid label name "{m.name}"')
        if not is_valid_utf8(m.value):
            raise InvalidSilence(f'invalid label matcher {i}: invalid label value "{m.value}"')
        if m.type in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                compile_regex(m.value)
            except ValueError as e:
                raise InvalidSilence(f'invalid label matcher {i}: invalid regular expression "{m.value}": {e}') from None
        all_empty = all_empty and _matches_empty(m)
    if all_empty:
        raise InvalidSilence("at least one matcher must not match the empty string")
    if s.starts_at.is_zero():
        raise InvalidSilence("invalid zero start timestamp")
    if s.ends_at.is_zero():
        raise InvalidSilence("invalid zero end timestamp")
    if s.ends_at.ns < s.starts_at.ns:
        raise InvalidSilence("end time must not be before start time")


class Silences:
    """The silence state, persisted; thread-safe."""

    def __init__(self, clock: Clock, path: str | None = None, retention: float = DEFAULT_RETENTION,
                 telemetry=None):
        self._clock = clock
        self._retention_ns = int(retention * NS)
        self._lock = threading.RLock()
        self._st: dict[str, tuple[Silence, int]] = {}  # id -> (silence, expires_at ns)
        self.version = 0
        self._log = RecordLog(path) if path else None
        self._telemetry = telemetry
        if self._log:
            self._load()

    # -- persistence ---------------------------------------------------------------
    def _load(self) -> None:
        for rec in self._log.load():
            op = rec.get("op")
            if op == "set":
                s = Silence.from_record(rec["silence"])
                self._st[s.id] = (s, int(rec["expires_at"]))
            elif op == "del":
                self._st.pop(rec["id"], None)
        self.version += 1

    def _persist(self, s: Silence, expires_at: int) -> None:
        if self._log:
            self._log.append({"op": "set", "silence": s.to_record(), "expires_at": expires_at})
            if self._log.appended > 2 * len(self._st) + 100:
                self.snapshot()

    def snapshot(self) -> int:
        """Rewrite the file with the live state only; returns its size."""
        if not self._log:
            return 0
        with self._lock:
            recs = [{"op": "set", "silence": s.to_record(), "expires_at": exp}
                    for s, exp in self._st.values()]
        size = self._log.rewrite(recs)
        if self._telemetry:
            self._telemetry.silences_snapshot_size.set(size)
        return size

    def close(self) -> None:
        if self._log:
            self.snapshot()
            self._log.close()

    # -- changes --------------------------------------------------------------------
    def _now(self) -> GoTime:
        return GoTime(self._clock.now_ns(), 0)

    def _store(self, s: Silence, now: GoTime) -> Silence:
        s = replace(s, updated_at=now)
        validate(s)
        exp = s.ends_at.ns + self._retention_ns
        self._st[s.id] = (s, exp)
        self.version += 1
        self._persist(s, exp)
        return s

    def set(self, sil: Silence) -> str:
        """Create (empty id) or update a silence; returns its (possibly new) ID."""
        with self._lock:
            now = self._now()
            prev = self._st.get(sil.id, (None,))[0] if sil.id else None
            if sil.id and prev is None:
                raise SilenceNotFound(sil.id)
            if prev is not None:
                if self._can_update(prev, sil, now.ns):
                    self._store(sil, now)
                    return sil.id
                if prev.state(now.ns) != STATE_EXPIRED:
                    self._expire(prev.id, now)
            new = replace(sil, id=str(uuid.uuid4()))
            if new.starts_at.ns < now.ns:
                new = replace(new, starts_at=now)
            self._store(new, now)
            return new.id

    @staticmethod
    def _can_update(a: Silence, b: Silence, now_ns: int) -> bool:
        if not a.same_matchers(b):
            return False
        st = a.state(now_ns)
        if st == STATE_ACTIVE:
            # Upstream compares at second precision (what its protobuf round-trip keeps).
            if b.starts_at.ns // NS != a.starts_at.ns // NS:
                return False
            if b.ends_at.ns < now_ns:
                return False
        elif st == STATE_PENDING:
            if b.starts_at.ns < now_ns:
                return False
        else:
            return False
        return True

    def expire(self, sid: str) -> None:
        with self._lock:
            self._expire(sid, self._now())

    def _expire(self, sid: str, now: GoTime) -> None:
        entry = self._st.get(sid)
        if entry is None:
            raise SilenceNotFound(sid)
        s = entry[0]
        st = s.state(now.ns)
        if st == STATE_EXPIRED:
            return
        if st == STATE_ACTIVE:
            s = replace(s, ends_at=now)
        else:
            s = replace(s, starts_at=now, ends_at=now)
        self._store(s, now)

    def gc(self) -> int:
        """Forget silences past their retention; returns how many."""
        now = self._clock.now_ns()
        with self._lock:
            gone = [sid for sid, (_, exp) in self._st.items() if exp <= now]
            for sid in gone:
                del self._st[sid]
                if self._log:
                    self._log.append({"op": "del", "id": sid})
            if gone:
                self.version += 1
        return len(gone)

    # -- queries --------------------------------------------------------------------
    def get(self, sid: str) -> Silence | None:
        with self._lock:
            e = self._st.get(sid)
            return e[0] if e else None

    def query(self, ids: Iterable[str] | None = None, states: Iterable[str] | None = None,
              labels: Mapping[str, str] | None = None) -> tuple[list[Silence], int]:
        """Silences by IDs and/or states and/or matching a label set, with the version."""
        now = self._clock.now_ns()
        st = set(states) if states is not None else None
        with self._lock:
            if ids is not None:
                cands = [self._st[i][0] for i in ids if i in self._st]
            else:
                cands = [e[0] for e in self._st.values()]
            out = [s for s in cands
                   if (st is None or s.state(now) in st) and (labels is None or s.matches(labels))]
            return out, self.version

    def count(self, state: str) -> int:
        now = self._clock.now_ns()
        with self._lock:
            return sum(1 for s, _ in self._st.values() if s.state(now) == state)

    def __len__(self) -> int:
        with self._lock:
            return len(self._st)


class Silencer:
    """Mutes alerts covered by an active silence and records which ones in the marker."""

    def __init__(self, silences: Silences, marker: Marker, clock: Clock):
        self._silences = silences
        self._marker = marker
        self._clock = clock

    def mutes(self, labels: Mapping[str, str], fp: int) -> bool:
        sils, version = self._silences.query(states=(STATE_ACTIVE, STATE_PENDING), labels=labels)
        now = self._clock.now_ns()
        active = sorted(s.id for s in sils if s.state(now) == STATE_ACTIVE)
        pending = sorted(s.id for s in sils if s.state(now) == STATE_PENDING)
        self._marker.set_active_or_silenced(fp, version, active, pending)
        return bool(active)
