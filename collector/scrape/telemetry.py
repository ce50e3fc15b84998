"""The scrape manager's own metrics, declared in one place.

    t = ScrapeTelemetry(registry=CollectorRegistry())  # tests: a fresh registry
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


class ScrapeTelemetry:
    """Counters and gauges of scraping; ``registry`` defaults to prometheus_client's."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY):
        r = registry
        self.targets = Gauge(
            "spyglass_scrape_targets", "Active scrape targets per job.", ["job"], registry=r
        )
        self.dropped_targets = Gauge(
            "spyglass_scrape_dropped_targets", "Targets dropped by relabeling, per job.", ["job"], registry=r
        )
        self.scrapes = Counter(
            "spyglass_scrape_scrapes_total", "Scrapes by job and result (success, failure).",
            ["job", "result"], registry=r,
        )
        self.duration = Histogram(
            "spyglass_scrape_duration_seconds", "Time of one scrape: fetch, parse, append.",
            ["job"], registry=r, buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.samples_appended = Counter(
            "spyglass_scrape_samples_appended_total",
            "Samples (incl. stale markers and synthetic series) accepted by storage.", ["job"], registry=r,
        )
        self.samples_rejected = Counter(
            "spyglass_scrape_samples_rejected_total",
            "Samples storage refused, by reason (out_of_order, duplicate_sample_for_timestamp, ...).",
            ["job", "reason"], registry=r,
        )
        self.duplicate_series = Counter(
            "spyglass_scrape_duplicate_series_total",
            "Samples dropped because the same series appeared twice in one scrape.", ["job"], registry=r,
        )
        self.exceeded_limit = Counter(
            "spyglass_scrape_exceeded_limit_total",
            "Scrapes failed by a limit (sample_limit, label_limit, body_size_limit, target_limit, ...).",
            ["job", "limit"], registry=r,
        )
        self.append_errors = Counter(
            "spyglass_scrape_append_errors_total",
            "Scrape batches storage refused as a whole (full, overloaded).", ["job"], registry=r,
        )
        self.discovery_errors = Counter(
            "spyglass_scrape_discovery_errors_total",
            "Target files that could not be read or parsed.", ["job"], registry=r,
        )
        self.end_of_run_stale_markers = Counter(
            "spyglass_scrape_end_of_run_stale_markers_total",
            "Stale markers written one interval after a target went away, per job.", ["job"], registry=r,
        )
        self.heap_trims = Counter(
            "spyglass_scrape_heap_trims_total",
            "Times the scrape workers handed freed heap memory back to the system (malloc_trim).", registry=r,
        )
        self.reloads = Counter(
            "spyglass_scrape_reloads_total", "Configurations applied.", registry=r
        )
