"""The ``alertmanager.yml`` model: parsed once, exactly as Alertmanager parses it.

Everything Alertmanager accepts for the parts Spyglass implements is accepted
here with the same defaults (``resolve_timeout: 5m``, ``group_wait: 30s``,
``group_interval: 5m``, ``repeat_interval: 4h``, per-integration
``send_resolved``) and rejected with the same reasons (undefined receiver,
root route with matchers, duplicate names, ...). Beside Alertmanager's
receiver keys, Spyglass adds ``dingtalk_configs``, ``feishu_configs`` and
``wecom_configs``. Unknown keys are errors that name the key path and line::

    cfg = load_config("alertmanager.yml")       # raises ConfigError
    cfg.route.receiver, cfg.global_.resolve_timeout

Alertmanager integrations Spyglass does not implement (PagerDuty, Opsgenie,
...) are refused with a message naming them rather than silently dropped.
"""

from __future__ import annotations

import glob
import os
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from alerting.notify import yamlsrc
from alerting.notify.configvalues import (
    URL,
    HostPort,
    MatchersField,
    MatchMap,
    MatchREMap,
    Model,
    SecretText,
    SecretURL,
    TimeIntervals,
    inline_or_file,
)
from alerting.notify.matchers import Matchers, is_valid_label_name
from alerting.notify.receivers.config import (
    INTEGRATION_KEYS,
    UNSUPPORTED_INTEGRATIONS,
    DingTalkConfig,
    EmailConfig,
    FeishuConfig,
    MSTeamsConfig,
    MSTeamsV2Config,
    Receiver,
    SlackConfig,
    TelegramConfig,
    WebhookConfig,
    WeComConfig,
)
from alerting.notify.timeinterval import TimeInterval
from spyglass.configtypes import Duration, HTTPClientConfig

__all__ = [
    "INTEGRATION_KEYS",
    "UNSUPPORTED_INTEGRATIONS",
    "AlertmanagerConfig",
    "ConfigError",
    "DingTalkConfig",
    "EmailConfig",
    "FeishuConfig",
    "GlobalConfig",
    "InhibitRule",
    "MSTeamsConfig",
    "MSTeamsV2Config",
    "Receiver",
    "Route",
    "SlackConfig",
    "TelegramConfig",
    "TimeIntervalDef",
    "WeComConfig",
    "WebhookConfig",
    "load_config",
    "parse_config",
]


class ConfigError(ValueError):
    """An invalid alertmanager.yml; the message names the file, key path and line."""


# --- global -----------------------------------------------------------------------
class GlobalConfig(Model):
    """Alertmanager's ``global:`` section, with its defaults."""

    # How long an alert without EndsAt stays firing after its last update.
    resolve_timeout: Duration = 300.0
    # The HTTP client of every HTTP integration that has no http_config of its own.
    http_config: HTTPClientConfig = Field(default_factory=HTTPClientConfig)
    # Envelope sender of email notifications.
    smtp_from: str = ""
    # Hostname announced in SMTP HELO/EHLO.
    smtp_hello: str = "localhost"
    # SMTP server as host:port.
    smtp_smarthost: HostPort = ""
    # SMTP AUTH user name; the password comes from smtp_auth_password(_file).
    smtp_auth_username: str = ""
    smtp_auth_password: SecretText = ""
    smtp_auth_password_file: str = ""
    # CRAM-MD5 secret.
    smtp_auth_secret: SecretText = ""
    # PLAIN identity.
    smtp_auth_identity: str = ""
    # Refuse to send email unless STARTTLS succeeds.
    smtp_require_tls: bool = True
    # Default Slack incoming-webhook URL (or a file holding it).
    slack_api_url: SecretURL | None = None
    slack_api_url_file: str = ""
    # Telegram Bot API base URL.
    telegram_api_url: URL = "https://api.telegram.org"
    # Accepted for compatibility; Spyglass has no integration that uses them.
    pagerduty_url: URL = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_api_url: URL = "https://api.opsgenie.com/"
    opsgenie_api_key: SecretText = ""
    opsgenie_api_key_file: str = ""
    wechat_api_url: URL = "https://qyapi.weixin.qq.com/cgi-bin/"
    wechat_api_secret: SecretText = ""
    wechat_api_corp_id: str = ""
    victorops_api_url: URL = "https://alert.victorops.com/integrations/generic/20131114/alert/"
    victorops_api_key: SecretText = ""
    victorops_api_key_file: str = ""
    webex_api_url: URL = "https://webexapis.com/v1/messages"

    @model_validator(mode="after")
    def _exclusive(self):
        for name in ("slack_api_url", "opsgenie_api_key", "victorops_api_key",
                     "smtp_auth_password"):
            inline_or_file(getattr(self, name), getattr(self, f"{name}_file"), name,
                           required=False)
        return self


# --- routing ----------------------------------------------------------------------
class Route(Model):
    """One node of the routing tree; unset options inherit from the parent."""

    # Receiver of the alerts this node groups.
    receiver: str | None = None
    # Labels that form a group; ["..."] groups by all labels.
    group_by: list[str] | None = None
    # Deprecated: equality matchers as a map.
    match: MatchMap = Field(default_factory=dict)
    # Deprecated: regex matchers as a map.
    match_re: MatchREMap = Field(default_factory=dict)
    # Alertmanager matchers (`a="b"`, `a=~"x|y"`, ...); all must match.
    matchers: MatchersField = Field(default_factory=Matchers)
    # Named time intervals during which this route sends nothing.
    mute_time_intervals: list[str] = Field(default_factory=list)
    # Named time intervals outside of which this route sends nothing.
    active_time_intervals: list[str] = Field(default_factory=list)
    # Keep matching the following siblings after this node matched.
    continue_: bool = Field(default=False, alias="continue")
    routes: list[Route] = Field(default_factory=list)
    # How long to wait before the first notification of a new group.
    group_wait: Duration | None = None
    # How long to wait before notifying about changes in a group.
    group_interval: Duration | None = None
    # How long to wait before repeating an unchanged notification.
    repeat_interval: Duration | None = None

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, v):
        if v is None:
            return v
        seen: set[str] = set()
        has_all = False
        for ln in v:
            if ln == "...":
                has_all = True
                continue
            if not isinstance(ln, str) or not is_valid_label_name(ln):
                raise ValueError(f'invalid label name "{ln}" in group_by list')
            if ln in seen:
                raise ValueError(f'duplicated label "{ln}" in group_by')
            seen.add(ln)
        if has_all and seen:
            raise ValueError("cannot have wildcard group_by (`...`) and other other labels at the same time")
        return v

    @model_validator(mode="after")
    def _intervals(self):
        if self.group_interval is not None and self.group_interval == 0:
            raise ValueError("group_interval cannot be zero")
        if self.repeat_interval is not None and self.repeat_interval == 0:
            raise ValueError("repeat_interval cannot be zero")
        return self


class InhibitRule(Model):
    """Mute alerts matching `target_*` while an alert matching `source_*` fires
    with the same values of the `equal` labels."""

    source_match: MatchMap = Field(default_factory=dict)
    source_match_re: MatchREMap = Field(default_factory=dict)
    source_matchers: MatchersField = Field(default_factory=Matchers)
    target_match: MatchMap = Field(default_factory=dict)
    target_match_re: MatchREMap = Field(default_factory=dict)
    target_matchers: MatchersField = Field(default_factory=Matchers)
    equal: list[str] = Field(default_factory=list)

    @field_validator("equal")
    @classmethod
    def _equal(cls, v):
        for ln in v:
            if not is_valid_label_name(ln):
                raise ValueError(f'invalid label name "{ln}" in equal list')
        return v


class TimeIntervalDef(Model):
    """A named list of time intervals (``time_intervals`` / ``mute_time_intervals``)."""

    name: str = ""
    time_intervals: TimeIntervals = ()

    @model_validator(mode="after")
    def _name(self):
        if not self.name:
            raise ValueError("missing name in time interval")
        return self


class AlertmanagerConfig(Model):
    """The whole file. Use ``load_config`` / ``parse_config`` to build one."""

    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    route: Route | None = None
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    receivers: list[Receiver] = Field(default_factory=list)
    # Template file globs (relative to the config file's directory).
    templates: list[str] = Field(default_factory=list)
    # Deprecated alias of time_intervals.
    mute_time_intervals: list[TimeIntervalDef] = Field(default_factory=list)
    time_intervals: list[TimeIntervalDef] = Field(default_factory=list)

    # Not in the file: where it came from, for relative paths and /api/v2/status.
    source_path: str | None = Field(default=None, exclude=True)
    original: str = Field(default="", exclude=True, repr=False)

    def receiver(self, name: str) -> Receiver:
        for r in self.receivers:
            if r.name == name:
                return r
        raise KeyError(name)

    def time_interval_map(self) -> dict[str, tuple[TimeInterval, ...]]:
        out: dict[str, tuple[TimeInterval, ...]] = {}
        for d in list(self.mute_time_intervals) + list(self.time_intervals):
            out[d.name] = d.time_intervals
        return out

    def template_files(self) -> list[str]:
        files: list[str] = []
        for pattern in self.templates:
            files.extend(sorted(glob.glob(pattern)))
        return files

    def redacted_yaml(self) -> str:
        """The config as YAML with every secret replaced by ``<secret>``."""
        # Like Alertmanager: the global section with its defaults, then what the
        # file says (receivers completed from global), secrets as <secret>.
        data = {"global": self.global_.model_dump(mode="json", by_alias=True, exclude_none=True)}
        data.update(self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True,
                                    exclude={"global_"}))
        return yaml.safe_dump(_omit_empty(data), sort_keys=False, allow_unicode=True)


def _omit_empty(v: Any) -> Any:
    # Like Alertmanager's `omitempty`: empty strings, lists and maps are not printed.
    if isinstance(v, dict):
        out = {k: _omit_empty(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in ("", [], {}, None)}
    if isinstance(v, list):
        return [_omit_empty(x) for x in v]
    return v


# --- loading ----------------------------------------------------------------------
def load_config(path: str) -> AlertmanagerConfig:
    """Read and validate an alertmanager.yml; raises ``ConfigError``."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None
    return parse_config(text, source=path)


def parse_config(text: str, source: str | None = None, base_dir: str | None = None) -> AlertmanagerConfig:
    """Validate alertmanager.yml text; relative paths resolve against ``base_dir``
    (default: the directory of ``source``, else the working directory)."""
    where = source or "alertmanager.yml"
    try:
        data, lines = yamlsrc.load(text)
    except yamlsrc.YAMLError as e:
        raise ConfigError(f"{where}: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the document must be a mapping")
    if base_dir is None:
        base_dir = os.path.dirname(os.path.abspath(source)) if source else os.getcwd()
    data = _resolve_paths(data, base_dir)
    try:
        cfg = AlertmanagerConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(where, e, lines)) from None
    try:
        cfg = _complete(cfg)
        _check(cfg)
    except _PathError as e:
        line = yamlsrc.line_of(lines, e.path)
        at = f":{line}" if line else ""
        path = yamlsrc.format_path(e.path)
        raise ConfigError(f"{where}{at}: {path + ': ' if path else ''}{e.message}") from None
    return cfg.model_copy(update={"source_path": source, "original": text})


class _PathError(Exception):
    def __init__(self, path: tuple, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


def _format_errors(where: str, e: ValidationError, lines: dict) -> str:
    msgs = []
    for err in e.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # pydantic puts union/annotated branch names in loc; keep real keys only.
        loc = tuple(p for p in loc if isinstance(p, int) or not p.startswith(("json-or-python", "lax-or-strict")))
        line = yamlsrc.line_of(lines, loc)
        path = yamlsrc.format_path(loc)
        msg = err["msg"]
        msg = msg.removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            key = loc[-1] if loc else "?"
            parent = yamlsrc.format_path(loc[:-1]) or "top level"
            msg = f'unknown key "{key}" in {parent}'
            path = ""
        msgs.append(f"{where}{':' + str(line) if line else ''}: {path + ': ' if path else ''}{msg}")
    return "\n".join(msgs)


def _resolve_paths(data: dict, base_dir: str) -> dict:
    # Alertmanager resolves templates and http_config file paths against the
    # config's directory; we do that for every *_file key and the templates.
    def join(p: Any) -> Any:
        if isinstance(p, str) and p and not os.path.isabs(p):
            return os.path.join(base_dir, p)
        return p

    def walk(v: Any, key: str = "") -> Any:
        if isinstance(v, dict):
            return {k: (join(val) if isinstance(k, str) and k.endswith("_file") and isinstance(val, str)
                        else walk(val, k)) for k, val in v.items()}
        if isinstance(v, list):
            return [walk(x, key) for x in v]
        return v

    out = walk(data)
    if isinstance(out.get("templates"), list):
        out["templates"] = [join(t) for t in out["templates"]]
    return out


def _complete(cfg: AlertmanagerConfig) -> AlertmanagerConfig:
    """Fill receiver fields from ``global:`` exactly where Alertmanager does."""
    g = cfg.global_
    receivers = []
    for ri, rcv in enumerate(cfg.receivers):
        upd: dict[str, Any] = {}
        for key in ("webhook_configs", "msteams_configs", "msteamsv2_configs", "dingtalk_configs",
                    "feishu_configs", "wecom_configs"):
            upd[key] = [c if c.http_config else c.model_copy(update={"http_config": g.http_config})
                        for c in getattr(rcv, key)]
        slack = []
        for ci, sc in enumerate(rcv.slack_configs):
            u: dict[str, Any] = {}
            if sc.http_config is None:
                u["http_config"] = g.http_config
            if not sc.api_url and not sc.api_url_file:
                if not g.slack_api_url and not g.slack_api_url_file:
                    raise _PathError(("receivers", ri, "slack_configs", ci),
                                     "no global Slack API URL set either inline or in a file")
                u["api_url"] = g.slack_api_url
                u["api_url_file"] = g.slack_api_url_file
            slack.append(sc.model_copy(update=u))
        upd["slack_configs"] = slack
        tg = []
        for tc in rcv.telegram_configs:
            u = {}
            if tc.http_config is None:
                u["http_config"] = g.http_config
            if tc.api_url is None:
                u["api_url"] = g.telegram_api_url
            tg.append(tc.model_copy(update=u))
        upd["telegram_configs"] = tg
        emails = []
        for ci, ec in enumerate(rcv.email_configs):
            u = {}
            if not ec.smarthost:
                if not g.smtp_smarthost:
                    raise _PathError(("receivers", ri, "email_configs", ci), "no global SMTP smarthost set")
                u["smarthost"] = g.smtp_smarthost
            if not ec.from_:
                if not g.smtp_from:
                    raise _PathError(("receivers", ri, "email_configs", ci), "no global SMTP from set")
                u["from_"] = g.smtp_from
            if not ec.hello:
                u["hello"] = g.smtp_hello
            if not ec.auth_username:
                u["auth_username"] = g.smtp_auth_username
            if not ec.auth_password and not ec.auth_password_file:
                u["auth_password"] = g.smtp_auth_password
                u["auth_password_file"] = g.smtp_auth_password_file
            if not ec.auth_secret:
                u["auth_secret"] = g.smtp_auth_secret
            if not ec.auth_identity:
                u["auth_identity"] = g.smtp_auth_identity
            if ec.require_tls is None:
                u["require_tls"] = g.smtp_require_tls
            emails.append(ec.model_copy(update=u))
        upd["email_configs"] = emails
        receivers.append(rcv.model_copy(update=upd))
    return cfg.model_copy(update={"receivers": receivers})


def _check(cfg: AlertmanagerConfig) -> None:
    names: set[str] = set()
    for i, rcv in enumerate(cfg.receivers):
        if rcv.name in names:
            raise _PathError(("receivers", i, "name"), f'notification config name "{rcv.name}" is not unique')
        names.add(rcv.name)
    r = cfg.route
    if r is None:
        raise _PathError((), "no routes provided")
    if not r.receiver:
        raise _PathError(("route",), "root route must specify a default receiver")
    if r.match or r.match_re or r.matchers:
        raise _PathError(("route",), "root route must not have any matchers")
    if r.continue_:
        raise _PathError(("route",), "cannot have continue in root route")
    if r.mute_time_intervals:
        raise _PathError(("route",), "root route must not have any mute time intervals")
    if r.active_time_intervals:
        raise _PathError(("route",), "root route must not have any active time intervals")

    def check_receivers(route: Route, path: tuple) -> None:
        for i, sub in enumerate(route.routes):
            check_receivers(sub, path + ("routes", i))
        if route.receiver and route.receiver not in names:
            raise _PathError(path + ("receiver",), f'undefined receiver "{route.receiver}" used in route')

    check_receivers(r, ("route",))

    ti_names: set[str] = set()
    for i, d in enumerate(cfg.mute_time_intervals):
        if d.name in ti_names:
            raise _PathError(("mute_time_intervals", i, "name"), f'mute time interval "{d.name}" is not unique')
        ti_names.add(d.name)
    for i, d in enumerate(cfg.time_intervals):
        if d.name in ti_names:
            raise _PathError(("time_intervals", i, "name"), f'time interval "{d.name}" is not unique')
        ti_names.add(d.name)

    def check_intervals(route: Route, path: tuple) -> None:
        for i, sub in enumerate(route.routes):
            check_intervals(sub, path + ("routes", i))
        for key in ("active_time_intervals", "mute_time_intervals"):
            for j, name in enumerate(getattr(route, key)):
                if name not in ti_names:
                    raise _PathError(path + (key, j), f'undefined time interval "{name}" used in route')

    check_intervals(r, ("route",))
