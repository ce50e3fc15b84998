"""Go's ``time.Time`` for notification templates: printing and layout formatting.

Alertmanager templates see ``.StartsAt`` and ``.EndsAt`` as Go times; users
write ``{{ .StartsAt.Format "2006-01-02 15:04:05" }}`` or just ``{{ .StartsAt }}``
(``2024-05-01 10:00:00.123 +0000 UTC``). ``TemplateTime`` behaves like that::

    t = TemplateTime(GoTime.parse("2024-05-01T10:00:00Z"))
    t.Format("Jan _2 15:04 MST")    # 'May  1 10:00 UTC'
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone, tzinfo

from alerting.template.gofmt import GoStringer
from alerting.notify.wire import NS, GoTime

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MONTHS = [calendar.month_name[i] for i in range(1, 13)]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

# Layout chunks in the order Go's nextStdChunk tries them at one position.
_CHUNKS = (
    "January", "Jan", "Monday", "Mon", "MST",
    "2006", "002", "01", "02", "03", "04", "05", "06",
    "__2", "_2", "15",
    "-07:00:00", "-070000", "-07:00", "-0700", "-07",
    "Z07:00:00", "Z070000", "Z07:00", "Z0700", "Z07",
    "PM", "pm",
    "1", "2", "3", "4", "5",
)


def _fraction(layout: str, i: int) -> int:
    """Length of a fractional-seconds chunk (".000", ",999") at i, or 0."""
    if layout[i] not in ".," or i + 1 >= len(layout) or layout[i + 1] not in "09":
        return 0
    ch = layout[i + 1]
    j = i + 1
    while j < len(layout) and layout[j] == ch:
        j += 1
    # Go: the run must not be followed by another digit.
    if j < len(layout) and layout[j].isdigit():
        return 0
    return j - i


def go_format(t: GoTime, layout: str, zone_name: str | None = None) -> str:
    local_ns = t.ns + t.offset * NS
    sec, frac = divmod(local_ns, NS)
    dt = _EPOCH + timedelta(seconds=sec)
    off = t.offset
    zname = zone_name if zone_name is not None else _zone_abbrev(off)
    out: list[str] = []
    i = 0
    n = len(layout)
    while i < n:
        flen = _fraction(layout, i)
        if flen:
            digits = flen - 1
            s = f"{frac:09d}"[:digits]
            if layout[i + 1] == "9":
                s = s.rstrip("0")
                out.append(layout[i] + s if s else "")
            else:
                out.append(layout[i] + s)
            i += flen
            continue
        for c in _CHUNKS:
            if layout.startswith(c, i):
                # "Jan"/"Mon" followed by a lowercase letter is plain text in Go.
                if c in ("Jan", "Mon") and layout[i + 3:i + 4].islower():
                    continue
                out.append(_chunk(c, dt, frac, off, zname))
                i += len(c)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)


def _zone_abbrev(offset: int) -> str:
    if offset == 0:
        return "UTC"
    sign = "+" if offset > 0 else "-"
    h, m = divmod(abs(offset) // 60, 60)
    return f"{sign}{h:02d}{m:02d}" if m else f"{sign}{h:02d}"


def _chunk(c: str, dt: datetime, frac: int, off: int, zname: str) -> str:
    if c == "January":
        return _MONTHS[dt.month - 1]
    if c == "Jan":
        return _MONTHS[dt.month - 1][:3]
    if c == "Monday":
        return _DAYS[dt.weekday()]
    if c == "Mon":
        return _DAYS[dt.weekday()][:3]
    if c == "MST":
        return zname
    if c == "2006":
        return f"{dt.year:04d}"
    if c == "06":
        return f"{dt.year % 100:02d}"
    if c == "002":
        return f"{dt.timetuple().tm_yday:03d}"
    if c == "__2":
        return f"{dt.timetuple().tm_yday:>3d}"
    if c == "01":
        return f"{dt.month:02d}"
    if c == "1":
        return str(dt.month)
    if c == "02":
        return f"{dt.day:02d}"
    if c == "_2":
        return f"{dt.day:>2d}"
    if c == "2":
        return str(dt.day)
    if c == "15":
        return f"{dt.hour:02d}"
    h12 = dt.hour % 12 or 12
    if c == "03":
        return f"{h12:02d}"
    if c == "3":
        return str(h12)
    if c == "04":
        return f"{dt.minute:02d}"
    if c == "4":
        return str(dt.minute)
    if c == "05":
        return f"{dt.second:02d}"
    if c == "5":
        return str(dt.second)
    if c == "PM":
        return "PM" if dt.hour >= 12 else "AM"
    if c == "pm":
        return "pm" if dt.hour >= 12 else "am"
    # zones
    if c.startswith("Z") and off == 0:
        return "Z"
    sign = "+" if off >= 0 else "-"
    a = abs(off)
    hh, mm, ss = a // 3600, (a // 60) % 60, a % 60
    body = c.lstrip("Z-")
    if body == "07:00:00":
        return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"
    if body == "070000":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    return f"{sign}{hh:02d}"


class TemplateTime(GoStringer):
    """A Go ``time.Time`` as seen from templates."""

    go_type = "time.Time"
    __slots__ = ("_t", "_zone")

    def __init__(self, t: GoTime, zone: str | None = None):
        self._t = t
        self._zone = zone

    def __str__(self) -> str:
        # Go's Time.String: "2006-01-02 15:04:05.999999999 -0700 MST"
        return go_format(self._t, "2006-01-02 15:04:05.999999999 -0700 MST", self._zone)

    def Format(self, layout: str) -> str:
        return go_format(self._t, layout, self._zone)

    def Unix(self) -> int:
        return self._t.ns // NS

    def UnixMilli(self) -> int:
        return self._t.ns // 1_000_000

    def UnixNano(self) -> int:
        return self._t.ns

    def UTC(self) -> TemplateTime:
        return TemplateTime(GoTime(self._t.ns, 0))

    def IsZero(self) -> bool:
        return self._t.is_zero()

    def Year(self) -> int:
        return self._local().year

    def Hour(self) -> int:
        return self._local().hour

    def Minute(self) -> int:
        return self._local().minute

    def _local(self) -> datetime:
        return _EPOCH + timedelta(seconds=(self._t.ns + self._t.offset * NS) // NS)

    def In(self, tz: tzinfo) -> TemplateTime:
        return in_zone(self._t, tz)

    @property
    def gotime(self) -> GoTime:
        return self._t

    def __eq__(self, other) -> bool:
        return isinstance(other, TemplateTime) and other._t.ns == self._t.ns

    def __hash__(self) -> int:
        return hash(self._t.ns)


def in_zone(t: GoTime, tz: tzinfo) -> TemplateTime:
    dt = datetime.fromtimestamp(t.ns // NS, tz=tz)
    off = int(dt.utcoffset().total_seconds())
    return TemplateTime(GoTime(t.ns, off), dt.tzname())
