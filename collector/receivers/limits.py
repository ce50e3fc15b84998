"""Limits every ingestion receiver enforces, in one config section.

A request that breaks a size limit is refused whole with a 4xx naming the
limit; a series that breaks a label limit is dropped and counted, the rest of
its request is stored; too many requests at once are refused with a retryable
status and ``Retry-After``::

    limits = IngestLimits(max_body_bytes=10 << 20, max_in_flight_requests=8)
    router = remote_write.router(storage, limits)
"""

from __future__ import annotations

from pydantic import Field

from spyglass.configtypes import ConfigModel
from storage.labels import LabelLimits


class IngestLimits(ConfigModel):
    """Size, concurrency and label limits of the remote-write, OTLP and InfluxDB receivers."""

    # Largest request body accepted as sent on the wire (compressed), in bytes.
    # Checked against Content-Length before reading, and again while reading.
    # Beyond it: 413.
    max_body_bytes: int = Field(default=32 << 20, gt=0)
    # Largest body after decompression (snappy, gzip), in bytes. Snappy's
    # declared length is checked before anything is allocated; gzip is
    # inflated in bounded steps. Beyond it: 413.
    max_decoded_bytes: int = Field(default=128 << 20, gt=0)
    # Most series (remote-write time series, OTLP data points, line-protocol
    # lines) in one request; 0 means unlimited. Beyond it: 413.
    max_series_per_request: int = Field(default=0, ge=0)
    # Requests decoded and appended at the same time per receiver; the next one
    # is refused at once (remote-write 503, OTLP/InfluxDB 429, gRPC
    # UNAVAILABLE) with Retry-After, so that senders back off instead of
    # queueing in our memory.
    max_in_flight_requests: int = Field(default=16, gt=0)
    # Seconds a refused sender is asked to wait (Retry-After) when we are at
    # max_in_flight_requests. Storage errors carry their own delay.
    retry_after_seconds: int = Field(default=5, gt=0)
    # Most labels in one series, the metric name included; 0 means unlimited.
    max_labels_per_series: int = Field(default=0, ge=0)
    # Longest label name, in characters; 0 means unlimited.
    max_label_name_length: int = Field(default=0, ge=0)
    # Longest label value, in characters; 0 means unlimited.
    max_label_value_length: int = Field(default=0, ge=0)
    # Accept any UTF-8 metric and label names (Prometheus 3.x); False restricts
    # them to the legacy [a-zA-Z_:][a-zA-Z0-9_:]* character set.
    utf8_names: bool = True
    # Label sets remembered per receiver so that a series seen before costs a
    # dictionary lookup, not a decode and validation. 0 disables the cache.
    label_cache_size: int = Field(default=500_000, ge=0)

    def label_limits(self) -> LabelLimits:
        return LabelLimits(
            max_labels=self.max_labels_per_series,
            max_name_length=self.max_label_name_length,
            max_value_length=self.max_label_value_length,
            utf8_names=self.utf8_names,
        )
