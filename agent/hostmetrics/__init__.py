"""Host metrics for the machine Spyglass runs on, with node-exporter's names.

Reads /proc, /sys and cgroup v2 directly and produces the series of
node-exporter's default collectors (the ones the Node Exporter Full dashboard
uses) plus per-cgroup CPU and memory under cAdvisor's names. See README.md
in this folder for the metric list, the defaults and the differences from
node-exporter::

    from agent.hostmetrics import HostMetrics, HostMetricsConfig
    hm = HostMetrics(HostMetricsConfig())
    batch = hm.collect(now_ms)            # storage.interface.SampleBatch
"""

from agent.hostmetrics.collector import Collector, DeviceFilter
from agent.hostmetrics.collectors import FACTORIES, build_collectors
from agent.hostmetrics.config import ALL_COLLECTORS, HostMetricsConfig
from agent.hostmetrics.exposition import CONTENT_TYPE, MetricsEndpoint, render_text
from agent.hostmetrics.family import FamilyBuilder, MetricFamily
from agent.hostmetrics.paths import HostPaths, NoDataError
from agent.hostmetrics.source import CollectorResult, HostMetrics

__all__ = [
    "ALL_COLLECTORS",
    "CONTENT_TYPE",
    "FACTORIES",
    "Collector",
    "CollectorResult",
    "DeviceFilter",
    "FamilyBuilder",
    "HostMetrics",
    "HostMetricsConfig",
    "HostPaths",
    "MetricFamily",
    "MetricsEndpoint",
    "NoDataError",
    "build_collectors",
    "render_text",
]
