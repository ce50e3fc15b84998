"""A non-blocking limit on requests in flight.

Waiting would only move the queue into our memory; refusing at once with a
retryable status makes the sender back off and keeps latency flat::

    gate = InFlightGate(16)
    if not gate.try_acquire(): return refuse()
    try: ... finally: gate.release()
"""

from __future__ import annotations

import threading


class InFlightGate:
    """Counts requests in flight and admits at most ``limit``; thread-safe (gRPC
    handlers run in threads, HTTP ones on the event loop)."""

    __slots__ = ("_lock", "_n", "limit")

    def __init__(self, limit: int):
        self.limit = limit
        self._n = 0
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            if self._n >= self.limit:
                return False
            self._n += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._n -= 1

    @property
    def in_flight(self) -> int:
        return self._n
