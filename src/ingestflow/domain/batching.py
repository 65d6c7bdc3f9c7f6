"""Batch readiness and batch limits. Pure: `now` is always an argument."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from ingestflow.domain.workflow import Workflow


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits in TODO for one workflow (eligible now)."""

    count: int
    total_bytes: int
    oldest_upload_time: float | None

    def oldest_age(self, now: float) -> float:
        return 0.0 if self.oldest_upload_time is None else max(0.0, now - self.oldest_upload_time)


def readiness(workflow: Workflow, backlog: Backlog, now: float) -> str | None:
    """Why a batch is ready now ('count', 'max_wait', 'bytes'), or None when it must wait."""
    if backlog.count == 0:
        return None
    if backlog.count >= workflow.batch_size:
        return "count"
    if backlog.total_bytes >= workflow.max_batch_bytes:
        return "bytes"
    if backlog.oldest_age(now) >= workflow.max_wait:
        return "max_wait"
    return None


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
