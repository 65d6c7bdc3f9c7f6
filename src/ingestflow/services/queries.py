"""Read-side use cases behind `status`, `files`, `workflows` and the (later) dashboard."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore

# Rows per ledger read when paging through files: memory stays flat at any ledger size.
PAGE = 2000


def now() -> float:
    return time.time()


def status_summary(store: StatusStore) -> dict[str, Any]:
    """{"counts": {status: n, ... all four}, "unrouted": n}"""
    counts = store.counts()
    return {
        "counts": {s.value: n for s, n in counts.items()},
        "unrouted": store.count_unrouted(),
    }


def workflow_summaries(store: StatusStore, workflows: Sequence[Workflow]) -> list[dict[str, Any]]:
    at = now()
    out = []
    for w in workflows:
        backlog = store.backlog(w.name, at)
        out.append(
            {
                "name": w.name,
                "prefix": w.prefix,
                "transform": w.transform,
                "batch_size": w.batch_size,
                "max_wait": w.max_wait,
                "max_batch_files": w.max_batch_files,
                "max_batch_bytes": w.max_batch_bytes,
                "max_attempts": w.max_attempts,
                "lease": w.lease,
                "include": list(w.include),
                "options": dict(w.options),
                "backlog": backlog.count,
                "backlog_bytes": backlog.total_bytes,
                "oldest_age_s": round(backlog.oldest_age(at), 3),
            }
        )
    return out


def iter_files(
    store: StatusStore,
    status: Status | None = None,
    prefix: str | None = None,
    workflow: str | None = None,
    limit: int | None = None,
    page: int = PAGE,
) -> Iterator[FileRecord]:
    """Ledger records oldest upload first (the order of `StatusStore.files`), at most `limit`,
    read `page` rows at a time with the keyset cursor: no OFFSET scan, no full list in memory."""
    after: tuple[float, str] | None = None
    left = limit
    while left is None or left > 0:
        size = page if left is None else min(page, left)
        records = store.files(
            status=status, prefix=prefix, workflow=workflow, limit=size, after=after
        )
        yield from records
        if len(records) < size:
            return
        if left is not None:
            left -= len(records)
        after = (records[-1].upload_time, records[-1].key)


def count_files(
    store: StatusStore,
    status: Status | None = None,
    prefix: str | None = None,
    workflow: str | None = None,
) -> int | None:
    """How many records `iter_files` would give without a limit, when the ledger's per-status
    counters answer it (no prefix or workflow filter); None otherwise."""
    if prefix or workflow:
        return None
    counts = store.counts()
    return counts[status] if status is not None else sum(counts.values())
