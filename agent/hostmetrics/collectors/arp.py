"""ARP table size per interface from /proc/net/arp."""

from __future__ import annotations

from agent.hostmetrics.collector import DeviceFilter
from agent.hostmetrics.family import GAUGE, FamilyBuilder, MetricFamily
from agent.hostmetrics.paths import HostPaths, require


def parse_arp(text: str) -> dict[str, int]:
    """{device: entries}; the device is the last column."""
    counts: dict[str, int] = {}
    for line in text.split("\n"):
        cols = line.split()
        if not cols:
            continue
        if len(cols) < 6:
            raise ValueError("unexpected ARP table format")
        if cols[0] != "IP":  # the header
            counts[cols[-1]] = counts.get(cols[-1], 0) + 1
    return counts


class ARPCollector:
    """``node_arp_entries{device}``."""

    name = "arp"

    def __init__(self, paths: HostPaths, device_filter: DeviceFilter):
        self._paths = paths
        self._filter = device_filter

    def collect(self, now: float) -> list[MetricFamily]:
        b = FamilyBuilder("node_arp_entries", GAUGE, "ARP entries by device", ("device",))
        for dev, n in parse_arp(require(self._paths.proc("net", "arp"))).items():
            if not self._filter.ignored(dev):
                b.add(n, dev)
        return [b.build()] if len(b) else []
