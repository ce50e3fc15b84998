"""HostMetrics: collectors into a SampleBatch, failure isolation, staleness, telemetry."""

import math
import threading

import numpy as np
import pytest

from agent.hostmetrics import ALL_COLLECTORS, FACTORIES, HostMetrics, HostMetricsConfig
from agent.hostmetrics.collectors.loadavg import LoadavgCollector
from agent.hostmetrics.collectors.meminfo import MeminfoCollector
from agent.hostmetrics.family import GAUGE, MetricFamily
from agent.hostmetrics.paths import NoDataError
from storage.interface import MetricType, SampleBatch, is_stale
from storage.labels import Labels
from storage.memstore import MemoryStorage
from tests.agent.hostmetrics.conftest import HOST

NOW_MS = 1_795_445_000_250


class Boom:
    name = "boom"

    def collect(self, now):
        raise ValueError("malformed line")


class Absent:
    name = "absent"

    def collect(self, now):
        raise NoDataError("no such subsystem here")


class Toggle:
    """A collector whose series come and go, to test stale markers."""

    name = "toggle"

    def __init__(self):
        self.devices = ["a", "b"]

    def collect(self, now):
        return [
            MetricFamily(
                "t_up",
                GAUGE,
                "t",
                ("device",),
                tuple((d,) for d in self.devices),
                tuple(1.0 for _ in self.devices),
            )
        ]


def rows(batch: SampleBatch) -> dict[Labels, float]:
    return {batch.series[i]: batch.values[k] for k, i in enumerate(batch.series_index)}


def test_factories_match_the_config_names():
    assert tuple(FACTORIES) == ALL_COLLECTORS


def test_batch_from_recorded_host(registry):
    hm = HostMetrics(HostMetricsConfig(root_path=str(HOST)), registry=registry)
    assert hm.target_labels == (("job", "node"), ("instance", "vm"))  # instance = recorded nodename
    batch = hm.collect(NOW_MS)
    assert isinstance(batch, SampleBatch)
    assert (batch.timestamps == NOW_MS).all()
    assert batch.series_index.dtype == np.int64 and len(batch.series) == len(batch)
    r = rows(batch)
    mem = Labels.from_dict(
        {"__name__": "node_memory_MemTotal_bytes", "job": "node", "instance": "vm"}
    )
    assert r[mem] == 24684084 * 1024.0
    cpu = Labels.from_dict(
        {
            "__name__": "node_cpu_seconds_total",
            "cpu": "1",
            "mode": "idle",
            "job": "node",
            "instance": "vm",
        }
    )
    assert r[cpu] == 896.22
    # node_uname_info is what the Node Exporter Full dashboard keys on
    uname = [s for s in batch.series if s.name == "node_uname_info"]
    assert len(uname) == 1 and uname[0].get("nodename") == "vm" and uname[0].get("job") == "node"
    # empty label values are dropped, as Prometheus stores them
    info = next(s for s in batch.series if s.name == "node_network_info" and s.get("device") == "eth0")
    assert not info.has("ifalias")
    assert batch.metadata["node_cpu_seconds_total"].type is MetricType.COUNTER
    assert batch.metadata["node_netstat_Tcp_InSegs"].type is MetricType.UNKNOWN
    assert batch.metadata["node_load1"].help == "1m load average."
    for s in batch.series:
        s.validate()
    # collectors that have nothing on the recorded host report success 0, not an error
    results = {r.name: r for r in hm.last_results}
    assert not results["schedstat"].success and results["schedstat"].error.startswith("no data")
    assert results["meminfo"].success
    assert registry.get_sample_value(
        "spyglass_agent_collector_errors_total", {"collector": "schedstat"}
    ) in (None, 0)
    success = Labels.from_dict(
        {
            "__name__": "node_scrape_collector_success",
            "collector": "schedstat",
            "job": "node",
            "instance": "vm",
        }
    )
    assert r[success] == 0.0


def test_a_failing_collector_does_not_break_the_others(registry, host_paths):
    hm = HostMetrics(
        HostMetricsConfig(instance="h1", job="nodes", extra_labels={"cluster": "c1"}),
        collectors=[Boom(), LoadavgCollector(host_paths), Absent(), MeminfoCollector(host_paths)],
        registry=registry,
    )
    batch = hm.collect(NOW_MS)
    names = {s.name for s in batch.series}
    assert {"node_load1", "node_memory_MemFree_bytes"} <= names
    assert all(
        s.get("cluster") == "c1" and s.get("instance") == "h1" and s.get("job") == "nodes"
        for s in batch.series
    )
    assert [(r.name, r.success) for r in hm.last_results] == [
        ("boom", False),
        ("loadavg", True),
        ("absent", False),
        ("meminfo", True),
    ]
    assert "ValueError: malformed line" in hm.last_results[0].error
    assert (
        registry.get_sample_value("spyglass_agent_collector_errors_total", {"collector": "boom"})
        == 1
    )
    assert (
        registry.get_sample_value("spyglass_agent_collector_errors_total", {"collector": "absent"})
        is None
    )
    assert (
        registry.get_sample_value(
            "spyglass_agent_collector_duration_seconds", {"collector": "loadavg"}
        )
        > 0
    )
    assert registry.get_sample_value("spyglass_agent_series") == len(batch.series)
    hm.collect(NOW_MS + 15000)
    assert (
        registry.get_sample_value("spyglass_agent_collector_errors_total", {"collector": "boom"})
        == 2
    )


def test_unreadable_file_counts_as_an_error(tmp_path, registry):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").mkdir()  # a directory where a file should be: EISDIR
    (tmp_path / "proc" / "loadavg").write_text("1.00 2.00 3.00 1/1 1\n")
    hm = HostMetrics(
        HostMetricsConfig(root_path=str(tmp_path), instance="x", collectors=["meminfo", "loadavg"]),
        registry=registry,
    )
    fams = {f.name: f for f in hm.collect_families(NOW_MS / 1000)}
    assert fams["node_load15"].values == (3.0,)
    assert (
        registry.get_sample_value("spyglass_agent_collector_errors_total", {"collector": "meminfo"})
        == 1
    )


def test_stale_markers_for_vanished_series(registry):
    t = Toggle()
    hm = HostMetrics(
        HostMetricsConfig(instance="h", collector_metrics=False), collectors=[t], registry=registry
    )
    first = hm.collect(NOW_MS)
    assert len(first) == 2 and not is_stale(first.values).any()
    t.devices = ["a"]
    second = hm.collect(NOW_MS + 15000)
    r = rows(second)
    b = Labels.from_dict({"__name__": "t_up", "device": "b", "job": "node", "instance": "h"})
    assert is_stale(np.array([r[b]])).all() and math.isnan(r[b])
    assert (
        r[Labels.from_dict({"__name__": "t_up", "device": "a", "job": "node", "instance": "h"})]
        == 1.0
    )
    assert registry.get_sample_value("spyglass_agent_stale_markers_total") == 1
    third = hm.collect(NOW_MS + 30000)  # marked once, then forgotten
    assert len(third) == 1
    # storage accepts the batches, stale marker included
    store = MemoryStorage()
    for batch in (first, second, third):
        assert store.append(batch).rejected_total == 0


def test_clock_and_concurrent_collections(registry):
    t = Toggle()
    hm = HostMetrics(
        HostMetricsConfig(instance="h"), collectors=[t], clock=lambda: 1000.5, registry=registry
    )
    assert (hm.collect().timestamps == 1_000_500).all()
    errors = []

    def run():
        try:
            for _ in range(50):
                hm.collect()
        except Exception as e:  # pragma: no cover  # noqa: BLE001 - the assertion below reports it
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


def test_collector_metrics_can_be_turned_off(registry, host_paths):
    hm = HostMetrics(
        HostMetricsConfig(instance="h", collector_metrics=False),
        collectors=[LoadavgCollector(host_paths)],
        registry=registry,
    )
    assert {s.name for s in hm.collect(NOW_MS).series} == {
        "node_load1",
        "node_load5",
        "node_load15",
    }


def test_config_validation():
    with pytest.raises(ValueError, match="unknown collector"):
        HostMetricsConfig(collectors=["cpu", "nvidia"])
    with pytest.raises(ValueError, match="invalid regular expression"):
        HostMetricsConfig(netstat_fields="(")
    with pytest.raises(ValueError, match="cannot set 'job'"):
        HostMetricsConfig(extra_labels={"job": "x"})
    with pytest.raises(ValueError):
        HostMetricsConfig(unknown_key=1)
    with pytest.raises(ValueError):
        HostMetricsConfig(cgroups={"max_depth": -1})
    cfg = HostMetricsConfig.model_validate(
        {"collectors": ["cpu"], "filesystem": {"mount_timeout": "2s"}, "cgroups": {"max_depth": 4}}
    )
    assert cfg.filesystem.mount_timeout == 2.0 and cfg.cgroups.max_depth == 4
    assert HostMetricsConfig().collectors == list(ALL_COLLECTORS)


def test_every_config_field_is_documented():
    """Each field has a comment right above it in config.py (the style rule)."""
    import inspect

    from agent.hostmetrics import config as mod

    src = inspect.getsource(mod).splitlines()
    models = [
        mod.FilesystemConfig,
        mod.DeviceFilterConfig,
        mod.DiskstatsConfig,
        mod.NetdevConfig,
        mod.NetClassConfig,
        mod.CgroupsConfig,
        mod.HostMetricsConfig,
    ]
    for model in models:
        start = next(i for i, s in enumerate(src) if s.startswith(f"class {model.__name__}("))
        end = next((i for i in range(start + 1, len(src)) if src[i].startswith("class ")), len(src))
        for name in model.__annotations__:
            line = next(i for i in range(start, end) if src[i].strip().startswith(f"{name}:"))
            assert src[line - 1].strip().startswith("#"), (
                f"{model.__name__}.{name} is not documented"
            )
        assert model.__doc__, model.__name__


def test_node_exporter_full_finds_the_host(registry):
    """The dashboard's variable chain: job from node_uname_info, then nodename, then
    instance; its panels then select by job and instance."""
    from storage.labels import Matcher, MatchOp

    store = MemoryStorage()
    hm = HostMetrics(HostMetricsConfig(root_path=str(HOST)), registry=registry)
    store.append(hm.collect(NOW_MS))
    q = store.querier(NOW_MS - 60_000, NOW_MS + 60_000)
    uname = Matcher(MatchOp.EQUAL, "__name__", "node_uname_info")
    job = Matcher(MatchOp.EQUAL, "job", "node")
    assert q.label_values("job", [uname]) == ["node"]
    assert q.label_values("nodename", [uname, job]) == ["vm"]
    nodename = Matcher(MatchOp.EQUAL, "nodename", "vm")
    assert q.label_values("instance", [uname, job, nodename]) == ["vm"]
    # e.g. the "Root FS Used" panel:
    # node_filesystem_size_bytes{instance=..., job=..., mountpoint="/", fstype!="rootfs"}
    sel = q.select(
        [
            Matcher(MatchOp.EQUAL, "__name__", "node_filesystem_size_bytes"),
            Matcher(MatchOp.EQUAL, "instance", "vm"),
            job,
            Matcher(MatchOp.EQUAL, "mountpoint", "/"),
            Matcher(MatchOp.NOT_EQUAL, "fstype", "rootfs"),
        ]
    )
    assert len(sel) == 1
    # "CPU Cores": count(count(node_cpu_seconds_total{...}) by (cpu))
    cpu = Matcher(MatchOp.EQUAL, "__name__", "node_cpu_seconds_total")
    assert q.label_values("cpu", [cpu, Matcher(MatchOp.EQUAL, "instance", "vm")]) == ["0", "1"]
