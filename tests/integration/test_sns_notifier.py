"""SNSNotifier against a moto server over HTTP: a topic with an SQS queue subscribed (moto
delivers SNS -> SQS), so what a subscriber receives is read back from the queue."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest
from moto_server import MotoServer

from ingestflow.adapters.notify.render import text_report
from ingestflow.adapters.notify.sns import MESSAGE_MAX, SUBJECT_MAX, SNSNotifier, sns_subject
from ingestflow.domain.alerts import (
    CLOSED,
    FAILED,
    OPENED,
    STALE,
    AlertItem,
    AlertMessage,
    Digest,
)
from ingestflow.domain.errors import ConfigError, MissingExtraError, NotifyError

NOW = time.time()
HOSTILE_KEY = "ohlcv/[x](http://evil)/<b>bold</b>&amp;\n\r<script>alert(1)</script> 📈.csv"
HOSTILE_ERROR = "bad row \x1b[31mred\x1b[0m\nTraceback <html>"


def item(key: str, reason: str = "TODO for 7h (stale_after 5h)") -> AlertItem:
    return AlertItem("ohlcv", "ohlcv/", "landing", key, "TODO", NOW - 7 * 3600, reason)


def hostile_digest(env: str = "prod") -> Digest:
    messages = (
        AlertMessage(OPENED, STALE, "ohlcv", "", "1 file stale", NOW - 60, (item(HOSTILE_KEY),), 1),
        AlertMessage(
            OPENED, FAILED, "ohlcv", "", "1 file failed", NOW, (item("a.csv", HOSTILE_ERROR),), 1
        ),
        AlertMessage(CLOSED, STALE, "waiting", "", "resolved", NOW - 600, (), 0),
    )
    return Digest("ingestflow alerts", messages, NOW, env)


@pytest.fixture
def topic(aws_env: MotoServer) -> tuple[str, str]:
    """(topic ARN, URL of an SQS queue subscribed to it)."""
    sns, sqs = aws_env.client("sns"), aws_env.client("sqs")
    arn = sns.create_topic(Name="ingestflow-alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    return arn, url


def received(server: MotoServer, url: str) -> list[dict[str, Any]]:
    """The SNS envelopes the queue holds (each delivery's JSON body)."""
    answer = server.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2
    )
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_a_digest_reaches_the_subscribed_queue_with_subject_and_text_intact(
    aws_env: MotoServer, topic: tuple[str, str]
) -> None:
    arn, url = topic
    digest = hostile_digest()

    SNSNotifier("aws", arn).send(digest)

    (envelope,) = received(aws_env, url)
    assert envelope["TopicArn"] == arn
    assert envelope["Subject"] == sns_subject(digest)
    assert envelope["Subject"].startswith("[ingestflow prod] 2 firing, 1 resolved: stale ohlcv")
    assert envelope["Message"] == text_report(digest)
    body = envelope["Message"]
    assert "<b>bold</b>&amp;\\x0a\\x0d<script>alert(1)</script> 📈.csv" in body  # literal text
    assert "\x1b" not in body and "\\x1b[31mred" in body
    assert "\r" not in body
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert json.loads(attributes["rule"]) == ["stale", "failed"]
    assert json.loads(attributes["workflow"]) == ["ohlcv", "waiting"]
    assert json.loads(attributes["status"]) == ["firing", "resolved"]
    assert attributes["env"] == "prod"


def test_a_subject_is_printable_ascii_on_one_line_within_the_sns_limit(
    aws_env: MotoServer, topic: tuple[str, str]
) -> None:
    arn, url = topic
    digest = hostile_digest(env="prödüction\n\x1b[2J📈 " + "x" * 200)

    SNSNotifier("aws", arn).send(digest)

    (envelope,) = received(aws_env, url)
    line = envelope["Subject"]
    assert line == sns_subject(digest)
    assert len(line) <= SUBJECT_MAX and line.endswith("...")
    assert all(" " <= c <= "~" for c in line)
    assert line.startswith("[ingestflow production [2J? xxx")  # ESC and newline: spaces


def test_a_message_over_256_kb_is_cut_on_a_line_with_a_note_and_delivered(
    aws_env: MotoServer, topic: tuple[str, str]
) -> None:
    arn, url = topic
    rows = tuple(item(f"big/{i:03}/" + "é📈" * 90, "r" * 300) for i in range(50))
    messages = tuple(
        AlertMessage(OPENED, STALE, f"w{n}", "", "50 files stale", NOW, rows, 50) for n in range(8)
    )
    digest = Digest("ingestflow alerts", messages, NOW, "prod")
    assert len(text_report(digest).encode()) > MESSAGE_MAX

    SNSNotifier("aws", arn).send(digest)

    (envelope,) = received(aws_env, url)
    body = envelope["Message"]
    assert len(body.encode("utf-8")) <= MESSAGE_MAX
    kept, _, note = body.rpartition("\n... message truncated: ")
    assert kept.endswith("\n") and text_report(digest).startswith(kept)  # whole lines
    assert "bytes shown (SNS takes 256 KB)" in note


def test_a_missing_topic_is_a_notify_error_of_one_line(aws_env: MotoServer) -> None:
    arn = "arn:aws:sns:us-east-1:123456789012:no-such-topic"

    with pytest.raises(NotifyError) as raised:
        SNSNotifier("aws", arn).send(hostile_digest())

    assert str(raised.value) == f"sns aws: {arn}: no such topic (NotFound)"
    assert raised.value.retry_after is None


def test_a_user_without_publish_rights_gets_a_notify_error_of_one_line(
    aws_env: MotoServer, topic: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    arn, _ = topic
    iam = aws_env.client("iam")
    iam.create_user(UserName="no-rights")
    key = iam.create_access_key(UserName="no-rights")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    aws_env.enforce_iam()

    with pytest.raises(NotifyError) as raised:
        SNSNotifier("aws", arn).send(hostile_digest())

    message = str(raised.value)
    assert message.startswith(f"sns aws: {arn}: ")
    assert "not authorized" in message or "access denied" in message
    assert "\n" not in message and key["SecretAccessKey"] not in message


def test_an_unreachable_endpoint_is_a_notify_error_of_one_line(
    aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    arn = "arn:aws:sns:us-east-1:123456789012:alerts"

    with pytest.raises(NotifyError) as raised:
        SNSNotifier("aws", arn).send(hostile_digest())

    message = str(raised.value)
    assert message.startswith(f"sns aws: {arn}: Could not connect to the endpoint URL")
    assert "\n" not in message and "Traceback" not in message


def test_throttling_is_a_notify_error_kept_for_a_later_retry(aws_env: MotoServer) -> None:
    from botocore.stub import Stubber

    client = aws_env.client("sns")
    arn = "arn:aws:sns:us-east-1:123456789012:alerts"
    with Stubber(client) as stub:  # moto cannot throttle; the AWS answer is stubbed, not our code
        stub.add_client_error("publish", "Throttled", "Rate exceeded", 400)

        with pytest.raises(NotifyError) as raised:
            SNSNotifier("aws", arn, client=client).send(hostile_digest())

    assert str(raised.value) == f"sns aws: {arn}: throttled by SNS (retried later) (Throttled)"


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:sqs:us-east-1:123456789012:alerts",
        "arn:aws:sns:us-east-1:1234:alerts",
        "arn:aws:sns:us-east-1:123456789012:alerts.fifo",
    ],
)
def test_a_topic_arn_that_is_not_a_standard_sns_topic_is_a_config_error(arn: str) -> None:
    with pytest.raises(ConfigError) as raised:
        SNSNotifier("aws", arn)

    assert raised.value.key == "alerts.notifiers.aws.topic_arn"


def test_without_the_aws_extra_the_notifier_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` raises ImportError

    with pytest.raises(MissingExtraError, match=r"ingestflow\[aws\]"):
        SNSNotifier("aws", "arn:aws:sns:us-east-1:123456789012:alerts")
