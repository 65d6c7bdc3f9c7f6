"""`finish`: a batch's outcomes -> the ledger, so that no file stays PROCESSING.

Two events:
- the batch state machine's Finish task: its payload is the execution input
  (`batch_id`, `workflow`, `keys`, `manifest`, `results`), plus `error` ({"Error", "Cause"})
  when the Glue run failed (deploy/stepfunctions/README.md);
- the EventBridge backstop, "Step Functions Execution Status Change" for FAILED, TIMED_OUT
  and ABORTED executions (a Finish task that itself failed, an execution stopped by hand):
  its `detail.input` is the same payload, its status and cause the error.

Outcomes: the Glue job's results manifest, or every file failed (retryable, with the error)
when the run failed or left no results. A file without an outcome is queued again. Finishing
a batch twice changes nothing the second time (only files still PROCESSING in the batch
change), so the backstop may run after a Finish that worked.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from ingestflow.adapters.engines.batch_manifest import BatchManifestError, execution_outcomes
from ingestflow.bootstrap_lambda import runtime
from ingestflow.domain.records import FileOutcome
from ingestflow.services.remote_batches import finish_remote_batch

log = logging.getLogger(__name__)
STATUS_CHANGE = "Step Functions Execution Status Change"


class NotABatchPayload(ValueError):
    """The event is neither a Finish payload nor an execution status change."""


def batch_payload(event: Mapping[str, Any]) -> dict[str, Any]:
    """The Finish payload of `event` (an EventBridge status change turned into one)."""
    if event.get("detail-type") != STATUS_CHANGE:
        return dict(event)
    detail = event.get("detail") or {}
    try:
        payload = json.loads(detail.get("input") or "")
    except (TypeError, ValueError):
        raise NotABatchPayload("the execution status change carries no JSON input") from None
    if not isinstance(payload, dict):
        raise NotABatchPayload("the execution input is not a JSON object")
    status = str(detail.get("status") or "")
    if status != "SUCCEEDED" and "error" not in payload:
        cause = detail.get("cause") or detail.get("error") or "no cause given"
        payload["error"] = {"Error": f"execution {status}", "Cause": str(cause)}
    return payload


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    payload = batch_payload(event)
    batch_id, name = payload.get("batch_id"), payload.get("workflow")
    if not isinstance(batch_id, str) or not batch_id:
        raise NotABatchPayload("the payload has no batch_id")
    workflow = rt.workflow(name)
    outcomes: list[FileOutcome]
    try:
        outcomes = execution_outcomes(rt.s3, payload)
    except BatchManifestError as exc:
        # No manifest to give outcomes to: every file of the batch is queued again.
        log.error("batch %s: %s; its files are queued again", batch_id, exc)
        outcomes = []
    finished, released = finish_remote_batch(rt.store, workflow, batch_id, outcomes, time.time())
    answer = {"batch_id": batch_id, "workflow": workflow.name, "released": released}
    answer.update(
        {k: getattr(finished, k) for k in ("done", "failed", "retried", "requeued", "ignored")}
    )
    log.info("batch %s finished: %s", batch_id, answer)
    return answer
