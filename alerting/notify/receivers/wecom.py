"""``wecom_configs``: a WeCom (WeChat Work) group robot, markdown message.

The robot's key is in its URL; there is no signature. Markdown content may
not exceed 4096 bytes of UTF-8, so longer messages are cut on a character
boundary. WeCom answers HTTP 200 on failure: ``errcode`` must be 0; 45009
(frequency limit) and -1 (busy) are retried; a robot takes 20 messages a
minute::

    {"msgtype":"markdown","markdown":{"content":"### [FIRING:1] Down\\n..."}}
"""

from __future__ import annotations

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

MAX_CONTENT_BYTES = 4096
RETRYABLE_ERRCODES = {45009, -1}


class WeCom(HTTPIntegration):
    name = "wecom"
    rate_limit = (20, 60.0)

    def build(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> dict:
        data = self.data(ctx, alerts)
        content = truncate_bytes(self.render(self.conf.message, data), MAX_CONTENT_BYTES)
        return {"msgtype": "markdown", "markdown": {"content": content}}

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        url = read_secret(self.conf.url, self.conf.url_file)
        resp = await self.post_json(url, self.build(ctx, alerts), ctx)
        check_status(resp)
        v = json_body(resp)
        code = v.get("errcode", 0)
        if code != 0:
            raise NotifyError(f"wecom errcode {code}: {v.get('errmsg', '')}", retry=code in RETRYABLE_ERRCODES)
