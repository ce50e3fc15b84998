"""Alerting rules and the state of their alerts, exactly as Prometheus keeps it.

Each result of the expression is an alert, keyed by its labels (result labels
minus ``__name__``, plus the rule's templated labels and ``alertname``). An
alert is *pending* until its condition has held for ``for``, then *firing*; when
the condition stops, a firing alert keeps firing for ``keep_firing_for`` and is
then *inactive* (resolved), kept 15 minutes so that the resolution is re-sent::

    r = AlertingRule("Down", "up == 0", for_ms=300_000, labels={"severity": "page"},
                     annotations={"summary": "{{ $labels.instance }} is down"})
    samples = r.eval(query_func, ts_ms)    # ALERTS / ALERTS_FOR_STATE samples
    r.alerts_to_send(ts_ms, resend_delay_ms, interval_ms)
"""

from __future__ import annotations

import enum
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from alerting.rules.rule import NotifierAlert, QueryFunc, RuleStatus
from alerting.rules.templates import ALERT_DEFS, AlertTemplateData, Expander
from alerting.template import TemplateError
from alerting.template.gofmt import format_float
from storage.interface import is_stale_value
from storage.labels import METRIC_NAME, Labels

ALERT_METRIC = "ALERTS"
ALERT_FOR_STATE_METRIC = "ALERTS_FOR_STATE"
ALERT_NAME = "alertname"
ALERT_STATE = "alertstate"

# A resolved alert is kept (and re-sent) this long, so that Alertmanager hears of
# the resolution even across a network problem or its own restart.
RESOLVED_RETENTION_MS = 15 * 60_000


class AlertState(enum.IntEnum):
    UNKNOWN = 0
    INACTIVE = 1
    PENDING = 2
    FIRING = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(slots=True)
class Alert:
    """One alert instance of a rule; times in ms, None when unset (Go's zero time)."""

    labels: Labels
    annotations: Labels
    value: float
    active_at: int
    state: AlertState = AlertState.PENDING
    fired_at: int | None = None
    resolved_at: int | None = None
    last_sent_at: int | None = None
    valid_until: int | None = None
    keep_firing_since: int | None = None

    def needs_sending(self, ts: int, resend_delay_ms: int) -> bool:
        if self.state == AlertState.PENDING:
            return False
        if self.resolved_at is not None and (self.last_sent_at is None or self.resolved_at > self.last_sent_at):
            return True
        return (self.last_sent_at if self.last_sent_at is not None else _ZERO_MS) + resend_delay_ms < ts

    def copy(self) -> Alert:
        return Alert(
            self.labels,
            self.annotations,
            self.value,
            self.active_at,
            self.state,
            self.fired_at,
            self.resolved_at,
            self.last_sent_at,
            self.valid_until,
            self.keep_firing_since,
        )


# Go's zero time in Unix ms: an alert never sent is "sent" in year 1.
_ZERO_MS = -62135596800000


class DuplicateAlertError(Exception):
    """Two results of one alerting rule got the same labels."""


class AlertingRule:
    """One alerting rule with its active alerts (thread-safe)."""

    kind = "alert"

    def __init__(
        self,
        name: str,
        expr: str,
        for_ms: int = 0,
        keep_firing_for_ms: int = 0,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
        restored: bool = True,
        metrics=None,
    ):
        self.name = name
        self.expr = expr
        self.for_ms = for_ms
        self.keep_firing_for_ms = keep_firing_for_ms
        self.labels = Labels.from_dict(dict(labels or {}))
        self.annotations = Labels.from_dict(dict(annotations or {}))
        self.external_labels = dict(external_labels or {})
        self.external_url = external_url
        self.restored = restored
        self.metrics = metrics
        self.status = RuleStatus()
        self.active: dict[Labels, Alert] = {}
        self._lock = threading.Lock()

    def identity(self) -> tuple:
        return ("alert", self.name, self.expr, self.for_ms, self.keep_firing_for_ms, self.labels, self.annotations)

    # --- templates -----------------------------------------------------------
    def _expander(self, labels: dict[str, str], value: float, ts_ms: int, query: QueryFunc | None):
        data = AlertTemplateData(labels, self.external_labels, self.external_url, value)
        tname = "__alert_" + self.name

        def query_adapter(expr: str, t: int):
            return [(s.labels.to_dict(), s.v) for s in query(expr, t)]

        qf = query_adapter if query is not None else None

        def expand(text: str) -> str:
            if "{{" not in text:
                return text
            if self.metrics is not None:
                self.metrics.template_expansions.inc()
            try:
                return Expander(ALERT_DEFS + text, tname, data, ts_ms, qf, self.external_url).expand()
            except TemplateError as e:
                if self.metrics is not None:
                    self.metrics.template_expansion_failures.inc()
                return f"<error expanding template: {e}>"

        return expand

    # --- evaluation ----------------------------------------------------------
    def eval(self, query: QueryFunc, ts_ms: int, query_offset_ms: int = 0, limit: int = 0):
        """Evaluate at ``ts_ms - query_offset_ms``, update the alerts, and return the
        ALERTS / ALERTS_FOR_STATE samples as [(Labels, t, v)]."""
        res = query(self.expr, ts_ms - query_offset_ms)
        result_keys: set[Labels] = set()
        fresh: dict[Labels, Alert] = {}
        for smpl in res:
            lmap = smpl.labels.to_dict()
            expand = self._expander(lmap, smpl.v, ts_ms, query)
            d = smpl.labels.without(METRIC_NAME).to_dict()
            for k, v in self.labels.items():
                d[k] = expand(v)
            d[ALERT_NAME] = self.name
            ls = Labels.from_dict(d)
            annotations = Labels.from_dict({k: expand(v) for k, v in self.annotations.items()})
            if ls in fresh:
                raise DuplicateAlertError(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            result_keys.add(ls)
            fresh[ls] = Alert(ls, annotations, smpl.v, ts_ms)

        out = []
        with self._lock:
            for key, a in fresh.items():
                cur = self.active.get(key)
                if cur is not None and cur.state != AlertState.INACTIVE:
                    cur.value = a.value
                    cur.annotations = a.annotations
                    continue
                self.active[key] = a

            num_active_pending = 0
            for key in list(self.active):
                a = self.active[key]
                if key not in result_keys:
                    keep_firing = False
                    if a.state == AlertState.FIRING and self.keep_firing_for_ms > 0:
                        if a.keep_firing_since is None:
                            a.keep_firing_since = ts_ms
                        if ts_ms - a.keep_firing_since < self.keep_firing_for_ms:
                            keep_firing = True
                    if a.state == AlertState.PENDING or (
                        a.resolved_at is not None and ts_ms - a.resolved_at > RESOLVED_RETENTION_MS
                    ):
                        del self.active[key]
                    if a.state != AlertState.INACTIVE and not keep_firing:
                        a.state = AlertState.INACTIVE
                        a.resolved_at = ts_ms
                    if not keep_firing:
                        continue
                else:
                    a.keep_firing_since = None
                num_active_pending += 1
                if a.state == AlertState.PENDING and ts_ms - a.active_at >= self.for_ms:
                    a.state = AlertState.FIRING
                    a.fired_at = ts_ms
                if a.state == AlertState.FIRING and ts_ms - a.active_at < self.for_ms:
                    # the hold duration grew (reload): back to pending
                    a.state = AlertState.PENDING
                    a.fired_at = None
                    a.last_sent_at = None
                    a.keep_firing_since = None
                if self.restored:
                    t = ts_ms - query_offset_ms
                    out.append((self._series(a, ALERT_METRIC, state=True), t, 1.0))
                    out.append((self._series(a, ALERT_FOR_STATE_METRIC), t, float(a.active_at // 1000)))
            if limit > 0 and num_active_pending > limit:
                self.active = {}
                raise RuntimeError(f"exceeded limit of {limit} with {num_active_pending} alerts")
        return out

    def _series(self, a: Alert | None, metric: str, state: bool = False) -> Labels:
        d = self.labels.to_dict()
        if a is not None:
            d.update(a.labels.to_dict())
        d[METRIC_NAME] = metric
        d[ALERT_NAME] = self.name
        if state and a is not None:
            d[ALERT_STATE] = str(a.state)
        return Labels.from_dict(d)

    def timed_eval(self, query: QueryFunc, ts_ms: int, query_offset_ms: int, limit: int):
        return self.status.timed(ts_ms, self.eval, query, ts_ms, query_offset_ms, limit)

    # --- notification ----------------------------------------------------------
    def alerts_to_send(self, ts_ms: int, resend_delay_ms: int, interval_ms: int) -> list[NotifierAlert]:
        """The alerts due for (re)sending now, marked as sent (Prometheus's sendAlerts)."""
        out = []
        with self._lock:
            for a in self.active.values():
                if a.needs_sending(ts_ms, resend_delay_ms):
                    a.last_sent_at = ts_ms
                    delta = max(interval_ms, resend_delay_ms)
                    a.valid_until = ts_ms + 4 * delta
                    out.append(
                        NotifierAlert(
                            labels=a.labels,
                            annotations=a.annotations,
                            starts_at_ms=a.fired_at if a.fired_at is not None else _ZERO_MS,
                            ends_at_ms=a.resolved_at if a.resolved_at is not None else a.valid_until,
                        )
                    )
        return out

    # --- views -----------------------------------------------------------------
    def state(self) -> AlertState:
        """The highest state of the rule's alerts; unknown before the first evaluation."""
        if self.status.eval_timestamp_ms is None:
            return AlertState.UNKNOWN
        with self._lock:
            return max((a.state for a in self.active.values()), default=AlertState.INACTIVE)

    def current_alerts(self) -> list[Alert]:
        """Copies of every alert instance, including resolved ones still retained."""
        with self._lock:
            return [a.copy() for a in self.active.values()]

    def active_alerts(self) -> list[Alert]:
        """Copies of the pending and firing alerts."""
        return sorted((a for a in self.current_alerts() if a.resolved_at is None), key=lambda a: a.labels)

    def copy_state_from(self, other: AlertingRule) -> None:
        with other._lock:
            items = dict(other.active)
        with self._lock:
            self.active.update(items)

    # --- restoring the 'for' state -------------------------------------------------
    def for_state_matchers(self):
        """Matchers selecting this rule's ALERTS_FOR_STATE series (templated labels
        cannot be matched and are left out)."""
        from storage.labels import Matcher, MatchOp

        ls = self._series(None, ALERT_FOR_STATE_METRIC)
        return [Matcher(MatchOp.EQUAL, n, v) for n, v in ls.items() if "{{" not in v]

    def restore_for_state(self, series: dict[Labels, tuple[int, float]], ts_ms: int, grace_ms: int) -> None:
        """Apply the last ALERTS_FOR_STATE samples (keyed by labels without
        ``__name__``): give restored alerts back their pending time, shifted by the
        outage, and at least ``grace_ms`` before they fire."""
        hold = self.for_ms
        with self._lock:
            for a in self.active.values():
                got = series.get(a.labels)
                if got is None:
                    continue
                t, v = got
                if is_stale_value(v) or math.isnan(v):
                    continue
                down_at = (t // 1000) * 1000
                restored_active_at = int(v) * 1000
                time_spent_pending = down_at - restored_active_at
                remaining = hold - time_spent_pending
                if remaining <= 0:
                    pass  # it was firing when we went down; the next eval decides
                elif remaining < grace_ms:
                    restored_active_at = ts_ms + grace_ms - hold
                else:
                    restored_active_at = restored_active_at + (ts_ms - down_at)
                a.active_at = restored_active_at
            self.restored = True


def value_string(v: float) -> str:
    """The API's value text: Go's strconv.FormatFloat(v, 'e', -1, 64)."""
    return format_float(v, "e", -1)

