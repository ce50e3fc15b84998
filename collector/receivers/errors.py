"""Errors that end an ingestion request, and the mapping from storage errors.

Receivers raise :class:`IngestError` anywhere in decoding; the HTTP and gRPC
front ends turn it into a status, a message and, for retryable ones,
``Retry-After``. Storage says "not now" with ``StorageFullError`` /
``OverloadedError``; :func:`append_batch` turns those into retryable errors::

    result = append_batch(storage, batch, overload_status=429)
"""

from __future__ import annotations

from storage.interface import (
    Appendable,
    AppendResult,
    OverloadedError,
    SampleBatch,
    StorageFullError,
)


class IngestError(Exception):
    """A request-level failure: HTTP ``status``, a human ``message``, a metric ``reason``."""

    def __init__(self, status: int, message: str, reason: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after else {}


def append_batch(appendable: Appendable, batch: SampleBatch, overload_status: int) -> AppendResult:
    """Append, turning storage back-pressure into retryable IngestErrors.

    ``overload_status`` is 429 or 503: remote-write 1.0 senders retry 5xx but
    drop on 429 unless configured otherwise, so remote-write asks for 503.
    """
    try:
        return appendable.append(batch)
    except StorageFullError as e:
        raise IngestError(
            503, f"storage is full, retry later: {e}", "storage_full", e.retry_after_seconds
        ) from None
    except OverloadedError as e:
        raise IngestError(
            overload_status, f"storage is overloaded, retry later: {e}", "overload",
            e.retry_after_seconds,
        ) from None


def describe_rejects(result: AppendResult, extra: dict[str, int] | None = None,
                     examples: list[str] | None = None) -> str:
    """One line for a 400 body: counts by reason, then a few examples."""
    counts = {r.value: n for r, n in result.rejected.items() if n}
    for k, n in (extra or {}).items():
        if n:
            counts[k] = counts.get(k, 0) + n
    total = sum(counts.values())
    msg = f"{total} samples not stored (" + ", ".join(f"{k}: {n}" for k, n in sorted(counts.items())) + ")"
    ex = list(examples or []) + list(result.errors)
    if ex:
        msg += "; " + "; ".join(ex[: AppendResult.MAX_ERRORS])
    return msg
