"""``telegram_configs``: the Bot API's ``sendMessage``.

The message (HTML by default, so the default template escapes label text)
is cut to Telegram's 4096 characters. Telegram answers ``{"ok": false,
"error_code": 429, ...}`` when throttled, which is retried like 5xx::

    POST {api_url}/bot<token>/sendMessage
    {"chat_id":-1001,"text":"<b>[FIRING:1] Down</b>...","parse_mode":"HTML","disable_notification":false}
"""

from __future__ import annotations

from collections.abc import Sequence

from alerting.notify.alert import Alert
from alerting.notify.pipeline import NotifyContext, NotifyError
from alerting.notify.receivers.base import HTTPIntegration, read_secret, truncate_runes

MAX_MESSAGE_RUNES = 4096


class Telegram(HTTPIntegration):
    name = "telegram"
    # Telegram allows about 20 messages a minute into one group.
    rate_limit = (20, 60.0)

    def build(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> dict:
        data = self.data(ctx, alerts)
        body = {
            "chat_id": self.conf.chat_id,
            "text": truncate_runes(self.render(self.conf.message, data), MAX_MESSAGE_RUNES),
            "disable_notification": self.conf.disable_notifications,
        }
        if self.conf.parse_mode:
            body["parse_mode"] = self.conf.parse_mode
        if self.conf.message_thread_id:
            body["message_thread_id"] = self.conf.message_thread_id
        return body

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        token = read_secret(self.conf.bot_token, self.conf.bot_token_file)
        url = f"{self.conf.api_url.rstrip('/')}/bot{token}/sendMessage"
        resp = await self.post_json(url, self.build(ctx, alerts), ctx)
        try:
            v = resp.json()
        except ValueError:
            v = None
        if resp.status_code // 100 == 2 and isinstance(v, dict) and v.get("ok") is True:
            return
        code = v.get("error_code", resp.status_code) if isinstance(v, dict) else resp.status_code
        desc = v.get("description", "") if isinstance(v, dict) else resp.text[:200]
        raise NotifyError(f"telegram error {code}: {desc}", retry=code == 429 or code // 100 == 5)
