"""The alert as the notification side sees it, with Alertmanager's semantics.

An alert is identified by its label set (the fingerprint: FNV-1a over the
sorted labels, as Prometheus computes it). It is resolved once ``ends_at`` is
in the past; an alert posted without ``endsAt`` gets ``now + resolve_timeout``
and ``timeout=True``, so it resolves by itself unless re-sent::

    a = Alert.create({"alertname": "Down", "job": "api"}, starts_at=GoTime.from_seconds(t))
    a.fingerprint_hex()      # '...16 hex digits...'
    a.resolved_at(now_ns)    # False while ends_at is zero or in the future
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from alerting.notify.matchers import is_valid_label_name, is_valid_utf8
from alerting.notify.wire import ZERO, GoTime
from storage.labels import Labels

ALERTNAME = "alertname"

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1


def fingerprint(labels: Iterable[tuple[str, str]]) -> int:
    """Prometheus's ``LabelSet.Fingerprint``: FNV-1a 64 over name 0xff value 0xff, sorted."""
    h = _FNV_OFFSET
    for name, value in sorted(labels):
        for b in name.encode("utf-8"):
            h = ((h ^ b) * _FNV_PRIME) & _MASK
        h = ((h ^ 0xFF) * _FNV_PRIME) & _MASK
        for b in value.encode("utf-8"):
            h = ((h ^ b) * _FNV_PRIME) & _MASK
        h = ((h ^ 0xFF) * _FNV_PRIME) & _MASK
    return h


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert; immutable, replaced on every update."""

    labels: Labels
    annotations: Mapping[str, str]
    starts_at: GoTime
    ends_at: GoTime
    generator_url: str = ""
    updated_at: GoTime = ZERO
    # ends_at was filled in from resolve_timeout, not sent by the client.
    timeout: bool = False
    fingerprint: int = field(default=0, compare=False)

    @classmethod
    def create(cls, labels: Mapping[str, str] | Labels, annotations: Mapping[str, str] | None = None,
               starts_at: GoTime = ZERO, ends_at: GoTime = ZERO, generator_url: str = "",
               updated_at: GoTime = ZERO, timeout: bool = False) -> Alert:
        ls = labels if isinstance(labels, Labels) else Labels.from_dict(labels)
        return cls(ls, dict(annotations or {}), starts_at, ends_at, generator_url, updated_at,
                   timeout, fingerprint(ls.items()))

    def __post_init__(self):
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint(self.labels.items()))

    @property
    def name(self) -> str:
        return self.labels.get(ALERTNAME)

    def fingerprint_hex(self) -> str:
        return f"{self.fingerprint:016x}"

    def resolved_at(self, now_ns: int) -> bool:
        return not self.ends_at.is_zero() and self.ends_at.ns <= now_ns

    def status(self, now_ns: int) -> str:
        return "resolved" if self.resolved_at(now_ns) else "firing"

    def with_(self, **changes: Any) -> Alert:
        return replace(self, **changes)

    def merge(self, other: Alert, now_ns: int) -> Alert:
        """Alertmanager's ``Alert.Merge``: the younger update wins, the earliest
        start is kept, and an explicit end beats a resolve-timeout end."""
        a, o = self, other
        if o.updated_at.ns < a.updated_at.ns:
            a, o = o, a
        res = o
        if a.starts_at.ns < o.starts_at.ns:
            res = replace(res, starts_at=a.starts_at)
        if o.resolved_at(now_ns):
            if a.resolved_at(now_ns) and a.ends_at.ns > o.ends_at.ns:
                res = replace(res, ends_at=a.ends_at)
        elif a.ends_at.ns > o.ends_at.ns and not a.timeout:
            res = replace(res, ends_at=a.ends_at)
        return res

    def validate(self) -> None:
        """Raise ``ValueError`` as Alertmanager's ``Alert.Validate`` would."""
        if self.starts_at.is_zero():
            raise ValueError("start time missing")
        if not self.ends_at.is_zero() and self.ends_at.ns < self.starts_at.ns:
            raise ValueError("start time must be before end time")
        for n, v in self.labels.items():
            if not is_valid_label_name(n):
                raise ValueError(f'invalid label set: invalid name "{n}"')
            if not is_valid_utf8(v):
                raise ValueError(f'invalid label set: invalid value "{v}"')
        if not self.labels:
            raise ValueError("at least one label pair required")
        for n, v in self.annotations.items():
            if not is_valid_label_name(n):
                raise ValueError(f'invalid annotations: invalid name "{n}"')
            if not is_valid_utf8(v):
                raise ValueError(f'invalid annotations: invalid value "{v}"')


def before(a: Labels, b: Labels) -> bool:
    """Prometheus's ``LabelSet.Before``: shorter sets first, then by sorted names/values."""
    la, lb = a.num_labels(), b.num_labels()
    if la != lb:
        return la < lb
    da, db = a.to_dict(), b.to_dict()
    for ln in sorted(set(da) | set(db)):
        if ln not in da:
            return True
        if ln not in db:
            return False
        if da[ln] != db[ln]:
            return da[ln] < db[ln]
    return False


def _cmp(x: Alert, y: Alert) -> int:
    for key in ("job", "instance"):
        xv, yv = x.labels.get(key, None), y.labels.get(key, None)
        if xv is None and yv is None:
            continue
        if xv is None:
            return 1
        if yv is None:
            return -1
        if xv != yv:
            return -1 if xv < yv else 1
    if before(x.labels, y.labels):
        return -1
    if before(y.labels, x.labels):
        return 1
    return 0


def sort_alerts(alerts: Iterable[Alert]) -> list[Alert]:
    """Alertmanager's notification order: by job, then instance, then labels."""
    return sorted(alerts, key=functools.cmp_to_key(_cmp))


class PostableAlert(NamedTuple):
    """An alert as clients send it (Prometheus's notifier, the API, the rule manager).

    Times accept epoch seconds, ``datetime``, RFC 3339 text, ``GoTime`` or None."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = {}
    starts_at: Any = None
    ends_at: Any = None
    generator_url: str = ""

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PostableAlert:
        """The API v2 JSON shape: ``labels``, ``annotations``, ``startsAt``, ``endsAt``,
        ``generatorURL``."""
        if not isinstance(d, Mapping):
            raise ValueError("an alert must be a JSON object")  # noqa: TRY004 - the API answers ValueError with 400
        labels = d.get("labels")
        if not isinstance(labels, Mapping):
            raise ValueError("labels in body is required")  # noqa: TRY004 - the API answers ValueError with 400
        ann = d.get("annotations") or {}
        if not isinstance(ann, Mapping):
            raise ValueError("annotations must be an object")  # noqa: TRY004 - the API answers ValueError with 400
        for m in (labels, ann):
            for k, v in m.items():
                if not isinstance(k, str) or not isinstance(v, str):
                    raise ValueError("label and annotation values must be strings")  # noqa: TRY004 - the API answers ValueError with 400
        gen = d.get("generatorURL") or ""
        if not isinstance(gen, str):
            raise ValueError("generatorURL must be a string")  # noqa: TRY004 - the API answers ValueError with 400
        return cls(dict(labels), dict(ann), d.get("startsAt"), d.get("endsAt"), gen)


def to_postable(raw: Any) -> PostableAlert:
    """A ``PostableAlert`` from itself, an API v2 JSON object, or anything with
    ``to_api_v2()`` (the rule manager's ``NotifierAlert``)."""
    if isinstance(raw, PostableAlert):
        return raw
    if hasattr(raw, "to_api_v2"):
        raw = raw.to_api_v2()
    return PostableAlert.from_json(raw)
