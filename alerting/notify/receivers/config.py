"""The ``*_configs`` entries of a receiver: Alertmanager's, and Spyglass's own
``dingtalk_configs``, ``feishu_configs``, ``wecom_configs``.

Defaults are Alertmanager's (``send_resolved`` differs per integration, text
fields default to the named default templates); ``global:`` fills missing
URLs and SMTP settings later (``alerting.notify.config``)::

    Receiver.model_validate({"name": "ops", "webhook_configs": [{"url": "http://hook/"}]})
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, field_validator, model_validator

from alerting.notify.configvalues import (
    URL,
    HostPort,
    Model,
    SecretText,
    SecretURL,
    inline_or_file,
)
from spyglass.configtypes import Duration, HTTPClientConfig, TLSConfig


class _NotifierConfig(Model):
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
        inline_or_file(self.url, self.url_file, "url", required=True)
        return self


class SlackConfirmationField(Model):
    text: str = ""
    title: str = ""
    ok_text: str = ""
    dismiss_text: str = ""


class SlackAction(Model):
    type: str = ""
    text: str = ""
    url: str = ""
    style: str = ""
    name: str = ""
    value: str = ""
    confirm: SlackConfirmationField | None = None


class SlackField(Model):
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
        inline_or_file(self.api_url, self.api_url_file, "api_url", required=False)
        return self


class _TeamsWebhookConfig(_NotifierConfig):
    send_resolved: bool = True
    # The incoming-webhook URL (or a file holding it).
    webhook_url: SecretURL | None = None
    webhook_url_file: str = ""

    @model_validator(mode="after")
    def _url(self):
        inline_or_file(self.webhook_url, self.webhook_url_file, "webhook_url", required=True)
        return self


class MSTeamsConfig(_TeamsWebhookConfig):
    """``msteams_configs``: an Office 365 connector MessageCard (Alertmanager 0.26+)."""

    title: str = '{{ template "msteams.default.title" . }}'
    summary: str = '{{ template "msteams.default.summary" . }}'
    text: str = '{{ template "msteams.default.text" . }}'


class MSTeamsV2Config(_TeamsWebhookConfig):
    """``msteamsv2_configs``: an Adaptive Card for Teams workflows (Alertmanager 0.28+)."""

    title: str = '{{ template "msteamsv2.default.title" . }}'
    text: str = '{{ template "msteamsv2.default.text" . }}'


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
        inline_or_file(self.bot_token, self.bot_token_file, "bot_token", required=True,
                        missing="missing bot_token or bot_token_file on telegram_config")
        if self.chat_id == 0:
            raise ValueError("missing chat_id on telegram_config")
        if self.parse_mode not in ("", "Markdown", "MarkdownV2", "HTML"):
            raise ValueError("unknown parse_mode on telegram_config, must be Markdown, "
                             "MarkdownV2, HTML or empty string")
        return self


class EmailConfig(Model):
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
        inline_or_file(self.auth_password, self.auth_password_file, "auth_password",
                        required=False)
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
        inline_or_file(self.url, self.url_file, "url", required=True)
        return self


class _SignedRobotConfig(_ChatRobotConfig):
    # The robot's signing secret (or a file holding it); unsigned when empty.
    secret: SecretText = ""
    secret_file: str = ""

    @model_validator(mode="after")
    def _secret(self):
        inline_or_file(self.secret, self.secret_file, "secret", required=False)
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


class Receiver(Model):
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
