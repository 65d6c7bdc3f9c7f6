"""`schedule` (an EventBridge schedule, every minute): expired leases reaped, every ready
batch claimed (batch_size, max_wait, max_batch_bytes, ready markers: the ledger decides as
for every worker) and started as one execution of the batch state machine named after the
batch. A batch that cannot be started is released at once. When metrics sinks are
configured, what the stream function has not forwarded yet (a quiet minute) is forwarded too.

Returns what it did: {"reaped": n, "started": [{"batch_id", "run", "files"}], "failed": [...]}.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ingestflow.bootstrap_lambda import runtime, time_left
from ingestflow.services.remote_batches import start_ready_batches

log = logging.getLogger(__name__)
FORWARD_SECONDS = 10.0
# The state machine gives RunGlue up to 2 h and Finish 5 min (deploy/stepfunctions): a shorter
# lease lets the reaper queue a batch's files again while Glue still converts them.
EXECUTION_SECONDS = 7200 + 300
_WARNED: set[str] = set()


def _warn_short_leases(workflows: Any) -> None:
    for w in workflows:
        if w.lease < EXECUTION_SECONDS and w.name not in _WARNED:
            _WARNED.add(w.name)
            log.warning("workflow %s: lease %.0fs is shorter than an execution may take (%ds); "
                        "files of a long Glue run may be claimed again", w.name, w.lease,
                        EXECUTION_SECONDS)  # fmt: skip


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    settings = rt.settings
    _warn_short_leases(settings.workflows)
    left = time_left(context)
    result = start_ready_batches(
        rt.store,
        rt.starter,
        settings.workflows,
        {w.name: settings.spec_for(w) for w in settings.workflows},
        rt.owner,
        time.time,
        left,
    )
    answer = result.to_json()
    if rt.forwarder is not None:
        answer["metrics_caught_up"] = rt.forwarder.flush(min(FORWARD_SECONDS, max(left(), 0.0)))
    return answer
