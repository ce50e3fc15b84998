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
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml
from pydantic import (AfterValidator, BeforeValidator, ConfigDict, Field, PlainSerializer,
                      ValidationError, field_validator, model_validator)

from alerting.notify import yamlsrc
from alerting.notify.matchers import (Matcher, Matchers, MatcherError, MatchType,
                                      is_legacy_label_name, is_valid_label_name, parse_matchers)
from alerting.notify.timeinterval import TimeInterval, TimeIntervalError
from spyglass.configtypes import ConfigModel, Duration, HTTPClientConfig, Secret, TLSConfig


class ConfigError(ValueError):
    """An invalid alertmanager.yml; the message names the file, key path and line."""


# --- value types ------------------------------------------------------------------
def _check_url(v: str) -> str:
    if not isinstance(v, str):
        raise ValueError("a URL must be a string")
    if v == "<secret>":
        raise ValueError("a redacted URL (<secret>) cannot be loaded")
    u = urlsplit(v)
    if u.scheme not in ("http", "https"):
        raise ValueError(f'unsupported scheme "{u.scheme}" for URL')
    if not u.netloc:
        raise ValueError("missing host for URL")
    return v


def _redact(v: str | None) -> str:
    return "<secret>" if v else ""


# An http(s) URL, printed as is.
URL = Annotated[str, AfterValidator(_check_url)]
# An http(s) URL with a credential in it (Slack, chat robots): never printed.
SecretURL = Annotated[str, AfterValidator(_check_url), AfterValidator(Secret),
                      PlainSerializer(_redact, return_type=str)]
# A secret string (token, password): never printed.
SecretText = Annotated[str, AfterValidator(Secret), PlainSerializer(_redact, return_type=str)]


def _matchers_from_lines(v: Any) -> Matchers:
    if isinstance(v, Matchers):
        return v
    if v is None:
        return Matchers()
    if not isinstance(v, list):
        raise ValueError("matchers must be a list of strings")
    out: list[Matcher] = []
    for line in v:
        if isinstance(line, Matcher):
            out.append(line)
            continue
        if not isinstance(line, str):
            raise ValueError(f"matcher {line!r} must be a string")
        try:
            out.extend(parse_matchers(line))
        except MatcherError as e:
            raise ValueError(str(e)) from None
    return Matchers(out).sorted()


# A `matchers:` list: Alertmanager matcher syntax, one or more per line, kept sorted.
MatchersField = Annotated[
    Matchers,
    BeforeValidator(_matchers_from_lines),
    PlainSerializer(lambda ms: [str(m) for m in ms], return_type=list),
]


def _check_match(v: Any) -> dict[str, str]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise ValueError("must be a map of label name to value")
    out = {}
    for k, val in v.items():
        if not isinstance(k, str) or not is_legacy_label_name(k):
            raise ValueError(f'invalid label name "{k}"')
        out[k] = "" if val is None else str(val)
    return out


def _check_match_re(v: Any) -> dict[str, str]:
    out = _check_match(v)
    for k, val in out.items():
        try:
            Matcher(MatchType.REGEX, k, val)
        except ValueError as e:
            raise ValueError(f'invalid regexp value for "{k}": {e}') from None
    return out


MatchMap = Annotated[dict[str, str], BeforeValidator(_check_match)]
MatchREMap = Annotated[dict[str, str], BeforeValidator(_check_match_re)]


def _host_port(v: Any) -> str:
    if v is None or v == "":
        return ""
    s = str(v)
    host, sep, port = s.rpartition(":")
    if not sep:
        raise ValueError(f"address {s}: missing port in address")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"address {s}: missing ']' in address")
    if not port:
        raise ValueError(f'address "{s}": port cannot be empty')
    return s


# `host:port` (the SMTP smarthost), validated like Go's net.SplitHostPort.
HostPort = Annotated[str, BeforeValidator(_host_port)]


def _time_intervals(v: Any) -> tuple[TimeInterval, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise ValueError("time_intervals must be a list")
    out = []
    for item in v:
        if isinstance(item, TimeInterval):
            out.append(item)
            continue
        try:
            out.append(TimeInterval.parse(item or {}))
        except TimeIntervalError as e:
            raise ValueError(str(e)) from None
    return tuple(out)


TimeIntervals = Annotated[
    tuple[TimeInterval, ...],
    BeforeValidator(_time_intervals),
    PlainSerializer(lambda tis: [ti.to_dict() for ti in tis], return_type=list),
]


class _Model(ConfigModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              arbitrary_types_allowed=True)


# --- global -----------------------------------------------------------------------
class GlobalConfig(_Model):
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
        for a, b in (("slack_api_url", "slack_api_url_file"),
                     ("opsgenie_api_key", "opsgenie_api_key_file"),
                     ("victorops_api_key", "victorops_api_key_file"),
                     ("smtp_auth_password", "smtp_auth_password_file")):
            if getattr(self, a) and getattr(self, b):
                raise ValueError(f"at most one of {a} & {b} must be configured")
        return self


# --- receivers ------------------------------------------------------------------
class _NotifierConfig(_Model):
    # The HTTP client; `global.http_config` when absent.
    http_config: HTTPClientConfig | None = None


class WebhookConfig(_NotifierConfig):
    """``webhook_configs``: Alertmanager's JSON payload (version 4) POSTed to a URL."""

    # Also notify when alerts resolve.
    send_resolved: bool = True
    # Where to POST (or a file holding the URL).
    url: SecretURL | None = None
    url_file: str = ""
    # Send at most this many alerts per message (0 = all); the rest is counted
    # in `truncatedAlerts`.
    max_alerts: int = Field(default=0, ge=0)
    # Give up one attempt after this long (0 = until the group_interval runs out).
    timeout: Duration = 0.0

    @model_validator(mode="after")
    def _url(self):
        if not self.url and not self.url_file:
            raise ValueError("one of url or url_file must be configured")
        if self.url and self.url_file:
            raise ValueError("at most one of url & url_file must be configured")
        return self


class SlackConfirmationField(_Model):
    text: str = ""
    title: str = ""
    ok_text: str = ""
    dismiss_text: str = ""


class SlackAction(_Model):
    type: str = ""
    text: str = ""
    url: str = ""
    style: str = ""
    name: str = ""
    value: str = ""
    confirm: SlackConfirmationField | None = None


class SlackField(_Model):
    title: str = ""
    value: str = ""
    short: bool | None = None


class SlackConfig(_NotifierConfig):
    """``slack_configs``: one attachment per notification, as Alertmanager posts it."""

    send_resolved: bool = False
    # Incoming-webhook or chat.postMessage URL; `global.slack_api_url` when absent.
    api_url: SecretURL | None = None
    api_url_file: str = ""
    # The fields below are templates, rendered with the notification data.
    channel: str = ""
    username: str = '{{ template "slack.default.username" . }}'
    color: str = '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    title: str = '{{ template "slack.default.title" . }}'
    title_link: str = '{{ template "slack.default.titlelink" . }}'
    pretext: str = '{{ template "slack.default.pretext" . }}'
    text: str = '{{ template "slack.default.text" . }}'
    fields: list[SlackField] = Field(default_factory=list)
    short_fields: bool = False
    footer: str = '{{ template "slack.default.footer" . }}'
    fallback: str = '{{ template "slack.default.fallback" . }}'
    callback_id: str = '{{ template "slack.default.callbackid" . }}'
    icon_emoji: str = '{{ template "slack.default.iconemoji" . }}'
    icon_url: str = '{{ template "slack.default.iconurl" . }}'
    image_url: str = ""
    thumb_url: str = ""
    link_names: bool = False
    mrkdwn_in: list[str] = Field(default_factory=list)
    actions: list[SlackAction] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one(self):
        if self.api_url and self.api_url_file:
            raise ValueError("at most one of api_url & api_url_file must be configured")
        return self


class MSTeamsConfig(_NotifierConfig):
    """``msteams_configs``: an Office 365 connector MessageCard (Alertmanager 0.26+)."""

    send_resolved: bool = True
    # The incoming-webhook URL (or a file holding it).
    webhook_url: SecretURL | None = None
    webhook_url_file: str = ""
    title: str = '{{ template "msteams.default.title" . }}'
    summary: str = '{{ template "msteams.default.summary" . }}'
    text: str = '{{ template "msteams.default.text" . }}'

    @model_validator(mode="after")
    def _url(self):
        if not self.webhook_url and not self.webhook_url_file:
            raise ValueError("one of webhook_url or webhook_url_file must be configured")
        if self.webhook_url and self.webhook_url_file:
            raise ValueError("at most one of webhook_url & webhook_url_file must be configured")
        return self


class MSTeamsV2Config(_NotifierConfig):
    """``msteamsv2_configs``: an Adaptive Card for Teams workflows (Alertmanager 0.28+)."""

    send_resolved: bool = True
    webhook_url: SecretURL | None = None
    webhook_url_file: str = ""
    title: str = '{{ template "msteamsv2.default.title" . }}'
    text: str = '{{ template "msteamsv2.default.text" . }}'

    @model_validator(mode="after")
    def _url(self):
        if not self.webhook_url and not self.webhook_url_file:
            raise ValueError("one of webhook_url or webhook_url_file must be configured")
        if self.webhook_url and self.webhook_url_file:
            raise ValueError("at most one of webhook_url & webhook_url_file must be configured")
        return self


class TelegramConfig(_NotifierConfig):
    """``telegram_configs``: the Bot API's sendMessage."""

    send_resolved: bool = True
    # Bot API base URL; `global.telegram_api_url` when absent.
    api_url: URL | None = None
    bot_token: SecretText = ""
    bot_token_file: str = ""
    chat_id: int = 0
    # Forum topic to post in (0 = the main chat).
    message_thread_id: int = 0
    message: str = '{{ template "telegram.default.message" . }}'
    disable_notifications: bool = False
    # "HTML", "Markdown", "MarkdownV2" or "" (plain text).
    parse_mode: str = "HTML"

    @model_validator(mode="after")
    def _check(self):
        if not self.bot_token and not self.bot_token_file:
            raise ValueError("missing bot_token or bot_token_file on telegram_config")
        if self.bot_token and self.bot_token_file:
            raise ValueError("at most one of bot_token & bot_token_file must be configured")
        if self.chat_id == 0:
            raise ValueError("missing chat_id on telegram_config")
        if self.parse_mode not in ("", "Markdown", "MarkdownV2", "HTML"):
            raise ValueError("unknown parse_mode on telegram_config, must be Markdown, "
                             "MarkdownV2, HTML or empty string")
        return self


class EmailConfig(_Model):
    """``email_configs``: SMTP with STARTTLS and AUTH; `global.smtp_*` fill the gaps."""

    send_resolved: bool = False
    # Recipients, comma separated (a template).
    to: str = ""
    # Sender (a template); `global.smtp_from` when empty.
    from_: str = Field(default="", alias="from")
    hello: str = ""
    smarthost: HostPort = ""
    auth_username: str = ""
    auth_password: SecretText = ""
    auth_password_file: str = ""
    auth_secret: SecretText = ""
    auth_identity: str = ""
    # Extra headers (templates); Subject/To/From default from the fields above.
    headers: dict[str, str] = Field(default_factory=dict)
    html: str = '{{ template "email.default.html" . }}'
    text: str = ""
    # Refuse to send unless STARTTLS works; `global.smtp_require_tls` when absent.
    require_tls: bool | None = None
    tls_config: TLSConfig = Field(default_factory=TLSConfig)

    @field_validator("headers", mode="before")
    @classmethod
    def _canonical_headers(cls, v):
        if not v:
            return {}
        out: dict[str, str] = {}
        for k, val in v.items():
            canon = "-".join(p[:1].upper() + p[1:].lower() for p in str(k).split("-"))
            if canon in out:
                raise ValueError(f'duplicate header "{canon}" in email config')
            out[canon] = "" if val is None else str(val)
        return out

    @model_validator(mode="after")
    def _check(self):
        if not self.to:
            raise ValueError("missing to address in email config")
        if self.auth_password and self.auth_password_file:
            raise ValueError("at most one of auth_password & auth_password_file must be configured")
        return self


class _ChatRobotConfig(_NotifierConfig):
    send_resolved: bool = True
    # The robot's webhook URL, token included (or a file holding it).
    url: SecretURL | None = None
    url_file: str = ""
    # Give up one attempt after this long (0 = until the group_interval runs out).
    timeout: Duration = 0.0

    @model_validator(mode="after")
    def _url(self):
        if not self.url and not self.url_file:
            raise ValueError("one of url or url_file must be configured")
        if self.url and self.url_file:
            raise ValueError("at most one of url & url_file must be configured")
        return self


class _SignedRobotConfig(_ChatRobotConfig):
    # The robot's signing secret (or a file holding it); unsigned when empty.
    secret: SecretText = ""
    secret_file: str = ""

    @model_validator(mode="after")
    def _secret(self):
        if self.secret and self.secret_file:
            raise ValueError("at most one of secret & secret_file must be configured")
        return self


class DingTalkConfig(_SignedRobotConfig):
    """``dingtalk_configs`` (Spyglass): a DingTalk custom robot, markdown message.

    Signed with HMAC-SHA256 when ``secret`` is set; DingTalk allows a robot 20
    messages a minute, so sends beyond that wait for the window."""

    title: str = '{{ template "dingtalk.default.title" . }}'
    message: str = '{{ template "dingtalk.default.message" . }}'
    # Mobile numbers to @-mention, and whether to @ everyone.
    at_mobiles: list[str] = Field(default_factory=list)
    at_all: bool = False


class FeishuConfig(_SignedRobotConfig):
    """``feishu_configs`` (Spyglass): a Feishu/Lark custom bot, interactive card."""

    title: str = '{{ template "feishu.default.title" . }}'
    message: str = '{{ template "feishu.default.message" . }}'


class WeComConfig(_ChatRobotConfig):
    """``wecom_configs`` (Spyglass): a WeCom group robot, markdown up to 4096 bytes."""

    title: str = '{{ template "wecom.default.title" . }}'
    message: str = '{{ template "wecom.default.message" . }}'


# Alertmanager integrations that Spyglass does not implement: refused by name.
UNSUPPORTED_INTEGRATIONS = (
    "pagerduty_configs", "opsgenie_configs", "wechat_configs", "pushover_configs",
    "victorops_configs", "sns_configs", "discord_configs", "webex_configs", "jira_configs",
    "rocketchat_configs",
)

INTEGRATION_KEYS = (
    "webhook_configs", "slack_configs", "msteams_configs", "msteamsv2_configs",
    "telegram_configs", "email_configs", "dingtalk_configs", "feishu_configs", "wecom_configs",
)


class Receiver(_Model):
    """A named list of integrations; a route notifies all of them."""

    name: str = ""
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    slack_configs: list[SlackConfig] = Field(default_factory=list)
    msteams_configs: list[MSTeamsConfig] = Field(default_factory=list)
    msteamsv2_configs: list[MSTeamsV2Config] = Field(default_factory=list)
    telegram_configs: list[TelegramConfig] = Field(default_factory=list)
    email_configs: list[EmailConfig] = Field(default_factory=list)
    dingtalk_configs: list[DingTalkConfig] = Field(default_factory=list)
    feishu_configs: list[FeishuConfig] = Field(default_factory=list)
    wecom_configs: list[WeComConfig] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _unsupported(cls, data):
        if isinstance(data, Mapping):
            for key in UNSUPPORTED_INTEGRATIONS:
                if key in data:
                    raise ValueError(
                        f"{key} is an Alertmanager integration Spyglass does not implement; "
                        f"supported: {', '.join(INTEGRATION_KEYS)}"
                    )
        return data

    @model_validator(mode="after")
    def _name(self):
        if not self.name:
            raise ValueError("missing name in receiver")
        return self


# --- routing ----------------------------------------------------------------------
class Route(_Model):
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


class InhibitRule(_Model):
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


class TimeIntervalDef(_Model):
    """A named list of time intervals (``time_intervals`` / ``mute_time_intervals``)."""

    name: str = ""
    time_intervals: TimeIntervals = ()

    @model_validator(mode="after")
    def _name(self):
        if not self.name:
            raise ValueError("missing name in time interval")
        return self


class AlertmanagerConfig(_Model):
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
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
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
