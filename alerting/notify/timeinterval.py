"""Alertmanager time intervals: when a route is muted or active.

A ``TimeInterval`` is a conjunction of optional constraints (times of day,
weekdays, days of month, months, years) evaluated in a location; an interval
definition (``time_intervals:`` / ``mute_time_intervals:``) is a list of them,
and an instant is inside it when any one contains it::

    ti = TimeInterval.parse({"weekdays": ["saturday:sunday"], "location": "UTC"})
    ti.contains(1714816800.0)   # a Saturday -> True

The text forms and validation messages follow Alertmanager; ranges are
inclusive except times of day, which include the start and exclude the end.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DAYS = {"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5,
         "saturday": 6}
_DAYS_INV = {v: k for k, v in _DAYS.items()}
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS_INV = {v: k for k, v in _MONTHS.items()}
_TIME_RE = re.compile(r"^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)")


class TimeIntervalError(ValueError):
    """A time interval definition is invalid; the message says which part."""


def _range(text: Any, member) -> tuple[int, int]:
    if not isinstance(text, str):
        text = str(text)
    s = text.lower()
    if ":" in s:
        parts = s.split(":")
        if len(parts) != 2:
            raise TimeIntervalError(f"couldn't parse range {s}, invalid format")
        return member(parts[0]), member(parts[1])
    v = member(s)
    return v, v


def _int(s: str) -> int:
    try:
        return int(s, 10)
    except ValueError:
        raise TimeIntervalError(f'strconv.Atoi: parsing "{s}": invalid syntax') from None


def _weekday(s: str) -> int:
    if s not in _DAYS:
        raise TimeIntervalError(f"{s} is not a valid weekday")
    return _DAYS[s]


def _month(s: str) -> int:
    if s in _MONTHS:
        return _MONTHS[s]
    try:
        return int(s, 10)
    except ValueError:
        raise TimeIntervalError(f"{s} is not a valid month") from None


def _parse_time(s: str) -> int:
    if not isinstance(s, str) or not _TIME_RE.match(s):
        raise TimeIntervalError(f"couldn't parse timestamp {s}, invalid format")
    h, m = s.split(":")
    return int(h) * 60 + int(m)


@dataclass(frozen=True, slots=True)
class TimeInterval:
    """One set of constraints; ``None`` means unconstrained."""

    times: tuple[tuple[int, int], ...] | None = None  # (start minute, end minute)
    weekdays: tuple[tuple[int, int], ...] | None = None  # 0 = Sunday
    days_of_month: tuple[tuple[int, int], ...] | None = None  # may be negative
    months: tuple[tuple[int, int], ...] | None = None
    years: tuple[tuple[int, int], ...] | None = None
    location: str | None = None  # IANA name, "UTC" or "Local"

    @classmethod
    def parse(cls, d: Mapping[str, Any]) -> TimeInterval:
        if not isinstance(d, Mapping):
            raise TimeIntervalError("a time interval must be a mapping")
        known = {"times", "weekdays", "days_of_month", "months", "years", "location"}
        for k in d:
            if k not in known:
                raise TimeIntervalError(f"field {k} not found in type timeinterval.plain")

        def lst(key) -> list | None:
            v = d.get(key)
            if v is None:
                return None
            if not isinstance(v, list):
                raise TimeIntervalError(f"{key} must be a list")
            return v

        times = None
        if (raw := lst("times")) is not None:
            out = []
            for tr in raw:
                if not isinstance(tr, Mapping):
                    raise TimeIntervalError("times entries need start_time and end_time")
                extra = set(tr) - {"start_time", "end_time"}
                if extra:
                    raise TimeIntervalError(f"field {min(extra)} not found in type timeinterval.yamlTimeRange")
                st, et = tr.get("start_time") or "", tr.get("end_time") or ""
                if not st or not et:
                    raise TimeIntervalError("both start and end times must be provided")
                a, b = _parse_time(st), _parse_time(et)
                if a >= b:
                    raise TimeIntervalError("start time cannot be equal or greater than end time")
                out.append((a, b))
            times = tuple(out)

        weekdays = None
        if (raw := lst("weekdays")) is not None:
            out = []
            for w in raw:
                a, b = _range(w, _weekday)
                if a > b:
                    raise TimeIntervalError("start day cannot be before end day")
                out.append((a, b))
            weekdays = tuple(out)

        dom = None
        if (raw := lst("days_of_month")) is not None:
            out = []
            for w in raw:
                a, b = _range(w, _int)
                for v in (a, b):
                    if v == 0 or v < -31 or v > 31:
                        raise TimeIntervalError(f"{v} is not a valid day of the month: out of range")
                if a < 0 and b > 0:
                    raise TimeIntervalError("end day must be negative if start day is negative")
                # Every month has at least 28 days; check the order there.
                ca = 28 + a if a < 0 else a
                cb = 28 + b if b < 0 else b
                if ca > cb:
                    raise TimeIntervalError(f"end day {b} is always before start day {a}")
                out.append((a, b))
            dom = tuple(out)

        months = None
        if (raw := lst("months")) is not None:
            out = []
            for w in raw:
                # Alertmanager accepts any month number here (one outside 1-12
                # simply never matches); so do we, so its configs load unchanged.
                a, b = _range(w, _month)
                if a > b:
                    raise TimeIntervalError(
                        f"end month {_MONTHS_INV.get(b, '')} is before start month {_MONTHS_INV.get(a, '')}")
                out.append((a, b))
            months = tuple(out)

        years = None
        if (raw := lst("years")) is not None:
            out = []
            for w in raw:
                a, b = _range(w, _int)
                if a > b:
                    raise TimeIntervalError(f"end year {b} is before start year {a}")
                out.append((a, b))
            years = tuple(out)

        loc = d.get("location")
        if loc is not None:
            if not isinstance(loc, str):
                raise TimeIntervalError("location must be a string")
            _zone(loc)  # validate now, not at notification time
        return cls(times, weekdays, dom, months, years, loc)

    def to_dict(self) -> dict[str, Any]:
        """The YAML form, as Alertmanager prints it back."""
        out: dict[str, Any] = {}

        def rng(a, b, names=None):
            if names:
                return names[a] if a == b else f"{names[a]}:{names[b]}"
            return str(a) if a == b else f"{a}:{b}"

        if self.times is not None:
            out["times"] = [
                {"start_time": f"{a // 60:02d}:{a % 60:02d}", "end_time": f"{b // 60:02d}:{b % 60:02d}"}
                for a, b in self.times
            ]
        if self.weekdays is not None:
            out["weekdays"] = [rng(a, b, _DAYS_INV) for a, b in self.weekdays]
        if self.days_of_month is not None:
            out["days_of_month"] = [rng(a, b) for a, b in self.days_of_month]
        if self.months is not None:
            out["months"] = [
                rng(a, b, _MONTHS_INV) if a in _MONTHS_INV and b in _MONTHS_INV else rng(a, b)
                for a, b in self.months
            ]
        if self.years is not None:
            out["years"] = [rng(a, b) for a, b in self.years]
        if self.location is not None:
            out["location"] = self.location
        return out

    def contains(self, epoch_seconds: float) -> bool:
        t = datetime.fromtimestamp(epoch_seconds, tz=_zone(self.location or "UTC"))
        if self.times is not None:
            minute = t.hour * 60 + t.minute
            if not any(a <= minute < b for a, b in self.times):
                return False
        if self.days_of_month is not None:
            dim = calendar.monthrange(t.year, t.month)[1]
            ok = False
            for a, b in self.days_of_month:
                begin = dim + a + 1 if a < 0 else a
                end = dim + b + 1 if b < 0 else b
                if begin > dim:
                    continue
                begin = max(-dim, min(begin, dim))
                end = max(-dim, min(end, dim))
                if begin <= t.day <= end:
                    ok = True
                    break
            if not ok:
                return False
        if self.months is not None and not any(a <= t.month <= b for a, b in self.months):
            return False
        if self.weekdays is not None:
            wd = (t.weekday() + 1) % 7  # Python: Monday=0; Go: Sunday=0
            if not any(a <= wd <= b for a, b in self.weekdays):
                return False
        return self.years is None or any(a <= t.year <= b for a, b in self.years)


_ZONES: dict[str, Any] = {}


def _zone(name: str):
    z = _ZONES.get(name)
    if z is not None:
        return z
    if name == "UTC" or name == "":
        z = UTC
    elif name == "Local":
        z = datetime.now().astimezone().tzinfo
    else:
        try:
            z = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise TimeIntervalError(f"unknown time zone {name}") from None
    _ZONES[name] = z
    return z


def contains_any(intervals: Sequence[TimeInterval], epoch_seconds: float) -> bool:
    return any(ti.contains(epoch_seconds) for ti in intervals)
