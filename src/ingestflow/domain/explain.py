"""Why one ledger file is where it is: a sentence or two for the file page and the CLI.

Pure: `now` is an argument and times are in UTC, so the same inputs give the same text. Text
from the file (error, output, batch id) is put in as is: the caller escapes it where it renders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ingestflow.domain.batching import Backlog, age_deadline, readiness, retry_delay
from ingestflow.domain.records import FileRecord, Transition
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow

RETRYABLE_FAILURE = "retryable failure"  # the reason the ledger gives a retry's transition


@dataclass(frozen=True, slots=True)
class Explanation:
    """`state`: one word ("waiting", "ready", "backoff", "processing", "lease_expired", "done",
    "failed", "unknown_workflow"). `until`: the future time at which the state changes by time
    alone (max_wait, backoff or lease end), else None."""

    state: str
    text: str
    until: float | None


def clock(ts: float) -> str:
    """'2026-12-02 14:05:00 UTC'; a time beyond what datetime holds shows as epoch seconds."""
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"epoch {ts:.0f} s"


_UNITS = ((86400.0, "d"), (3600.0, "h"), (60.0, "min"), (1.0, "s"))


def duration(seconds: float) -> str:
    """Short form: '0.25 s', '45 s', '1.5 min', '3 min', '2 h', '4 d' (two figures below 10)."""
    seconds = max(0.0, seconds)
    size, unit = next((u for u in _UNITS if seconds >= u[0]), _UNITS[-1])
    value = seconds / size
    return f"{value:.2g} {unit}" if value < 10 else f"{value:.0f} {unit}"


def _backoff_until(record: FileRecord, workflow: Workflow, history: Sequence[Transition]) -> float:
    """When the file's retry backoff ends, or -inf when it is not in one. Only the file's
    latest transition counts: any later change (a claim, a lease expiry) ended the backoff."""
    mine = [t for t in history if t.bucket == record.bucket and t.key == record.key]
    if not mine or mine[-1].reason != RETRYABLE_FAILURE or mine[-1].new_status is not Status.TODO:
        return float("-inf")
    return mine[-1].at + retry_delay(workflow, record.attempts)


def _todo(
    record: FileRecord,
    workflow: Workflow,
    backlog: Backlog | None,
    history: Sequence[Transition],
    now: float,
    marked: bool,
) -> Explanation:
    until = _backoff_until(record, workflow, history)
    if until > now:
        failed = f"attempt {record.attempts} of {workflow.max_attempts} failed"
        why = f"{failed}: {record.error}" if record.error else failed
        return Explanation("backoff", f"retrying after backoff until {clock(until)} ({why})", until)
    # The backlog is what waits and is eligible now, so it holds this file; without one (or
    # with a stale empty one) the file alone is the backlog, which bounds the age deadline.
    known = backlog is not None and backlog.count > 0
    pending = backlog if backlog and known else Backlog(1, record.size, record.upload_time)
    why_ready = readiness(workflow, pending, now, marked)
    if why_ready is not None:
        return Explanation("ready", f"ready ({why_ready}): the next scheduler pass claims it", None)
    deadline = age_deadline(workflow, pending)
    by_age = None if deadline is None else f"by max_wait at {clock(deadline)}"
    if workflow.ready_marker is not None:
        head = f"waiting for marker {workflow.ready_marker!r} in its folder"
        text = f"{head}, or {by_age}" if by_age else f"{head} (marker_required)"
        return Explanation("waiting", text, deadline)
    count = f"{pending.count} of " if known else ""
    head = f"waiting: {count}batch_size {workflow.batch_size}"
    return Explanation("waiting", f"{head}, ready {by_age}" if by_age else head, deadline)


def _processing(record: FileRecord, workflow: Workflow, now: float) -> Explanation:
    lease = record.lease_until
    if lease is not None and lease < now:
        if record.attempts >= workflow.max_attempts:
            fate = f"the next pass fails it (attempt {record.attempts} of {workflow.max_attempts})"
        else:
            fate = "the next pass returns it to TODO"
        ago = f"lease expired {duration(now - lease)} ago at {clock(lease)}"
        text = f"{ago}: the worker is gone or stuck; {fate}"
        return Explanation("lease_expired", text, None)
    text = f"processing in batch {record.batch_id}"
    if record.start_time is not None:
        text += f" since {clock(record.start_time)}"
    if lease is not None:
        text += f", lease until {clock(lease)}"
    if record.attempts > 1:
        text += f" (attempt {record.attempts} of {workflow.max_attempts})"
    return Explanation("processing", text, lease)


def _ended(record: FileRecord, hint: str = "") -> str:
    """A DONE or FAILED file's facts, which need no workflow. A FAILED file's error comes
    last and whole (a traceback may be long); `hint` goes before it."""
    if record.status is Status.FAILED:
        error = record.error if record.error is not None else "no error recorded"
        attempts = f"{record.attempts} attempt{'' if record.attempts == 1 else 's'}"
        return f"FAILED after {attempts}{hint}: {error}"
    text = "done" if record.end_time is None else f"done at {clock(record.end_time)}"
    if record.end_time is not None and record.start_time is not None:
        text += f" in {duration(record.end_time - record.start_time)}"
    return text if record.output is None else f"{text}, output {record.output}"


def explain_file(
    record: FileRecord,
    workflow: Workflow | None,
    backlog: Backlog | None,
    history: Sequence[Transition],
    now: float,
    marked: bool = False,
) -> Explanation:
    """Why `record` is where it is. `workflow` is its workflow (None: no longer configured);
    `backlog` what waits in TODO for it and is eligible now (None: unknown); `history` this
    file's transitions oldest first (others are ignored); `marked`: the file's folder holds
    the workflow's ready marker."""
    if workflow is None:
        gone = f"its workflow {record.workflow!r} is no longer configured"
        if record.status in (Status.DONE, Status.FAILED):
            return Explanation("unknown_workflow", f"{gone}; {_ended(record)}", None)
        if record.status is Status.TODO:
            return Explanation("unknown_workflow", f"{gone}, so no pass claims it", None)
        text = f"{gone}; batch {record.batch_id} holds it, and back in TODO no pass claims it"
        return Explanation("unknown_workflow", text, None)
    if record.status is Status.TODO:
        return _todo(record, workflow, backlog, history, now, marked)
    if record.status is Status.PROCESSING:
        return _processing(record, workflow, now)
    if record.status is Status.DONE:
        return Explanation("done", _ended(record), None)
    return Explanation("failed", _ended(record, " (retry it to run it again)"), None)
