"""Netfilter connection tracking: table size and limit, and per-CPU statistics summed."""

from __future__ import annotations

from agent.hostmetrics.family import GAUGE, MetricFamily, single
from agent.hostmetrics.paths import HostPaths, read_optional, require

# (column of /proc/net/stat/nf_conntrack, metric suffix, help); node-exporter
# reports these sums as gauges.
_STATS = (
    ("found", "found", "Number of searched entries which were successful."),
    ("invalid", "invalid", "Number of packets seen which can not be tracked."),
    (
        "ignore",
        "ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
    ),
    ("insert", "insert", "Number of entries inserted into the list."),
    (
        "insert_failed",
        "insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
    ),
    ("drop", "drop", "Number of packets dropped due to conntrack failure."),
    (
        "early_drop",
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    (
        "search_restart",
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
)


def parse_conntrack_stat(text: str) -> dict[str, int]:
    """Column sums over the per-CPU rows (hex), keyed by the header's names."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return {}
    header = lines[0].split()
    sums = dict.fromkeys(header, 0)
    for line in lines[1:]:
        cols = line.split()
        if len(cols) != len(header):
            raise ValueError("nf_conntrack stat row does not match its header")
        for name, v in zip(header, cols):
            sums[name] += int(v, 16)
    return sums


class ConntrackCollector:
    """``node_nf_conntrack_entries``, ``..._entries_limit`` and ``node_nf_conntrack_stat_*``."""

    name = "conntrack"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        # Without the nf_conntrack module these files do not exist: no data.
        count = int(require(self._paths.proc("sys", "net", "netfilter", "nf_conntrack_count")))
        limit = int(require(self._paths.proc("sys", "net", "netfilter", "nf_conntrack_max")))
        out = [
            single(
                "node_nf_conntrack_entries",
                GAUGE,
                "Number of currently allocated flow entries for connection tracking.",
                count,
            ),
            single(
                "node_nf_conntrack_entries_limit",
                GAUGE,
                "Maximum size of connection tracking table.",
                limit,
            ),
        ]
        text = read_optional(self._paths.proc("net", "stat", "nf_conntrack"))
        if text is not None:
            sums = parse_conntrack_stat(text)
            for col, suffix, help_ in _STATS:
                if col in sums:
                    out.append(single(f"node_nf_conntrack_stat_{suffix}", GAUGE, help_, sums[col]))
        return out
