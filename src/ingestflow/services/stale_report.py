"""The report of `ingestflow stale` (and the daily digest): stale, stuck and FAILED files, and
missing rules whose last deadline was not met. Read only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ingestflow.domain.alerts import (
    FAILED,
    MISSING,
    OPENED,
    STALE,
    STUCK,
    AlertItem,
    AlertMessage,
    Digest,
)
from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore
from ingestflow.services.alert_rules import human, missing

_LIMIT = 1000
FILE_COLUMNS = ["workflow", "prefix", "bucket", "key", "since", "reason"]


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat()


def _file(r: FileRecord) -> dict[str, Any]:
    return {
        "key": r.key,
        "bucket": r.bucket,
        "workflow": r.workflow,
        "prefix": r.prefix,
        "status": r.status.value,
        "upload_time": _iso(r.upload_time),
        "start_time": _iso(r.start_time),
        "end_time": _iso(r.end_time),
        "lease_until": _iso(r.lease_until),
        "attempts": r.attempts,
        "error": r.error,
    }


@dataclass(frozen=True)
class MissingWindow:
    workflow: str
    window_start: float
    window_end: float
    files: int
    summary: str


@dataclass(frozen=True)
class StaleReport:
    now: float
    stale: tuple[FileRecord, ...]
    stuck: tuple[FileRecord, ...]
    failed: tuple[FileRecord, ...]
    missing: tuple[MissingWindow, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "generated_at": _iso(self.now),
            "stale": [_file(r) for r in self.stale],
            "stuck": [_file(r) for r in self.stuck],
            "failed": [_file(r) for r in self.failed],
            "missing": [
                {
                    "workflow": m.workflow,
                    "window_start": _iso(m.window_start),
                    "window_end": _iso(m.window_end),
                    "files": m.files,
                }
                for m in self.missing
            ],
        }

    def _items(self) -> dict[str, list[AlertItem]]:
        now = self.now

        def item(r: FileRecord, status: str, since: float, reason: str) -> AlertItem:
            return AlertItem(r.workflow, r.prefix, r.bucket, r.key, status, since, reason)

        return {
            STALE: [
                item(r, "TODO", r.upload_time, f"TODO for {human(now - r.upload_time)}")
                for r in self.stale
            ],
            STUCK: [
                item(r, "PROCESSING", r.lease_until or now, f"lease ended (batch {r.batch_id})")
                for r in self.stuck
            ],
            FAILED: [
                item(r, "FAILED", r.end_time or r.upload_time, r.error or "failed")
                for r in self.failed
            ],
        }

    def tables(self) -> list[tuple[str, list[str], list[tuple[Any, ...]]]]:
        out: list[tuple[str, list[str], list[tuple[Any, ...]]]] = []
        for rule, items in self._items().items():
            rows: list[tuple[Any, ...]] = [
                (i.workflow, i.prefix, i.bucket, i.key, _iso(i.since), i.reason) for i in items
            ]
            out.append((f"{rule} ({len(items)})", FILE_COLUMNS, rows))
        gaps: list[tuple[Any, ...]] = [
            (m.workflow, _iso(m.window_start), _iso(m.window_end), m.files) for m in self.missing
        ]
        out.append((f"missing ({len(self.missing)})", ["workflow", "from", "to", "files"], gaps))
        return out

    def digest(self, env: str) -> Digest:
        messages = []
        for rule, items in self._items().items():
            by_workflow: dict[str, list[AlertItem]] = {}
            for item in items:
                by_workflow.setdefault(item.workflow, []).append(item)
            for workflow, mine in by_workflow.items():
                summary = f"{len(mine)} {rule} file(s)"
                found = tuple(mine)
                messages.append(
                    AlertMessage(OPENED, rule, workflow, "", summary, self.now, found, len(mine))
                )
        for m in self.missing:
            messages.append(AlertMessage(OPENED, MISSING, m.workflow, "", m.summary, self.now))
        return Digest("ingestflow report", tuple(messages), self.now, env)


def stale_report(
    store: StatusStore,
    workflows: Sequence[Workflow],
    now: float,
    window: Callable[[Workflow, float], tuple[float, float] | None],
) -> StaleReport:
    names = {w.name for w in workflows}
    stale = store.stale(workflows, now, limit=_LIMIT)
    running = store.files(status=Status.PROCESSING)
    stuck = [r for r in running if r.workflow in names and (r.lease_until or now) < now]
    failed = [r for r in store.files(status=Status.FAILED, limit=_LIMIT) if r.workflow in names]
    gaps = []
    for w in workflows:
        problem = missing(store, w, now) if w.expect_cron else None
        bounds = window(w, now)
        if problem is not None and bounds is not None:
            gaps.append(MissingWindow(w.name, bounds[0], bounds[1], problem.count, problem.summary))
    return StaleReport(now, tuple(stale), tuple(stuck), tuple(failed), tuple(gaps))
