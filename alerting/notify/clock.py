"""Time for the notification pipeline, injectable so tests compress timelines.

Everything time-based (group timers, retries, rate limits, silence states,
the notification log) reads ``clock.now()`` and waits with ``clock.sleep`` or
``clock.call_at``. ``SystemClock`` is the real one; ``FakeClock`` moves only
when a test advances it, running due timers in order::

    clock = FakeClock(start=1_700_000_000.0)
    clock.call_at(clock.now() + 30, flush)
    await clock.advance(30)      # runs flush at t+30, then lets tasks settle
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Wall-clock time in epoch seconds, and timers on it."""

    def now(self) -> float: ...

    def now_ns(self) -> int: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` in the running event loop at epoch time ``when``."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock; timers run on the event loop that is running at call time."""

    def now(self) -> float:
        return time.time()

    def now_ns(self) -> int:
        return time.time_ns()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, when - time.time()), callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "seq", "when")

    def __init__(self, when: float, seq: int, callback: Callable[[], None]):
        self.when = when
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: _FakeTimer) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class FakeClock:
    """A clock that only moves when told to; timers fire during ``advance``."""

    def __init__(self, start: float = 1_700_000_000.0):
        self._now = float(start)
        self._timers: list[_FakeTimer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def now_ns(self) -> int:
        return round(self._now * 1e9)

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        t = _FakeTimer(float(when), next(self._seq), callback)
        heapq.heappush(self._timers, t)
        return t

    async def sleep(self, seconds: float) -> None:
        fut = asyncio.get_running_loop().create_future()

        def wake():
            if not fut.done():
                fut.set_result(None)

        handle = self.call_at(self._now + max(0.0, seconds), wake)
        try:
            await fut
        finally:
            handle.cancel()

    def next_due(self) -> float | None:
        """When the earliest pending timer fires (None when there is none)."""
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].when if self._timers else None

    def pending(self) -> int:
        return sum(1 for t in self._timers if not t.cancelled)

    async def settle(self, rounds: int = 20) -> None:
        """Let ready tasks run (they may schedule more work at the current time)."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer due on the way in order."""
        target = self._now + seconds
        await self.settle()
        while True:
            while self._timers and self._timers[0].cancelled:
                heapq.heappop(self._timers)
            if not self._timers or self._timers[0].when > target:
                break
            t = heapq.heappop(self._timers)
            self._now = max(self._now, t.when)
            t.callback()
            await self.settle()
        self._now = target
        await self.settle()

    def set(self, epoch_seconds: float) -> None:
        """Jump without firing timers (for setting up a scenario)."""
        self._now = float(epoch_seconds)
