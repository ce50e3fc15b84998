"""``remote_write`` entries, exactly as a ``prometheus.yml`` writes them.

Defaults and error wording are Prometheus's. Two Spyglass additions live in
``queue_config`` because Prometheus has no persistent queue of its own (it
re-reads its WAL): ``max_disk_bytes`` and ``when_full``::

    RemoteWriteConfig.model_validate({"url": "http://mimir:9009/api/v1/push"})
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from collector.relabel.config import RelabelConfig, ValidationScheme, check_rules, reject_null_rules
from spyglass.configtypes import ConfigModel, Duration, HTTPClientConfig

PROTOBUF_V1 = "prometheus.WriteRequest"
PROTOBUF_V2 = "io.prometheus.write.v2.Request"

# Headers a user may not set (Prometheus's reserved list).
RESERVED_HEADERS = frozenset({
    "host", "content-encoding", "content-length", "content-type", "user-agent", "connection",
    "keep-alive", "proxy-authenticate", "proxy-authorization", "www-authenticate",
    "accept-encoding", "x-prometheus-remote-write-version", "x-prometheus-remote-read-version",
    "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
})

# Prometheus keys Spyglass does not implement, with the harmless values.
_UNSUPPORTED_RW_KEYS: dict[str, tuple[Any, ...]] = {
    "sigv4": (),
    "azuread": (),
    "google_iam": (),
    "oauth2": (),
    "proxy_connect_header": ({},),
    "round_robin_dns": (False,),
    "failed_request_logging": (False,),
    # Spyglass stores no native histograms, so there are none to send either way.
    "send_native_histograms": (True, False),
}


class QueueConfig(ConfigModel):
    """How a remote-write queue batches, shards, retries and buffers."""

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#remote_write
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/#remote_write"

    capacity: int = Field(
        10000, description="Samples buffered in memory per shard before reading more from disk."
    )
    max_shards: int = Field(50, description="Most concurrent senders.")
    min_shards: int = Field(1, description="Fewest concurrent senders (also the starting number).")
    max_samples_per_send: int = Field(2000, description="Most samples in one request.")
    batch_send_deadline: Duration = Field(
        5.0, description="Longest a sample waits for its batch to fill before it is sent."
    )
    min_backoff: Duration = Field(0.03, description="First retry delay after a recoverable error.")
    max_backoff: Duration = Field(5.0, description="Retry delays double up to this.")
    retry_on_http_429: bool = Field(
        False,
        description="Retry on 429 Too Many Requests (honouring Retry-After); else 429 batches are dropped and counted.",
    )
    sample_age_limit: Duration = Field(
        0.0, description="Drop (and count) samples older than this when sending; 0 = no limit."
    )
    # --- Spyglass additions: the on-disk queue ---------------------------------
    max_disk_bytes: int = Field(
        1 << 30, ge=1 << 16, description="Spyglass: most bytes the on-disk queue may hold."
    )
    when_full: Literal["drop_oldest", "refuse"] = Field(
        "drop_oldest",
        description=(
            "Spyglass: when the on-disk queue is full, drop its oldest segment (counted, like "
            "Prometheus losing data past its WAL) or refuse new appends with a retryable error."
        ),
    )

    @model_validator(mode="after")
    def _check(self):
        if self.max_shards <= 0:
            raise ValueError("remote write queue max_shards must be positive")
        if self.min_shards <= 0:
            raise ValueError("remote write queue min_shards must be positive")
        if self.min_shards > self.max_shards:
            raise ValueError("remote write queue min_shards must not be greater than max_shards")
        if self.max_samples_per_send <= 0:
            raise ValueError("remote write queue max_samples_per_send must be positive")
        if self.capacity <= 0:
            raise ValueError("remote write queue capacity must be positive")
        if self.max_backoff < self.min_backoff:
            raise ValueError("remote write queue max_backoff must not be less than min_backoff")
        return self


class MetadataConfig(ConfigModel):
    """Sending metric metadata (type, help, unit) with remote-write 1.0."""

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#remote_write
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/#remote_write"

    send: bool = Field(True, description="Send metadata at all.")
    send_interval: Duration = Field(60.0, description="How often the full metadata is sent.")
    max_samples_per_send: int = Field(2000, gt=0, description="Most metadata entries in one request.")


class RemoteWriteConfig(HTTPClientConfig):
    """One ``remote_write`` entry; the HTTP client block is inline. Used by
    ``storage.remote.RemoteWriteQueue``."""

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#remote_write
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/#remote_write"

    url: str = Field(description="Receiver endpoint, e.g. `http://mimir:9009/api/v1/push`.")
    name: str = Field("", description="Queue name in metrics and logs; default: a hash of the config.")
    remote_timeout: Duration = Field(30.0, description="Timeout of one request.")
    # Named `headers` in YAML; the attribute name avoids HTTPClientConfig.headers().
    extra_headers: dict[str, str] = Field(
        default_factory=dict, alias="headers", description="Extra request headers."
    )
    write_relabel_configs: list[RelabelConfig] = Field(
        default_factory=list, description="Rules applied to each series before it is queued."
    )
    protobuf_message: Literal["prometheus.WriteRequest", "io.prometheus.write.v2.Request"] = Field(
        PROTOBUF_V1, description="Remote-write 1.0 (`prometheus.WriteRequest`) or 2.0."
    )
    send_exemplars: bool = Field(
        False, description="Send exemplars (Spyglass stores none today, so none are sent)."
    )
    queue_config: QueueConfig = Field(default_factory=QueueConfig, description="Batching and retries.")
    metadata_config: MetadataConfig = Field(
        default_factory=MetadataConfig, description="Metadata sending (1.0; 2.0 sends it inline)."
    )
    enable_http2: bool = Field(False, description="Prometheus turns HTTP/2 off for remote-write.")

    @model_validator(mode="before")
    @classmethod
    def _before(cls, data):
        if not isinstance(data, dict):
            return data
        if not data.get("url"):
            raise ValueError("url for remote_write is empty")
        for key, value in data.items():
            if key in _UNSUPPORTED_RW_KEYS:
                allowed = _UNSUPPORTED_RW_KEYS[key]
                if not allowed or value not in allowed:
                    raise ValueError(f"{key} is not supported by Spyglass in remote_write")
        reject_null_rules(data.get("write_relabel_configs"), "relabeling rule in remote write config")
        pm = data.get("protobuf_message")
        if pm is not None and pm not in (PROTOBUF_V1, PROTOBUF_V2):
            raise ValueError(
                f"invalid protobuf_message value: unknown remote write protobuf message {pm}, "
                f"supported: {PROTOBUF_V1}, {PROTOBUF_V2}"
            )
        data = {k: v for k, v in data.items() if k not in _UNSUPPORTED_RW_KEYS}
        for k in ("queue_config", "metadata_config"):
            if k in data and data[k] is None:
                del data[k]
        return data

    @model_validator(mode="after")
    def _after(self):
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f'invalid remote_write url "{self.url}": must be an absolute http(s) URL')
        for header in self.extra_headers:
            if header.lower() == "authorization":
                raise ValueError(
                    "authorization header must be changed via the basic_auth, authorization, "
                    "oauth2, sigv4, azuread or google_iam parameter"
                )
            if header.lower() in RESERVED_HEADERS:
                raise ValueError(f"{header} is a reserved header. It must not be changed")
        check_rules(self.write_relabel_configs, ValidationScheme.UTF8)
        return self

    def headers(self) -> dict[str, str]:  # type: ignore[override]
        """Request headers: the HTTP client block's auth headers plus ``headers``."""
        return {**super().headers(), **self.extra_headers}

    @property
    def is_v2(self) -> bool:
        return self.protobuf_message == PROTOBUF_V2
