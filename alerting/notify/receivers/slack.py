"""``slack_configs``: one message with one attachment, as Alertmanager sends it.

The attachment carries title, title link, text, color (red while firing,
green when resolved), fields and actions; templates render every text field.
Works with incoming webhooks (answer ``ok``) and ``chat.postMessage``
(answer ``{"ok": false, "error": ...}`` on failure, with HTTP 200)::

    {"channel":"#ops","username":"Spyglass","attachments":[{"title":"[FIRING:1] Down",
     "title_link":"...","text":"...","color":"danger","mrkdwn_in":["fallback","pretext","text"]}]}
"""

from __future__ import annotations

from collections.abc import Sequence

from alerting.notify.alert import Alert
from alerting.notify.pipeline import NotifyContext, NotifyError
from alerting.notify.receivers.base import (
    HTTPIntegration,
    check_status,
    read_secret,
    truncate_runes,
)

MAX_TITLE_RUNES = 1024


def _omit(d: dict) -> dict:
    return {k: v for k, v in d.items() if v not in ("", None, [], False)}


class Slack(HTTPIntegration):
    name = "slack"
    # Slack accepts about one message per second per webhook.
    rate_limit = (1, 1.0)

    def build(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> dict:
        c = self.conf
        data = self.data(ctx, alerts)
        r = lambda t: self.render(t, data)
        att = {
            "title": truncate_runes(r(c.title), MAX_TITLE_RUNES),
            "title_link": r(c.title_link),
            "pretext": r(c.pretext),
            "text": r(c.text),
            "fallback": r(c.fallback),
            "callback_id": r(c.callback_id),
            # Like Alertmanager, every field says whether it is short (the
            # field's own setting, else short_fields).
            "fields": [
                {**_omit({"title": r(f.title), "value": r(f.value)}),
                 "short": f.short if f.short is not None else c.short_fields}
                for f in c.fields
            ],
            "actions": [
                _omit({
                    "type": r(a.type), "text": r(a.text), "url": r(a.url), "style": r(a.style),
                    "name": r(a.name), "value": r(a.value),
                    "confirm": _omit({"text": r(a.confirm.text), "title": r(a.confirm.title),
                                      "ok_text": r(a.confirm.ok_text),
                                      "dismiss_text": r(a.confirm.dismiss_text)}) if a.confirm else None,
                })
                for a in c.actions
            ],
            "image_url": r(c.image_url),
            "thumb_url": r(c.thumb_url),
            "footer": r(c.footer),
            "color": r(c.color),
            "mrkdwn_in": list(c.mrkdwn_in) or ["fallback", "pretext", "text"],
        }
        return _omit({
            "channel": r(c.channel),
            "username": r(c.username),
            "icon_emoji": r(c.icon_emoji),
            "icon_url": r(c.icon_url),
            "link_names": c.link_names,
            "attachments": [_omit(att)],
        })

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        body = self.build(ctx, alerts)
        url = read_secret(self.conf.api_url, self.conf.api_url_file)
        resp = await self.post_json(url, body, ctx)
        check_status(resp)
        # chat.postMessage answers 200 with {"ok": false} on failure.
        if resp.headers.get("content-type", "").startswith("application/json"):
            try:
                v = resp.json()
            except ValueError:
                return
            if isinstance(v, dict) and v.get("ok") is False:
                err = str(v.get("error", "unknown error"))
                raise NotifyError(f"slack error: {err}", retry=err in ("ratelimited", "internal_error",
                                                                       "service_unavailable"))
