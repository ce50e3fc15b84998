"""Network interface traffic from /proc/net/dev (``node_network_{receive,transmit}_*_total``).

The column names come from the file's own two-line header, so a kernel that
adds a column does not shift the others. ``receive_nohandler`` is not in
/proc/net/dev; it is read from /sys/class/net/<dev>/statistics/rx_nohandler
when that exists, as node-exporter gets it from netlink.
"""

from __future__ import annotations

from agent.hostmetrics.collector import DeviceFilter
from agent.hostmetrics.family import COUNTER, FamilyBuilder, MetricFamily
from agent.hostmetrics.paths import HostPaths, read_int, require

_DEFAULT_RX = ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
_DEFAULT_TX = ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")


def parse_net_dev(text: str) -> list[tuple[str, dict[str, float]]]:
    """[(interface, {"receive_bytes": ..., "transmit_colls": ...})] in file order."""
    lines = text.split("\n")
    rx_names, tx_names = _DEFAULT_RX, _DEFAULT_TX
    if len(lines) >= 2 and lines[1].count("|") == 2:
        _, rx, tx = lines[1].split("|")
        rx_names, tx_names = tuple(rx.split()), tuple(tx.split())
    keys = [f"receive_{n}" for n in rx_names] + [f"transmit_{n}" for n in tx_names]
    out = []
    for line in lines[2:]:
        # Old kernels glue a long name to the first number ("eth0:12345"), and
        # interface names may contain ':' (aliases), numbers never do.
        name, sep, rest = line.rpartition(":")
        if not sep:
            if line.strip():
                raise ValueError(f"malformed /proc/net/dev line: {line!r}")
            continue
        values = rest.split()
        if len(values) != len(keys):
            raise ValueError(
                f"/proc/net/dev line with {len(values)} fields, expected {len(keys)}: {line!r}"
            )
        out.append((name.strip(" "), {k: float(v) for k, v in zip(keys, values)}))
    return out


class NetDevCollector:
    """Per-interface receive/transmit counters; the loopback is skipped by default."""

    name = "netdev"

    def __init__(self, paths: HostPaths, device_filter: DeviceFilter):
        self._paths = paths
        self._filter = device_filter

    def collect(self, now: float) -> list[MetricFamily]:
        builders: dict[str, FamilyBuilder] = {}

        def add(key: str, value: float, dev: str) -> None:
            b = builders.get(key)
            if b is None:
                b = builders[key] = FamilyBuilder(
                    f"node_network_{key}_total",
                    COUNTER,
                    f"Network device statistic {key}.",
                    ("device",),
                )
            b.add(value, dev)

        for dev, stats in parse_net_dev(require(self._paths.proc("net", "dev"))):
            if self._filter.ignored(dev):
                continue
            for key, value in stats.items():
                add(key, value, dev)
            nohandler = read_int(self._paths.sys("class", "net", dev, "statistics", "rx_nohandler"))
            if nohandler is not None:
                add("receive_nohandler", nohandler, dev)
        return [b.build() for b in builders.values()]
