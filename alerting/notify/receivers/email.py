"""``email_configs``: SMTP with STARTTLS and AUTH, multipart text + HTML.

As Alertmanager: port 465 means implicit TLS, otherwise STARTTLS is used when
the server offers it and required when ``require_tls`` (the default); AUTH
(CRAM-MD5, PLAIN, LOGIN, whatever the server offers) when a user name is set;
``Subject``/``To``/``From`` headers default from the config and every header
is a template; the body is ``multipart/alternative`` with the text and HTML
parts that are not empty. 4xx SMTP replies and network errors are retried,
5xx are not. smtplib runs in a worker thread::

    From: alertmanager@example.org
    To: oncall@example.org
    Subject: [FIRING:1] Down (api)
"""

from __future__ import annotations

import asyncio
import random
import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr

from alerting.notify.alert import Alert
from alerting.notify.pipeline import NotifyContext, NotifyError
from alerting.notify.receivers.base import BaseIntegration, read_secret

DEFAULT_SUBJECT = '{{ template "email.default.subject" . }}'


class Email(BaseIntegration):
    name = "email"
    max_concurrency = 2

    def build(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> tuple[EmailMessage, str, list[str]]:
        c = self.conf
        data = self.data(ctx, alerts)
        headers = dict(c.headers)
        headers.setdefault("Subject", DEFAULT_SUBJECT)
        headers.setdefault("To", c.to)
        headers.setdefault("From", c.from_)
        msg = EmailMessage()
        for name, tmpl in headers.items():
            msg[name] = self.render(tmpl, data)
        if "Message-Id" not in headers:
            host = socket.gethostname() or "localhost"
            msg["Message-Id"] = f"<{self.deps.clock.now_ns()}.{random.getrandbits(63)}@{host}>"
        msg["Date"] = formatdate(self.deps.clock.now(), localtime=False)
        text = self.render(c.text, data)
        html = self.render(c.html, data)
        if text and html:
            msg.set_content(text)
            msg.add_alternative(html, subtype="html")
        elif html:
            msg.set_content(html, subtype="html")
        else:
            msg.set_content(text or "")
        sender = parseaddr(self.render(c.from_, data))[1]
        if not sender:
            raise NotifyError(f"parse 'from' address: {c.from_!r} is not an address", retry=False)
        rcpts = [addr for _, addr in getaddresses([self.render(c.to, data)]) if addr]
        if not rcpts:
            raise NotifyError(f"parse 'to' addresses: {c.to!r} has no address", retry=False)
        return msg, sender, rcpts

    def _send(self, msg: EmailMessage, sender: str, rcpts: list[str], timeout: float) -> None:
        c = self.conf
        host, _, port = c.smarthost.rpartition(":")
        host = host.strip("[]")
        tls_ctx = c.tls_config.ssl_context()
        server_name = c.tls_config.server_name or host
        if port == "465":
            smtp = smtplib.SMTP_SSL(host, int(port), local_hostname=c.hello, timeout=timeout,
                                    context=tls_ctx)
        else:
            smtp = smtplib.SMTP(host, int(port), local_hostname=c.hello, timeout=timeout)
        try:
            smtp.ehlo(c.hello)
            if port != "465":
                if smtp.has_extn("starttls"):
                    # smtplib checks the certificate against the connect host; tls_config.server_name wins.
                    smtp._host = server_name
                    smtp.starttls(context=tls_ctx)
                    smtp.ehlo(c.hello)
                elif c.require_tls:
                    raise NotifyError(
                        f"'require_tls' is true (default) but \"{c.smarthost}\" does not advertise "
                        "the STARTTLS extension", retry=True)
            if c.auth_username and smtp.has_extn("auth"):
                password = read_secret(c.auth_password, c.auth_password_file)
                offered = smtp.esmtp_features.get("auth", "").upper().split()
                if c.auth_secret and "CRAM-MD5" in offered:
                    smtp.user, smtp.password = c.auth_username, c.auth_secret
                    smtp.auth("CRAM-MD5", smtp.auth_cram_md5)
                elif c.auth_identity and "PLAIN" in offered:
                    # PLAIN with an authorization identity, which smtplib.login cannot send.
                    ident = f"{c.auth_identity}\0{c.auth_username}\0{password}"
                    smtp.auth("PLAIN", lambda challenge=None: ident, initial_response_ok=True)
                else:
                    smtp.login(c.auth_username, password)
            smtp.send_message(msg, from_addr=sender, to_addrs=rcpts)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        msg, sender, rcpts = self.build(ctx, alerts)
        timeout = max(1.0, min(ctx.deadline - self.deps.clock.now(), 60.0))
        await self.limited()
        async with self._sem:
            try:
                await asyncio.to_thread(self._send, msg, sender, rcpts, timeout)
            except NotifyError:
                raise
            except smtplib.SMTPResponseException as e:
                detail = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else e.smtp_error
                raise NotifyError(f"smtp {e.smtp_code}: {detail}", retry=e.smtp_code < 500) from None
            except smtplib.SMTPRecipientsRefused as e:
                codes = [code for code, _ in e.recipients.values()]
                raise NotifyError(f"recipients refused: {e.recipients}", retry=all(c < 500 for c in codes)) from None
            except (smtplib.SMTPException, OSError, ssl.SSLError) as e:
                raise NotifyError(f"smtp: {type(e).__name__}: {e}", retry=True) from None
