"""Bytes queued in UDP sockets, summed from /proc/net/udp and /proc/net/udp6."""

from __future__ import annotations

from agent.hostmetrics.family import GAUGE, FamilyBuilder, MetricFamily
from agent.hostmetrics.paths import HostPaths, NoDataError, read_optional


def parse_udp_queues(text: str) -> tuple[int, int]:
    """(tx_queue, rx_queue) summed over sockets; the 5th column is ``tx:rx`` in hex."""
    tx = rx = 0
    for line in text.split("\n")[1:]:
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5 or ":" not in parts[4]:
            raise ValueError(f"malformed /proc/net/udp line: {line!r}")
        t, _, r = parts[4].partition(":")
        tx += int(t, 16)
        rx += int(r, 16)
    return tx, rx


class UDPQueuesCollector:
    """``node_udp_queues{ip="v4|v6",queue="tx|rx"}``."""

    name = "udp_queues"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        b = FamilyBuilder(
            "node_udp_queues",
            GAUGE,
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
            ("ip", "queue"),
        )
        for fname, ip in (("udp", "v4"), ("udp6", "v6")):
            text = read_optional(self._paths.proc("net", fname))
            if text is None:
                continue
            tx, rx = parse_udp_queues(text)
            b.add(tx, ip, "tx")
            b.add(rx, ip, "rx")
        if not len(b):
            raise NoDataError("no /proc/net/udp")
        return [b.build()]
