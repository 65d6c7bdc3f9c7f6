"""Parsing SQS message bodies from an S3 notification queue, on AWS's own recorded payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingestflow.adapters.events.sqs_messages import Notification, parse_message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aws-events"


def fixture(name: str) -> Any:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {path} not available")
    return json.loads(path.read_text())


def s3_event(key: str, bucket: str = "landing", name: str = "ObjectCreated:Put") -> str:
    record = {
        "eventSource": "aws:s3",
        "eventName": name,
        "s3": {"bucket": {"name": bucket}, "object": {"key": key}},
    }
    return json.dumps({"Records": [record]})


def test_the_s3_event_inside_an_sqs_record_gives_its_key() -> None:
    [record] = fixture("s3SqsEvent.json")["Records"]
    assert parse_message(record["body"], "xxx") == Notification(keys=("test.pdf",))


def test_a_bare_s3_event_gives_its_key() -> None:
    body = json.dumps(fixture("s3Event.json"))
    assert parse_message(body, "lambda-artifacts-deafc19498e3f2df").keys == (
        "b21b84d653bb07b05b1e6b33684dc11b",
    )


def test_a_url_encoded_key_is_decoded() -> None:
    body = json.dumps(fixture("s3EventDecodedKey.json"))
    assert parse_message(body, "sourcebucket").keys == ("Happy Face.jpg",)


def test_a_removal_is_understood_and_gives_no_key() -> None:
    body = json.dumps(fixture("s3EventDeleteObject.json"))
    assert parse_message(body, "lambda-artifacts-deafc19498e3f2df") == Notification()


def test_non_json_and_unknown_bodies_of_an_sqs_batch_are_malformed() -> None:
    first, second = fixture("sqsEvent.json")["Records"]
    assert parse_message(first["body"], "b").malformed == "not JSON"
    assert parse_message(second["body"], "b").malformed is not None
    assert parse_message(second["body"], "b").keys == ()


def test_a_generic_eventbridge_event_is_malformed() -> None:
    body = json.dumps(fixture("eventBridgeEvent.json"))
    assert parse_message(body, "b").malformed is not None


def test_the_s3_test_event_is_ignored() -> None:
    body = json.dumps(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2024-01-01T00:00:00.000Z",
            "Bucket": "landing",
            "RequestId": "R",
            "HostId": "H",
        }
    )
    assert parse_message(body, "landing") == Notification()


def test_plus_is_a_space_and_percent_escapes_are_decoded() -> None:
    body = s3_event("in/a+b%2Bc+%25d%C3%A9.csv")
    assert parse_message(body, "landing", "in").keys == ("a b+c %dé.csv",)


def test_other_buckets_prefixes_placeholders_and_hidden_folders_give_no_key() -> None:
    assert parse_message(s3_event("in/x.csv", bucket="other"), "landing", "in/").keys == ()
    assert parse_message(s3_event("inbox/x.csv"), "landing", "in").keys == ()
    assert parse_message(s3_event("in/folder/"), "landing", "in").keys == ()
    assert parse_message(s3_event("in/.tmp/x.csv"), "landing", "in").keys == ()
    assert parse_message(s3_event("in/.x.csv"), "landing", "in").keys == (".x.csv",)


def test_several_records_give_their_keys_once_in_order() -> None:
    records = [json.loads(s3_event(k))["Records"][0] for k in ("b.csv", "a.csv", "b.csv")]
    body = json.dumps({"Records": records})
    assert parse_message(body, "landing").keys == ("b.csv", "a.csv")


def test_an_sns_envelope_is_unwrapped() -> None:
    envelope = {"Type": "Notification", "TopicArn": "arn:t", "Message": s3_event("x+y.csv")}
    assert parse_message(json.dumps(envelope), "landing").keys == ("x y.csv",)


def test_an_eventbridge_object_created_event_gives_its_key() -> None:
    event = {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {"bucket": {"name": "landing"}, "object": {"key": "in/a.csv", "size": 1}},
    }
    assert parse_message(json.dumps(event), "landing", "in").keys == ("a.csv",)
    event["detail-type"] = "Object Deleted"
    assert parse_message(json.dumps(event), "landing", "in") == Notification()


@pytest.mark.parametrize(
    "body",
    [
        "",
        "[]",
        "null",
        '{"Records": "x"}',
        '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}',
        '{"Records": [{"eventSource": "aws:sqs", "eventName": "x"}]}',
        '{"Type": "Notification", "Message": "not json"}',
        '{"Type": "Notification", "Message": 3}',
        "[" * 100_000,
    ],
)
def test_broken_bodies_are_malformed_not_errors(body: str) -> None:
    assert parse_message(body, "landing").malformed
