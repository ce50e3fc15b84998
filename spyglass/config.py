"""The Spyglass configuration file.

One YAML file configures every role. Its Prometheus sections (``global``,
``scrape_configs``, ``remote_write``, ``rule_files``, ``alerting``,
``storage.tsdb.out_of_order_time_window``) are written exactly as in a
``prometheus.yml``, so an existing Prometheus configuration works when pointed
at Spyglass; the other sections are Spyglass's own. Every field is documented
where it is declared; ``spyglass config reference`` prints them all.

Loading validates everything at once: an unknown key or a bad value is an
error that names the key path and its line in the file::

    cfg = load_config("spyglass.yml")          # raises ConfigError
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field, ValidationError, field_validator, model_validator

from agent.hostmetrics import HostMetricsConfig
from collector.receivers.limits import IngestLimits
from collector.receivers.otlp import OTLPOptions
from collector.relabel import RelabelConfig
from collector.scrape.config import ScrapeConfig
from spyglass.configtypes import ConfigModel, Duration, GlobalConfig, HTTPClientConfig
from spyglass.yamlpos import line_of, load_with_positions
from storage.remote.config import RemoteWriteConfig


class ConfigError(ValueError):
    """An invalid configuration; the message names the file, key path and line."""


def parse_listen_address(value: str | None, default_port: int) -> tuple[str, int] | None:
    """``HOST:PORT``, ``:PORT`` or ``off`` → (host, port) or None."""
    if value is None or str(value).strip().lower() in ("off", "false", "none", ""):
        return None
    text = str(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(default_port)
    host = host.strip("[]") or "0.0.0.0"
    try:
        p = int(port)
    except ValueError:
        raise ValueError(f"invalid listen address {value!r}: port must be a number") from None
    if not 0 <= p <= 65535:
        raise ValueError(f"invalid listen address {value!r}: port out of range")
    return host, p


class ServerTLSConfig(ConfigModel):
    """TLS for a listener (like Prometheus's web config ``tls_server_config``)."""

    # The server certificate (PEM), with its chain.
    cert_file: str
    # The private key of the certificate (PEM).
    key_file: str
    # When set, clients must present a certificate signed by this CA.
    client_ca_file: str | None = None


class ServerAuthConfig(ConfigModel):
    """Authentication for the HTTP listener (ingest, query and UI)."""

    # user name -> bcrypt hash, exactly like Prometheus's web config `basic_auth_users`.
    basic_auth_users: dict[str, str] = Field(default_factory=dict)
    # Static bearer tokens accepted in `Authorization: Bearer <token>`.
    bearer_tokens: list[str] = Field(default_factory=list)


class ServerConfig(ConfigModel):
    """Listeners. Every one accepts ``off``."""

    # The HTTP port for the APIs and the UI.
    http: str = "127.0.0.1:9700"
    # OTLP over gRPC.
    otlp_grpc: str = "127.0.0.1:4317"
    # OTLP over HTTP (/v1/metrics); OTLP/HTTP is also served on `http` under /api/v1/otlp.
    otlp_http: str = "127.0.0.1:4318"
    # The URL users reach Spyglass at (links in alerts and the UI); default http://<http>/.
    external_url: str | None = None
    # TLS on the HTTP and OTLP listeners (off when absent).
    tls: ServerTLSConfig | None = None
    # Authentication of every request but the probes (off when empty).
    auth: ServerAuthConfig = Field(default_factory=ServerAuthConfig)
    # How long to wait for in-flight requests on SIGTERM before closing.
    shutdown_timeout: Duration = 10.0

    @field_validator("http", "otlp_grpc", "otlp_http")
    @classmethod
    def _addr(cls, v: str) -> str:
        parse_listen_address(v, 0)
        return v


class TSDBConfig(ConfigModel):
    """The embedded TSDB. ``out_of_order_time_window`` is Prometheus's own key."""

    # Accept samples this far behind a series' newest one (Prometheus's key; 0 = in order only).
    out_of_order_time_window: Duration = 0.0
    # Blocks older than this are deleted (Prometheus's --storage.tsdb.retention.time).
    retention_time: Duration = 15 * 24 * 3600.0
    # Delete the oldest blocks when the store is larger than this ("512MB", "10GB"; 0 = off).
    retention_size: str | int = 0
    # Refuse new series beyond this many in the head (0 = unlimited).
    max_series: int = 0
    # Per-series label limits (0 = unlimited).
    max_labels_per_series: int = 0
    # Longest label name accepted, in characters (0 = unlimited).
    max_label_name_length: int = 0
    # Longest label value accepted, in characters (0 = unlimited).
    max_label_value_length: int = 0
    # "batch": write() every batch (survives a process crash) and fsync periodically;
    # "always": also fsync every batch (survives power loss, slower).
    wal_fsync: str = "batch"
    # Time span of the blocks cut from the head (Prometheus's min block duration).
    block_duration: Duration = 2 * 3600.0
    # Largest block compaction may produce; 0 = 10% of retention_time, at most 31d.
    max_block_duration: Duration = 0.0
    # Samples more than this far in the future are rejected.
    max_future_skew: Duration = 600.0
    # Memory for recently decoded chunk groups that queries read again ("32MB"; 0 = no cache).
    group_cache_size: str | int = "32MB"

    def tsdb_options(self):
        """The equivalent ``storage.tsdb.TSDBOptions``."""
        from storage.labels import LabelLimits
        from storage.tsdb import TSDBOptions

        return TSDBOptions(
            retention_ms=int(self.retention_time * 1000),
            retention_bytes=parse_bytes(self.retention_size),
            block_duration_ms=int(self.block_duration * 1000),
            max_block_duration_ms=int(self.max_block_duration * 1000),
            out_of_order_window_ms=int(self.out_of_order_time_window * 1000),
            max_future_skew_ms=int(self.max_future_skew * 1000),
            max_series=self.max_series,
            label_limits=LabelLimits(
                max_labels=self.max_labels_per_series,
                max_name_length=self.max_label_name_length,
                max_value_length=self.max_label_value_length,
            ),
            wal_fsync_every_batch=self.wal_fsync == "always",
            group_cache_bytes=parse_bytes(self.group_cache_size),
        )

    @field_validator("wal_fsync")
    @classmethod
    def _fsync(cls, v: str) -> str:
        if v not in ("batch", "always"):
            raise ValueError('must be "batch" or "always"')
        return v

    @field_validator("retention_size", "group_cache_size")
    @classmethod
    def _size(cls, v):
        parse_bytes(v)
        return v


class StorageConfig(ConfigModel):
    # The embedded time-series database.
    tsdb: TSDBConfig = Field(default_factory=TSDBConfig)


class QueryConfig(ConfigModel):
    """PromQL engine limits (Prometheus's --query.* flags)."""

    # How far back an instant selector looks for a sample (--query.lookback-delta).
    lookback_delta: Duration = 300.0
    # Most samples one query may load into memory (--query.max-samples).
    max_samples: int = 50_000_000
    # Longest a query may run (--query.timeout).
    timeout: Duration = 120.0
    # Queries evaluated at once; more wait for a slot until their timeout (--query.max-concurrency).
    max_concurrency: int = 20


class AlertmanagerStaticConfig(ConfigModel):

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#alertmanager_config
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/#alertmanager_config"
    targets: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class AlertmanagerEndpointConfig(HTTPClientConfig):
    """One entry of Prometheus's ``alerting.alertmanagers``."""

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#alertmanager_config
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/#alertmanager_config"

    static_configs: list[AlertmanagerStaticConfig] = Field(default_factory=list)
    scheme: str = "http"
    path_prefix: str = "/"
    timeout: Duration = 10.0
    api_version: str = "v2"

    @field_validator("api_version")
    @classmethod
    def _v2(cls, v: str) -> str:
        if v != "v2":
            raise ValueError("only Alertmanager API v2 is supported (as in Prometheus 3)")
        return v


class AlertingConfig(ConfigModel):
    """Prometheus's ``alerting`` section: where firing alerts are sent."""

    # Relabeling applied to every alert before it is sent (to the built-in notifier too).
    alert_relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    # External Alertmanagers to forward alerts to (API v2), as in prometheus.yml.
    alertmanagers: list[AlertmanagerEndpointConfig] = Field(default_factory=list)
    # Send alerts to the built-in notification pipeline (alertmanager_config) as well.
    builtin_notifier: bool = True
    # Allow webhook/chat targets that resolve to link-local or cloud-metadata addresses.
    allow_link_local_targets: bool = False
    # `spyglass alerting` on its own: the Prometheus-compatible API its rules query.
    query_url: str | None = None
    # `spyglass alerting` on its own: where rule results go (default: query_url + /api/v1/write).
    remote_write_url: str | None = None


class HostMetricsSection(HostMetricsConfig):
    """The host-metrics source for the machine Spyglass runs on (node-exporter names);
    the collector options are agent.hostmetrics.HostMetricsConfig's."""

    # Collect this machine's metrics (`spyglass up`; --no-host-metrics turns it off).
    enabled: bool = True
    # How often to collect.
    interval: Duration = 15.0


class SelfMetricsSection(ConfigModel):
    """Spyglass's own telemetry (what /metrics shows) stored in its own TSDB, as a
    Prometheus scraping itself would (job="spyglass"); the Spyglass / Health dashboard
    reads it."""

    # Store our own telemetry. Off, nothing is written at the current time by
    # Spyglass itself (e.g. while backfilling old data by remote-write).
    enabled: bool = True
    # How often.
    interval: Duration = 15.0


class SpyglassConfig(ConfigModel):
    """The whole configuration file."""

    # Prometheus's global section: intervals, external labels, scrape limits.
    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    # Targets to scrape, exactly as in prometheus.yml.
    scrape_configs: list[ScrapeConfig] = Field(default_factory=list)
    # Receivers to forward every sample to (Mimir, Thanos, VictoriaMetrics, Prometheus).
    remote_write: list[RemoteWriteConfig] = Field(default_factory=list)
    # Rule file globs, relative to the config file's directory.
    rule_files: list[str] = Field(default_factory=list)
    # Also evaluate the rules Spyglass ships (the kubernetes-mixin recording rules
    # that the Kubernetes dashboards read).
    builtin_rules: bool = True
    # Where alerts go: relabeling, external Alertmanagers, the built-in notifier.
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    # Storage settings (Prometheus's `storage.tsdb` section plus Spyglass's own keys).
    storage: StorageConfig = Field(default_factory=StorageConfig)

    # Listeners, TLS and authentication.
    server: ServerConfig = Field(default_factory=ServerConfig)
    # Limits of the remote-write, OTLP and InfluxDB receivers (sizes, concurrency, labels).
    ingest_limits: IngestLimits = Field(default_factory=IngestLimits)
    # How OTLP metrics become Prometheus series (Prometheus 3 also calls this section `otlp`).
    otlp: OTLPOptions = Field(default_factory=OTLPOptions)
    # PromQL engine limits.
    query: QueryConfig = Field(default_factory=QueryConfig)
    # This machine's own metrics, with node-exporter's names.
    host_metrics: HostMetricsSection = Field(default_factory=HostMetricsSection)
    # Spyglass's own telemetry, stored as job="spyglass".
    self_metrics: SelfMetricsSection = Field(default_factory=SelfMetricsSection)
    # An alertmanager.yml for the built-in notification pipeline (relative to this file).
    alertmanager_config: str | None = None
    # A folder of Grafana dashboard JSON files to provision at start.
    dashboards: str | None = None
    # Where the data lives (the --data-dir flag wins).
    data_dir: str = "data"

    @model_validator(mode="after")
    def _unique_jobs(self):
        seen = set()
        for sc in self.scrape_configs:
            if sc.job_name in seen:
                raise ValueError(f'found multiple scrape configs with job name "{sc.job_name}"')
            seen.add(sc.job_name)
        return self

    def rule_file_paths(self, base_dir: str = ".") -> list[str]:
        """Expand ``rule_files`` globs (relative to the config file, like Prometheus)."""
        out: list[str] = []
        for pattern in self.rule_files:
            full = pattern if os.path.isabs(pattern) else os.path.join(base_dir, pattern)
            out.extend(sorted(glob.glob(full)))
        return out


_UNITS = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def parse_bytes(v: str | int) -> int:
    """``512MB`` / ``10GB`` / ``1024`` → bytes (Prometheus's units.Base2Bytes spelling)."""
    if isinstance(v, int):
        return v
    text = str(v).strip().lower()
    num = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(num):] or "b"
    if unit not in _UNITS or not num:
        raise ValueError(f"invalid size {v!r}: use a number with B, KB, MB, GB, TB or PB")
    return int(float(num) * _UNITS[unit])


def _format_errors(e: ValidationError, source: str, positions: dict[tuple, int]) -> str:
    lines = []
    for err in e.errors():
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        # pydantic puts model-validator errors at the model's own path
        path = ".".join(str(x) for x in loc) or "(top level)"
        line = line_of(positions, loc)
        where = f"{source}:{line}" if line else source
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}" if loc else "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        lines.append(f"{where}: {path}: {msg}")
    return "\n".join(lines)


def parse_config(text: str, source: str = "<config>") -> SpyglassConfig:
    try:
        data, positions = load_with_positions(text)
    except Exception as e:  # noqa: BLE001  yaml errors of every kind carry their own line/column
        raise ConfigError(f"{source}: invalid YAML: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping of sections")
    try:
        return SpyglassConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(e, source, positions)) from None


def load_config(path: str | None) -> SpyglassConfig:
    """Read and validate a config file; ``None`` gives the defaults."""
    if path is None:
        return SpyglassConfig()
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read config file: {e}") from None
    return parse_config(text, path)


def validate_model(model: type[ConfigModel], data: Any, source: str, prefix: Sequence[Any] = ()):
    """Validate a sub-document with the same error formatting (used by other config files)."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(e, source, {})) from None
