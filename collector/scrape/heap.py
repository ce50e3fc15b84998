"""Giving the heap memory that scrapes freed back to the operating system.

Every scrape allocates and frees about twice its body in short-lived buffers
(the joined response, its text, numpy index arrays, the series texts). glibc's
``malloc`` keeps freed memory for reuse instead of returning it: each worker
thread has its own arena, and once a large block was freed, blocks of that
size come from the arenas instead of their own mappings (the dynamic mmap
threshold). Across a few workers and 100k-line targets the process then holds
tens of MiB of free heap: after a 30-second run scraping ~25k series, half of
the heap was free. ``malloc_trim(0)`` hands the free pages of every arena back
(≈0.3-1 ms for a 60 MiB heap, 2-14 ms for 300 MiB; the GIL is released). Go's
runtime does the same with its background scavenger, so this is also what
makes resident memory comparable with Prometheus's.

The trimmer calls it from the scrape worker after a scrape once enough body
bytes went through since the last call, not more often than
``min_interval``, and never for more than ``max_share`` of the time (a trim
that took 5 ms waits at least 0.5 s for the next at 1%)::

    trimmer = HeapTrimmer()                  # every 4 MiB of bodies, at most once a second
    trimmer.processed(len(body))             # after each scrape; True when it trimmed

Where the C library has no ``malloc_trim`` (musl, macOS), ``HeapTrimmer``
does nothing (``available`` is False).
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable


def _libc_malloc_trim() -> Callable[[int], int] | None:
    # The symbols the process already has (dlopen(NULL)): no search for the
    # library file, which on Linux would run ``ldconfig`` in a subprocess.
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


class HeapTrimmer:
    """Calls ``malloc_trim(0)`` after enough scraped bytes (see the module doc).

        trimmer = HeapTrimmer(every_bytes=4 << 20, min_interval=1.0)
        if trimmer.processed(body_size): ...    # it trimmed just now

    ``trim`` and ``clock`` are injectable for tests; thread-safe (the scrape
    workers share one)."""

    __slots__ = (
        "_clock", "_lock", "_next", "_on_trim", "_pending", "_trim", "every_bytes", "max_share", "min_interval", "trims",
    )

    def __init__(
        self,
        every_bytes: int = 4 << 20,
        min_interval: float = 1.0,
        max_share: float = 0.01,
        trim: Callable[[int], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_trim: Callable[[], None] | None = None,
    ):
        """``every_bytes``: body bytes processed between trims; ``min_interval``
        (seconds): the least time between two; ``max_share``: the largest
        fraction of (clock) time spent trimming; ``trim``: default the C
        library's ``malloc_trim``; ``on_trim``: called after each (telemetry)."""
        self.every_bytes = every_bytes
        self.min_interval = min_interval
        self.max_share = max_share
        self._trim = trim if trim is not None else _libc_malloc_trim()
        self._clock = clock
        self._on_trim = on_trim
        self._pending = 0
        self._next = float("-inf")  # clock time from which the next trim may run
        self._lock = threading.Lock()
        self.trims = 0

    @property
    def available(self) -> bool:
        return self._trim is not None

    def processed(self, nbytes: int) -> bool:
        """Count ``nbytes`` of scraped body; trim when due. True when it trimmed."""
        if self._trim is None:
            return False
        with self._lock:
            self._pending += max(0, nbytes)
            now = self._clock()
            if self._pending < self.every_bytes or now < self._next:
                return False
            self._pending = 0
            self._next = now + self.min_interval
            self.trims += 1
        # Outside the lock: the other workers need not wait for the trim.
        self._trim(0)
        took = self._clock() - now
        if self.max_share > 0 and took > self.min_interval * self.max_share:
            # A big, fragmented heap makes trims slow: space them out.
            with self._lock:
                self._next = max(self._next, now + took / self.max_share)
        if self._on_trim is not None:
            self._on_trim()
        return True
