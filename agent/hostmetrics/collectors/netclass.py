"""Network interface properties from /sys/class/net/<iface>/ (``node_network_up``,
``node_network_info``, ``node_network_mtu_bytes``, ``node_network_speed_bytes``...).

An attribute the kernel refuses to read (the carrier of a down interface
answers EINVAL, a virtual device has no speed) is left out, as node-exporter does.
"""

from __future__ import annotations

import os

import re2

from agent.hostmetrics.family import COUNTER, GAUGE, FamilyBuilder, MetricFamily
from agent.hostmetrics.paths import HostPaths, NoDataError, read_optional

# (sysfs attribute, metric suffix, type) for the numeric properties.
_NUMERIC = (
    ("addr_assign_type", "address_assign_type", GAUGE),
    ("carrier", "carrier", GAUGE),
    ("carrier_changes", "carrier_changes_total", COUNTER),
    ("carrier_up_count", "carrier_up_changes_total", COUNTER),
    ("carrier_down_count", "carrier_down_changes_total", COUNTER),
    ("dev_id", "device_id", GAUGE),
    ("dormant", "dormant", GAUGE),
    ("flags", "flags", GAUGE),
    ("ifindex", "iface_id", GAUGE),
    ("iflink", "iface_link", GAUGE),
    ("link_mode", "iface_link_mode", GAUGE),
    ("mtu", "mtu_bytes", GAUGE),
    ("name_assign_type", "name_assign_type", GAUGE),
    ("netdev_group", "net_dev_group", GAUGE),
    ("speed", "speed_bytes", GAUGE),
    ("tx_queue_len", "transmit_queue_length", GAUGE),
    ("type", "protocol_type", GAUGE),
)
_INFO = ("address", "broadcast", "duplex", "ifalias", "operstate")


def parse_sysfs_int(text: str | None) -> int | None:
    """sysfs numbers are decimal, except ``flags`` and ``dev_id`` in 0x hex."""
    if text is None:
        return None
    s = text.strip()
    try:
        return int(s, 16) if s[:2] in ("0x", "0X") else int(s, 10)
    except ValueError:
        return None


class NetClassCollector:
    """Properties of every interface in /sys/class/net, the loopback included."""

    name = "netclass"

    def __init__(
        self, paths: HostPaths, ignored_devices: str = "^$", ignore_invalid_speed: bool = False
    ):
        self._paths = paths
        self._ignored = re2.compile(ignored_devices)
        self._ignore_invalid_speed = ignore_invalid_speed

    def _devices(self) -> list[str]:
        base = self._paths.sys("class", "net")
        try:
            entries = list(os.scandir(base))
        except FileNotFoundError:
            raise NoDataError(f"{base} does not exist") from None
        # /sys/class/net also holds plain files such as bonding_masters.
        names = [e.name for e in entries if e.is_dir() or e.is_symlink()]
        return sorted(n for n in names if not self._ignored.search(n))

    def collect(self, now: float) -> list[MetricFamily]:
        up = FamilyBuilder(
            "node_network_up", GAUGE, "Value is 1 if operstate is 'up', 0 otherwise.", ("device",)
        )
        info = FamilyBuilder(
            "node_network_info",
            GAUGE,
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            ("address", "broadcast", "device", "duplex", "ifalias", "operstate"),
        )
        numeric = {
            attr: FamilyBuilder(
                f"node_network_{suffix}", type_, f"Network device property: {suffix}", ("device",)
            )
            for attr, suffix, type_ in _NUMERIC
        }
        for dev in self._devices():
            d = self._paths.sys("class", "net", dev)
            text = {a: (read_optional(os.path.join(d, a)) or "").strip() for a in _INFO}
            up.add(1.0 if text["operstate"] == "up" else 0.0, dev)
            info.add(
                1.0,
                text["address"],
                text["broadcast"],
                dev,
                text["duplex"],
                text["ifalias"],
                text["operstate"],
            )
            for attr, b in numeric.items():
                v = parse_sysfs_int(read_optional(os.path.join(d, attr)))
                if v is None:
                    continue
                if attr == "speed":
                    # Mbit/s to bytes/s; drivers that do not know say -1.
                    if v < 0 and self._ignore_invalid_speed:
                        continue
                    v = v * 1000 * 1000 // 8
                b.add(v, dev)
        fams = [up.build(), info.build()]
        fams.extend(b.build() for b in numeric.values() if len(b))
        return fams
