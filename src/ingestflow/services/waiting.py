"""Why a workflow ran nothing: one readable line per workflow with waiting files."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ingestflow.domain.batching import Backlog
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
    by_age = None
    if backlog.oldest_upload_time is not None:
        by_age = f"by max_wait at {_clock(backlog.oldest_upload_time + workflow.max_wait, now)}"
    if workflow.ready_marker:
        rule = f"for {workflow.ready_marker!r} in their folder"
        if workflow.marker_required or by_age is None:
            return f"{head} {rule} (marker_required)" if workflow.marker_required else head
        return f"{head} {rule}, or {by_age}"
    rule = f"batch_size {workflow.batch_size}"
    if backlog.count >= workflow.batch_size or backlog.oldest_age(now) >= workflow.max_wait:
        # Ready by size or age, yet not claimed: retries still in their backoff.
        return f"{head}: retrying after backoff (retry_backoff {workflow.retry_backoff:g}s)"
    return f"{head}: {rule}, or {by_age}" if by_age else f"{head}: {rule}"


def waiting_lines(store: StatusStore, workflows: Sequence[Workflow], now: float) -> list[str]:
    lines = []
    for workflow in workflows:
        line = explain(workflow, store.backlog(workflow.name, now), now)
        if line is not None:
            lines.append(line)
    return lines
