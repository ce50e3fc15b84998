"""Rule groups: rules evaluated in order at one timestamp, every interval.

A group's evaluation times are slotted like Prometheus's: aligned to the interval
and shifted by a per-group offset derived from a hash of its file and name, so
that groups spread over the interval and every server picks the same slots.
Results are written through an ``Appendable``; series a rule stops producing get
a staleness marker; alerts due for (re)sending go to the ``notify`` callback::

    g = Group("api", "rules.yml", [rule], interval_ms=60_000, opts=opts)
    g.eval(g.eval_timestamp_ms(now_ms))
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from alerting.rules.alerting import ALERT_FOR_STATE_METRIC, AlertingRule
from alerting.rules.recording import RecordingRule
from alerting.rules.rule import NotifierAlert, NotifyFunc, QueryFunc
from alerting.rules.telemetry import RuleMetrics
from storage.interface import STALE_NAN, Appendable, Queryable, SampleBatch, StorageError
from storage.labels import METRIC_NAME, Labels
from storage.promql.hashing import labels_hash

log = logging.getLogger("spyglass.rules")

Rule = RecordingRule | AlertingRule


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class GroupOptions:
    """The collaborators and settings every group of a manager shares."""

    # runs a rule's instant query: (expr, t_ms) -> vector
    query_func: QueryFunc
    # where recording results and ALERTS / ALERTS_FOR_STATE go
    appendable: Appendable
    # reads ALERTS_FOR_STATE back when restoring alerts after a restart
    queryable: Queryable | None = None
    # receives alerts to send: notify(expr, alerts); the lead wires it to Alertmanager
    notify: NotifyFunc | None = None
    # the current time in ms (injected so tests run on a fake clock)
    clock: Callable[[], int] = _wall_ms
    metrics: RuleMetrics = field(default_factory=RuleMetrics.for_registry)
    # base URL of this server, for alerts' generator URLs (--web.external-url)
    external_url: str = ""
    # minimum time between re-sending an unchanged firing alert (--rules.alert.resend-delay)
    resend_delay_ms: int = 60_000
    # longest outage after which pending 'for' time is still restored (--rules.alert.for-outage-tolerance)
    outage_tolerance_ms: int = 3_600_000
    # restored alerts wait at least this long before firing (--rules.alert.for-grace-period)
    for_grace_period_ms: int = 600_000
    # query offset of groups without their own query_offset (global.rule_query_offset)
    default_query_offset_ms: int = 0
    # where evaluation problems are logged
    logger: logging.Logger = field(default_factory=lambda: log)


def group_key(file: str, name: str) -> str:
    return f"{file};{name}"


class Group:
    """A rule group and its evaluation state."""

    def __init__(
        self,
        name: str,
        file: str,
        rules: Sequence[Rule],
        interval_ms: int,
        opts: GroupOptions,
        limit: int = 0,
        query_offset_ms: int | None = None,
        should_restore: bool = False,
    ):
        self.name = name
        self.file = file
        self.rules = list(rules)
        self.interval_ms = interval_ms
        self.limit = limit
        self.query_offset_ms_own = query_offset_ms
        self.opts = opts
        self.should_restore = should_restore
        self.key = group_key(file, name)
        self.series_in_previous_eval: list[dict[Labels, None]] = [{} for _ in self.rules]
        self.stale_series: list[Labels] = []
        self.evaluation_time_s = 0.0
        self.last_evaluation_ms: int | None = None
        self.last_eval_timestamp_ms: int | None = None
        self._eval_lock = threading.Lock()
        # scheduling state (ns, like Prometheus)
        self.next_eval_ns: int | None = None
        self._evals_done = 0
        m = opts.metrics
        m.group_interval.labels(self.key).set(interval_ms / 1000.0)
        m.group_rules.labels(self.key).set(len(self.rules))
        m.iterations_missed.labels(self.key)
        m.iterations_scheduled.labels(self.key)
        # bound once: every rule of every evaluation counts in them
        self._evaluations = m.evaluations.labels(self.key)
        self._evaluation_failures = m.evaluation_failures.labels(self.key)

    # --- identity --------------------------------------------------------------
    @property
    def query_offset_ms(self) -> int:
        if self.query_offset_ms_own is not None:
            return self.query_offset_ms_own
        return self.opts.default_query_offset_ms

    def equals(self, other: Group) -> bool:
        """Whether a reload left this group unchanged (then it keeps running as is)."""
        return (
            self.name == other.name
            and self.file == other.file
            and self.interval_ms == other.interval_ms
            and self.limit == other.limit
            and self.query_offset_ms_own == other.query_offset_ms_own
            and [r.identity() for r in self.rules] == [r.identity() for r in other.rules]
        )

    def alerting_rules(self) -> list[AlertingRule]:
        return [r for r in self.rules if isinstance(r, AlertingRule)]

    # --- slots -------------------------------------------------------------------
    def hash(self) -> int:
        return labels_hash(Labels.from_dict({"name": self.name, "file": self.file}))

    def eval_timestamp_ns(self, start_ns: int) -> int:
        """The group's latest slot at or before ``start_ns`` (Prometheus's EvalTimestamp)."""
        interval = self.interval_ms * 1_000_000
        offset = self.hash() % interval
        adj = start_ns - offset
        base = adj - (adj % interval)
        return base + offset

    # --- evaluation ----------------------------------------------------------------
    def eval(self, ts_ms: int) -> None:
        """Evaluate every rule in order at ``ts_ms``."""
        with self._eval_lock:
            self._eval(ts_ms)

    def _eval(self, ts_ms: int) -> None:
        m = self.opts.metrics
        offset = self.query_offset_ms
        samples_total = 0
        for i, rule in enumerate(self.rules):
            self._evaluations.inc()
            try:
                vector = rule.timed_eval(self.opts.query_func, ts_ms, offset, self.limit)
            except Exception as e:  # noqa: BLE001 - any failure of one rule must not stop the others
                rule.status.set_result(e)
                self._evaluation_failures.inc()
                self.opts.logger.warning("evaluating rule %r of group %r failed: %s", rule.name, self.key, e)
                continue
            finally:
                m.eval_duration.observe(rule.status.eval_duration_s)
            rule.status.set_result(None)
            samples_total += len(vector)

            if isinstance(rule, AlertingRule):
                self._send(rule, ts_ms)

            returned: dict[Labels, None] = {}
            batch = []
            for ls, t, v in vector:
                batch.append((ls, t, v))
                returned[ls] = None
            for ls in self.series_in_previous_eval[i]:
                if ls not in returned:
                    # the rule no longer yields this series: end it
                    batch.append((ls, ts_ms - offset, STALE_NAN))
            if batch:
                try:
                    res = self.opts.appendable.append(SampleBatch.from_samples(batch))
                except StorageError as e:
                    rule.status.set_result(e)
                    self.opts.logger.warning("writing results of rule %r failed: %s", rule.name, e)
                    continue
                # A rejected result (out of order, duplicate) makes the rule unhealthy
                # as in Prometheus; stale markers rejected because another rule wrote
                # the series since are expected and ignored.
                n_results = len(vector)
                if res.rejected_total and res.accepted < n_results:
                    msg = res.errors[0] if res.errors else ", ".join(
                        f"{n} {r.value}" for r, n in res.rejected.items()
                    )
                    rule.status.set_result(f"rule results rejected by storage: {msg}")
            self.series_in_previous_eval[i] = returned

        m.group_samples.labels(self.key).set(samples_total)
        self._cleanup_stale_series(ts_ms)

    def _send(self, rule: AlertingRule, ts_ms: int) -> None:
        alerts = rule.alerts_to_send(ts_ms, self.opts.resend_delay_ms, self.interval_ms)
        if not alerts or self.opts.notify is None:
            return
        url = self.opts.external_url
        if url:
            from alerting.rules.templates import table_link

            gen = url + table_link(rule.expr)
            alerts = [
                NotifierAlert(a.labels, a.annotations, a.starts_at_ms, a.ends_at_ms, gen) for a in alerts
            ]
        try:
            self.opts.notify(rule.expr, alerts)
        except Exception as e:  # noqa: BLE001 - a broken notifier must not break evaluation
            self.opts.logger.warning("sending alerts of rule %r failed: %s", rule.name, e)

    def _cleanup_stale_series(self, ts_ms: int) -> None:
        if not self.stale_series:
            return
        t = ts_ms - self.query_offset_ms
        try:
            self.opts.appendable.append(
                SampleBatch.from_samples([(ls, t, STALE_NAN) for ls in self.stale_series])
            )
        except StorageError as e:
            self.opts.logger.warning("writing stale markers for removed rules failed: %s", e)
            return
        self.stale_series = []

    # --- one scheduled iteration --------------------------------------------------------
    def first_eval_ns(self, now_ns: int) -> int:
        """When the group runs first: its next slot after ``now_ns``."""
        return self.eval_timestamp_ns(now_ns) + self.interval_ms * 1_000_000

    def run_iteration(self) -> None:
        """What the scheduler runs every interval: work out which slot this is (counting
        missed slots when the previous run overran), evaluate, and restore 'for'
        state after the second evaluation of a freshly loaded group."""
        m = self.opts.metrics
        interval_ns = self.interval_ms * 1_000_000
        now_ns = self.opts.clock() * 1_000_000
        if self.next_eval_ns is None:
            self.next_eval_ns = self.eval_timestamp_ns(now_ns)
        elif self._evals_done > 0:
            missed = (now_ns - self.next_eval_ns) // interval_ns - 1
            if missed > 0:
                m.iterations_missed.labels(self.key).inc(missed)
                m.iterations_scheduled.labels(self.key).inc(missed)
            else:
                missed = 0
            self.next_eval_ns += (missed + 1) * interval_ns
        ts_ms = self.next_eval_ns // 1_000_000
        m.iterations_scheduled.labels(self.key).inc()
        t0 = time.perf_counter()
        start_ms = self.opts.clock()
        self.eval(ts_ms)
        took = time.perf_counter() - t0
        m.group_duration.observe(took)
        m.group_last_duration.labels(self.key).set(took)
        m.group_last_rule_duration_sum.labels(self.key).set(
            sum(r.status.eval_duration_s for r in self.rules)
        )
        m.group_last_eval_timestamp.labels(self.key).set(ts_ms / 1000.0)
        self.evaluation_time_s = took
        self.last_evaluation_ms = start_ms
        self.last_eval_timestamp_ms = ts_ms
        self._evals_done += 1
        if self.should_restore and self._evals_done >= 2:
            self.restore_for_state(self.opts.clock())

    # --- restoring alerts ------------------------------------------------------------------
    def restore_for_state(self, ts_ms: int) -> None:
        """Give alerts their pending time back from ALERTS_FOR_STATE after a restart
        (within the outage tolerance), with at least the grace period before firing."""
        t0 = time.perf_counter()
        self.should_restore = False
        q = None
        try:
            if self.opts.queryable is None:
                for r in self.alerting_rules():
                    r.restored = True
                return
            q = self.opts.queryable.querier(ts_ms - self.opts.outage_tolerance_ms, ts_ms)
            for rule in self.alerting_rules():
                if rule.for_ms < self.opts.for_grace_period_ms:
                    rule.restored = True
                    continue
                try:
                    ss = q.select(rule.for_state_matchers())
                except Exception as e:  # noqa: BLE001 - restoring is best effort; the rule starts afresh
                    self.opts.logger.error("restoring 'for' state of %r failed: %s", rule.name, e)
                    rule.restored = True
                    continue
                series: dict[Labels, tuple[int, float]] = {}
                for i, ls in enumerate(ss.labels):
                    ts, vs = ss.series(i)
                    if len(ts):
                        series[ls.without(METRIC_NAME)] = (int(ts[-1]), float(vs[-1]))
                if not series:
                    rule.restored = True
                    continue
                rule.restore_for_state(series, ts_ms, self.opts.for_grace_period_ms)
        finally:
            if q is not None:
                q.close()
            self.opts.metrics.group_last_restore_duration.labels(self.key).set(time.perf_counter() - t0)

    # --- reloads ----------------------------------------------------------------------------
    def copy_state_from(self, old: Group) -> None:
        """Carry alert state and series bookkeeping over from the group this one replaces
        (rules matched by name and labels, in order)."""
        self.evaluation_time_s = old.evaluation_time_s
        self.last_evaluation_ms = old.last_evaluation_ms
        by_key: dict[tuple, list[int]] = {}
        for fi, r in enumerate(old.rules):
            by_key.setdefault((r.name, r.labels), []).append(fi)
        for i, r in enumerate(self.rules):
            idx = by_key.get((r.name, r.labels))
            if not idx:
                continue
            fi = idx.pop(0)
            self.series_in_previous_eval[i] = old.series_in_previous_eval[fi]
            oldr = old.rules[fi]
            if isinstance(r, AlertingRule) and isinstance(oldr, AlertingRule):
                r.copy_state_from(oldr)
        self.stale_series = list(old.stale_series)
        for left in by_key.values():
            for fi in left:
                self.stale_series.extend(old.series_in_previous_eval[fi])

    def all_series(self) -> list[Labels]:
        out = list(self.stale_series)
        for d in self.series_in_previous_eval:
            out.extend(d)
        return out


def build_rule(
    spec,
    group_labels: Sequence[tuple[str, str]],
    external_labels: Mapping[str, str],
    external_url: str,
    restored: bool,
    metrics: RuleMetrics,
) -> Rule:
    """A rule object from its rule-file spec (group labels, then the rule's own)."""
    labels = dict(group_labels)
    labels.update(spec.labels)
    if spec.kind == "alert":
        return AlertingRule(
            spec.name,
            spec.expr,
            spec.for_ms,
            spec.keep_firing_for_ms,
            labels,
            dict(spec.annotations),
            external_labels,
            external_url,
            restored=restored,
            metrics=metrics,
        )
    return RecordingRule(spec.name, spec.expr, labels)


__all__ = ["ALERT_FOR_STATE_METRIC", "Group", "GroupOptions", "build_rule", "group_key"]
