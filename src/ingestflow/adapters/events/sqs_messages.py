"""Parsing the body of one SQS message from an S3 notification queue (pure: no I/O).

Shapes understood:
- an S3 event notification, `{"Records": [{"eventSource": "aws:s3", "eventName":
  "ObjectCreated:Put", "s3": {"bucket": {"name": ...}, "object": {"key": ...}}}, ...]}`, whose
  keys are URL-encoded with '+' for spaces (decoded with `urllib.parse.unquote_plus`);
- the same inside an SNS envelope (`{"Type": "Notification", "Message": "<the S3 event as a
  JSON string>"}`; raw message delivery sends the bare S3 event, handled above);
- an EventBridge event from S3 (`"source": "aws.s3"`, `"detail-type": "Object Created"`,
  `detail.bucket.name`, `detail.object.key`), its key decoded the same way;
- the `s3:TestEvent` S3 sends when a notification is configured (ignored).

Only object-created events of `bucket` under `prefix` give keys, relative to the prefix and
filtered as S3ObjectStore lists them (no folder placeholders ending in '/', nothing in a hidden
folder). Removals, other events, other buckets and other prefixes are understood but give no
key: such a message can be deleted. Anything else (not JSON, another shape, a record without a
key) is malformed: the message is left on the queue for its redrive policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class Notification:
    """What one message announces: `keys` (object-created, relative to the prefix, in message
    order, without repeats), or `malformed` (why it is not understood; None when it is)."""

    keys: tuple[str, ...] = ()
    malformed: str | None = None


class _Malformed(Exception):
    pass


def normalize_prefix(prefix: str) -> str:
    """'' or the prefix with a trailing '/' (as S3ObjectStore's URLs)."""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _relative(full_key: str, prefix: str) -> str | None:
    if not full_key.startswith(prefix):
        return None
    key = full_key[len(prefix) :]
    if not key or key.endswith("/"):
        return None
    if any(part.startswith(".") for part in key.split("/")[:-1]):
        return None
    return key


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Malformed(f"{what} is not a string")
    return value


def _get(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict) or name not in data:
            raise _Malformed(f"no {'.'.join(path)}")
        data = data[name]
    return data


def _s3_records(records: Any, bucket: str, prefix: str) -> list[str]:
    if not isinstance(records, list):
        raise _Malformed("Records is not a list")
    keys = []
    for record in records:
        if not isinstance(record, dict):
            raise _Malformed("a record is not an object")
        source = record.get("eventSource")
        name = _text(record.get("eventName"), "eventName")
        if source != "aws:s3":
            raise _Malformed(f"a record's eventSource is {source!r}, not 'aws:s3'")
        record_bucket = _text(_get(record, "s3", "bucket", "name"), "s3.bucket.name")
        raw_key = _text(_get(record, "s3", "object", "key"), "s3.object.key")
        if not name.removeprefix("s3:").startswith("ObjectCreated:") or record_bucket != bucket:
            continue
        key = _relative(unquote_plus(raw_key), prefix)
        if key is not None:
            keys.append(key)
    return keys


def _eventbridge(event: dict[str, Any], bucket: str, prefix: str) -> list[str]:
    if event.get("source") != "aws.s3":
        raise _Malformed(f"an EventBridge event from {event.get('source')!r}, not 'aws.s3'")
    if event.get("detail-type") != "Object Created":
        return []
    event_bucket = _text(_get(event, "detail", "bucket", "name"), "detail.bucket.name")
    raw_key = _text(_get(event, "detail", "object", "key"), "detail.object.key")
    if event_bucket != bucket:
        return []
    key = _relative(unquote_plus(raw_key), prefix)
    return [] if key is None else [key]


def _parse(body: str, bucket: str, prefix: str, depth: int = 0) -> list[str]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise _Malformed("not JSON") from None
    if not isinstance(data, dict):
        raise _Malformed("not a JSON object")
    if data.get("Event") == "s3:TestEvent":
        return []
    if "Records" in data:
        return _s3_records(data["Records"], bucket, prefix)
    if data.get("Type") == "Notification" and "Message" in data and depth == 0:
        return _parse(_text(data["Message"], "the SNS Message"), bucket, prefix, depth + 1)
    if "detail-type" in data and "source" in data:
        return _eventbridge(data, bucket, prefix)
    raise _Malformed("not an S3 notification (no Records, SNS envelope or EventBridge event)")


def parse_message(body: str, bucket: str, prefix: str = "") -> Notification:
    """The keys an SQS message body announces for `s3://bucket/prefix` (see the module)."""
    try:
        keys = _parse(body, bucket, normalize_prefix(prefix))
    except _Malformed as exc:
        return Notification(malformed=str(exc))
    return Notification(keys=tuple(dict.fromkeys(keys)))
