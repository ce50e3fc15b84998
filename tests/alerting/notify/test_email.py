"""Email through a real local SMTP server (aiosmtpd) that requires STARTTLS and AUTH."""

import asyncio
import email
import ssl
import subprocess

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from alerting.notify import FakeClock
from tests.alerting.notify.harness import T0, alert
from tests.alerting.notify.test_receivers import FAR, drive, run_notifier
from tests.util import free_port


class Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def make_cert(tmp_path):
    key, crt = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, crt


def authenticator(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=(auth_data.login, auth_data.password) == (b"alerts", b"s3cret"))


def notify_once(ctl: Controller, receiver_yaml: str, a):
    """Run the SMTP server ``ctl`` while a notifier configured with ``receiver_yaml``
    gets alert ``a`` and its first group tick passes; the notifier, shut down."""
    ctl.start()
    try:
        async def scenario():
            clock = FakeClock(T0)
            n = await run_notifier(receiver_yaml, clock)
            n.put_alerts([a])
            await clock.advance(10)
            await drive(n, clock)
            await n.shutdown_async()
            return n

        return asyncio.run(scenario())
    finally:
        ctl.stop()


def test_starttls_auth_and_multipart_body(tmp_path):
    key, crt = make_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(crt), str(key))
    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_ctx, require_starttls=True,
                     authenticator=authenticator, auth_require_tls=True)
    n = notify_once(ctl, f"""
        email_configs:
        - to: 'Ops <ops@example.org>, dev@example.org'
          from: alerts@example.org
          smarthost: 127.0.0.1:{port}
          auth_username: alerts
          auth_password: s3cret
          headers: {{x-team: '{{{{ .CommonLabels.job }}}}'}}
          tls_config: {{ca_file: '{crt}', server_name: localhost}}
          text: 'plain {{{{ .Status }}}}'
        """, alert("Down", starts=T0, ends=FAR, job="api"))
    assert n.telemetry.notifications_failed.labels("email")._value.get() == 0
    (env,) = inbox.envelopes
    assert env.mail_from == "alerts@example.org"
    assert sorted(env.rcpt_tos) == ["dev@example.org", "ops@example.org"]
    msg = email.message_from_bytes(env.content)
    assert msg["Subject"] == "[FIRING:1] Down (api)"
    assert msg["To"] == "Ops <ops@example.org>, dev@example.org" and msg["From"] == "alerts@example.org"
    assert msg["X-Team"] == "api" and msg["Message-Id"] and msg["Date"]
    assert msg.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart()}
    assert parts["text/plain"].strip() == "plain firing"
    assert "<h2" in parts["text/html"] and "Down happened" in parts["text/html"]


def test_require_tls_is_enforced_and_retried(tmp_path):
    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)  # no STARTTLS offered
    n = notify_once(ctl, f"""
        email_configs:
        - to: ops@example.org
          from: alerts@example.org
          smarthost: 127.0.0.1:{port}
        """, alert("Down", starts=T0, ends=FAR))
    assert inbox.envelopes == []
    assert n.telemetry.notifications_failed.labels("email")._value.get() == 1
    assert n.telemetry.requests.labels("email")._value.get() >= 2  # retried until the deadline
