"""SmtpNotifier: a digest as one e-mail (multipart/alternative: plain text first, then HTML).

Security (RFC 8314): `tls` is implicit TLS from the first byte (usually port 465); `starttls`
upgrades a plain connection (usually 587) and REFUSES to go on when the server does not offer
STARTTLS (no silent downgrade: a stripped STARTTLS would expose the password and the report);
`none` is plain SMTP, for a local relay only. Certificates and host names are always checked
with `ssl.create_default_context()` (CPython's smtplib would otherwise use an unverified
context); a private CA is trusted through `SSL_CERT_FILE`. `verify=False` turns the checks off
and is logged as a warning when the notifier is built.

Errors become NotifyError with one line naming the server and the reason (connection, TLS,
authentication, a refused sender or recipients, a timeout); the password never appears, even if
a server echoes it. When only some recipients are refused the message was delivered to the
others: that is logged, not raised (raising would re-send to everyone on every retry).
Invalid settings raise ConfigError when the notifier is built.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
import time
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from ingestflow.config.secrets import Secret
from ingestflow.domain.alerts import Digest
from ingestflow.domain.errors import ConfigError, NotifyError

from .render import clean, html_report, subject, text_report

log = logging.getLogger(__name__)
SECURITY = ("tls", "starttls", "none")
_REPLY_MAX = 200


class SmtpNotifier:
    """Sends each digest as one e-mail from `sender` to every address in `to`."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        security: str,
        username: str | None,
        password: Secret | None,
        sender: str,
        to: Sequence[str],
        verify: bool = True,
        timeout: float = 30.0,
    ) -> None:
        where = f"alerts.notifiers.{name}"
        if security not in SECURITY:
            raise ConfigError(f"{where}.security", f"one of {SECURITY}, not {clean(security)!r}")
        if not to:
            raise ConfigError(f"{where}.to", "no recipient")
        for key, address in [("from", sender), *(("to", a) for a in to)]:
            if not address.strip() or any(c in address for c in "\r\n"):
                raise ConfigError(f"{where}.{key}", f"invalid address {clean(address)!r}")
        if username and password is None:
            raise ConfigError(f"{where}.password_env", "a username needs a password")
        self.name, self.host, self.port, self.security = name, host, port, security
        self.username, self._password = username or None, password
        self.sender, self.to = sender, tuple(to)
        self.verify, self.timeout = verify, timeout
        self._context = ssl.create_default_context()
        if not verify:
            self._context.check_hostname = False
            self._context.verify_mode = ssl.CERT_NONE
            if security != "none":
                log.warning(
                    "smtp notifier %s: certificate verification is OFF (verify = false): "
                    "anyone between here and %s can read the mail and the password",
                    name,
                    host,
                )
        if security == "none" and self.username:
            log.warning(
                "smtp notifier %s: security = none sends the password to %s unencrypted",
                name,
                host,
            )
        self._where = f"smtp {name}: {host}:{port}"

    def __repr__(self) -> str:
        return (
            f"SmtpNotifier(name={self.name!r}, host={self.host!r}, port={self.port}, "
            f"security={self.security!r}, username={self.username!r}, to={self.to!r})"
        )

    def message(self, digest: Digest) -> EmailMessage:
        """The e-mail for `digest` (exposed for `ingestflow alerts test` and tests)."""
        msg = EmailMessage()
        msg["Subject"] = subject(digest)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Date"] = format_datetime(dt.datetime.fromtimestamp(time.time(), dt.UTC))
        domain = self.sender.rpartition("@")[2].strip(" >") or "ingestflow.invalid"
        msg["Message-ID"] = make_msgid("ingestflow", domain=domain)
        msg.set_content(text_report(digest))
        msg.add_alternative(html_report(digest), subtype="html")
        return msg

    def send(self, digest: Digest) -> None:
        msg = self.message(digest)
        try:
            self._deliver(msg)
        except NotifyError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise self._error(self._reason(exc)) from None  # the cause adds nothing but noise

    def _reason(self, exc: smtplib.SMTPException | OSError) -> str:
        """One line for `exc` (SMTPException is an OSError: the specific cases come first)."""
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return f"authentication failed for {self.username!r}: {_reply(exc)}"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refused = ", ".join(f"{a} ({_code(r)})" for a, r in exc.recipients.items())
            return f"every recipient was refused: {refused}"
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return f"sender {exc.sender!r} refused: {_reply(exc)}"
        if isinstance(exc, smtplib.SMTPResponseException):
            return f"the server answered {_reply(exc)}"
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return f"the server closed the connection ({exc or 'no reason given'})"
        if isinstance(exc, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted: {exc.verify_message or exc}"
        if isinstance(exc, ssl.SSLError):
            return f"TLS error: {exc.reason or exc}"
        if isinstance(exc, TimeoutError):
            return f"timed out after {self.timeout:g}s"
        if isinstance(exc, smtplib.SMTPException):  # e.g. no AUTH offered
            return str(exc) or type(exc).__name__
        return f"cannot connect: {exc.strerror or exc}"

    def _deliver(self, msg: EmailMessage) -> None:
        client: smtplib.SMTP
        if self.security == "tls":
            client = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if self.security == "starttls":
                if not client.has_extn("starttls"):
                    raise self._error(
                        "the server does not offer STARTTLS (security = starttls requires"
                        " it): not sending"
                    )
                client.starttls(context=self._context)
                client.ehlo()
            if self.username is not None and self._password is not None:
                client.login(self.username, self._password.reveal())
            refused = client.send_message(msg, self.sender, list(self.to))
        except BaseException:
            client.close()  # no QUIT: it could hide the error with one of its own
            raise
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()  # the message was accepted already
        if refused:
            log.warning(
                "%s: delivered, but these recipients were refused: %s",
                self._where,
                ", ".join(f"{clean(a)} ({_code(r)})" for a, r in refused.items()),
            )

    def _error(self, reason: str) -> NotifyError:
        text = clean(" ".join(reason.split()))
        secret = self._password.reveal() if self._password is not None else ""
        if secret:
            text = text.replace(secret, "********")
        return NotifyError(f"{self._where}: {text}")


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return _code((exc.smtp_code, exc.smtp_error))


def _code(reply: tuple[int, bytes | str]) -> str:
    code, text = reply
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {clean(' '.join(raw.split()), _REPLY_MAX)}".strip()
