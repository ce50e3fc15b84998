"""Per-query limits: samples held in memory, the deadline, cancellation.

The evaluator charges every point it holds (samples read from storage, points
of intermediate results) and releases them when a node's inputs are no longer
needed, so ``peak`` approximates what Prometheus counts as samples in memory::

    limits = QueryLimits(max_samples=50_000_000, deadline=time.monotonic() + 120)
    limits.charge(len(points))    # raises TooManySamplesError past the limit
    limits.check()                # raises QueryTimeoutError / QueryCanceledError
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextvars import ContextVar

from storage.promql.errors import QueryCanceledError, QueryTimeoutError, TooManySamplesError


class QueryLimits:
    def __init__(
        self,
        max_samples: int,
        deadline: float | None,
        cancel: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_samples = max_samples
        self.deadline = deadline
        self.cancel = cancel
        self.clock = clock
        self.current = 0
        self.peak = 0
        self.samples_read = 0

    def check(self, where: str = "expression evaluation") -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise QueryCanceledError(f"query was canceled in {where}")
        if self.deadline is not None and self.clock() > self.deadline:
            raise QueryTimeoutError(f"query timed out in {where}")

    def charge(self, n: int) -> None:
        self.current += n
        self.peak = max(self.peak, self.current)
        if self.max_samples and self.current > self.max_samples:
            raise TooManySamplesError(self.max_samples)

    def release(self, n: int) -> None:
        self.current -= n

    def read(self, n: int) -> None:
        """Samples read from storage (a statistic; they are charged separately)."""
        self.samples_read += n

    def check_cells(self, n: int) -> None:
        """Intermediate results are dense (series x steps) grids: refuse one with more
        cells than ``max_samples`` before allocating it."""
        if self.max_samples and n > self.max_samples:
            raise TooManySamplesError(self.max_samples)


# The limits of the query running in this thread, so that long inner loops can
# stop at the deadline without every function taking a parameter for it.
current: ContextVar[QueryLimits | None] = ContextVar("promql_query_limits", default=None)


def checkpoint() -> None:
    """Raise if the current query is past its deadline or canceled."""
    limits = current.get()
    if limits is not None:
        limits.check()
