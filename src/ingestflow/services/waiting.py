"""Why a workflow ran nothing: one readable line per workflow with waiting files."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ingestflow.domain.batching import Backlog, age_deadline, readiness
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore


def _clock(ts: float, now: float) -> str:
    """Local wall-clock time, with the date when it is not today."""
    fmt = "%H:%M:%S" if time.localtime(ts)[:3] == time.localtime(now)[:3] else "%Y-%m-%d %H:%M:%S"
    return time.strftime(fmt, time.localtime(ts))


def _files(n: int) -> str:
    return f"{n} file{'' if n == 1 else 's'}"


def explain(workflow: Workflow, backlog: Backlog, now: float) -> str | None:
    """Why `workflow`'s waiting files did not form a batch, or None when none wait."""
    if backlog.count == 0:
        return None
    head = f"{workflow.name}: {_files(backlog.count)} wait"
    deadline = age_deadline(workflow, backlog)
    by_age = None if deadline is None else f"by max_wait at {_clock(deadline, now)}"
    if workflow.ready_marker:
        rule = f"for {workflow.ready_marker!r} in their folder"
        if workflow.marker_required:
            return f"{head} {rule} (marker_required)"
        return f"{head} {rule}, or {by_age}" if by_age else head
    if readiness(workflow, backlog, now) is not None:
        # Ready by size or age, yet not claimed: retries still in their backoff.
        return f"{head}: retrying after backoff (retry_backoff {workflow.retry_backoff:g}s)"
    rule = f"batch_size {workflow.batch_size}"
    return f"{head}: {rule}, or {by_age}" if by_age else f"{head}: {rule}"


def waiting_lines(store: StatusStore, workflows: Sequence[Workflow], now: float) -> list[str]:
    lines = []
    for workflow in workflows:
        line = explain(workflow, store.backlog(workflow.name, now), now)
        if line is not None:
            lines.append(line)
    return lines
