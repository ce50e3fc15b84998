import json
import os
import shutil
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from agent.hostmetrics.collectors.filesystem import StatfsResult
from agent.hostmetrics.collectors.timex import Timex
from agent.hostmetrics.paths import HostPaths

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HOST = FIXTURES / "host"


@pytest.fixture
def host_paths() -> HostPaths:
    """The recorded /proc, /sys and /etc of the machine the fixtures come from."""
    return HostPaths.from_root(str(HOST))


@pytest.fixture
def recorded_statfs():
    """A statfs() answering with the recorded results, by mount point."""
    with open(HOST / "statfs.json") as f:
        table = json.load(f)

    def statfs(path: str) -> StatfsResult:
        rel = "/" + os.path.relpath(path, HOST)
        rel = "/" if rel == "/." else rel
        if rel not in table:
            raise FileNotFoundError(2, "No such file or directory", path)
        return StatfsResult(*table[rel])

    return statfs


@pytest.fixture
def recorded_timex() -> Timex:
    with open(HOST / "timex.json") as f:
        return Timex(**json.load(f))


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def cgroup_tree(tmp_path, shared_dir) -> Path:
    """A cgroup v2 hierarchy assembled from the shared recordings:
    / (root files only), /system.slice/docker-1c8f.scope (the docker scope) and
    /user.slice/user-1000.slice/session-520.scope (the session scope)."""
    src = shared_dir / "fixtures" / "kubelet" / "cgroupv2"
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cpu.stat").write_text("usage_usec 1000000\nuser_usec 600000\nsystem_usec 400000\n")
    (root / "cpu.pressure").write_text(
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=2000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    )
    shutil.copytree(src / "docker-scope", root / "system.slice" / "docker-1c8f.scope")
    shutil.copytree(
        src / "docker2-session-520.scope",
        root / "user.slice" / "user-1000.slice" / "session-520.scope",
    )
    return root
