"""Block device I/O from /proc/diskstats, plus udev's device properties when readable.

A diskstats line is ``major minor name`` followed by 11 counters (kernel 4.18
and older), 15 (discards, 4.18+) or 17 (flushes, 5.5+). Kernels before
2.6.25 printed partitions with 4 counters (reads, sectors read, writes,
sectors written). Sectors are 512 bytes whatever the device; times are ms.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from agent.hostmetrics.collector import DeviceFilter
from agent.hostmetrics.family import COUNTER, GAUGE, FamilyBuilder, MetricFamily, non_empty
from agent.hostmetrics.paths import HostPaths, read_optional, require

SECTOR = 512.0
MS = 1e-3

# (metric, type, help, scale) in the order of the kernel's counters.
_COUNTERS = (
    (
        "node_disk_reads_completed_total",
        COUNTER,
        "The total number of reads completed successfully.",
        1.0,
    ),
    ("node_disk_reads_merged_total", COUNTER, "The total number of reads merged.", 1.0),
    ("node_disk_read_bytes_total", COUNTER, "The total number of bytes read successfully.", SECTOR),
    (
        "node_disk_read_time_seconds_total",
        COUNTER,
        "The total number of seconds spent by all reads.",
        MS,
    ),
    (
        "node_disk_writes_completed_total",
        COUNTER,
        "The total number of writes completed successfully.",
        1.0,
    ),
    ("node_disk_writes_merged_total", COUNTER, "The number of writes merged.", 1.0),
    (
        "node_disk_written_bytes_total",
        COUNTER,
        "The total number of bytes written successfully.",
        SECTOR,
    ),
    (
        "node_disk_write_time_seconds_total",
        COUNTER,
        "This is the total number of seconds spent by all writes.",
        MS,
    ),
    ("node_disk_io_now", GAUGE, "The number of I/Os currently in progress.", 1.0),
    ("node_disk_io_time_seconds_total", COUNTER, "Total seconds spent doing I/Os.", MS),
    (
        "node_disk_io_time_weighted_seconds_total",
        COUNTER,
        "The weighted # of seconds spent doing I/Os.",
        MS,
    ),
    (
        "node_disk_discards_completed_total",
        COUNTER,
        "The total number of discards completed successfully.",
        1.0,
    ),
    ("node_disk_discards_merged_total", COUNTER, "The total number of discards merged.", 1.0),
    # Counted in sectors, and node-exporter reports it so (the name says sectors).
    (
        "node_disk_discarded_sectors_total",
        COUNTER,
        "The total number of sectors discarded successfully.",
        1.0,
    ),
    (
        "node_disk_discard_time_seconds_total",
        COUNTER,
        "This is the total number of seconds spent by all discards.",
        MS,
    ),
    (
        "node_disk_flush_requests_total",
        COUNTER,
        "The total number of flush requests completed successfully",
        1.0,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        COUNTER,
        "This is the total number of seconds spent by all flush requests.",
        MS,
    ),
)
# Where the four counters of an old-format partition line go in _COUNTERS.
_OLD_PARTITION_SLOTS = (0, 2, 4, 6)


class DiskStats(NamedTuple):
    major: int
    minor: int
    device: str
    # One value per entry of _COUNTERS the line has, already scaled; None for
    # counters the kernel did not print.
    values: tuple[float | None, ...]


def parse_diskstats(text: str) -> list[DiskStats]:
    out = []
    for line in text.split("\n"):
        parts = line.split()
        if not parts:
            continue
        n = len(parts) - 3
        if n != 4 and n < 11:
            raise ValueError(f"diskstats line with {n} counters: {line!r}")
        raw = [int(x) for x in parts[3:]]
        vals: list[float | None] = [None] * len(_COUNTERS)
        if n == 4:
            for slot, v in zip(_OLD_PARTITION_SLOTS, raw):
                vals[slot] = v * _COUNTERS[slot][3]
        else:
            # Newer kernels may append counters we do not know yet: ignore them.
            for i, v in enumerate(raw[: len(_COUNTERS)]):
                vals[i] = v * _COUNTERS[i][3]
        out.append(DiskStats(int(parts[0]), int(parts[1]), parts[2], tuple(vals)))
    return out


def parse_udev_properties(text: str) -> dict[str, str]:
    """The ``E:KEY=VALUE`` properties of a /run/udev/data/b<major>:<minor> file."""
    info = {}
    for line in text.split("\n"):
        if line.startswith("E:"):
            k, sep, v = line[2:].partition("=")
            if sep:
                info[k] = v
    return info


_ATA = (
    ("ID_ATA_WRITE_CACHE", "node_disk_ata_write_cache", "ATA disk has a write cache."),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
    (
        "ID_ATA_ROTATION_RATE_RPM",
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
)


class DiskstatsCollector:
    """``node_disk_*`` per block device, skipping partitions and virtual devices
    by default (node-exporter's device filter)."""

    name = "diskstats"

    def __init__(
        self, paths: HostPaths, device_filter: DeviceFilter, udev_data_path: str | None = None
    ):
        self._paths = paths
        self._filter = device_filter
        self._udev = udev_data_path if udev_data_path is not None else paths.root("/run/udev/data")
        self._udev_readable = os.path.isdir(self._udev)

    def collect(self, now: float) -> list[MetricFamily]:
        counters = [FamilyBuilder(n, t, h, ("device",)) for n, t, h, _ in _COUNTERS]
        info = FamilyBuilder(
            "node_disk_info",
            GAUGE,
            "Info of /sys/block/<block_device>.",
            ("device", "major", "minor", "model", "path", "revision", "serial", "wwn"),
        )
        fsinfo = FamilyBuilder(
            "node_disk_filesystem_info",
            GAUGE,
            "Info about disk filesystem.",
            ("device", "type", "usage", "uuid", "version"),
        )
        dminfo = FamilyBuilder(
            "node_disk_device_mapper_info",
            GAUGE,
            "Info about disk device mapper.",
            ("device", "lv_layer", "lv_name", "name", "uuid", "vg_name"),
        )
        ata = {key: FamilyBuilder(n, GAUGE, h, ("device",)) for key, n, h in _ATA}
        for d in parse_diskstats(require(self._paths.proc("diskstats"))):
            if self._filter.ignored(d.device):
                continue
            for b, v in zip(counters, d.values):
                if v is not None:
                    b.add(v, d.device)
            u = self._udev_info(d.major, d.minor)
            info.add(1.0, d.device, str(d.major), str(d.minor),
                     *_props(u, "ID_MODEL", "ID_PATH", "ID_REVISION", "ID_SERIAL_SHORT", "ID_WWN"))
            if u.get("ID_FS_TYPE"):
                fsinfo.add(1.0, d.device,
                           *_props(u, "ID_FS_TYPE", "ID_FS_USAGE", "ID_FS_UUID", "ID_FS_VERSION"))
            if u.get("DM_NAME"):
                dminfo.add(1.0, d.device, *_props(u, "DM_LV_LAYER", "DM_LV_NAME", "DM_NAME",
                                                  "DM_UUID", "DM_VG_NAME"))
            if u.get("ID_ATA"):
                for key, b in ata.items():
                    try:
                        b.add(float(u[key]), d.device)
                    except (KeyError, ValueError):
                        pass
        return non_empty([*counters, info, fsinfo, dminfo, *ata.values()])

    def _udev_info(self, major: int, minor: int) -> dict[str, str]:
        if not self._udev_readable:
            return {}
        text = read_optional(os.path.join(self._udev, f"b{major}:{minor}"))
        return parse_udev_properties(text) if text else {}


def _props(udev: dict[str, str], *keys: str) -> tuple[str, ...]:
    """The udev properties ``keys`` as label values, "" where absent."""
    return tuple(udev.get(k, "") for k in keys)
