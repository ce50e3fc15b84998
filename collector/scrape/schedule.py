"""When a target is scraped, and which timestamp its samples get.

A loop scrapes on a fixed monotonic schedule (its phase comes from
``Target.offset``). The wall-clock timestamp of a scrape is the *scheduled*
time when the loop woke up within a small tolerance of it, else the actual
time: Prometheus's ``AlignScrapeTimestamps``. Timer jitter then never reaches
the stored timestamps, which keeps their deltas exactly one interval (better
compression, exact ``rate()`` windows)::

    ts_ns, anchor_ns = align_ns(now_ns, anchor_ns, interval_ns, tolerance_ns)
    tick = next_tick(tick, interval, loop.time())

Everything is in integer nanoseconds so that adding intervals never drifts
and the millisecond timestamp is exact.
"""

from __future__ import annotations

import math

# Prometheus's default is 2 ms (``--scrape.timestamp-tolerance``), clamped to
# 1% of the interval. Python's timers on a busy machine wake up later than Go's
# (3-6 ms late is common here), which would leave most timestamps unaligned;
# 25 ms (still at most 1% of the interval: 25 ms at 15 s) keeps them aligned.
DEFAULT_TIMESTAMP_TOLERANCE = 0.025


def align_ns(now_ns: int, anchor_ns: int, interval_ns: int, tolerance_ns: int) -> tuple[int, int]:
    """(timestamp, new anchor) for a scrape starting at ``now_ns``; ``anchor_ns``
    is a scheduled time of this loop (the first one, then what this returned)."""
    tol = min(interval_ns // 100, tolerance_ns)
    if now_ns < anchor_ns - tol:
        return now_ns, now_ns  # the wall clock stepped back: start a new schedule here
    if now_ns - anchor_ns >= interval_ns:  # ticks were skipped (or the clock jumped ahead)
        anchor_ns += (now_ns - anchor_ns) // interval_ns * interval_ns
    if now_ns - anchor_ns <= tol:
        return anchor_ns, anchor_ns
    return now_ns, anchor_ns


def next_tick(tick: float, interval: float, now: float) -> float:
    """The first scheduled time after ``tick`` that is not in the past: a loop that
    fell behind skips the missed ticks but keeps its phase."""
    tick += interval
    if tick < now:
        tick += math.ceil((now - tick) / interval) * interval
    return tick
