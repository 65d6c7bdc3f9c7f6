"""Alerts end to end through the real CLI: e-mail to a real SMTP server (aiosmtpd), a Slack-
format webhook to a local HTTP server, once per problem, a notifier that is down, and the JSON
contracts of `stale` and `alerts`."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import Project, drop_ohlcv_files, workflow, write_config, write_file
from smtp_capture import SmtpCapture
from webhook_capture import WebhookCapture

STALE_KEY = "waiting/2024/<b>old</b>.csv"
BAD_KEY = "ohlcv/2024/broken.csv"


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with SmtpCapture() as capture:
        yield capture


@pytest.fixture
def hook() -> Iterator[WebhookCapture]:
    with WebhookCapture() as capture:
        yield capture


def project(tmp_path: Path, smtp: SmtpCapture, hook: WebhookCapture) -> Project:
    extra = f"""
[alerts]
renotify = "4h"
[[alerts.notifiers]]
name = "mail"
type = "smtp"
host = "{smtp.host}"
port = {smtp.port}
security = "none"
from = "ingestflow@example.com"
to = ["data-team@example.com"]
[[alerts.notifiers]]
name = "chat"
type = "webhook"
url = "{hook.url}/hooks/T000/B000"
format = "slack"
"""
    workflows = [
        workflow("ohlcv", "ohlcv/", batch_size=1),
        workflow("waiting", "waiting/", batch_size=100, max_wait="10d", stale_after="1h"),
    ]
    return write_config(tmp_path, workflows, extra=extra)


def land_problems(p: Project) -> None:
    drop_ohlcv_files(p.landing, [STALE_KEY], seed=1)
    two_hours_ago = time.time() - 7200
    os.utime(p.landing / STALE_KEY, (two_hours_ago, two_hours_ago))
    write_file(p.landing / BAD_KEY, b"Date,Open,High,Low,Close,Volume\nnot a date,1,2,3,4,5\n")


def test_a_stale_and_a_failed_file_reach_email_and_slack_once(
    tmp_path: Path, smtp: SmtpCapture, hook: WebhookCapture
) -> None:
    p = project(tmp_path, smtp, hook)
    land_problems(p)

    p.run_once(expect=1)  # the broken file FAILED; its run evaluates the alerts at the end

    (mail,) = smtp.wait_for_messages(1)
    for part in (mail.text, mail.html):
        assert "broken.csv" in part and "cannot parse" in part
    assert STALE_KEY in mail.text and "&lt;b&gt;old&lt;/b&gt;" in mail.html
    assert "<b>old</b>" not in mail.html
    assert "WORKFLOW" in mail.text and "REASON" in mail.text
    assert hook.wait_for(lambda: len(hook.requests) >= 1)
    (slack,) = hook.requests
    body = slack.json()
    assert set(body) >= {"text", "blocks"}
    shown = str(body)
    assert "broken.csv" in shown and "&lt;b&gt;old&lt;/b&gt;" in shown

    p.cli("alerts", "check")  # a later evaluation (or a restarted run): nothing new
    p.run_once()
    assert len(smtp.messages) == 1 and len(hook.requests) == 1


def test_a_notifier_that_is_down_gets_the_message_once_it_is_back(
    tmp_path: Path, smtp: SmtpCapture, hook: WebhookCapture
) -> None:
    p = project(tmp_path, smtp, hook)
    land_problems(p)
    hook.down()

    p.run_once(expect=1)  # processing goes on; the webhook cannot be reached
    assert len(smtp.wait_for_messages(1)) == 1
    status = p.json("alerts")
    chat = [d for a in status["alerts"] for d in a["notified"] if d["notifier"] == "chat"]
    assert chat and all(d["outcome"] == "failed" and d["error"] for d in chat)

    hook.up()
    p.cli("alerts", "check", expect=None)  # may still be in backoff: then a later check
    deadline = time.time() + 120
    while not hook.requests and time.time() < deadline:
        time.sleep(1)
        p.cli("alerts", "check", expect=None)
    assert len(hook.requests) == 1
    assert len(smtp.messages) == 1


def test_stale_json_lists_stale_stuck_failed_and_missing(
    tmp_path: Path, smtp: SmtpCapture, hook: WebhookCapture
) -> None:
    p = project(tmp_path, smtp, hook)
    land_problems(p)
    p.run_once(expect=1)

    report = p.json("stale")

    assert set(report) >= {"stale", "stuck", "failed", "missing"}
    (stale,) = report["stale"]
    assert (stale["key"], stale["workflow"], stale["status"]) == (STALE_KEY, "waiting", "TODO")
    (failed,) = report["failed"]
    assert failed["key"] == BAD_KEY and "cannot parse" in failed["error"]
    assert {"key", "workflow", "status", "upload_time", "error"} <= set(failed)
    assert report["stuck"] == [] and report["missing"] == []
    assert p.json("stale", "--older-than", "3h")["stale"] == []


def test_alerts_json_shows_each_alert_with_what_was_sent_to_whom(
    tmp_path: Path, smtp: SmtpCapture, hook: WebhookCapture
) -> None:
    p = project(tmp_path, smtp, hook)
    land_problems(p)
    p.run_once(expect=1)

    data = p.json("alerts")

    rules = {(a["rule"], a["workflow"], a["state"]) for a in data["alerts"]}
    assert rules == {("stale", "waiting", "firing"), ("failed", "ohlcv", "firing")}
    for alert in data["alerts"]:
        assert alert["since"]
        assert {(d["notifier"], d["outcome"]) for d in alert["notified"]} == {
            ("mail", "sent"),
            ("chat", "sent"),
        }
        assert all(d["at"] for d in alert["notified"])


def test_alerts_test_sends_a_test_message_to_one_notifier(
    tmp_path: Path, smtp: SmtpCapture, hook: WebhookCapture
) -> None:
    p = project(tmp_path, smtp, hook)

    result = p.cli("alerts", "test", "--notifier", "mail")

    assert "mail: sent" in result.stdout
    (mail,) = smtp.wait_for_messages(1)
    assert "test message" in mail.text
    assert hook.requests == []
    assert p.cli("alerts", "test", "--notifier", "nope", expect=2).returncode == 2


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("[alerts]\nreport_cron = '61 * * * *'\n", "alerts.report_cron"),
        ("[alerts]\ntimezone = 'Mars/Olympus'\n", "alerts.timezone"),
        ("[alerts]\nmax_renotify = -1\n", "alerts.max_renotify"),
        ("[[alerts.notifiers]]\nname = 'x'\ntype = 'pager'\n", "alerts.notifiers.x.type"),
        (
            "[[alerts.notifiers]]\nname = 'm'\ntype = 'smtp'\nhost = 'h'\nsecurity = 'ssl'\n"
            "from = 'a@b.c'\nto = ['d@e.f']\n",
            "alerts.notifiers.m.security",
        ),
        (
            "[[alerts.notifiers]]\nname = 'w'\ntype = 'webhook'\nurl = 'https://h/x'\n"
            "url_env = 'HOOK'\n",
            "alerts.notifiers.w.url",
        ),
    ],
)
def test_a_bad_alerts_setting_exits_2_naming_the_key(tmp_path: Path, extra: str, key: str) -> None:
    p = write_config(tmp_path, [workflow("ohlcv", "ohlcv/")], extra=extra)

    result = p.cli("status", expect=2)

    assert f"'{key}'" in result.stderr


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"expect_cron": "0 6 * * 8"}, "workflows.ohlcv.expect_cron"),
        ({"expect_cron": "0 6 * * *", "timezone": "Nowhere/City"}, "workflows.ohlcv.timezone"),
        ({"expect_window": "24h"}, "workflows.ohlcv.expect_window"),
    ],
)
def test_a_bad_missing_rule_exits_2_naming_the_key(
    tmp_path: Path, settings: dict[str, str], key: str
) -> None:
    p = write_config(tmp_path, [workflow("ohlcv", "ohlcv/", **settings)])

    result = p.cli("status", expect=2)

    assert f"'{key}'" in result.stderr
