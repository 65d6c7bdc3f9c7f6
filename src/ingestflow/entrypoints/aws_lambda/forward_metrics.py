"""`forward_metrics`: the files table's stream -> the configured metrics sinks (Datadog).

The stream says that files changed; what is sent comes from the ledger's change log through
the same Forwarder as `ingestflow run` (the same metric names, tags and totals), behind each
sink's checkpoint in the ledger. So a record delivered twice (stream retries, a batch
retried after a partial failure) is never counted twice, and nothing is lost when the
function fails: the checkpoint has not moved.

When a sink cannot take the metrics now, every record of the batch comes back in
`batchItemFailures` (by sequence number: the stream retries from the first of them); records
that are not file status changes are skipped.
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from ingestflow.adapters.state.dynamodb_items import transition_from_stream_record
from ingestflow.bootstrap_lambda import runtime, time_left

log = logging.getLogger(__name__)
FLUSH_SECONDS = 60.0


class SinkUnavailable(RuntimeError):
    """A metrics sink did not take the pending metrics (retried with the stream)."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    forwarder = rt.forwarder
    problem: str | None = None
    changes = sum(
        1 for r in event.get("Records") or () if transition_from_stream_record(r) is not None
    )
    if forwarder is None:
        log.warning("no metrics sink is configured: %d status change(s) not forwarded", changes)
    elif changes and not forwarder.flush(min(FLUSH_SECONDS, max(time_left(context)(), 1.0))):
        # Behind without an error (a transition id still being written): the next records,
        # or the schedule function, forward the rest; only a failing sink retries the batch.
        errors = [f"{r.name}: {r.last_error}" for r in forwarder.reports() if r.last_error]
        problem = "; ".join(errors) or None

    def record_handler(record: DynamoDBRecord) -> None:
        if problem is not None:
            raise SinkUnavailable(problem)

    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )
    answer = dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
    if problem is not None:
        log.error("metrics not forwarded (%s): the stream retries the batch", problem)
    return answer
