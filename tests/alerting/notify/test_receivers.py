"""Each integration against a real local HTTP server standing in for its
platform: exact payloads, signatures recomputed here, error codes, retries,
rate limits and the link-local guard."""

import asyncio
import base64
import hashlib
import hmac
import textwrap
from urllib.parse import quote_plus

import httpx
import pytest
from prometheus_client import CollectorRegistry

from alerting.notify import FakeClock, Notifier, parse_config
from alerting.notify.receivers.base import default_client_factory
from alerting.notify.receivers.netguard import AddressGuard, TargetRefused, forbidden_address
from tests.alerting.notify.capture_server import CaptureServer
from tests.alerting.notify.harness import T0, alert

FAR = T0 + 10**7
EXT = "http://spyglass.test"


def fnv_fingerprint(labels: dict) -> str:
    h = 0xCBF29CE484222325
    for k in sorted(labels):
        for b in k.encode() + b"\xff" + labels[k].encode() + b"\xff":
            h = ((h ^ b) * 0x100000001B3) % 2**64
    return f"{h:016x}"


async def run_notifier(receivers_yaml: str, clock: FakeClock, group_by="[alertname]", extra="",
                       interval="1m") -> Notifier:
    text = f"route:\n  receiver: chat\n  group_by: {group_by}\n  group_wait: 10s\n  group_interval: {interval}\n" \
           f"receivers:\n- name: chat\n{textwrap.indent(textwrap.dedent(receivers_yaml), '  ')}{extra}"
    n = Notifier(parse_config(text), None, clock=clock, registry=CollectorRegistry(), external_url=EXT)
    await n.start_async()
    return n


def fire(n, **extra):
    n.put_alerts([alert("Down", starts=T0, ends=FAR, job="api", severity="critical", **extra)])


async def flush(n, clock, seconds=10, interval=60.0):
    await clock.advance(seconds)
    await drive(n, clock, horizon=interval)


async def drive(n, clock, horizon=60.0):
    """Real I/O and fake time together: while the flush that just started runs
    (maybe sleeping out a retry back-off on the fake clock), let its I/O progress
    and move time to its next timer, but never to the group's next tick
    (``horizon`` after the flush began) nor past it."""
    limit = clock.now() + horizon
    while n.busy():
        await asyncio.sleep(0.005)
        due = clock.next_due()
        if due is not None and due < limit:
            await clock.advance(max(0.0, due - clock.now()))


LABELS = {"alertname": "Down", "job": "api", "severity": "critical"}


def test_webhook_payload_is_byte_for_byte_alertmanagers():
    async def scenario(srv):
        clock = FakeClock(T0)
        n = await run_notifier(f"webhook_configs: [{{url: '{srv.url}/hook'}}]", clock)
        fire(n)
        await flush(n, clock)
        (req,) = srv.at("/hook")
        fp = fnv_fingerprint(LABELS)
        want = (
            '{"receiver":"chat","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Down",'
            '"job":"api","severity":"critical"},"annotations":{"summary":"Down happened"},'
            '"startsAt":"2024-05-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",'
            f'"generatorURL":"http://prom.test/graph","fingerprint":"{fp}"}}],"groupLabels":{{"alertname":"Down"}},'
            '"commonLabels":{"alertname":"Down","job":"api","severity":"critical"},'
            '"commonAnnotations":{"summary":"Down happened"},"externalURL":"http://spyglass.test","version":"4",'
            '"groupKey":"{}:{alertname=\\"Down\\"}","truncatedAlerts":0}\n'
        )
        assert req.body.decode() == want
        assert req.headers["Content-Type"] == "application/json"
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_slack_attachment():
    async def scenario(srv):
        clock = FakeClock(T0)
        n = await run_notifier(f"""
        slack_configs:
        - api_url: {srv.url}/slack
          channel: '#ops'
          send_resolved: true
          text: '{{{{ range .Alerts }}}}{{{{ .Labels.job }}}}{{{{ end }}}}'
          fields: [{{title: sev, value: '{{{{ .CommonLabels.severity }}}}'}}]
        """, clock)
        fire(n)
        await flush(n, clock)
        body = srv.at("/slack")[0].json()
        assert body == {
            "channel": "#ops",
            "username": "Spyglass",
            "attachments": [{
                "title": "[FIRING:1] Down (api critical)",
                "title_link": "http://spyglass.test/#/alerts?receiver=chat",
                "text": "api",
                "fallback": "[FIRING:1] Down (api critical) | http://spyglass.test/#/alerts?receiver=chat",
                "fields": [{"title": "sev", "value": "critical", "short": False}],
                "color": "danger",
                "mrkdwn_in": ["fallback", "pretext", "text"],
            }],
        }
        n.put_alerts([alert("Down", starts=T0, ends=clock.now(), job="api", severity="critical")])
        await flush(n, clock, 60)
        resolved = srv.at("/slack")[-1].json()["attachments"][0]
        assert resolved["color"] == "good" and resolved["title"] == "[RESOLVED] Down (api critical)"
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_slack_api_error_in_a_200_is_a_failure():
    async def scenario(srv):
        srv.responses["/slack"] = [(200, '{"ok":false,"error":"channel_not_found"}')]
        clock = FakeClock(T0)
        n = await run_notifier(f"slack_configs: [{{api_url: '{srv.url}/slack'}}]", clock)
        fire(n)
        await flush(n, clock)
        assert len(srv.at("/slack")) == 1  # not retryable
        assert n.telemetry.notifications_failed.labels("slack")._value.get() == 1
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_msteams_message_card():
    async def scenario(srv):
        clock = FakeClock(T0)
        n = await run_notifier(f"msteams_configs: [{{webhook_url: '{srv.url}/teams', text: 'x {{{{ .Status }}}}'}}]",
                               clock)
        fire(n)
        await flush(n, clock)
        assert srv.at("/teams")[0].json() == {
            "@context": "http://schema.org/extensions", "type": "MessageCard",
            "title": "[FIRING:1] Down (api critical)", "summary": "[FIRING:1] Down (api critical)",
            "text": "x firing", "themeColor": "8C1A1A"}
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_dingtalk_signature_markdown_and_errcode():
    async def scenario(srv):
        srv.responses["/robot/send"] = [(200, '{"errcode":130101,"errmsg":"send too fast"}'),
                                        (200, '{"errcode":0,"errmsg":"ok"}')]
        clock = FakeClock(T0)
        n = await run_notifier(f"""
        dingtalk_configs:
        - url: {srv.url}/robot/send?access_token=TOKEN
          secret: SECsecret
          title: 't {{{{ .GroupLabels.alertname }}}}'
          message: 'm {{{{ len .Alerts }}}}'
          at_mobiles: ['13800000000']
        """, clock)
        fire(n)
        await flush(n, clock)
        first, second = srv.at("/robot/send")
        for req in (first, second):
            ts = req.query["timestamp"][0]
            assert req.query["access_token"] == ["TOKEN"]
            want = base64.b64encode(hmac.new(b"SECsecret", f"{ts}\nSECsecret".encode(), hashlib.sha256).digest())
            assert req.query["sign"] == [want.decode()]  # parse_qs undid the URL encoding
        assert first.query["timestamp"] == [str(int((T0 + 10) * 1000))]
        assert int(second.query["timestamp"][0]) > int(first.query["timestamp"][0])  # signed again on retry
        # base64 has + / =: they travel URL-encoded.
        assert first.raw_query == (f"access_token=TOKEN&timestamp={first.query['timestamp'][0]}"
                                   f"&sign={quote_plus(first.query['sign'][0])}")
        assert second.json() == {
            "msgtype": "markdown",
            "markdown": {"title": "t Down", "text": "m 1\n\n@13800000000"},
            "at": {"atMobiles": ["13800000000"], "isAtAll": False},
        }
        assert n.telemetry.requests_failed.labels("dingtalk")._value.get() == 1
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_dingtalk_keyword_error_is_not_retried():
    async def scenario(srv):
        srv.responses["/robot/send"] = [(200, '{"errcode":310000,"errmsg":"keywords not in content"}')]
        clock = FakeClock(T0)
        n = await run_notifier(f"dingtalk_configs: [{{url: '{srv.url}/robot/send?access_token=T'}}]", clock)
        fire(n)
        await flush(n, clock)
        assert len(srv.at("/robot/send")) == 1
        assert "timestamp" not in srv.at("/robot/send")[0].query  # no secret, no signature
        assert n.telemetry.notifications_failed.labels("dingtalk")._value.get() == 1
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_dingtalk_twenty_messages_a_minute():
    async def scenario(srv):
        srv.responses["/robot/send"] = [(200, '{"errcode":0,"errmsg":"ok"}')]
        clock = FakeClock(T0)
        n = await run_notifier(f"dingtalk_configs: [{{url: '{srv.url}/robot/send?access_token=T'}}]", clock,
                               group_by="[instance]", interval="5m")
        n.put_alerts([alert("Down", starts=T0, ends=FAR, instance=f"i{i}") for i in range(22)])
        await clock.advance(10)
        for _ in range(20):
            await asyncio.sleep(0.02)
        assert len(srv.at("/robot/send")) == 20
        assert n.telemetry.rate_limited.labels("dingtalk")._value.get() >= 1
        await clock.advance(60)
        await n.wait_idle()
        assert len(srv.at("/robot/send")) == 22
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_feishu_signed_interactive_card():
    async def scenario(srv):
        srv.responses["/hook/x"] = [(200, '{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}')]
        clock = FakeClock(T0)
        n = await run_notifier(f"""
        feishu_configs:
        - url: {srv.url}/hook/x
          secret: fsecret
          title: 'T {{{{ .Status }}}}'
          message: 'M {{{{ .CommonLabels.job }}}}'
        """, clock)
        fire(n)
        await flush(n, clock)
        body = srv.at("/hook/x")[0].json()
        ts = body.pop("timestamp")
        assert ts == str(int(T0 + 10))
        want = base64.b64encode(hmac.new(f"{ts}\nfsecret".encode(), b"", hashlib.sha256).digest()).decode()
        assert body.pop("sign") == want
        assert body == {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {"title": {"tag": "plain_text", "content": "T firing"}, "template": "red"},
                "elements": [
                    {"tag": "div", "text": {"tag": "lark_md", "content": "M api"}},
                    {"tag": "action", "actions": [{"tag": "button", "text": {"tag": "plain_text",
                                                                             "content": "Open in Spyglass"},
                                                   "url": "http://spyglass.test/#/alerts?receiver=chat",
                                                   "type": "default"}]},
                ],
            },
        }
        # HTTP 200 with a non-zero code is a (permanent) failure.
        assert n.telemetry.notifications_failed.labels("feishu")._value.get() == 1
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_wecom_markdown_is_cut_to_4096_bytes_on_a_character_boundary():
    async def scenario(srv):
        srv.responses["/cgi-bin/webhook/send"] = [(200, '{"errcode":45009,"errmsg":"api freq out of limit"}'),
                                                  (200, '{"errcode":0,"errmsg":"ok"}')]
        clock = FakeClock(T0)
        n = await run_notifier(f"""
        wecom_configs:
        - url: {srv.url}/cgi-bin/webhook/send?key=K
          message: '{{{{ range .Alerts }}}}{{{{ .Annotations.summary }}}}{{{{ end }}}}'
        """, clock)
        n.put_alerts([{"labels": {"alertname": "Big"}, "annotations": {"summary": "告警" * 2000},
                       "startsAt": "2024-05-01T10:00:00Z", "endsAt": "2030-01-01T00:00:00Z"}])
        await flush(n, clock)
        reqs = srv.at("/cgi-bin/webhook/send")
        assert len(reqs) == 2 and reqs[0].query == {"key": ["K"]}
        content = reqs[1].json()["markdown"]["content"]
        assert len(content.encode("utf-8")) <= 4096
        assert content.endswith("…") and content[:-1] == "告警" * (len(content[:-1]) // 2)
        assert reqs[1].json()["msgtype"] == "markdown"
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_telegram_send_message_and_error_codes():
    async def scenario(srv):
        srv.responses["/botTOK/sendMessage"] = [
            (429, '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1"}'),
            (200, '{"ok":true,"result":{"message_id":1}}'),
        ]
        clock = FakeClock(T0)
        n = await run_notifier(f"""
        telegram_configs:
        - api_url: {srv.url}
          bot_token: TOK
          chat_id: -1001
          message: '<b>{{{{ .Status }}}}</b> {{{{ .CommonLabels.job }}}}'
        """, clock)
        fire(n)
        await flush(n, clock)
        reqs = srv.at("/botTOK/sendMessage")
        assert len(reqs) == 2
        assert reqs[1].json() == {"chat_id": -1001, "text": "<b>firing</b> api", "disable_notification": False,
                                  "parse_mode": "HTML"}
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_default_templates_read_well_on_each_platform():
    async def scenario(srv):
        clock = FakeClock(T0)
        n = await run_notifier(f"""
        telegram_configs: [{{api_url: '{srv.url}', bot_token: T, chat_id: 1}}]
        dingtalk_configs: [{{url: '{srv.url}/ding'}}]
        wecom_configs: [{{url: '{srv.url}/wecom'}}]
        feishu_configs: [{{url: '{srv.url}/feishu'}}]
        """, clock)
        srv.responses["/botT/sendMessage"] = [(200, '{"ok":true}')]
        srv.responses["/ding"] = srv.responses["/wecom"] = [(200, '{"errcode":0}')]
        srv.responses["/feishu"] = [(200, '{"code":0}')]
        n.put_alerts([alert("Down", starts=T0, ends=FAR, job="a<b>", severity="critical")])
        await flush(n, clock)
        tg = srv.at("/botT/sendMessage")[0].json()["text"]
        assert "<b>[FIRING:1] Down (a&lt;b&gt; critical)</b>" in tg and "job=a&lt;b&gt;" in tg
        ding = srv.at("/ding")[0].json()["markdown"]
        assert ding["title"] == "[FIRING:1] Down (a<b> critical)" and "**Down happened** (firing)" in ding["text"]
        assert "[source](http://prom.test/graph)" in ding["text"]
        assert "Down happened" in srv.at("/wecom")[0].json()["markdown"]["content"]
        assert "Down happened" in srv.at("/feishu")[0].json()["card"]["elements"][0]["text"]["content"]
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_link_local_and_metadata_targets_are_refused():
    async def scenario():
        clock = FakeClock(T0)
        n = await run_notifier("""
        webhook_configs:
        - url: http://169.254.169.254/latest/meta-data
        - url: http://metadata.google.internal/computeMetadata/v1
        - url: "http://[fe80::1]/x"
        """, clock)
        fire(n)
        await flush(n, clock)
        assert n.telemetry.refused_targets.labels("webhook")._value.get() == 3
        assert n.telemetry.notifications_failed.labels("webhook")._value.get() == 3
        await n.shutdown_async()

    asyncio.run(scenario())


def test_the_connect_time_check_stops_dns_rebinding():
    async def scenario():
        answers = iter([["203.0.113.7"], ["169.254.169.254"]])  # first lookup harmless, then rebinding

        async def resolver(host, port):
            return next(answers)

        guard = AddressGuard(resolver=resolver)
        await guard.check_host("evil.test", 80)
        client = default_client_factory(guard)(None)
        with pytest.raises(httpx.ConnectError, match="link-local"):
            await client.post("http://evil.test/x", content=b"{}")
        await client.aclose()
        assert forbidden_address("::ffff:169.254.1.1") and forbidden_address("fd00:ec2::254")
        assert not forbidden_address("10.1.2.3") and not forbidden_address("127.0.0.1")
        allowed = AddressGuard(allow_link_local=True)
        await allowed.check_host("169.254.169.254", 80)
        with pytest.raises(TargetRefused):
            await AddressGuard().check_host("169.254.10.10", 80)

    asyncio.run(scenario())


def test_msteams_v2_adaptive_card_and_user_template_files(tmp_path):
    (tmp_path / "custom.tmpl").write_text(
        '{{ define "msteamsv2.default.title" }}Custom {{ .CommonLabels.alertname }}{{ end }}')

    async def scenario(srv):
        clock = FakeClock(T0)
        n = await run_notifier(f"msteamsv2_configs: [{{webhook_url: '{srv.url}/v2', text: 'body'}}]", clock,
                               extra=f"\ntemplates: ['{tmp_path}/*.tmpl']\n")
        fire(n)
        n.put_alerts([alert("Down", starts=T0, ends=clock.now(), job="x", severity="critical")])
        await flush(n, clock)
        card = srv.at("/v2")[0].json()
        assert card["type"] == "message"
        content = card["attachments"][0]["content"]
        assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert content["type"] == "AdaptiveCard" and content["body"] == [
            {"type": "TextBlock", "text": "Custom Down", "weight": "Bolder", "size": "Medium", "wrap": True,
             "style": "heading", "color": "Attention"},
            {"type": "TextBlock", "text": "body", "wrap": True}]
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_a_template_error_fails_the_notification_without_retrying():
    async def scenario(srv):
        clock = FakeClock(T0)
        n = await run_notifier(f"msteams_configs: [{{webhook_url: '{srv.url}/t', text: '{{{{ template \"nope\" . }}}}'}}]",
                               clock)
        fire(n)
        await flush(n, clock)
        assert srv.at("/t") == []
        assert n.telemetry.notifications_failed.labels("msteams")._value.get() == 1
        await n.shutdown_async()

    with CaptureServer() as srv:
        asyncio.run(scenario(srv))


def test_a_rebinding_target_is_refused_not_retried():
    async def scenario():
        clock = FakeClock(T0)
        n = await run_notifier("webhook_configs: [{url: 'http://rebind.test/x'}]", clock)
        answers = iter([["203.0.113.7"], ["169.254.169.254"]])

        async def resolver(host, port):
            return next(answers)

        n.guard._resolve = resolver  # first the pre-check, then the connect-time lookup
        fire(n)
        await flush(n, clock)
        assert n.telemetry.refused_targets.labels("webhook")._value.get() == 1
        assert n.telemetry.requests.labels("webhook")._value.get() == 1  # refused, so not retried
        await n.shutdown_async()

    asyncio.run(scenario())
