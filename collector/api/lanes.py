"""Where an API handler runs: on the event loop, or in the thread pool.

Handing a request to a worker thread and back costs about 0.2 ms of CPU and
latency (two thread wake-ups and GIL hand-overs), as much as a small query
itself; a dashboard sends hundreds of small queries. The event loop, though,
must never block on a long query: it serves every other request, the probes
and remote-write among them. So a query runs inline only when the last run of
the same query shape (same expression, range length and step) was quick, and
even then under a short engine timeout (``budget_s``): a query that has
become slow stops at that deadline and runs again in the pool, with the full
timeout. Anything never seen, or seen slow, runs in the pool::

    lanes = Lanes()
    key = lanes.key("query_range", params)
    if lanes.quick(key): ...run inline with timeout_s=lanes.budget_s...
    lanes.record(key, seconds)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# handler name -> parameters whose exact value makes two requests the same shape;
# start/end are folded into their difference (a refreshing panel moves both).
_SHAPE_PARAMS: dict[str, tuple[str, ...]] = {
    "query": ("query", "limit", "stats", "lookback_delta"),
    "query_range": ("query", "step", "limit", "stats", "lookback_delta"),
}


class Lanes:
    """Remembers how long each query shape took, to tell quick ones from the rest.

        lanes = Lanes(inline_max_s=0.002, budget_s=0.025)
    """

    def __init__(self, inline_max_s: float = 0.002, budget_s: float = 0.025, max_shapes: int = 4096):
        # A shape whose last run took less than this runs inline next time.
        self.inline_max_s = inline_max_s
        # The engine timeout of an inline run: the longest the event loop can be held
        # by a query that was quick last time and is not any more.
        self.budget_s = budget_s
        self.max_shapes = max_shapes
        self._last: dict[tuple, float] = {}

    def key(self, handler: str, params: Mapping[str, Sequence[str]]) -> tuple | None:
        """The shape of a request, or None for handlers that always run in the pool."""
        names = _SHAPE_PARAMS.get(handler)
        if names is None:
            return None
        parts: list[object] = [handler]
        for name in names:
            v = params.get(name)
            parts.append(tuple(v) if v else None)
        if handler == "query_range":
            parts.append(_span(params))
        return tuple(parts)

    def quick(self, key: tuple | None) -> bool:
        return key is not None and self._last.get(key, math.inf) < self.inline_max_s

    def record(self, key: tuple | None, seconds: float) -> None:
        if key is None:
            return
        if len(self._last) >= self.max_shapes and key not in self._last:
            self._last.clear()  # bounded; the shapes in use are relearned at their next run
        self._last[key] = seconds


def _span(params: Mapping[str, Sequence[str]]) -> object:
    start, end = params.get("start"), params.get("end")
    if not start or not end:
        return None
    try:
        return round(float(end[0]) - float(start[0]), 3)
    except ValueError:
        return (start[0], end[0])  # RFC 3339: the same text only
