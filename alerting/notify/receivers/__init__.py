"""Integrations, one module per platform, known by their config key.

``build_integrations(receiver, deps)`` turns one config ``Receiver`` into its
list of integrations, exactly as ``*_configs`` lists them::

    integrations = build_integrations(cfg.receiver("team-db"), deps)
"""

from __future__ import annotations

from alerting.notify.receivers.base import BaseIntegration, IntegrationDeps
from alerting.notify.receivers.config import Receiver
from alerting.notify.receivers.dingtalk import DingTalk
from alerting.notify.receivers.email import Email
from alerting.notify.receivers.feishu import Feishu
from alerting.notify.receivers.msteams import MSTeams, MSTeamsV2
from alerting.notify.receivers.slack import Slack
from alerting.notify.receivers.telegram import Telegram
from alerting.notify.receivers.webhook import Webhook
from alerting.notify.receivers.wecom import WeCom

# config key -> integration class; the order is the order integrations run in.
INTEGRATIONS: dict[str, type[BaseIntegration]] = {
    "webhook_configs": Webhook,
    "email_configs": Email,
    "slack_configs": Slack,
    "msteams_configs": MSTeams,
    "msteamsv2_configs": MSTeamsV2,
    "telegram_configs": Telegram,
    "dingtalk_configs": DingTalk,
    "feishu_configs": Feishu,
    "wecom_configs": WeCom,
}


def build_integrations(receiver: Receiver, deps: IntegrationDeps) -> list[BaseIntegration]:
    out: list[BaseIntegration] = []
    for key, cls in INTEGRATIONS.items():
        for i, conf in enumerate(getattr(receiver, key)):
            out.append(cls(conf, i, deps))
    return out


__all__ = ["INTEGRATIONS", "BaseIntegration", "IntegrationDeps", "build_integrations"]
