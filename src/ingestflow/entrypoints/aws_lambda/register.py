"""`register`: SQS batches of the landing bucket's S3 notifications -> TODO files.

Each message is parsed like the self-hosted SQS source does (adapters/events/sqs_messages:
URL-decoded keys, `s3:TestEvent` and non-create events ignored, SNS envelopes and EventBridge
events understood) and its keys registered through discovery (stat, route, one conditional
write per file: a duplicate notification changes nothing). A message that is not an S3
notification, or whose keys cannot be registered now, comes back in `batchItemFailures`; the
queue's redrive policy moves a message that keeps failing to its dead-letter queue.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ingestflow.adapters.events.sqs_messages import parse_message
from ingestflow.bootstrap_lambda import runtime
from ingestflow.config.cloud import s3_parts

log = logging.getLogger(__name__)


class NotANotification(ValueError):
    """The message is not an S3 notification (left for the queue's redrive policy)."""


def register_record(record: SQSRecord) -> int:
    """Register the keys of one message; how many files became TODO."""
    rt = runtime()
    assert rt.settings.landing_url is not None  # rt.discovery refuses a local landing
    bucket, prefix = s3_parts(rt.settings.landing_url)
    notification = parse_message(record.body, bucket, prefix)
    if notification.malformed is not None:
        raise NotANotification(f"message {record.message_id}: {notification.malformed}")
    if not notification.keys:
        return 0  # a test event, a removal, another bucket or prefix
    listing = rt.discovery.register_keys(notification.keys, time.time())
    log.info("message %s: %d key(s), %d registered, %d unrouted", record.message_id,
             len(notification.keys), listing.registered, len(listing.unrouted))  # fmt: skip
    return listing.registered


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    rt.discovery  # noqa: B018  configuration problems fail the invocation, not each record
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(
        process_partial_response(
            event=event, record_handler=register_record, processor=processor, context=context
        )
    )
