"""Building blocks shared by every configuration section.

Configuration is parsed once, at the edge, into these pydantic models; inside,
code trusts the model. The Prometheus-compatible pieces (durations, secrets,
``tls_config``, ``basic_auth``, ``authorization``, the HTTP client block)
accept exactly what a ``prometheus.yml`` or ``alertmanager.yml`` says.
"""

from __future__ import annotations

import os
import re
import ssl
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

_DURATION_RE = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$"
)
_UNIT_MS = {
    "y": 365 * 24 * 3600_000,
    "w": 7 * 24 * 3600_000,
    "d": 24 * 3600_000,
    "h": 3600_000,
    "m": 60_000,
    "s": 1000,
    "ms": 1,
}


def parse_duration_ms(text: str | float) -> int:
    """Parse a Prometheus duration (``1h30m``, ``15s``, ``500ms``, ``0``) into milliseconds."""
    # ValueError, not TypeError, throughout: pydantic reports only ValueError as a
    # validation error of the field
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")  # noqa: TRY004
    if isinstance(text, (int, float)):
        # YAML numbers are seconds, as Prometheus's model.Duration accepts for 0 only;
        # we accept any number of seconds, which is what people mean. (text != text:
        # a NaN test that, unlike math.isnan, takes ints of any size.)
        if text != text or text in (float("inf"), float("-inf")) or text < 0:  # noqa: PLR0124
            raise ValueError(f"not a valid duration: {text!r}")
        return round(float(text) * 1000)
    if not isinstance(text, str):
        raise ValueError(f"not a valid duration string: {text!r}")  # noqa: TRY004
    s = text.strip()
    if s == "0":
        return 0
    m = _DURATION_RE.match(s)
    if not s or not m or not any(m.groupdict().values()):
        raise ValueError(f'not a valid duration string: "{text}"')
    return sum(int(v) * _UNIT_MS[k] for k, v in m.groupdict().items() if v)


def format_duration_ms(ms: int) -> str:
    """Format milliseconds as Prometheus prints durations (``model.Duration.String``):
    years and weeks only when they divide exactly, so 30 days is ``30d``, 14 days ``2w``."""
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    rest = abs(int(ms))
    out = []
    for unit in ("y", "w", "d", "h", "m", "s", "ms"):
        mult = _UNIT_MS[unit]
        if unit in ("y", "w") and rest % mult:
            continue
        n, rest = divmod(rest, mult)
        if n:
            out.append(f"{n}{unit}")
    return sign + "".join(out)


def _to_seconds(v: Any) -> float:
    return parse_duration_ms(v) / 1000.0


# A duration field: written as "15s", held as float seconds, printed back as "15s".
Duration = Annotated[
    float,
    BeforeValidator(_to_seconds),
    PlainSerializer(lambda s: format_duration_ms(round(s * 1000)), return_type=str),
]


class Secret(str):
    """A string that never prints itself (config dumps, logs, errors)."""

    def __repr__(self) -> str:
        return "Secret(<redacted>)"


SecretStr = Annotated[
    str,
    AfterValidator(Secret),
    PlainSerializer(lambda s: "<secret>" if s else "", return_type=str),
]


class ConfigModel(BaseModel):
    """Base of every config section: unknown keys are errors, fields are immutable.

    A key written with no value (``rule_files:``) means its default, as in Go's
    YAML decoding that Prometheus and Alertmanager use.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data):
        if isinstance(data, dict) and any(v is None for v in data.values()):
            return {k: v for k, v in data.items() if v is not None}
        return data


def read_secret_file(path: str | None) -> str | None:
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


class BasicAuth(ConfigModel):

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/"
    username: str = ""
    username_file: str | None = None
    password: SecretStr | None = None
    password_file: str | None = None

    @model_validator(mode="after")
    def _one_password(self):
        if self.password and self.password_file:
            raise ValueError("at most one of basic_auth password & password_file must be configured")
        return self

    def credentials(self) -> tuple[str, str]:
        user = read_secret_file(self.username_file) or self.username
        return user, read_secret_file(self.password_file) or (self.password or "")


class Authorization(ConfigModel):

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/"
    type: str = "Bearer"
    credentials: SecretStr | None = None
    credentials_file: str | None = None

    def header(self) -> str:
        cred = read_secret_file(self.credentials_file) or (self.credentials or "")
        return f"{self.type} {cred}"


_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


class TLSConfig(ConfigModel):

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/"
    ca_file: str | None = None
    ca: str | None = None
    cert_file: str | None = None
    cert: str | None = None
    key_file: str | None = None
    key: SecretStr | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False
    min_version: str | None = None
    max_version: str | None = None

    @model_validator(mode="after")
    def _check(self):
        for f in ("min_version", "max_version"):
            v = getattr(self, f)
            if v is not None and v not in _TLS_VERSIONS:
                raise ValueError(f"{f}: unknown TLS version {v!r} (TLS10, TLS11, TLS12, TLS13)")
        if bool(self.cert_file or self.cert) != bool(self.key_file or self.key):
            raise ValueError("client cert and key must be configured together")
        for f in ("ca_file", "cert_file", "key_file"):
            p = getattr(self, f)
            if p and not os.path.exists(p):
                raise ValueError(f"{f}: file {p!r} does not exist")
        return self

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_file, cadata=self.ca)
        if self.insecure_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        elif self.cert:
            import tempfile

            with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=True) as f:
                f.write(self.cert + "\n" + (self.key or ""))
                f.flush()
                ctx.load_cert_chain(f.name)
        if self.min_version:
            ctx.minimum_version = _TLS_VERSIONS[self.min_version]
        if self.max_version:
            ctx.maximum_version = _TLS_VERSIONS[self.max_version]
        return ctx


class HTTPClientConfig(ConfigModel):
    """Prometheus's common HTTP client block (``http_config`` in Alertmanager)."""

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/"

    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    bearer_token: SecretStr | None = None  # deprecated in Prometheus, still common
    bearer_token_file: str | None = None
    tls_config: TLSConfig = Field(default_factory=TLSConfig)
    proxy_url: str | None = None
    no_proxy: str | None = None
    proxy_from_environment: bool = False
    follow_redirects: bool = True
    enable_http2: bool = True
    http_headers: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_auth(self):
        n = sum(
            bool(x)
            for x in (self.basic_auth, self.authorization, self.bearer_token or self.bearer_token_file)
        )
        if n > 1:
            raise ValueError(
                "at most one of basic_auth, authorization and bearer_token(_file) may be configured"
            )
        if self.bearer_token and self.bearer_token_file:
            raise ValueError("at most one of bearer_token & bearer_token_file must be configured")
        return self

    def headers(self) -> dict[str, str]:
        h: dict[str, str] = {}
        if self.authorization:
            h["Authorization"] = self.authorization.header()
        elif self.bearer_token or self.bearer_token_file:
            token = read_secret_file(self.bearer_token_file) or self.bearer_token
            h["Authorization"] = f"Bearer {token}"
        for k, v in (self.http_headers or {}).items():
            if isinstance(v, dict):
                values = v.get("values") or []
                if values:
                    h[k] = str(values[0])
            else:
                h[k] = str(v)
        return h

    def httpx_kwargs(self) -> dict[str, Any]:
        """Arguments for ``httpx.Client(**kwargs)`` / ``httpx.AsyncClient``."""
        kw: dict[str, Any] = {
            "headers": self.headers(),
            "follow_redirects": self.follow_redirects,
            "verify": self.tls_config.ssl_context(),
            "trust_env": self.proxy_from_environment,
        }
        if self.basic_auth:
            kw["auth"] = self.basic_auth.credentials()
        if self.proxy_url:
            kw["proxy"] = self.proxy_url
        return kw


class GlobalConfig(ConfigModel):
    """Prometheus's ``global:`` section; its defaults are Prometheus's."""

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/"

    scrape_interval: Duration = 60.0
    scrape_timeout: Duration = 10.0
    # Scrape protocols to negotiate, in order of preference (Accept header).
    scrape_protocols: list[str] = Field(
        default_factory=lambda: ["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText0.0.4"]
    )
    evaluation_interval: Duration = 60.0
    # How long rule evaluation waits behind "now", to let late samples arrive.
    rule_query_offset: Duration = 0.0
    external_labels: dict[str, str] = Field(default_factory=dict)
    query_log_file: str | None = None
    scrape_failure_log_file: str | None = None
    body_size_limit: str | int = 0
    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    target_limit: int = 0
    keep_dropped_targets: int = 0
    metric_name_validation_scheme: str = "utf8"
    metric_name_escaping_scheme: str = "underscores"

    @model_validator(mode="before")
    @classmethod
    def _default_timeout(cls, data):
        # Prometheus: an unset timeout is 10s, or the interval when that is shorter.
        if isinstance(data, dict) and data.get("scrape_timeout") is None and "scrape_interval" in data:
            interval_ms = parse_duration_ms(data["scrape_interval"])
            data = {**data, "scrape_timeout": min(10_000, interval_ms) / 1000.0}
        return data

    @model_validator(mode="after")
    def _timeout_le_interval(self):
        if self.scrape_timeout > self.scrape_interval:
            raise ValueError(
                f"global scrape timeout ({format_duration_ms(int(self.scrape_timeout * 1000))}) "
                f"greater than scrape interval ({format_duration_ms(int(self.scrape_interval * 1000))})"
            )
        return self
