"""Per-cgroup metrics over the shared cgroup v2 recordings (shared/fixtures/kubelet/cgroupv2)."""

import pytest

from agent.hostmetrics.collectors.cgroups import (
    CgroupsCollector,
    find_cgroup2_mount,
    parse_flat_keyed,
)
from agent.hostmetrics.paths import HostPaths, NoDataError
from storage.interface import MetricType

NOW = 1_795_445_000.0
DOCKER = "/system.slice/docker-1c8f.scope"
SESSION = "/user.slice/user-1000.slice/session-520.scope"


def collect(root, **kw):
    return {f.name: f for f in CgroupsCollector(HostPaths(), path=str(root), **kw).collect(NOW)}


def ids(fam):
    return sorted(dict(zip(fam.label_names, lv))["id"] for lv in fam.label_values)


def test_docker_scope_and_root(cgroup_tree):
    f = collect(cgroup_tree)  # default depth 2: the session scope (depth 3) is left out
    usage = f["container_cpu_usage_seconds_total"]
    assert usage.label_names == ("cpu", "id") and usage.type is MetricType.COUNTER
    assert usage.samples() == [
        ({"cpu": "total", "id": "/"}, 1.0),
        ({"cpu": "total", "id": DOCKER}, 26772.130245),
    ]
    assert f["container_cpu_user_seconds_total"].value(id=DOCKER) == 20979.069928
    assert f["container_cpu_system_seconds_total"].value(id=DOCKER) == 5793.060316
    # cpu.max is "max 100000": no quota, so no throttling series (as cAdvisor)
    assert "container_cpu_cfs_periods_total" not in f
    assert "container_spec_cpu_quota" not in f
    # memory: the root has no memory.current in cgroup v2
    assert ids(f["container_memory_usage_bytes"]) == [DOCKER]
    assert f["container_memory_usage_bytes"].value(id=DOCKER) == 9125888
    assert f["container_memory_working_set_bytes"].value(id=DOCKER) == 9125888 - 270336
    assert f["container_memory_rss"].value(id=DOCKER) == 411045888
    assert f["container_memory_cache"].value(id=DOCKER) == 0
    assert f["container_memory_total_inactive_file_bytes"].value(id=DOCKER) == 270336
    assert f["container_spec_memory_limit_bytes"].value(id=DOCKER) == 0  # "max"
    assert f["container_oom_events_total"].value(id=DOCKER) == 1
    assert "container_memory_max_usage_bytes" not in f  # no memory.peak in this recording
    assert f["container_pressure_cpu_waiting_seconds_total"].samples() == [
        ({"id": "/"}, 2.0),
        ({"id": DOCKER}, 1.676316),
    ]
    assert f["container_pressure_cpu_stalled_seconds_total"].samples() == [({"id": "/"}, 0.0)]


def test_deeper_session_scope(cgroup_tree):
    f = collect(cgroup_tree, max_depth=3)
    assert ids(f["container_cpu_usage_seconds_total"]) == ["/", DOCKER, SESSION]
    assert f["container_cpu_usage_seconds_total"].value(cpu="total", id=SESSION) == 3611.347518
    assert f["container_memory_working_set_bytes"].value(id=SESSION) == 10498404352 - 6685749248
    assert f["container_memory_mapped_file"].value(id=SESSION) == 56209408
    assert f["container_memory_max_usage_bytes"].value(id=SESSION) == 18772946944
    assert f["container_oom_events_total"].value(id=SESSION) == 0
    assert f["container_pressure_io_stalled_seconds_total"].value(id=SESSION) == 7.726267
    assert f["container_pressure_memory_waiting_seconds_total"].value(id=SESSION) == 1.736583
    assert f["container_pressure_cpu_stalled_seconds_total"].value(id=SESSION) == 29.25418


def test_quota_and_limits(cgroup_tree):
    scope = cgroup_tree / "system.slice" / "docker-1c8f.scope"
    (scope / "cpu.max").write_text("50000 100000\n")
    (scope / "memory.max").write_text("536870912\n")
    f = collect(cgroup_tree)
    assert f["container_spec_cpu_quota"].value(id=DOCKER) == 50000
    assert f["container_spec_cpu_period"].value(id=DOCKER) == 100000
    assert f["container_cpu_cfs_periods_total"].value(id=DOCKER) == 1
    assert f["container_cpu_cfs_throttled_periods_total"].value(id=DOCKER) == 4
    assert f["container_cpu_cfs_throttled_seconds_total"].value(id=DOCKER) == 10e-6
    assert f["container_spec_memory_limit_bytes"].value(id=DOCKER) == 536870912


def test_cardinality_is_bounded(cgroup_tree):
    for i in range(20):
        d = cgroup_tree / "many.slice" / f"unit-{i:02d}.service"
        d.mkdir(parents=True)
        (d / "cpu.stat").write_text(f"usage_usec {i}\n")
    c = CgroupsCollector(HostPaths(), path=str(cgroup_tree), max_depth=2, max_cgroups=10)
    f = {x.name: x for x in c.collect(NOW)}
    # breadth first: root, the three slices, then the first six depth-2 groups
    assert len(f["container_cpu_usage_seconds_total"]) == 1 + 6
    assert c.truncated > 0
    f0 = collect(cgroup_tree, max_depth=0)
    assert ids(f0["container_cpu_usage_seconds_total"]) == ["/"]


def test_finds_the_cgroup2_mount(tmp_path):
    root = tmp_path
    (root / "proc" / "self").mkdir(parents=True)
    cg = root / "sys" / "fs" / "cgroup" / "unified"
    cg.mkdir(parents=True)
    (cg / "cgroup.controllers").write_text("")
    (root / "proc" / "self" / "mountinfo").write_text(
        "24 30 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n"
    )
    assert find_cgroup2_mount(HostPaths.from_root(str(root))) == str(cg)
    (root / "proc" / "self" / "mountinfo").write_text("")  # no mountinfo entry: the usual places
    assert find_cgroup2_mount(HostPaths.from_root(str(root))) == str(cg)
    with pytest.raises(NoDataError):
        CgroupsCollector(HostPaths.from_root(str(tmp_path / "none"))).collect(NOW)


def test_flat_keyed_parser():
    assert parse_flat_keyed("usage_usec 10\nbad line here\nx notanumber\n\nnr_bursts 0\n") == {
        "usage_usec": 10,
        "nr_bursts": 0,
    }
