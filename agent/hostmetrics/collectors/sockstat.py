"""Socket counts per protocol from /proc/net/sockstat and /proc/net/sockstat6."""

from __future__ import annotations

import os

from agent.hostmetrics.family import GAUGE, MetricFamily, single
from agent.hostmetrics.paths import HostPaths, NoDataError, read_optional

# The per-protocol fields node-exporter reports, in its order.
_KEYS = ("inuse", "orphan", "tw", "alloc", "mem", "memory")


def parse_sockstat(text: str) -> tuple[int | None, list[tuple[str, dict[str, int]]]]:
    """(sockets used, [(protocol, {field: value})]) from a sockstat file."""
    used = None
    protocols = []
    for line in text.split("\n"):
        head, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if len(parts) % 2:
            raise ValueError(f"odd number of fields in sockstat line: {line!r}")
        kv = {parts[i]: int(parts[i + 1]) for i in range(0, len(parts), 2)}
        if head == "sockets":
            used = kv.get("used")
        else:
            protocols.append((head, kv))
    return used, protocols


class SockstatCollector:
    """``node_sockstat_<PROTO>_<field>`` and ``node_sockstat_sockets_used``; a
    ``mem`` field (in pages) is also reported in bytes as ``..._mem_bytes``."""

    name = "sockstat"

    def __init__(self, paths: HostPaths, page_size: int | None = None):
        self._paths = paths
        self._page_size = page_size or os.sysconf("SC_PAGESIZE")

    def collect(self, now: float) -> list[MetricFamily]:
        out: list[MetricFamily] = []
        found = False
        for fname, ipv6 in (("sockstat", False), ("sockstat6", True)):
            # sockstat6 is absent when IPv6 is disabled.
            text = read_optional(self._paths.proc("net", fname))
            if text is None:
                continue
            found = True
            used, protocols = parse_sockstat(text)
            if used is not None and not ipv6:
                out.append(
                    single(
                        "node_sockstat_sockets_used", GAUGE, "Number of IPv4 sockets in use.", used
                    )
                )
            for proto, kv in protocols:
                pairs = [(k, kv[k]) for k in _KEYS if k in kv]
                if "mem" in kv:
                    pairs.append(("mem_bytes", kv["mem"] * self._page_size))
                for key, value in pairs:
                    out.append(
                        single(
                            f"node_sockstat_{proto}_{key}",
                            GAUGE,
                            f"Number of {proto} sockets in state {key}.",
                            value,
                        )
                    )
        if not found:
            raise NoDataError("no /proc/net/sockstat")
        return out
