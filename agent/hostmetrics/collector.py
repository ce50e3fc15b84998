"""The one-method collector contract, and the device and field filters collectors share.

A collector reads one part of the host and returns metric families; it keeps
no state beyond what its semantics need (the CPU collector remembers the last
value of each counter so that a kernel quirk cannot make it go backwards)::

    class LoadavgCollector:
        name = "loadavg"
        def collect(self, now: float) -> list[MetricFamily]: ...

``now`` is the collection time in Unix seconds, from the source's injected clock.
A collector raises ``NoDataError`` when the host lacks what it reads, and any
other exception when reading fails; ``HostMetrics`` isolates each one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import re2

from agent.hostmetrics.family import MetricFamily


@runtime_checkable
class Collector(Protocol):
    name: str

    def collect(self, now: float) -> list[MetricFamily]: ...


class DeviceFilter:
    """node-exporter's device filter: a name is ignored when it matches the
    exclude pattern, or when an include pattern is set and it does not match.
    Patterns are unanchored searches, as Go's ``MatchString``::

        DeviceFilter(exclude="^lo$").ignored("lo")  # True
    """

    __slots__ = ("_exclude", "_include")

    def __init__(self, exclude: str = "", include: str = ""):
        # An include pattern wins: node-exporter refuses both at once, we let
        # the more specific one decide.
        self._include = re2.compile(include) if include else None
        self._exclude = re2.compile(exclude) if exclude and not include else None

    def ignored(self, name: str) -> bool:
        if self._exclude is not None and self._exclude.search(name):
            return True
        return self._include is not None and not self._include.search(name)


class FieldFilter:
    """node-exporter's ``fields`` pattern (vmstat, netstat): an unanchored search
    over field names, its verdict remembered per name, since the same few hundred
    names come back in every collection::

        FieldFilter("^pgp").wanted("pgpgin")  # True
    """

    __slots__ = ("_pattern", "_verdicts")

    def __init__(self, pattern: str):
        self._pattern = re2.compile(pattern)
        self._verdicts: dict[str, bool] = {}

    def wanted(self, name: str) -> bool:
        w = self._verdicts.get(name)
        if w is None:
            w = self._verdicts[name] = self._pattern.search(name) is not None
        return w
