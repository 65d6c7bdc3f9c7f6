"""The three notifiers against real receivers: e-mail through a real SMTP server (aiosmtpd, with
STARTTLS, implicit TLS and AUTH), Slack and JSON webhooks through a local HTTP server, and
standard output. What arrives, how failures become NotifyError, and that secrets stay hidden."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import socket
import time
from collections.abc import Iterator
from email.utils import format_datetime
from pathlib import Path

import pytest
from smtp_capture import SmtpCapture, TlsFiles, make_certificate
from webhook_capture import WebhookCapture

from ingestflow.adapters.notify.render import SLACK_BLOCKS, SLACK_SECTION, subject
from ingestflow.adapters.notify.smtp import SmtpNotifier
from ingestflow.adapters.notify.stdout import StdoutNotifier
from ingestflow.adapters.notify.webhook import WebhookNotifier
from ingestflow.config.secrets import Secret
from ingestflow.domain.alerts import (
    CLOSED,
    FAILED,
    OPENED,
    STALE,
    AlertItem,
    AlertMessage,
    Digest,
)
from ingestflow.domain.errors import ConfigError, NotifyError

NOW = time.time()
PASSWORD = "s3cret-pa55word-do-not-show"
TOKEN_PATH = "/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
SIGNING = "whsec-test-signing-secret"
NASTY_KEY = "ohlcv/<b>x</b>&.csv"
NASTY_ERROR = "bad row \x1b[31mred\x1b[0m"


def file(key: str, status: str, since: float, reason: str) -> AlertItem:
    return AlertItem("ohlcv", "ohlcv/", "landing", key, status, since, reason)


def digest(n_items: int = 1) -> Digest:
    """Firing stale and failed alerts (the failed one with `n_items` files, the first with a
    nasty key and error) and a resolved one."""
    stale = (file("ohlcv/2024/a.csv", "TODO", NOW - 7 * 3600, "TODO for 7h (stale_after 5h)"),)
    keys = [NASTY_KEY, *(f"k/{i}.csv" for i in range(1, n_items))]
    failed = tuple(file(key, "FAILED", NOW - 60, NASTY_ERROR) for key in keys)
    summary = "1 file in TODO longer than 5h"
    messages = (
        AlertMessage(OPENED, STALE, "ohlcv", "", summary, NOW - 60, stale, 1),
        AlertMessage(OPENED, FAILED, "ohlcv", "", "1 file failed", NOW, failed, n_items),
        AlertMessage(CLOSED, STALE, "trades", "", "no file in TODO longer than 5h", NOW - 9e3),
    )
    return Digest("ingestflow alerts", messages, NOW, "test")


def free_port() -> int:
    """A port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- SMTP ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trust(cert: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients trust the test certificate the way a user trusts a private CA."""
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.ca))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def smtp(server: SmtpCapture, security: str = "none", **kw: object) -> SmtpNotifier:
    options: dict[str, object] = {"username": None, "password": None, "timeout": 5.0} | kw
    return SmtpNotifier(
        "mail", server.host, server.port, security,
        sender="ingestflow@example.org", to=["ops@example.org", "data@example.org"],
        **options,  # type: ignore[arg-type]
    )  # fmt: skip


def test_an_email_arrives_with_the_table_in_its_text_and_html_parts() -> None:
    with SmtpCapture() as server:
        smtp(server).send(digest())
        (mail,) = server.wait_for_messages(1)
    assert mail.mail_from == "ingestflow@example.org"
    assert mail.rcpt_tos == ("ops@example.org", "data@example.org")
    msg = mail.message
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Subject"] == subject(digest())
    assert msg["Date"] and msg["Message-ID"].endswith("@example.org>")
    for part in (mail.text, mail.html):
        for column in ("WORKFLOW", "PREFIX", "BUCKET", "KEY", "SINCE", "REASON"):
            assert column in part
        assert "ohlcv/2024/a.csv" in part and "RESOLVED" in part
    assert NASTY_KEY in mail.text and "bad row \\x1b[31mred" in mail.text
    assert "ohlcv/&lt;b&gt;x&lt;/b&gt;&amp;.csv" in mail.html and "<b>x</b>" not in mail.html
    assert b"\x1b" not in mail.data


def test_a_subject_with_newlines_in_the_data_cannot_add_headers() -> None:
    evil = Digest("ingestflow alerts", (AlertMessage(OPENED, STALE, "w\r\nBcc: x@evil.example",
                  "", "s\nX-Evil: 1", NOW),), NOW, "test")  # fmt: skip
    with SmtpCapture() as server:
        smtp(server).send(evil)
        (mail,) = server.wait_for_messages(1)
    assert mail.message["Bcc"] is None and mail.message["X-Evil"] is None
    assert "Bcc: x@evil.example" in mail.message["Subject"]
    assert mail.rcpt_tos == ("ops@example.org", "data@example.org")


def test_starttls_upgrades_before_logging_in(cert: TlsFiles, trust: None) -> None:
    with SmtpCapture("starttls", cert, users={"alerts": PASSWORD}) as server:
        smtp(server, "starttls", username="alerts", password=Secret(PASSWORD)).send(digest())
        (mail,) = server.wait_for_messages(1)
    assert mail.tls and mail.login == "alerts"


def test_implicit_tls_delivers_over_a_verified_connection(cert: TlsFiles, trust: None) -> None:
    with SmtpCapture("tls", cert, users={"alerts": PASSWORD}) as server:
        smtp(server, "tls", username="alerts", password=Secret(PASSWORD)).send(digest())
        (mail,) = server.wait_for_messages(1)
    assert mail.tls and mail.login == "alerts"


def test_starttls_is_refused_when_the_server_does_not_offer_it() -> None:
    # The server would take AUTH in clear: the notifier must not even try.
    with SmtpCapture(users={"alerts": PASSWORD}, auth_require_tls=False) as server:
        notifier = smtp(server, "starttls", username="alerts", password=Secret(PASSWORD))
        with pytest.raises(NotifyError, match="does not offer STARTTLS"):
            notifier.send(digest())
        assert server.auth_attempts == [] and server.messages == []


def test_an_untrusted_certificate_is_refused(cert: TlsFiles) -> None:
    for security in ("starttls", "tls"):
        with SmtpCapture(security, cert) as server:
            with pytest.raises(NotifyError, match="certificate not trusted") as caught:
                smtp(server, security).send(digest())
            assert server.messages == []
        assert "\n" not in str(caught.value)


def test_verify_false_is_logged_once_and_then_delivers(
    cert: TlsFiles, caplog: pytest.LogCaptureFixture
) -> None:
    with SmtpCapture("tls", cert) as server, caplog.at_level(logging.WARNING):
        notifier = smtp(server, "tls", verify=False)
        notifier.send(digest())
        notifier.send(digest())
        server.wait_for_messages(2)
    warnings = [r for r in caplog.records if "verification is OFF" in r.getMessage()]
    assert len(warnings) == 1


def test_a_wrong_password_is_a_notify_error_that_never_shows_it(
    cert: TlsFiles, trust: None, caplog: pytest.LogCaptureFixture
) -> None:
    with SmtpCapture("starttls", cert, users={"alerts": "the-right-one"}) as server:
        notifier = smtp(server, "starttls", username="alerts", password=Secret(PASSWORD))
        with caplog.at_level(logging.DEBUG), pytest.raises(NotifyError) as caught:
            notifier.send(digest())
        assert set(server.auth_attempts) == {"alerts"} and server.messages == []
    error = caught.value
    assert "authentication failed" in str(error) and "535" in str(error)
    assert error.__cause__ is None and error.__suppress_context__
    for shown in (str(error), repr(error), repr(notifier), caplog.text):
        assert PASSWORD not in shown


def test_refused_recipients_are_a_notify_error_when_all_are_refused_else_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    everyone = SmtpCapture(refuse={"ops@example.org", "data@example.org"})
    with everyone as server, pytest.raises(NotifyError, match=r"every recipient was refused.*550"):
        smtp(server).send(digest())
    with SmtpCapture(refuse={"data@example.org"}) as server, caplog.at_level(logging.WARNING):
        smtp(server).send(digest())  # delivered to ops: a retry would send it twice
        (mail,) = server.wait_for_messages(1)
    assert mail.rcpt_tos == ("ops@example.org",)
    assert "data@example.org" in caplog.text


def test_an_unreachable_smtp_server_is_a_notify_error_quickly() -> None:
    notifier = SmtpNotifier("mail", "127.0.0.1", free_port(), "tls", None, None,
                            "a@example.org", ["b@example.org"], timeout=5.0)  # fmt: skip
    started = time.monotonic()
    with pytest.raises(NotifyError, match=r"smtp mail: 127\.0\.0\.1:\d+: cannot connect"):
        notifier.send(digest())
    assert time.monotonic() - started < 2


def test_implicit_tls_against_a_plain_server_is_a_tls_error() -> None:
    with SmtpCapture() as server, pytest.raises(NotifyError, match=r"TLS|closed"):
        smtp(server, "tls").send(digest())


def test_invalid_smtp_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="security"):
        SmtpNotifier("m", "h", 25, "ssl", None, None, "a@b.c", ["d@e.f"])
    with pytest.raises(ConfigError, match="to"):
        SmtpNotifier("m", "h", 25, "none", None, None, "a@b.c", [])
    with pytest.raises(ConfigError, match="from"):
        SmtpNotifier("m", "h", 25, "none", None, None, "a@b.c\r\nBcc: x@y.z", ["d@e.f"])


# -- webhooks -----------------------------------------------------------------------------


@pytest.fixture
def hook() -> Iterator[WebhookCapture]:
    with WebhookCapture() as capture:
        yield capture


def webhook(hook: WebhookCapture, fmt: str = "slack", **kw: object) -> WebhookNotifier:
    return WebhookNotifier("chat", Secret(hook.url + TOKEN_PATH), fmt, timeout=5.0, **kw)  # type: ignore[arg-type]


def test_a_slack_body_arrives_with_a_fallback_text_and_escaped_blocks(
    hook: WebhookCapture,
) -> None:
    webhook(hook).send(digest())
    (request,) = hook.requests
    assert request.method == "POST" and request.path == TOKEN_PATH
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    body = request.json()
    assert set(body) == {"text", "blocks"} and body["text"] == subject(digest())
    texts = "\n".join(b["text"]["text"] for b in body["blocks"] if b["type"] == "section")
    assert "ohlcv/&lt;b&gt;x&lt;/b&gt;&amp;.csv" in texts and "\\x1b[31mred" in texts
    assert "x-ingestflow-signature" not in request.headers  # no secret, no signature


def test_a_slack_body_of_500_files_stays_within_slack_limits(hook: WebhookCapture) -> None:
    webhook(hook).send(digest(n_items=500))
    body = hook.requests[0].json()
    assert len(body["blocks"]) <= SLACK_BLOCKS
    assert all(len(b["text"]["text"]) <= SLACK_SECTION for b in body["blocks"] if "text" in b)
    assert "+480 more" in json.dumps(body)


def test_the_json_format_posts_one_contract_body_per_alert(hook: WebhookCapture) -> None:
    webhook(hook, "json").send(digest())
    bodies = [r.json() for r in hook.requests]
    assert [b["status"] for b in bodies] == ["firing", "firing", "resolved"]
    assert [(b["rule"], b["workflow"]) for b in bodies] == [
        ("stale", "ohlcv"), ("failed", "ohlcv"), ("stale", "trades")]  # fmt: skip
    for body in bodies:
        assert set(body) == {"status", "rule", "workflow", "summary", "items", "sent_at"}
        assert dt.datetime.fromisoformat(body["sent_at"]).timestamp() == pytest.approx(NOW)
    item = bodies[1]["items"][0]
    assert item == {
        "workflow": "ohlcv", "prefix": "ohlcv/", "bucket": "landing", "key": NASTY_KEY,
        "status": "FAILED", "since": dt.datetime.fromtimestamp(NOW - 60, dt.UTC).isoformat(),
        "reason": NASTY_ERROR,
    }  # fmt: skip


def test_the_signature_can_be_recomputed_by_the_receiver(hook: WebhookCapture) -> None:
    webhook(hook, "json", secret=Secret(SIGNING)).send(digest())
    assert len(hook.requests) == 3
    for request in hook.requests:
        timestamp = request.headers["x-ingestflow-timestamp"]
        assert timestamp.isdigit() and abs(int(timestamp) - time.time()) < 60
        signed = timestamp.encode() + b"." + request.body
        expected = "sha256=" + hmac.new(SIGNING.encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers["x-ingestflow-signature"], expected)
        assert SIGNING not in json.dumps(dict(request.headers))


def test_a_429_surfaces_its_retry_after_in_seconds_or_as_a_date(hook: WebhookCapture) -> None:
    hook.answer(429, "rate_limited", {"Retry-After": "7"})
    with pytest.raises(NotifyError, match="HTTP 429") as caught:
        webhook(hook).send(digest())
    assert caught.value.retry_after == 7
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    hook.answer(429, "", {"Retry-After": format_datetime(later, usegmt=True)})
    with pytest.raises(NotifyError) as caught:
        webhook(hook).send(digest())
    assert caught.value.retry_after == pytest.approx(120, abs=5)


def test_a_server_error_is_a_notify_error_naming_only_the_host(hook: WebhookCapture) -> None:
    hook.answer(500, f"boom at {hook.url + TOKEN_PATH}")
    with pytest.raises(NotifyError) as caught:
        webhook(hook).send(digest())
    message = str(caught.value)
    assert "HTTP 500" in message and f"127.0.0.1:{hook.port}" in message
    assert "T0000" not in message and caught.value.retry_after is None


def test_a_failure_after_some_json_messages_says_how_many_went_out(hook: WebhookCapture) -> None:
    hook.answer(200, "ok")
    hook.answer(500, "no")
    with pytest.raises(NotifyError, match="after 1 of 3 messages"):
        webhook(hook, "json").send(digest())
    assert len(hook.requests) == 2


def test_redirects_are_not_followed(hook: WebhookCapture) -> None:
    hook.answer(302, "", {"Location": hook.url + "/elsewhere"})
    with pytest.raises(NotifyError, match="HTTP 302"):
        webhook(hook).send(digest())
    assert [r.path for r in hook.requests] == [TOKEN_PATH]


def test_proxy_variables_of_the_environment_are_ignored(
    hook: WebhookCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    webhook(hook).send(digest())
    assert len(hook.requests) == 1


def test_an_unreachable_webhook_is_a_notify_error_quickly_without_the_url() -> None:
    url = Secret(f"http://127.0.0.1:{free_port()}{TOKEN_PATH}")
    notifier = WebhookNotifier("chat", url, "slack", timeout=5.0)
    started = time.monotonic()
    with pytest.raises(NotifyError, match="cannot reach") as caught:
        notifier.send(digest())
    assert time.monotonic() - started < 2
    assert "T0000" not in str(caught.value) and "T0000" not in repr(notifier)


def test_a_slow_webhook_times_out_as_a_notify_error(hook: WebhookCapture) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = Secret(f"http://127.0.0.1:{silent.getsockname()[1]}{TOKEN_PATH}")
        with pytest.raises(NotifyError, match="timed out"):
            WebhookNotifier("chat", url, "json", timeout=0.5).send(digest())


def test_invalid_webhook_settings_are_config_errors_without_the_url() -> None:
    with pytest.raises(ConfigError, match="format"):
        WebhookNotifier("chat", Secret("https://hooks.example.org/x"), "teams")
    with pytest.raises(ConfigError, match="url") as caught:
        WebhookNotifier("chat", Secret("ftp://hooks.example.org/T0000"), "slack")
    assert "T0000" not in str(caught.value)


# -- stdout -------------------------------------------------------------------------------


def test_stdout_prints_the_text_report_with_control_characters_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    StdoutNotifier().send(digest())
    out = capsys.readouterr().out
    assert "FIRING · failed · ohlcv" in out and NASTY_KEY in out
    assert "\x1b" not in out and "\\x1b[31mred" in out


def test_stdout_writes_to_a_given_stream_and_reports_a_closed_one(tmp_path: Path) -> None:
    stream = io.StringIO()
    StdoutNotifier("cron", stream).send(digest())
    assert "RESOLVED · stale · trades" in stream.getvalue()
    stream.close()
    with pytest.raises(NotifyError, match="stdout cron"):
        StdoutNotifier("cron", stream).send(digest())
