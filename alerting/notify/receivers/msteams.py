"""``msteams_configs`` (Office 365 connector MessageCard) and ``msteamsv2_configs``
(Adaptive Card for Teams workflows), as Alertmanager 0.26+/0.28+ post them.

The card is red while anything fires, green once all is resolved::

    {"@context":"http://schema.org/extensions","type":"MessageCard","title":"...",
     "summary":"...","text":"...","themeColor":"8C1A1A"}
"""

from __future__ import annotations

from collections.abc import Sequence

from alerting.notify.alert import Alert
from alerting.notify.pipeline import NotifyContext, NotifyError
from alerting.notify.receivers.base import (
    HTTPIntegration,
    check_status,
    read_secret,
    truncate_bytes,
)

COLOR_FIRING = "8C1A1A"
COLOR_RESOLVED = "2DC72D"
# Teams refuses cards beyond ~28 KB.
MAX_TEXT_BYTES = 24_000


class MSTeams(HTTPIntegration):
    name = "msteams"

    def build(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> dict:
        data = self.data(ctx, alerts)
        return {
            "@context": "http://schema.org/extensions",
            "type": "MessageCard",
            "title": self.render(self.conf.title, data),
            "summary": self.render(self.conf.summary, data),
            "text": truncate_bytes(self.render(self.conf.text, data), MAX_TEXT_BYTES),
            "themeColor": COLOR_FIRING if data.Status == "firing" else COLOR_RESOLVED,
        }

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        url = read_secret(self.conf.webhook_url, self.conf.webhook_url_file)
        resp = await self.post_json(url, self.build(ctx, alerts), ctx)
        check_status(resp)
        # Connector webhooks answer 200 with an error text instead of "1" when throttled.
        text = resp.text.strip()
        if "429" in text and text != "1":
            raise NotifyError(f"teams throttled: {text[:200]}", retry=True)


class MSTeamsV2(HTTPIntegration):
    name = "msteamsv2"

    def build(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> dict:
        data = self.data(ctx, alerts)
        firing = data.Status == "firing"
        return {
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.2",
                    "body": [
                        {"type": "TextBlock", "text": self.render(self.conf.title, data), "weight": "Bolder",
                         "size": "Medium", "wrap": True, "style": "heading",
                         "color": "Attention" if firing else "Good"},
                        {"type": "TextBlock",
                         "text": truncate_bytes(self.render(self.conf.text, data), MAX_TEXT_BYTES),
                         "wrap": True},
                    ],
                    "msteams": {"width": "full"},
                },
            }],
        }

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        url = read_secret(self.conf.webhook_url, self.conf.webhook_url_file)
        resp = await self.post_json(url, self.build(ctx, alerts), ctx)
        check_status(resp)
