"""`ingestflow metrics [--since 24h] [--json]`: the metric catalogue's values for a time window,
straight from the ledger — what a user checks Datadog against, and what the dashboard shows.

The window is `[now - since, now)` on the transitions' `at`, the same rule the forwarder stamps
points with, so a Datadog query over the same window (`count:` / `sum:` / `avg:` of the
distributions, `sum:` of the counts) gives the same numbers; percentiles only within DDSketch's
accuracy (domain.metric_summary). Ended files are read page by page (`ended_between` in (at, id)
order, paging on the last one's position), so memory holds one page plus each group's durations.

Backlog is the ledger's current TODO per configured workflow (`ingestion.backlog.*`), not a
window value: `oldest_age_seconds` is null when nothing waits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingestflow.domain.metric_summary import (
    PERCENTILE_METHOD,
    Durations,
    Summary,
    SummaryBuilder,
    WindowSummary,
)
from ingestflow.domain.metrics import MetricsContext, file_metrics, tag_value
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore

PAGE = 10_000  # transitions per ledger read

TABLE_COLUMNS = (
    "workflow", "folder", "file_type", "done", "failed", "bytes",
    "proc avg s", "proc p50 s", "proc p95 s", "e2e p50 s", "e2e p95 s",
)  # fmt: skip
FAILURE_COLUMNS = ("workflow", "error_kind", "files")
BACKLOG_COLUMNS = ("workflow", "files", "bytes", "oldest age s")

Table = tuple[str, tuple[str, ...], list[tuple[str, ...]]]
"""(title, column names, rows of text)."""


@dataclass(frozen=True, slots=True)
class WorkflowBacklog:
    """A workflow's TODO files now; `oldest_age` None when there is none."""

    workflow: str
    files: int
    bytes: int
    oldest_age: float | None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _durations(d: Durations, avg: bool = True) -> dict[str, float | None]:
    out = {"avg": _seconds(d.avg)} if avg else {}
    return out | {"p50": _seconds(d.p50), "p95": _seconds(d.p95)}


def _numbers(s: Summary) -> dict[str, Any]:
    return {
        "files_done": s.files_done,
        "files_failed": s.files_failed,
        "bytes": s.bytes,
        "processing_time": _durations(s.processing_time),
        "end_to_end_latency": _durations(s.end_to_end_latency, avg=False),
        "queue_wait_time": _durations(s.queue_wait_time),
    }


def _text(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _row(workflow: str, folder: str, file_type: str, s: Summary) -> tuple[str, ...]:
    p, e = s.processing_time, s.end_to_end_latency
    counts = (str(s.files_done), str(s.files_failed), f"{s.bytes:,}")
    times = (_text(p.avg), _text(p.p50), _text(p.p95), _text(e.p50), _text(e.p95))
    return (workflow, folder, file_type, *counts, *times)


@dataclass(frozen=True, slots=True)
class MetricReport:
    """The window's summary (domain.metric_summary) and the current backlog. Group, workflow
    and folder names are tag values (lower case, `[a-z0-9_./-]`), as in Datadog, so they are
    safe to print as they are."""

    env: str
    bucket: str
    since: float
    start: float
    end: float
    summary: WindowSummary
    backlog: tuple[WorkflowBacklog, ...]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: seconds rounded to milliseconds, null when there is no value."""
        return {
            "env": self.env,
            "bucket": self.bucket,
            "window": {
                "since_seconds": _seconds(self.since),
                "start": _iso(self.start),
                "end": _iso(self.end),
                "start_epoch": _seconds(self.start),
                "end_epoch": _seconds(self.end),
            },
            "percentile_method": PERCENTILE_METHOD,
            "totals": _numbers(self.summary.totals),
            "groups": [
                {"workflow": g.workflow, "folder": g.folder, "file_type": g.file_type}
                | _numbers(g.summary)
                for g in self.summary.groups
            ],
            "failures": [
                {"workflow": f.workflow, "error_kind": f.error_kind, "files": f.files}
                for f in self.summary.failures
            ],
            "backlog": [
                {
                    "workflow": b.workflow,
                    "files": b.files,
                    "bytes": b.bytes,
                    "oldest_age_seconds": _seconds(b.oldest_age),
                }
                for b in self.backlog
            ],
        }

    def table_rows(self) -> list[tuple[str, ...]]:
        """Rows under TABLE_COLUMNS: one per group, then the totals (workflow `total`)."""
        rows = [_row(g.workflow, g.folder, g.file_type, g.summary) for g in self.summary.groups]
        return [*rows, _row("total", "", "", self.summary.totals)]

    def tables(self) -> list[Table]:
        """Every table to print: files by group, failures by kind, backlog by workflow."""
        failures: list[tuple[str, ...]] = [
            (f.workflow, f.error_kind, str(f.files)) for f in self.summary.failures
        ]
        backlog: list[tuple[str, ...]] = [
            (b.workflow, str(b.files), f"{b.bytes:,}", _text(b.oldest_age)) for b in self.backlog
        ]
        return [
            ("files", TABLE_COLUMNS, self.table_rows()),
            ("failures", FAILURE_COLUMNS, failures),
            ("backlog", BACKLOG_COLUMNS, backlog),
        ]


def metric_report(
    store: StatusStore,
    context: MetricsContext,
    workflows: Sequence[Workflow],
    bucket: str,
    since: float,
    now: float,
    page: int = PAGE,
) -> MetricReport:
    """The report of the files that ended in `[now - since, now)` and the backlog at `now`.
    Raises ValueError for a negative or non-finite `since` or a page below 1."""
    if not math.isfinite(since) or since < 0:
        raise ValueError(f"since must be a finite, non-negative number of seconds: {since!r}")
    if page < 1:
        raise ValueError(f"page must be at least 1: {page!r}")
    start = now - since
    builder = SummaryBuilder()
    after: tuple[float, int] | None = None
    while True:
        transitions = store.ended_between(start, now, after, page)
        for t in transitions:
            metrics = file_metrics(t, context)
            if metrics is not None:
                builder.add(metrics)
        if len(transitions) < page:
            break
        after = (transitions[-1].at, transitions[-1].id)
    backlog = []
    for w in sorted(workflows, key=lambda w: tag_value(w.name)):
        b = store.backlog(w.name, now)
        age = b.oldest_age(now) if b.count else None
        backlog.append(WorkflowBacklog(tag_value(w.name), b.count, b.total_bytes, age))
    return MetricReport(context.env, bucket, since, start, now, builder.result(), tuple(backlog))
