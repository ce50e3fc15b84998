"""Go's ``time.Time`` for notification templates: printing and layout formatting.

Alertmanager templates see ``.StartsAt`` and ``.EndsAt`` as Go times; users
write ``{{ .StartsAt.Format "2006-01-02 15:04:05" }}`` or just ``{{ .StartsAt }}``
(``2024-05-01 10:00:00.123 +0000 UTC``). ``TemplateTime`` behaves like that::

    t = TemplateTime(GoTime.parse("2024-05-01T10:00:00Z"))
    t.Format("Jan _2 15:04 MST")    # 'May  1 10:00 UTC'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from alerting.notify.wire import NS, GoTime
from alerting.template.gofmt import GoStringer
from alerting.template.gotime import format_wall_clock

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def go_format(t: GoTime, layout: str, zone_name: str | None = None) -> str:
    """Go's Time.Format in ``t``'s own zone (named by ``zone_name`` or its offset)."""
    sec, frac = divmod(t.ns + t.offset * NS, NS)
    zname = zone_name if zone_name is not None else _zone_abbrev(t.offset)
    return format_wall_clock(_EPOCH + timedelta(seconds=sec), frac, t.offset, zname, layout)


def _zone_abbrev(offset: int) -> str:
    if offset == 0:
        return "UTC"
    sign = "+" if offset > 0 else "-"
    h, m = divmod(abs(offset) // 60, 60)
    return f"{sign}{h:02d}{m:02d}" if m else f"{sign}{h:02d}"


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
