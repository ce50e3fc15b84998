"""``feishu_configs``: a Feishu/Lark custom bot, interactive card.

With a ``secret`` the body carries ``timestamp`` (seconds) and ``sign`` =
``base64(HMAC-SHA256(key="timestamp\\nsecret", message=""))``, as Feishu
specifies. Feishu answers HTTP 200 on failure: ``code`` (or the older
``StatusCode``) must be 0; 9499 and 11232 (rate limited) are retried::

    {"timestamp":"1700000000","sign":"...","msg_type":"interactive",
     "card":{"header":{"title":{"tag":"plain_text","content":"[FIRING:1] Down"},"template":"red"},
             "elements":[{"tag":"div","text":{"tag":"lark_md","content":"..."}}, ...]}}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from alerting.notify.alert import Alert
from alerting.notify.pipeline import NotifyContext, NotifyError
from alerting.notify.receivers.base import (
    HTTPIntegration,
    check_status,
    json_body,
    read_secret,
    truncate_bytes,
)

# A card request must stay under 30 KB; leave room for the envelope.
MAX_TEXT_BYTES = 25_000
RETRYABLE_CODES = {9499, 11232, 11233}


def sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


class Feishu(HTTPIntegration):
    name = "feishu"
    # Feishu allows a bot 100 messages a minute and 5 a second.
    rate_limit = (5, 1.0)

    def build(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> dict:
        data = self.data(ctx, alerts)
        firing = data.Status == "firing"
        url = f"{data.ExternalURL}/#/alerts?receiver={data.Receiver}"
        elements: list[dict] = [
            {"tag": "div", "text": {"tag": "lark_md",
                                    "content": truncate_bytes(self.render(self.conf.message, data), MAX_TEXT_BYTES)}},
        ]
        if data.ExternalURL:
            elements.append({"tag": "action", "actions": [{
                "tag": "button", "text": {"tag": "plain_text", "content": "Open in Spyglass"},
                "url": url, "type": "default"}]})
        return {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {"title": {"tag": "plain_text", "content": self.render(self.conf.title, data)},
                           "template": "red" if firing else "green"},
                "elements": elements,
            },
        }

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        body = self.build(ctx, alerts)
        url = read_secret(self.conf.url, self.conf.url_file)
        secret = read_secret(self.conf.secret, self.conf.secret_file)
        await self.limited()
        if secret:
            ts = self.deps.clock.now_ns() // 1_000_000_000
            body = {"timestamp": str(ts), "sign": sign(secret, ts), **body}
        resp = await self.post_json(url, body, ctx, limit=False)
        check_status(resp)
        v = json_body(resp)
        code = v.get("code", v.get("StatusCode", 0))
        if code != 0:
            msg = v.get("msg", v.get("StatusMessage", ""))
            raise NotifyError(f"feishu code {code}: {msg}", retry=code in RETRYABLE_CODES)
