"""Read-side use cases behind `status`, `workflows` and the (later) dashboard."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore


def now() -> float:
    return time.time()


def status_summary(store: StatusStore) -> dict[str, Any]:
    """{"counts": {status: n, ... all four}, "unrouted": n}"""
    counts = store.counts()
    return {
        "counts": {s.value: n for s, n in counts.items()},
        "unrouted": len(store.unrouted()),
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
