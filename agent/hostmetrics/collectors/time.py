"""The host's clock: current time, time zone offset and clock sources."""

from __future__ import annotations

import os
import time as _time

from agent.hostmetrics.family import GAUGE, FamilyBuilder, MetricFamily, single
from agent.hostmetrics.paths import HostPaths, read_optional


class TimeCollector:
    """``node_time_seconds`` (the collection time), ``node_time_zone_offset_seconds``
    and ``node_time_clocksource_{available,current}_info``."""

    name = "time"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        lt = _time.localtime(now)
        fams = [
            single("node_time_seconds", GAUGE, "System time in seconds since epoch (1970).", now),
            MetricFamily(
                "node_time_zone_offset_seconds",
                GAUGE,
                "System time zone offset in seconds.",
                ("time_zone",),
                ((lt.tm_zone or "",),),
                (float(lt.tm_gmtoff or 0),),
            ),
        ]
        available = FamilyBuilder(
            "node_time_clocksource_available_info",
            GAUGE,
            "Available clocksources read from '/sys/devices/system/clocksource'.",
            ("clocksource", "device"),
        )
        current = FamilyBuilder(
            "node_time_clocksource_current_info",
            GAUGE,
            "Current clocksource read from '/sys/devices/system/clocksource'.",
            ("clocksource", "device"),
        )
        base = self._paths.sys("devices", "system", "clocksource")
        try:
            names = sorted(
                n for n in os.listdir(base) if n.startswith("clocksource") and n[11:].isdigit()
            )
        except FileNotFoundError:
            names = []
        for n in names:
            dev = n[11:]
            for cs in (read_optional(os.path.join(base, n, "available_clocksource")) or "").split():
                available.add(1.0, cs, dev)
            cur = (read_optional(os.path.join(base, n, "current_clocksource")) or "").strip()
            if cur:
                current.add(1.0, cur, dev)
        fams.extend(b.build() for b in (available, current) if len(b))
        return fams
