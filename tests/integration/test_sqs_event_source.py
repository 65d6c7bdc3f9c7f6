"""SQSEventSource against a moto server over HTTP: S3 -> SQS notifications delivered by moto,
long polling, acknowledgement after registration, visibility, redrive to a dead-letter queue."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto_server import MotoServer

from ingestflow.adapters.events.sqs import SQSEventSource

BUCKET = "landing"


def make_queue(sqs: Any, name: str, visibility: int = 30, dlq_after: int | None = None) -> str:
    attributes = {"VisibilityTimeout": str(visibility)}
    if dlq_after is not None:
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = queue_arn(sqs, dlq_url)
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(dlq_after)}
        )
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def queue_arn(sqs: Any, url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return arn


def notify(s3: Any, sqs: Any, queue_url: str) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": queue_arn(sqs, queue_url), "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )


def drain_until(source: SQSEventSource, wanted: int, seconds: float = 10.0) -> list[str]:
    """Drain (acknowledging) until `wanted` keys came out or `seconds` passed."""
    keys: list[str] = []
    deadline = time.monotonic() + seconds
    while len(keys) < wanted and time.monotonic() < deadline:
        keys += source.drain(0.5)
        source.ack()
    return keys


def queued(sqs: Any, url: str) -> int:
    """Messages visible or in flight on the queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def s3_body(key: str, name: str = "ObjectCreated:Put") -> str:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": name,
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}},
    }
    return json.dumps({"Records": [record]})


@pytest.fixture
def sqs(aws_env: MotoServer) -> Any:
    return aws_env.client("sqs")


@pytest.fixture
def s3(aws_env: MotoServer) -> Any:
    return aws_env.client("s3")


@pytest.fixture
def sources(aws_env: MotoServer) -> Iterator[list[SQSEventSource]]:
    """Sources made by a test, stopped after it."""
    made: list[SQSEventSource] = []
    yield made
    for source in made:
        source.stop()


def started(
    sources: list[SQSEventSource], aws_env: MotoServer, url: str, **kwargs: Any
) -> SQSEventSource:
    kwargs.setdefault("wait_time", 1)
    source = SQSEventSource(url, BUCKET, client=aws_env.client("sqs"), **kwargs)
    source.start()
    sources.append(source)
    return source


def test_objects_put_come_out_decoded_and_relative_to_the_prefix(
    aws_env: MotoServer, s3: Any, sqs: Any, sources: list[SQSEventSource]
) -> None:
    url = make_queue(sqs, "notes")
    notify(s3, sqs, url)  # moto sends an s3:TestEvent first
    names = ["a b.csv", "c+d.csv", "e%20f.csv", "sub/ünï 日本.csv", "100%.csv"]
    for name in names:
        s3.put_object(Bucket=BUCKET, Key=f"in/{name}", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="elsewhere/x.csv", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="in/.tmp/part.csv", Body=b"x")
    source = started(sources, aws_env, url, prefix="in")
    keys = drain_until(source, len(names))
    assert sorted(keys) == sorted(names)
    assert source.drain(1.5) == []
    assert queued(sqs, url) == 0  # acked, and the test event and foreign keys deleted


def test_test_events_and_removals_are_deleted_without_a_key(
    aws_env: MotoServer, s3: Any, sqs: Any, sources: list[SQSEventSource]
) -> None:
    url = make_queue(sqs, "removals")
    notify(s3, sqs, url)
    sqs.send_message(QueueUrl=url, MessageBody=s3_body("gone.csv", "ObjectRemoved:Delete"))
    source = started(sources, aws_env, url)
    assert source.drain(2.5) == []
    deadline = time.monotonic() + 5
    while queued(sqs, url) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert queued(sqs, url) == 0


def test_a_duplicate_notification_gives_the_key_again(
    aws_env: MotoServer, sqs: Any, sources: list[SQSEventSource]
) -> None:
    url = make_queue(sqs, "dupes")
    source = started(sources, aws_env, url)
    sqs.send_message(QueueUrl=url, MessageBody=s3_body("x.csv"))
    assert drain_until(source, 1) == ["x.csv"]
    sqs.send_message(QueueUrl=url, MessageBody=s3_body("x.csv"))
    assert drain_until(source, 1) == ["x.csv"]


def test_a_poison_message_is_logged_left_unacked_and_lands_in_the_dead_letter_queue(
    aws_env: MotoServer,
    sqs: Any,
    sources: list[SQSEventSource],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = make_queue(sqs, "poison", visibility=1, dlq_after=2)
    dlq = sqs.get_queue_url(QueueName="poison-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="not json\nFAKE LOG LINE")
    sqs.send_message(QueueUrl=url, MessageBody=s3_body("good.csv"))
    source = started(sources, aws_env, url)
    with caplog.at_level(logging.WARNING, logger="ingestflow.adapters.events.sqs"):
        assert drain_until(source, 1) == ["good.csv"]
        deadline = time.monotonic() + 15
        while queued(sqs, dlq) == 0 and time.monotonic() < deadline:
            source.drain(0.5)
            source.ack()
    assert queued(sqs, dlq) == 1
    [moved] = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert moved["Body"] == "not json\nFAKE LOG LINE"
    lines = [r.getMessage() for r in caplog.records if "not an S3 notification" in r.message]
    assert lines
    assert all("\n" not in line and "FAKE LOG LINE" in line for line in lines)


def test_unacked_messages_come_back_after_the_visibility_timeout_acked_ones_never(
    aws_env: MotoServer, sqs: Any, sources: list[SQSEventSource]
) -> None:
    url = make_queue(sqs, "redeliver", visibility=1)
    source = started(sources, aws_env, url)
    sqs.send_message(QueueUrl=url, MessageBody=s3_body("unacked.csv"))
    keys: list[str] = []
    deadline = time.monotonic() + 5
    while not keys and time.monotonic() < deadline:
        keys = source.drain(0.5)
    assert keys == ["unacked.csv"]  # not acked: registering failed, say
    again = drain_until(source, 1)  # given up by this drain, back after 1 s, acked now
    assert again == ["unacked.csv"]
    assert source.drain(3.0) == []  # acked: never again
    assert queued(sqs, url) == 0


def test_held_messages_get_their_visibility_extended_until_acked(
    aws_env: MotoServer, sqs: Any, sources: list[SQSEventSource]
) -> None:
    url = make_queue(sqs, "slow")
    source = started(sources, aws_env, url, visibility=2)
    sqs.send_message(QueueUrl=url, MessageBody=s3_body("slow.csv"))
    keys: list[str] = []
    deadline = time.monotonic() + 5
    while not keys and time.monotonic() < deadline:
        keys = source.drain(0.5)
    assert keys == ["slow.csv"]
    time.sleep(5)  # a slow registration, over twice the visibility timeout
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
    source.ack()
    assert queued(sqs, url) == 0


def test_stop_returns_quickly_during_a_long_poll(
    aws_env: MotoServer, sqs: Any, sources: list[SQSEventSource]
) -> None:
    url = make_queue(sqs, "quiet")
    source = started(sources, aws_env, url, wait_time=2)
    time.sleep(0.5)  # the thread is inside ReceiveMessage
    began = time.monotonic()
    source.stop()
    assert time.monotonic() - began < 2.5


def test_messages_received_but_not_handed_out_are_released_at_stop(
    aws_env: MotoServer, sqs: Any, sources: list[SQSEventSource]
) -> None:
    url = make_queue(sqs, "release")
    source = started(sources, aws_env, url)
    sqs.send_message(QueueUrl=url, MessageBody=s3_body("later.csv"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # received by the thread, visibility 30 s
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        if attributes["ApproximateNumberOfMessagesNotVisible"] == "1":
            break
        time.sleep(0.05)
    source.stop()
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"] == "later.csv"


def test_a_missing_queue_fails_at_start_in_one_line(aws_env: MotoServer) -> None:
    from ingestflow.domain.errors import ObjectStoreError

    url = f"{aws_env.endpoint_url}/123456789012/nope"
    source = SQSEventSource(url, BUCKET, client=aws_env.client("sqs"))
    with pytest.raises(ObjectStoreError, match="nope"):
        source.start()
