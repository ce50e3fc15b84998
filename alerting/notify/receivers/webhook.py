"""``webhook_configs``: Alertmanager's webhook payload, version 4, byte for byte.

The body is what Alertmanager's Go encoder writes: the notification data
(``receiver``, ``status``, ``alerts``, ``groupLabels``, ``commonLabels``,
``commonAnnotations``, ``externalURL``) followed by ``version``, ``groupKey``
and ``truncatedAlerts``, maps with sorted keys, HTML-safe escaping and a
trailing newline. ``max_alerts`` cuts the alert list and counts the rest::

    {"receiver":"team","status":"firing","alerts":[...],...,"version":"4",
     "groupKey":"{}:{alertname=\\"Down\\"}","truncatedAlerts":0}
"""

from __future__ import annotations

from collections.abc import Sequence

from alerting.notify.alert import Alert
from alerting.notify.pipeline import NotifyContext
from alerting.notify.receivers.base import HTTPIntegration, check_status, read_secret
from alerting.notify.wire import go_json


def payload(data_json: dict, group_key: str, truncated: int) -> bytes:
    msg = dict(data_json)
    msg["version"] = "4"
    msg["groupKey"] = group_key
    msg["truncatedAlerts"] = truncated
    return (go_json(msg) + "\n").encode("utf-8")


class Webhook(HTTPIntegration):
    name = "webhook"

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        alerts = list(alerts)
        truncated = 0
        if self.conf.max_alerts and len(alerts) > self.conf.max_alerts:
            truncated = len(alerts) - self.conf.max_alerts
            alerts = alerts[: self.conf.max_alerts]
        data = self.data(ctx, alerts)
        body = payload(data.to_json(), ctx.group_key, truncated)
        url = read_secret(self.conf.url, self.conf.url_file)
        resp = await self.post(url, ctx, content=body, headers={"Content-Type": "application/json"})
        check_status(resp)
