"""``scrape_configs`` entries, exactly as a ``prometheus.yml`` writes them.

Prometheus keys that Spyglass does not implement (other service discoveries,
OAuth2, native-histogram options, ...) are rejected with a message saying so,
never silently ignored. Interval, timeout, limits and protocols left unset are
filled from the ``global`` section by ``ScrapeConfig.with_global``::

    sc = ScrapeConfig.model_validate({"job_name": "node", "static_configs": [{"targets": ["h:9100"]}]})
    sc = sc.with_global(GlobalConfig())
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from collector.relabel.config import (
    RelabelConfig,
    ValidationScheme,
    check_rules,
    is_valid_label_name,
    reject_null_rules,
)
from spyglass.configtypes import (
    ConfigModel,
    Duration,
    GlobalConfig,
    HTTPClientConfig,
    format_duration_ms,
)

__all__ = [
    "SCRAPE_PROTOCOL_HEADERS",
    "FileSDConfig",
    "RelabelConfig",
    "ScrapeConfig",
    "StaticConfig",
    "parse_base2_bytes",
]

# Media type sent in the Accept header for each protocol name of ``scrape_protocols``.
SCRAPE_PROTOCOL_HEADERS = {
    "PrometheusText0.0.4": "text/plain;version=0.0.4",
    "PrometheusText1.0.0": "text/plain;version=1.0.0",
    "OpenMetricsText0.0.1": "application/openmetrics-text;version=0.0.1",
    "OpenMetricsText1.0.0": "application/openmetrics-text;version=1.0.0",
}
# Prometheus's own list also has PrometheusProto (the protobuf exposition,
# needed for native histograms); Spyglass has no native histograms.
_UNSUPPORTED_PROTOCOLS = {"PrometheusProto"}

_ESCAPING_SCHEMES = ("allow-utf-8", "underscores", "dots", "values")

# Keys a prometheus.yml may have in a scrape config that Spyglass does not
# implement, with the values that are harmless (they ask for what Spyglass does
# anyway). Anything else is refused with "not supported".
_UNSUPPORTED_SCRAPE_KEYS: dict[str, tuple[Any, ...]] = {
    "oauth2": (),
    "proxy_connect_header": ({},),
    "scrape_native_histograms": (False,),
    "native_histogram_bucket_limit": (0,),
    "native_histogram_min_bucket_factor": (0, 0.0),
    "convert_classic_histograms_to_nhcb": (False,),
    # We never scrape native histograms, so classic ones are always kept.
    "always_scrape_classic_histograms": (True, False),
    "scrape_classic_histograms": (True, False),
    "scrape_failure_log_file": ("", None),
}
_SUPPORTED_SD = ("static_configs", "file_sd_configs")


def refuse_unsupported(data: Any, table: dict[str, tuple[Any, ...]], where: str) -> None:
    """Raise for Prometheus keys Spyglass does not implement (see the tables)."""
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        if key.endswith("_sd_configs") and key not in _SUPPORTED_SD:
            raise ValueError(
                f"{key} is not supported by Spyglass in {where} "
                f"(supported service discovery: {', '.join(_SUPPORTED_SD)})"
            )
        if key in table and table[key] and value not in table[key]:
            raise ValueError(f"{key}: {value!r} is not supported by Spyglass in {where}")
        if key in table and not table[key]:
            raise ValueError(f"{key} is not supported by Spyglass in {where}")


_BYTES_RE = re.compile(r"^(\d+)([KMGTPE]?)(i?B)$")
_BYTES_SCALE = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60}


def parse_base2_bytes(v: Any) -> int:
    """Prometheus's ``units.Base2Bytes``: ``0``, ``512B``, ``10KB`` / ``10KiB`` (both 1024-based)."""
    if isinstance(v, bool):
        # a config value: pydantic turns only ValueError into a ValidationError
        raise ValueError(f"not a size: {v!r}")  # noqa: TRY004
    if isinstance(v, int):
        return v
    s = str(v).strip()
    if s == "0":
        return 0
    m = _BYTES_RE.match(s)
    if not m or (m.group(3) == "iB" and not m.group(2)):
        raise ValueError(f'units: unknown unit in "{s}"' if s[:1].isdigit() else f'units: invalid "{s}"')
    return int(m.group(1)) * _BYTES_SCALE[m.group(2)]


class StaticConfig(ConfigModel):
    """A static target group: ``{targets: [host:port, ...], labels: {...}}``."""

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config"

    targets: list[str] = Field(default_factory=list, description="`host:port` addresses to scrape.")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Labels given to every target of this group."
    )

    @field_validator("targets", mode="before")
    @classmethod
    def _targets(cls, v):
        if v is None:
            return []
        return [str(t) for t in v] if isinstance(v, list) else v

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, v):
        if v is None:
            return {}
        if isinstance(v, dict):
            out = {}
            for k, val in v.items():
                if not is_valid_label_name(str(k)):
                    raise ValueError(f'"{k}" is not a valid label name')
                out[str(k)] = "" if val is None else str(val)
            return out
        return v


# Prometheus accepts only these file names (so that a stray editor backup is not read).
FILE_SD_NAME = re.compile(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$")


class FileSDConfig(ConfigModel):
    """File-based discovery: JSON or YAML files of target groups, re-read on change."""

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config"

    files: list[str] = Field(description="Paths or globs (`*` in the last element) of target files.")
    refresh_interval: Duration = Field(300.0, description="Re-read the files at least this often.")

    @model_validator(mode="before")
    @classmethod
    def _files(cls, data):
        if isinstance(data, dict):
            files = data.get("files") or []
            if not files:
                raise ValueError("file service discovery config must contain at least one path name")
            for name in files:
                if not isinstance(name, str) or not FILE_SD_NAME.match(name):
                    raise ValueError(f'path name "{name}" is not valid for file discovery')
        return data


class ScrapeConfig(HTTPClientConfig):
    """One ``scrape_configs`` entry; the HTTP client block (auth, TLS, proxy) is inline."""

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config"

    job_name: str = Field(description="Name of the job; the default `job` label of its targets.")
    honor_labels: bool = Field(
        False, description="On a clash, keep the scraped label and drop the target's (else `exported_`)."
    )
    honor_timestamps: bool = Field(True, description="Store the timestamps the target exposes.")
    track_timestamps_staleness: bool = Field(
        False, description="Write stale markers for vanished series that had explicit timestamps."
    )
    params: dict[str, list[str]] = Field(
        default_factory=dict, description="URL query parameters sent with each scrape."
    )
    scrape_interval: Duration | None = Field(None, description="How often to scrape; default global.")
    scrape_timeout: Duration | None = Field(
        None, description="Scrape deadline; default the global timeout, at most the interval."
    )
    scrape_protocols: list[str] | None = Field(
        None, description="Formats to negotiate, most preferred first; default global."
    )
    fallback_scrape_protocol: str | None = Field(
        None, description="Format used when the target's Content-Type is missing or unknown."
    )
    metrics_path: str = Field("/metrics", description="HTTP path to scrape.")
    scheme: str = Field("http", description="`http` or `https`.")
    enable_compression: bool = Field(True, description="Ask for gzip-compressed responses.")
    body_size_limit: int = Field(
        0, description="Fail a scrape whose uncompressed body is larger (bytes, `10MB`); 0 = global."
    )
    sample_limit: int = Field(0, ge=0, description="Fail a scrape with more samples after metric relabeling; 0 = global.")
    target_limit: int = Field(0, ge=0, description="Fail all scrapes of the job when it has more targets; 0 = global.")
    label_limit: int = Field(0, ge=0, description="Fail a scrape with a series of more labels; 0 = global.")
    label_name_length_limit: int = Field(0, ge=0, description="Fail a scrape with a longer label name; 0 = global.")
    label_value_length_limit: int = Field(0, ge=0, description="Fail a scrape with a longer label value; 0 = global.")
    keep_dropped_targets: int = Field(
        0, ge=0, description="How many targets dropped by relabeling to keep for the API; 0 = global (0: all)."
    )
    metric_name_validation_scheme: str = Field(
        "", description="`utf8` or `legacy` names; empty = global."
    )
    metric_name_escaping_scheme: str = Field(
        "", description="Escaping asked for in content negotiation; empty = from the validation scheme."
    )
    extra_scrape_metrics: bool | None = Field(
        None,
        description="Also store scrape_timeout_seconds, scrape_sample_limit, scrape_body_size_bytes.",
    )
    static_configs: list[StaticConfig] = Field(default_factory=list, description="Fixed target groups.")
    file_sd_configs: list[FileSDConfig] = Field(default_factory=list, description="Target groups from files.")
    relabel_configs: list[RelabelConfig] = Field(
        default_factory=list, description="Rules applied to each target's labels before scraping."
    )
    metric_relabel_configs: list[RelabelConfig] = Field(
        default_factory=list, description="Rules applied to each scraped series before storing."
    )

    @model_validator(mode="before")
    @classmethod
    def _before(cls, data):
        if not isinstance(data, dict):
            return data
        if not data.get("job_name"):
            raise ValueError("job_name is empty")
        refuse_unsupported(data, _UNSUPPORTED_SCRAPE_KEYS, f'scrape config "{data["job_name"]}"')
        reject_null_rules(data.get("relabel_configs"), "target relabeling rule in scrape config")
        reject_null_rules(data.get("metric_relabel_configs"), "metric relabeling rule in scrape config")
        data = dict(data)
        for k in [k for k in data if k in _UNSUPPORTED_SCRAPE_KEYS]:
            del data[k]  # only harmless values get here
        if "body_size_limit" in data:
            data["body_size_limit"] = parse_base2_bytes(data["body_size_limit"])
        for key in ("static_configs", "file_sd_configs"):
            if data.get(key) is None and key in data:
                data[key] = []
        params = data.get("params")
        if isinstance(params, dict):
            data["params"] = {
                str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in params.items()
            }
        return data

    @model_validator(mode="after")
    def _after(self):
        if (
            self.scrape_interval is not None
            and self.scrape_timeout is not None
            and self.scrape_timeout > self.scrape_interval
        ):
            raise ValueError(
                f'scrape timeout greater than scrape interval for scrape config with job name "{self.job_name}"'
            )
        if self.scrape_protocols is not None:
            _check_protocols(self.scrape_protocols, self.job_name)
        if self.fallback_scrape_protocol is not None and self.fallback_scrape_protocol not in SCRAPE_PROTOCOL_HEADERS:
            raise ValueError(
                f'invalid fallback_scrape_protocol for scrape config with job name "{self.job_name}": '
                + _protocol_error(self.fallback_scrape_protocol)
            )
        if self.metric_name_validation_scheme not in ("", "utf8", "legacy"):
            raise ValueError(
                "unknown scrape config name validation method specified, must be either '', "
                f"'legacy' or 'utf8', got {self.metric_name_validation_scheme}"
            )
        if self.metric_name_escaping_scheme not in ("",) + _ESCAPING_SCHEMES:
            raise ValueError(
                "unknown scrape config name escaping method specified, must be one of "
                f"{', '.join(repr(s) for s in _ESCAPING_SCHEMES)}, got {self.metric_name_escaping_scheme!r}"
            )
        if self.metric_name_validation_scheme == "legacy" and self.metric_name_escaping_scheme == "allow-utf-8":
            raise ValueError(
                "scrape config name escaping method allow-utf-8 is incompatible with legacy name validation"
            )
        scheme = ValidationScheme(self.metric_name_validation_scheme or "utf8")
        check_rules(self.relabel_configs, scheme)
        check_rules(self.metric_relabel_configs, scheme)
        if not self.relabel_configs:
            # Prometheus's check for users putting URLs in target lists.
            for sc in self.static_configs:
                for t in sc.targets:
                    if "/" in t:
                        raise ValueError(f'"{t}" is not a valid hostname')
        return self

    # --- resolved values ------------------------------------------------------
    def with_global(self, g: GlobalConfig) -> ScrapeConfig:
        """A copy with everything left unset taken from ``global`` (as Prometheus's
        ``ScrapeConfig.Validate`` does); raises ``ValueError`` with its wording."""
        interval = self.scrape_interval if self.scrape_interval else g.scrape_interval
        if self.scrape_timeout is not None and self.scrape_timeout > interval:
            raise ValueError(
                f'scrape timeout greater than scrape interval for scrape config with job name "{self.job_name}"'
            )
        timeout = self.scrape_timeout if self.scrape_timeout else min(g.scrape_timeout, interval)
        protocols = self.scrape_protocols if self.scrape_protocols is not None else list(g.scrape_protocols)
        _check_protocols(protocols, self.job_name)
        validation = self.metric_name_validation_scheme or (
            "legacy" if g.metric_name_validation_scheme == "legacy" else "utf8"
        )
        escaping = self.metric_name_escaping_scheme or (
            "underscores" if validation == "legacy" else "allow-utf-8"
        )
        if validation == "legacy":
            check_rules(self.relabel_configs, ValidationScheme.LEGACY)
            check_rules(self.metric_relabel_configs, ValidationScheme.LEGACY)
        update = {
            "scrape_interval": interval,
            "scrape_timeout": timeout,
            "scrape_protocols": protocols,
            "body_size_limit": self.body_size_limit or parse_base2_bytes(g.body_size_limit or 0),
            "sample_limit": self.sample_limit or g.sample_limit,
            "target_limit": self.target_limit or g.target_limit,
            "label_limit": self.label_limit or g.label_limit,
            "label_name_length_limit": self.label_name_length_limit or g.label_name_length_limit,
            "label_value_length_limit": self.label_value_length_limit or g.label_value_length_limit,
            "keep_dropped_targets": self.keep_dropped_targets or g.keep_dropped_targets,
            "metric_name_validation_scheme": validation,
            "metric_name_escaping_scheme": escaping,
            "extra_scrape_metrics": bool(self.extra_scrape_metrics),
        }
        return self.model_copy(update=update)

    @property
    def resolved(self) -> bool:
        return self.scrape_interval is not None and self.scrape_timeout is not None

    def interval_text(self) -> str:
        return format_duration_ms(round((self.scrape_interval or 0) * 1000))

    def timeout_text(self) -> str:
        return format_duration_ms(round((self.scrape_timeout or 0) * 1000))


def _protocol_error(p: str) -> str:
    if p in _UNSUPPORTED_PROTOCOLS:
        return f"scrape protocol {p} is not supported by Spyglass (no native histograms)"
    return f"unknown scrape protocol {p}, supported: [{' '.join(sorted(SCRAPE_PROTOCOL_HEADERS))}]"


def _check_protocols(protocols: list[str], job: str) -> None:
    if not protocols:
        raise ValueError(f'scrape_protocols cannot be empty for scrape config with job name "{job}"')
    seen = set()
    for p in protocols:
        if p.lower() in seen:
            raise ValueError(
                f"duplicated protocol in scrape_protocols, got [{' '.join(protocols)}] "
                f'for scrape config with job name "{job}"'
            )
        if p not in SCRAPE_PROTOCOL_HEADERS:
            raise ValueError(f'scrape_protocols: {_protocol_error(p)} for scrape config with job name "{job}"')
        seen.add(p.lower())
