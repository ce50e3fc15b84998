"""Alertmanager's notification data: what templates see and webhooks receive.

``Data`` has Alertmanager's fields (``Receiver``, ``Status``, ``Alerts`` with
``.Firing``/``.Resolved``, ``GroupLabels``, ``CommonLabels``,
``CommonAnnotations``, ``ExternalURL``); label maps have ``SortedPairs``,
``Names``, ``Values`` and ``Remove``. ``Data.to_json()`` is the webhook body's
data part, field for field in Alertmanager's order::

    data = build_data("team-db", group_labels, alerts, "http://spyglass:9700", now_ns)
    data.Alerts.Firing()[0].Labels.SortedPairs()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from alerting.notify.alert import ALERTNAME, Alert
from alerting.notify.gotimefmt import TemplateTime
from alerting.notify.wire import ZERO, GoMap, GoTime
from alerting.template import StrMap
from storage.labels import Labels


class Pair(NamedTuple):
    Name: str
    Value: str


class Pairs(list):
    """``template.Pairs``: a list of (Name, Value)."""

    go_type = "template.Pairs"

    def Names(self) -> list[str]:
        return [p.Name for p in self]

    def Values(self) -> list[str]:
        return [p.Value for p in self]


class KV(StrMap):
    """``template.KV``: a label map with sorting helpers (alertname first)."""

    __slots__ = ()
    go_type = "template.KV"

    def SortedPairs(self) -> Pairs:
        keys = sorted(k for k in self if k != ALERTNAME)
        if ALERTNAME in self:
            keys.insert(0, ALERTNAME)
        return Pairs(Pair(k, self[k]) for k in keys)

    def Remove(self, keys: Sequence[str]) -> KV:
        drop = set(keys)
        return KV({k: v for k, v in self.items() if k not in drop})

    def Names(self) -> list[str]:
        return self.SortedPairs().Names()

    def Values(self) -> list[str]:
        return self.SortedPairs().Values()


class TemplateAlert:
    """One alert in the data (``template.Alert``)."""

    go_type = "template.Alert"
    __slots__ = (
        "Annotations",
        "EndsAt",
        "Fingerprint",
        "GeneratorURL",
        "Labels",
        "StartsAt",
        "Status",
        "_ends",
        "_starts",
    )

    def __init__(self, status: str, labels: KV, annotations: KV, starts: GoTime, ends: GoTime,
                 generator_url: str, fp: str):
        self.Status = status
        self.Labels = labels
        self.Annotations = annotations
        self._starts = starts
        self._ends = ends
        self.StartsAt = TemplateTime(starts)
        self.EndsAt = TemplateTime(ends)
        self.GeneratorURL = generator_url
        self.Fingerprint = fp

    def to_json(self) -> dict:
        return {
            "status": self.Status,
            "labels": GoMap(self.Labels),
            "annotations": GoMap(self.Annotations),
            "startsAt": self._starts,
            "endsAt": self._ends,
            "generatorURL": self.GeneratorURL,
            "fingerprint": self.Fingerprint,
        }


class TemplateAlerts(list):
    """``template.Alerts`` with ``Firing`` and ``Resolved``."""

    go_type = "template.Alerts"

    def Firing(self) -> TemplateAlerts:
        return TemplateAlerts(a for a in self if a.Status == "firing")

    def Resolved(self) -> TemplateAlerts:
        return TemplateAlerts(a for a in self if a.Status == "resolved")


class Data:
    """``template.Data``: the dot of every notification template."""

    go_type = "*template.Data"
    __slots__ = (
        "Alerts",
        "CommonAnnotations",
        "CommonLabels",
        "ExternalURL",
        "GroupLabels",
        "Receiver",
        "Status",
    )

    def __init__(self, receiver: str, status: str, alerts: TemplateAlerts, group_labels: KV,
                 common_labels: KV, common_annotations: KV, external_url: str):
        self.Receiver = receiver
        self.Status = status
        self.Alerts = alerts
        self.GroupLabels = group_labels
        self.CommonLabels = common_labels
        self.CommonAnnotations = common_annotations
        self.ExternalURL = external_url

    def to_json(self) -> dict:
        return {
            "receiver": self.Receiver,
            "status": self.Status,
            "alerts": [a.to_json() for a in self.Alerts],
            "groupLabels": GoMap(self.GroupLabels),
            "commonLabels": GoMap(self.CommonLabels),
            "commonAnnotations": GoMap(self.CommonAnnotations),
            "externalURL": self.ExternalURL,
        }


_META = set("\\.+*?()|[]{}^$")


def quote_meta(s: str) -> str:
    """Go's ``regexp.QuoteMeta`` (Alertmanager passes the receiver name through it)."""
    return "".join("\\" + c if c in _META else c for c in s)


def build_data(receiver: str, group_labels: Labels | Mapping[str, str], alerts: Iterable[Alert],
               external_url: str, now_ns: int) -> Data:
    alerts = list(alerts)
    talerts = TemplateAlerts()
    any_firing = False
    for a in alerts:
        resolved = a.resolved_at(now_ns)
        any_firing = any_firing or not resolved
        talerts.append(TemplateAlert(
            "resolved" if resolved else "firing",
            KV(a.labels.items()),
            KV(a.annotations),
            a.starts_at,
            a.ends_at if resolved else ZERO,
            a.generator_url,
            a.fingerprint_hex(),
        ))
    common_l: dict[str, str] = {}
    common_a: dict[str, str] = {}
    if alerts:
        common_l = dict(alerts[0].labels.items())
        common_a = dict(alerts[0].annotations)
        for a in alerts[1:]:
            if not common_l and not common_a:
                break
            common_l = {k: v for k, v in common_l.items() if a.labels.get(k, None) == v}
            common_a = {k: v for k, v in common_a.items() if a.annotations.get(k, "") == v}
    gl = group_labels.items()
    return Data(
        quote_meta(receiver),
        "firing" if any_firing else "resolved",
        talerts,
        KV(gl),
        KV(common_l),
        KV(common_a),
        external_url,
    )
