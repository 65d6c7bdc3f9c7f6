"""Batch readiness and batch limits. Pure: `now` is always an argument."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from ingestflow.domain.workflow import MAX_DURATION, Workflow


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits in TODO for one workflow (eligible now)."""

    count: int
    total_bytes: int
    oldest_upload_time: float | None

    def oldest_age(self, now: float) -> float:
        return 0.0 if self.oldest_upload_time is None else max(0.0, now - self.oldest_upload_time)


def readiness(workflow: Workflow, backlog: Backlog, now: float, marked: bool = False) -> str | None:
    """Why a batch is ready now, or None when it must wait.

    Without `workflow.ready_marker`: 'count' (batch_size files wait), 'bytes' (they reach
    max_batch_bytes) or 'max_wait' (the oldest waited that long). With a ready marker, count and
    bytes never make a batch: 'marker' when a folder whose marker is present has eligible files
    (`marked`; that folder's files form the batch), else 'max_wait' as above unless
    `marker_required`. `backlog` is what waits and is eligible now."""
    if workflow.ready_marker is not None:
        if marked:
            return "marker"
        if workflow.marker_required or backlog.count == 0:
            return None
        return "max_wait" if backlog.oldest_age(now) >= workflow.max_wait else None
    if backlog.count == 0:
        return None
    if backlog.count >= workflow.batch_size:
        return "count"
    if backlog.total_bytes >= workflow.max_batch_bytes:
        return "bytes"
    if backlog.oldest_age(now) >= workflow.max_wait:
        return "max_wait"
    return None


def age_deadline(workflow: Workflow, backlog: Backlog) -> float | None:
    """When the backlog becomes ready by age (its oldest file reaches `max_wait`), or None
    when age never makes it ready (nothing waits, or the workflow's marker is required)."""
    if backlog.oldest_upload_time is None or backlog.count == 0:
        return None
    if workflow.ready_marker is not None and workflow.marker_required:
        return None
    return backlog.oldest_upload_time + workflow.max_wait


def retry_delay(workflow: Workflow, attempts: int) -> float:
    """How long a file waits in TODO after a retryable failure on attempt `attempts`:
    `retry_backoff`, doubled per earlier attempt, at most MAX_DURATION. The exponent is capped
    too: 2**attempts grows past any sensible (and any representable) delay."""
    doubling: int = 2 ** min(max(0, attempts - 1), 60)
    return min(workflow.retry_backoff * doubling, MAX_DURATION)


T = TypeVar("T")


def take_within_limits(
    candidates: Iterable[tuple[T, int]], max_files: int, max_bytes: int
) -> list[T]:
    """Oldest-first candidates (item, size) that fit the caps; always at least one file,
    so a single file larger than `max_bytes` still gets processed alone."""
    chosen: list[T] = []
    total = 0
    for item, size in candidates:
        if len(chosen) >= max_files:
            break
        if chosen and total + size > max_bytes:
            break
        chosen.append(item)
        total += size
    return chosen
