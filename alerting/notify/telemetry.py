"""The notification pipeline's own metrics, declared in one place.

Names mirror Alertmanager's (``alertmanager_notifications_total`` becomes
``spyglass_notify_notifications_total``) so existing dashboards translate by a
prefix. The registry is injected; tests pass a fresh ``CollectorRegistry``::

    tel = NotifyTelemetry.for_registry(CollectorRegistry())
    tel.notifications.labels("webhook").inc()
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from spyglass.telemetry import PerRegistry

INTEGRATIONS = ("webhook", "slack", "msteams", "msteamsv2", "telegram", "email", "dingtalk", "feishu",
                "wecom")


class _StateGauges(Collector):
    """Gauges computed on scrape from the live notifier (alerts and silences by state)."""

    def __init__(self):
        self.source: Callable[[], dict[str, dict[str, float]]] | None = None

    def collect(self):
        data = self.source() if self.source else {}
        specs = (
            ("spyglass_notify_alerts", "Alerts held, by state (active, suppressed, unprocessed).",
             "alerts"),
            ("spyglass_notify_silences", "Silences, by state (active, pending, expired).", "silences"),
        )
        for name, doc, key in specs:
            g = GaugeMetricFamily(name, doc, labels=["state"])
            for state, v in sorted(data.get(key, {}).items()):
                g.add_metric([state], v)
            yield g
        g = GaugeMetricFamily("spyglass_notify_nflog_entries", "Entries in the notification log.")
        g.add_metric([], data.get("nflog", {}).get("entries", 0.0))
        yield g


class NotifyTelemetry(PerRegistry):
    """All metrics of alerting.notify and alerting.api."""



    def __init__(self, registry: CollectorRegistry):
        r = registry
        self.alerts_received = Counter(
            "spyglass_notify_alerts_received_total", "Alerts received, by status.", ["status"], registry=r)
        self.alerts_invalid = Counter(
            "spyglass_notify_alerts_invalid_total", "Alerts refused as invalid.", registry=r)
        self.notifications = Counter(
            "spyglass_notify_notifications_total", "Notifications attempted, by integration.",
            ["integration"], registry=r)
        self.notifications_failed = Counter(
            "spyglass_notify_notifications_failed_total", "Notifications that failed after all retries.",
            ["integration"], registry=r)
        self.requests = Counter(
            "spyglass_notify_notification_requests_total", "Notification requests (attempts) sent.",
            ["integration"], registry=r)
        self.requests_failed = Counter(
            "spyglass_notify_notification_requests_failed_total", "Notification requests that failed.",
            ["integration"], registry=r)
        self.latency = Histogram(
            "spyglass_notify_notification_latency_seconds", "Latency of one notification request.",
            ["integration"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20), registry=r)
        self.refused_targets = Counter(
            "spyglass_notify_targets_refused_total",
            "Notification requests refused because the target resolved to a link-local or "
            "cloud-metadata address.", ["integration"], registry=r)
        self.rate_limited = Counter(
            "spyglass_notify_rate_limit_waits_total",
            "Notification requests delayed by the per-integration rate limit.", ["integration"], registry=r)
        self.aggregation_groups = Gauge(
            "spyglass_notify_aggregation_groups", "Aggregation groups alive.", registry=r)
        self.processing = Summary(
            "spyglass_notify_alert_processing_duration_seconds",
            "Time to route one received alert into its groups.", registry=r)
        self.silences_snapshot_size = Gauge(
            "spyglass_notify_silences_snapshot_size_bytes", "Size of the last silences snapshot.", registry=r)
        self.nflog_snapshot_size = Gauge(
            "spyglass_notify_nflog_snapshot_size_bytes", "Size of the last notification-log snapshot.",
            registry=r)
        self.nflog_queries = Counter(
            "spyglass_notify_nflog_queries_total", "Notification-log lookups.", registry=r)
        self.config_reload_ok = Gauge(
            "spyglass_notify_config_last_reload_successful", "Whether the last config reload worked.",
            registry=r)
        self.config_reload_time = Gauge(
            "spyglass_notify_config_last_reload_success_timestamp_seconds",
            "When the config was last loaded successfully.", registry=r)
        self.forward_sent = Counter(
            "spyglass_notify_forward_alerts_sent_total", "Alerts forwarded to an Alertmanager.",
            ["alertmanager"], registry=r)
        self.forward_errors = Counter(
            "spyglass_notify_forward_errors_total", "Failed forwarding requests.", ["alertmanager"],
            registry=r)
        self.forward_dropped = Counter(
            "spyglass_notify_forward_alerts_dropped_total",
            "Alerts dropped because the forwarding queue was full.", registry=r)
        self.forward_queue = Gauge(
            "spyglass_notify_forward_queue_length", "Alerts waiting to be forwarded.", registry=r)
        self.forward_latency = Summary(
            "spyglass_notify_forward_latency_seconds", "Latency of one forwarding request.",
            ["alertmanager"], registry=r)
        self.state = _StateGauges()
        r.register(self.state)
        for name in INTEGRATIONS:
            for m in (self.notifications, self.notifications_failed, self.requests, self.requests_failed,
                      self.latency):
                m.labels(name)
