"""Go's ``time.Time`` (UTC) and ``time.Duration`` as template values.

Templates call their methods the Go way (``(now | toTime).Format "2006"``,
``.UnixMilli``, ``(1800 | toDuration).String``) and print them as Go prints
them (``2015-06-23 13:19:44.128 +0000 UTC``, ``30m0s``)::

    GoTime.from_unix_ms(0).Format("Mon Jan 2 15:04:05 2006")   # 'Thu Jan 1 00:00:00 1970'

Layout formatting itself (``format_wall_clock``) takes any zone: notification
templates (``alerting.notify.gotimefmt``) format their zoned times with it too.
"""

from __future__ import annotations

import datetime as _dt

from alerting.template.gofmt import GoStringer, format_float

__all__ = ["GoDuration", "GoMonth", "GoTime", "GoWeekday", "format_layout", "format_wall_clock"]

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)

NANOSECOND = 1
MICROSECOND = 1000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


class GoMonth(int, GoStringer):
    """time.Month: prints as its English name, ``%d`` prints the number."""

    go_type = "time.Month"

    def __str__(self) -> str:
        return _MONTHS[self - 1] if 1 <= self <= 12 else f"%!Month({int(self)})"


class GoWeekday(int, GoStringer):
    """time.Weekday: Sunday is 0."""

    go_type = "time.Weekday"

    def __str__(self) -> str:
        return _DAYS[self] if 0 <= self <= 6 else f"%!Weekday({int(self)})"


def _frac(v: int, prec: int) -> tuple[str, int]:
    """Go's fmtFrac: the fraction of v/10**prec with trailing zeros dropped."""
    digits = []
    printed = False
    for _ in range(prec):
        d = v % 10
        printed = printed or d != 0
        if printed:
            digits.append(str(d))
        v //= 10
    s = "".join(reversed(digits))
    return ("." + s if s else ""), v


class GoDuration(int, GoStringer):
    """time.Duration: an int of nanoseconds printing as ``1h2m3.5s``."""

    go_type = "time.Duration"

    def String(self) -> str:
        return str(self)

    def __str__(self) -> str:
        d = int(self)
        if d == 0:
            return "0s"
        neg = d < 0
        u = -d if neg else d
        if u < SECOND:
            if u < MICROSECOND:
                s = f"{u}ns"
            elif u < MILLISECOND:
                f, w = _frac(u, 3)
                s = f"{w}{f}µs"
            else:
                f, w = _frac(u, 6)
                s = f"{w}{f}ms"
        else:
            f, w = _frac(u, 9)
            s = f"{w % 60}{f}s"
            w //= 60
            if w > 0:
                s = f"{w % 60}m" + s
                w //= 60
                if w > 0:
                    s = f"{w}h" + s
        return ("-" if neg else "") + s

    def Seconds(self) -> float:
        return int(self) / SECOND

    def Minutes(self) -> float:
        return int(self) / MINUTE

    def Hours(self) -> float:
        return int(self) / HOUR

    def Milliseconds(self) -> int:
        return int(int(self) / MILLISECOND)


class GoTime(GoStringer):
    """A UTC ``time.Time`` with nanosecond precision."""

    __slots__ = ("_ns",)
    go_type = "*time.Time"

    def __init__(self, unix_ns: int):
        self._ns = int(unix_ns)

    @classmethod
    def from_unix_ms(cls, ms: int) -> GoTime:
        return cls(int(ms) * MILLISECOND)

    def _dt(self) -> _dt.datetime:
        sec, _ = divmod(self._ns, SECOND)
        return _EPOCH + _dt.timedelta(seconds=sec)

    def _nanos(self) -> int:
        return self._ns % SECOND

    def __eq__(self, other) -> bool:
        return isinstance(other, GoTime) and other._ns == self._ns

    def __hash__(self) -> int:
        return hash(self._ns)

    def __str__(self) -> str:
        return self.Format("2006-01-02 15:04:05.999999999 -0700 MST")

    # --- methods templates call --------------------------------------------
    def String(self) -> str:
        return str(self)

    def Format(self, layout: str) -> str:
        return format_layout(self, layout)

    def Unix(self) -> int:
        return self._ns // SECOND

    def UnixMilli(self) -> int:
        return self._ns // MILLISECOND

    def UnixMicro(self) -> int:
        return self._ns // MICROSECOND

    def UnixNano(self) -> int:
        return self._ns

    def Add(self, d) -> GoTime:
        return GoTime(self._ns + int(d))

    def Sub(self, other: GoTime) -> GoDuration:
        return GoDuration(self._ns - other._ns)

    def UTC(self) -> GoTime:
        return self

    def Year(self) -> int:
        return self._dt().year

    def Month(self) -> GoMonth:
        return GoMonth(self._dt().month)

    def Day(self) -> int:
        return self._dt().day

    def Hour(self) -> int:
        return self._dt().hour

    def Minute(self) -> int:
        return self._dt().minute

    def Second(self) -> int:
        return self._dt().second

    def Nanosecond(self) -> int:
        return self._nanos()

    def YearDay(self) -> int:
        return self._dt().timetuple().tm_yday

    def Weekday(self) -> GoWeekday:
        return GoWeekday((self._dt().weekday() + 1) % 7)

    def IsZero(self) -> bool:
        # Go's zero Time is year 1; a Unix-based value is never it
        return False

    def Before(self, other: GoTime) -> bool:
        return self._ns < other._ns

    def After(self, other: GoTime) -> bool:
        return self._ns > other._ns

    def Equal(self, other: GoTime) -> bool:
        return self._ns == other._ns


# --- layouts ----------------------------------------------------------------------

def _starts_lower(s: str) -> bool:
    return bool(s) and "a" <= s[0] <= "z"


def _next_chunk(layout: str) -> tuple[str, str | tuple, str]:
    """Go's nextStdChunk: (prefix, std code, suffix); code '' when none."""
    n = len(layout)
    i = 0
    while i < n:
        c = layout[i]
        rest = layout[i:]
        if c == "J" and rest.startswith("Jan"):
            if rest.startswith("January"):
                return layout[:i], "January", layout[i + 7 :]
            if not _starts_lower(layout[i + 3 :]):
                return layout[:i], "Jan", layout[i + 3 :]
        elif c == "M" and len(rest) >= 3:
            if rest.startswith("Mon"):
                if rest.startswith("Monday"):
                    return layout[:i], "Monday", layout[i + 6 :]
                if not _starts_lower(layout[i + 3 :]):
                    return layout[:i], "Mon", layout[i + 3 :]
            if rest.startswith("MST"):
                return layout[:i], "MST", layout[i + 3 :]
        elif c == "0":
            if len(rest) >= 2 and "1" <= rest[1] <= "6":
                return layout[:i], rest[:2], layout[i + 2 :]
            if rest.startswith("002"):
                return layout[:i], "002", layout[i + 3 :]
        elif c == "1":
            if rest.startswith("15"):
                return layout[:i], "15", layout[i + 2 :]
            return layout[:i], "1", layout[i + 1 :]
        elif c == "2":
            if rest.startswith("2006"):
                return layout[:i], "2006", layout[i + 4 :]
            return layout[:i], "2", layout[i + 1 :]
        elif c == "_":
            if len(rest) >= 2 and rest[1] == "2":
                if rest[1:5] == "2006":
                    return layout[: i + 1], "2006", layout[i + 5 :]
                return layout[:i], "_2", layout[i + 2 :]
            if rest.startswith("__2"):
                return layout[:i], "__2", layout[i + 3 :]
        elif c in "345":
            return layout[:i], c, layout[i + 1 :]
        elif c == "P" and rest.startswith("PM"):
            return layout[:i], "PM", layout[i + 2 :]
        elif c == "p" and rest.startswith("pm"):
            return layout[:i], "pm", layout[i + 2 :]
        elif c == "-":
            for tok in ("-070000", "-07:00:00", "-0700", "-07:00", "-07"):
                if rest.startswith(tok):
                    return layout[:i], tok, layout[i + len(tok) :]
        elif c == "Z":
            for tok in ("Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07"):
                if rest.startswith(tok):
                    return layout[:i], tok, layout[i + len(tok) :]
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            ch = layout[i + 1]
            j = i + 1
            while j < n and layout[j] == ch:
                j += 1
            if not (j < n and "0" <= layout[j] <= "9"):
                return layout[:i], ("frac", c, ch, j - (i + 1)), layout[j:]
        i += 1
    return layout, "", ""


def format_layout(t: GoTime, layout: str) -> str:
    """Go's Time.Format for a UTC time."""
    return format_wall_clock(t._dt(), t._nanos(), 0, "UTC", layout)


def _zone_offset(std: str, offset_s: int) -> str:
    """A ``-07...``/``Z07...`` chunk for ``offset_s`` seconds east of UTC."""
    if std.startswith("Z") and offset_s == 0:
        return "Z"
    sign = "+" if offset_s >= 0 else "-"
    a = abs(offset_s)
    hh, mm, ss = a // 3600, (a // 60) % 60, a % 60
    body = std.lstrip("Z-")
    if body == "07:00:00":
        return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"
    if body == "070000":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    return f"{sign}{hh:02d}"


def format_wall_clock(d: _dt.datetime, nanos: int, offset_s: int, zone: str, layout: str) -> str:
    """Go's Time.Format for the wall clock ``d`` (``nanos`` into its second) of a
    zone ``offset_s`` seconds east of UTC named ``zone``; shared by template
    times (always UTC) and notification times (any zone)::

        format_wall_clock(datetime(2024, 5, 1, 12), 0, 7200, "CEST", "15:04 MST")  # '12:00 CEST'
    """
    out = []
    while layout:
        prefix, std, suffix = _next_chunk(layout)
        out.append(prefix)
        if std == "":
            break
        layout = suffix
        if isinstance(std, tuple):
            _, sep, ch, ndig = std
            digits = f"{nanos:09d}"[:ndig]
            if ch == "9":
                digits = digits.rstrip("0")
                if digits:
                    out.append(sep + digits)
            else:
                out.append(sep + digits)
            continue
        if std[0] in "-Z":
            out.append(_zone_offset(std, offset_s))
            continue
        y = d.year
        hour12 = d.hour % 12 or 12
        v = {
            "2006": f"{y:04d}" if y >= 0 else f"-{-y:04d}",
            "06": f"{y % 100:02d}",
            "January": _MONTHS[d.month - 1],
            "Jan": _MONTHS[d.month - 1][:3],
            "1": str(d.month),
            "01": f"{d.month:02d}",
            "Monday": _DAYS[(d.weekday() + 1) % 7],
            "Mon": _DAYS[(d.weekday() + 1) % 7][:3],
            "2": str(d.day),
            "_2": f"{d.day:2d}",
            "02": f"{d.day:02d}",
            "__2": f"{d.timetuple().tm_yday:3d}",
            "002": f"{d.timetuple().tm_yday:03d}",
            "15": f"{d.hour:02d}",
            "3": str(hour12),
            "03": f"{hour12:02d}",
            "4": str(d.minute),
            "04": f"{d.minute:02d}",
            "5": str(d.second),
            "05": f"{d.second:02d}",
            "PM": "PM" if d.hour >= 12 else "AM",
            "pm": "pm" if d.hour >= 12 else "am",
            "MST": zone,
        }[std]
        out.append(v)
    return "".join(out)


def seconds_to_go_time(v: float) -> GoTime:
    """Prometheus's floatToTime: seconds to a millisecond-precision UTC time."""
    ns = v * 1e9
    if ns > 9.223372036854775807e18 or ns < -9.223372036854775808e18:
        raise ValueError(
            f"{format_float(v, 'g', -1)} cannot be represented as a nanoseconds timestamp since it overflows int64"
        )
    ms = int(ns) // MILLISECOND if ns >= 0 else -((-int(ns)) // MILLISECOND)
    return GoTime(ms * MILLISECOND)
