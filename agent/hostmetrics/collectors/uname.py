"""``node_uname_info``: the uname(2) fields as labels. The Node Exporter Full
dashboard finds hosts through this metric (its job, nodename and instance)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

from agent.hostmetrics.family import GAUGE, MetricFamily
from agent.hostmetrics.paths import HostPaths, read_optional


class Uname(NamedTuple):
    sysname: str
    nodename: str
    release: str
    version: str
    machine: str
    domainname: str


def read_uname(paths: HostPaths) -> Uname:
    """uname from /proc/sys/kernel, so that a root path of recorded files is
    honoured; what procfs lacks (``arch`` before Linux 6.1) comes from uname(2)."""
    local = os.uname()

    def k(name: str, default: str) -> str:
        text = read_optional(paths.proc("sys", "kernel", name))
        return text.rstrip("\n") if text is not None else default

    return Uname(
        sysname=k("ostype", local.sysname),
        nodename=k("hostname", local.nodename),
        release=k("osrelease", local.release),
        version=k("version", local.version),
        machine=k("arch", local.machine),
        # Python's uname has no domain name; procfs always has it on Linux.
        domainname=k("domainname", "(none)"),
    )


class UnameCollector:
    """``node_uname_info{sysname,release,version,machine,nodename,domainname} 1``."""

    name = "uname"

    def __init__(self, paths: HostPaths, uname: Callable[[HostPaths], Uname] = read_uname):
        self._paths = paths
        self._uname = uname

    def collect(self, now: float) -> list[MetricFamily]:
        u = self._uname(self._paths)
        return [
            MetricFamily(
                "node_uname_info",
                GAUGE,
                "Labeled system information as provided by the uname system call.",
                ("domainname", "machine", "nodename", "release", "sysname", "version"),
                ((u.domainname, u.machine, u.nodename, u.release, u.sysname, u.version),),
                (1.0,),
            )
        ]
