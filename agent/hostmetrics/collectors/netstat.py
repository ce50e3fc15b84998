"""Protocol counters from /proc/net/netstat, /proc/net/snmp and /proc/net/snmp6,
filtered to node-exporter's default field set (``node_netstat_<Proto>_<Field>``)."""

from __future__ import annotations

from agent.hostmetrics.collector import FieldFilter
from agent.hostmetrics.family import UNTYPED, MetricFamily, single
from agent.hostmetrics.paths import HostPaths, read_optional, require


def parse_netstat(text: str) -> dict[str, dict[str, str]]:
    """netstat/snmp format: a header line ``Proto: A B C`` then ``Proto: 1 2 3``."""
    out: dict[str, dict[str, str]] = {}
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if len(lines) % 2:
        raise ValueError("netstat file with an odd number of lines")
    for names_line, values_line in zip(lines[0::2], lines[1::2]):
        names, values = names_line.split(), values_line.split()
        if not names or not names[0].endswith(":") or names[0] != values[0]:
            raise ValueError(f"netstat header and values do not pair: {names_line[:40]!r}")
        if len(names) != len(values):
            raise ValueError(f"field count mismatch in netstat protocol {names[0][:-1]}")
        out[names[0][:-1]] = dict(zip(names[1:], values[1:]))
    return out


def parse_snmp6(text: str) -> dict[str, dict[str, str]]:
    """snmp6 format: one ``Ip6InReceives  123`` per line; the protocol ends at the first '6'."""
    out: dict[str, dict[str, str]] = {}
    for line in text.split("\n"):
        parts = line.split()
        if len(parts) < 2:
            continue
        six = parts[0].find("6")
        if six == -1:
            continue
        out.setdefault(parts[0][: six + 1], {})[parts[0][six + 1 :]] = parts[1]
    return out


class NetstatCollector:
    """Selected TCP/UDP/IP/ICMP counters, untyped as in node-exporter."""

    name = "netstat"

    def __init__(self, paths: HostPaths, fields: str):
        self._paths = paths
        self._fields = FieldFilter(fields)

    def collect(self, now: float) -> list[MetricFamily]:
        stats = parse_netstat(require(self._paths.proc("net", "netstat")))
        stats.update(parse_netstat(require(self._paths.proc("net", "snmp"))))
        snmp6 = read_optional(self._paths.proc("net", "snmp6"))  # absent without IPv6
        if snmp6 is not None:
            stats.update(parse_snmp6(snmp6))
        out = []
        for proto, fields in stats.items():
            for field, value in fields.items():
                key = f"{proto}_{field}"
                if self._fields.wanted(key):
                    out.append(
                        single(
                            f"node_netstat_{key}",
                            UNTYPED,
                            f"Statistic {proto}{field}.",
                            float(value),
                        )
                    )
        return out
