"""``dingtalk_configs``: a DingTalk custom robot, markdown message.

With a ``secret`` the request is signed as DingTalk specifies: the
millisecond timestamp and ``base64(HMAC-SHA256(key=secret, "timestamp\\nsecret"))``
go URL-encoded into the ``timestamp`` and ``sign`` query parameters. DingTalk
answers HTTP 200 even on failure, so ``errcode`` decides; 130101 ("sending
too fast") is retried, and sends are held to 20 a minute per robot::

    {"msgtype":"markdown","markdown":{"title":"[FIRING:1] Down","text":"### ..."},
     "at":{"atMobiles":[],"isAtAll":false}}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import quote_plus

from alerting.notify.alert import Alert
from alerting.notify.pipeline import NotifyContext, NotifyError
from alerting.notify.receivers.base import (
    HTTPIntegration,
    check_status,
    json_body,
    read_secret,
    truncate_bytes,
)

# DingTalk rejects markdown bodies much beyond 20 000 bytes.
MAX_TEXT_BYTES = 19_000
RETRYABLE_ERRCODES = {130101, -1}


def sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value (already URL-encoded)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}timestamp={timestamp_ms}&sign={sign(secret, timestamp_ms)}"


class DingTalk(HTTPIntegration):
    name = "dingtalk"
    rate_limit = (20, 60.0)

    def build(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> dict:
        data = self.data(ctx, alerts)
        text = self.render(self.conf.message, data)
        mentions = " ".join(f"@{m}" for m in self.conf.at_mobiles)
        if mentions:
            text = f"{text}\n\n{mentions}"
        return {
            "msgtype": "markdown",
            "markdown": {"title": self.render(self.conf.title, data),
                         "text": truncate_bytes(text, MAX_TEXT_BYTES)},
            "at": {"atMobiles": list(self.conf.at_mobiles), "isAtAll": self.conf.at_all},
        }

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        body = self.build(ctx, alerts)
        url = read_secret(self.conf.url, self.conf.url_file)
        secret = read_secret(self.conf.secret, self.conf.secret_file)
        await self.limited()
        if secret:
            # Signed just before sending: DingTalk rejects timestamps older than an hour.
            url = signed_url(url, secret, self.deps.clock.now_ns() // 1_000_000)
        # The rate limit was taken before signing (the signature must be fresh).
        resp = await self.post_json(url, body, ctx, limit=False)
        check_status(resp)
        v = json_body(resp)
        code = v.get("errcode", 0)
        if code != 0:
            raise NotifyError(f"dingtalk errcode {code}: {v.get('errmsg', '')}",
                              retry=code in RETRYABLE_ERRCODES)
