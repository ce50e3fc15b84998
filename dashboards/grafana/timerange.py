"""Grafana time ranges (``now-6h``, ``now/d``, ``now-1d/d``, absolute times, epoch ms)
and the query interval arithmetic behind ``$__interval`` and ``$__rate_interval``."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from spyglass.configtypes import parse_duration_ms

_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3600_000, "d": 86400_000, "w": 7 * 86400_000,
            "M": 30 * 86400_000, "y": 365 * 86400_000}
_REL_RE = re.compile(r"^now(?P<ops>(?:[+-]\d+[smhdwMy])*)(?:/(?P<round>[smhdwMy]))?$")
_OP_RE = re.compile(r"([+-])(\d+)([smhdwMy])")


class TimeRangeError(ValueError):
    """A time expression that is neither relative (``now-1h``) nor absolute."""


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A resolved time range in epoch milliseconds, with the text it came from.

    Usage: ``TimeRange.parse("now-6h", "now", now_ms=clock())``.
    """

    from_ms: int
    to_ms: int
    raw_from: str = "now-6h"
    raw_to: str = "now"

    @classmethod
    def parse(cls, raw_from: str, raw_to: str, *, now_ms: int) -> TimeRange:
        f = parse_time(raw_from, now_ms=now_ms, round_up=False)
        t = parse_time(raw_to, now_ms=now_ms, round_up=True)
        if f >= t:
            raise TimeRangeError(f"the range start {raw_from!r} is not before its end {raw_to!r}")
        return cls(f, t, raw_from, raw_to)

    @property
    def span_ms(self) -> int:
        return self.to_ms - self.from_ms

    @property
    def is_relative(self) -> bool:
        return self.raw_to.startswith("now")


def parse_time(text: str, *, now_ms: int, round_up: bool = False) -> int:
    """One end of a range: ``now…`` arithmetic, epoch ms, or an ISO-8601 date/time."""
    s = (text or "").strip()
    m = _REL_RE.match(s)
    if m:
        ms = now_ms
        for sign, n, unit in _OP_RE.findall(m.group("ops") or ""):
            ms += (1 if sign == "+" else -1) * int(n) * _UNIT_MS[unit]
        if m.group("round"):
            ms = _round(ms, m.group("round"), round_up)
        return ms
    if re.fullmatch(r"\d{10,13}", s):
        return int(s) if len(s) == 13 else int(s) * 1000
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise TimeRangeError(f"not a time: {text!r} (use now-6h, now/d, or 2024-01-31 12:00:00)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _round(ms: int, unit: str, up: bool) -> int:
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if unit == "s":
        start = dt.replace(microsecond=0)
        nxt = start + timedelta(seconds=1)
    elif unit == "m":
        start = dt.replace(second=0, microsecond=0)
        nxt = start + timedelta(minutes=1)
    elif unit == "h":
        start = dt.replace(minute=0, second=0, microsecond=0)
        nxt = start + timedelta(hours=1)
    elif unit == "d":
        start = dt.replace(hour=0, minute=0, second=0, microsecond=0)
        nxt = start + timedelta(days=1)
    elif unit == "w":
        start = (dt - timedelta(days=dt.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        nxt = start + timedelta(weeks=1)
    elif unit == "M":
        start = dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = (start + timedelta(days=32)).replace(day=1)
    else:
        start = dt.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = start.replace(year=start.year + 1)
    out = nxt if up else start
    return int(out.timestamp() * 1000) - (1 if up else 0)


# Steps a person reads easily; the computed interval is rounded to the nearest of
# these (by ratio), as Grafana rounds, so a panel gets between ~0.5× and ~2× its
# pixel count in points.
NICE_INTERVALS_MS = (
    1, 2, 5, 10, 20, 50, 100, 200, 500,
    1000, 2000, 5000, 10_000, 15_000, 20_000, 30_000,
    60_000, 120_000, 300_000, 600_000, 900_000, 1_200_000, 1_800_000,
    3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000,
    86_400_000, 604_800_000, 2_592_000_000, 31_536_000_000,
)

DEFAULT_SCRAPE_INTERVAL_MS = 15_000
# Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS_PER_SERIES = 11_000


def round_interval(ms: float) -> int:
    if ms <= NICE_INTERVALS_MS[0]:
        return NICE_INTERVALS_MS[0]
    for lo, hi in itertools.pairwise(NICE_INTERVALS_MS):
        if lo <= ms <= hi:
            return lo if ms * ms < lo * hi else hi  # nearer by ratio (geometric mean)
    return NICE_INTERVALS_MS[-1]


def calculate_interval(span_ms: int, max_data_points: int, min_interval_ms: int = 0) -> int:
    """``$__interval`` for a panel: the span over its points, made readable, never
    below the panel's minimum interval nor above Prometheus's point limit."""
    points = min(max(int(max_data_points), 1), MAX_POINTS_PER_SERIES)
    interval = round_interval(span_ms / points)
    if span_ms / interval > MAX_POINTS_PER_SERIES:
        interval = next((n for n in NICE_INTERVALS_MS if span_ms / n <= MAX_POINTS_PER_SERIES),
                        NICE_INTERVALS_MS[-1])
    return max(interval, int(min_interval_ms), 1)


def rate_interval(interval_ms: int, scrape_interval_ms: int = DEFAULT_SCRAPE_INTERVAL_MS) -> int:
    """``$__rate_interval``: wide enough that ``rate()`` always sees two samples."""
    return max(interval_ms + scrape_interval_ms, 4 * scrape_interval_ms)


def interval_ms(text: str) -> int:
    """A panel/target ``interval`` such as ``1m`` or ``>30s`` (``>`` means "at least",
    which is what every minimum interval is for us)."""
    s = text.strip().lstrip(">")
    if not s:
        return 0
    return parse_duration_ms(s)


RELATIVE_CHOICES = (
    ("now-5m", "Last 5 minutes"), ("now-15m", "Last 15 minutes"), ("now-30m", "Last 30 minutes"),
    ("now-1h", "Last 1 hour"), ("now-3h", "Last 3 hours"), ("now-6h", "Last 6 hours"),
    ("now-12h", "Last 12 hours"), ("now-24h", "Last 24 hours"), ("now-2d", "Last 2 days"),
    ("now-7d", "Last 7 days"), ("now-30d", "Last 30 days"),
)
REFRESH_CHOICES = ("", "5s", "10s", "30s", "1m", "5m", "15m", "30m", "1h")


def describe(raw_from: str, raw_to: str) -> str:
    """The picker's label: "Last 6 hours", or the two ends as written."""
    if raw_to == "now":
        for value, label in RELATIVE_CHOICES:
            if value == raw_from:
                return label
    return f"{raw_from} to {raw_to}"
