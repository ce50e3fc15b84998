"""Spyglass's own telemetry, stored in its own TSDB like a self-scrape, without HTTP.

``spyglass up`` does this every 15 s so that the built-in "Spyglass health"
dashboard has data with no configuration: the same series a scrape of
``/metrics`` would give, with ``job="spyglass"`` and ``instance`` set to the
HTTP listen address::

    batch = registry_batch(REGISTRY, {"job": "spyglass", "instance": "127.0.0.1:9700"}, now_ms)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from prometheus_client import CollectorRegistry

from storage.interface import MetricMetadata, MetricType, SampleBatch
from storage.labels import Labels

_TYPES = {
    "counter": MetricType.COUNTER,
    "gauge": MetricType.GAUGE,
    "histogram": MetricType.HISTOGRAM,
    "summary": MetricType.SUMMARY,
    "info": MetricType.INFO,
    "stateset": MetricType.STATESET,
    "gaugehistogram": MetricType.GAUGE_HISTOGRAM,
}


def registry_batch(registry: CollectorRegistry, target: Mapping[str, str], now_ms: int) -> SampleBatch:
    """Every sample of ``registry`` (minus ``_created`` series) as one batch at ``now_ms``."""
    series: list[Labels] = []
    values: list[float] = []
    metadata: dict[str, MetricMetadata] = {}
    for family in registry.collect():
        metadata[family.name if family.type != "counter" else family.name + "_total"] = MetricMetadata(
            _TYPES.get(family.type, MetricType.UNKNOWN), family.documentation, family.unit or ""
        )
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            labels = dict(s.labels)
            labels.update(target)
            labels["__name__"] = s.name
            series.append(Labels.from_dict(labels))
            values.append(float(s.value))
    n = len(series)
    return SampleBatch(
        series,
        np.arange(n, dtype=np.int64),
        np.full(n, now_ms, dtype=np.int64),
        np.asarray(values, dtype=np.float64),
        metadata,
    )
