"""The dashboard's pages, rendered on the server from the services the CLI and the JSON API
use: `/` (Overview), `/files` (search), `/files/{key}` (one file: record, why, history,
Retry), `/workflows`, `/alerts`, and `/static/` (the stylesheet and the small script).

The tables are plain HTML (readable without JavaScript); the script refreshes the page's
`[data-refresh]` sections in place and sends Retry as `POST /api/retry`. Lists are capped and
paginated with the ledger's keyset cursors, as in the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ingestflow.bootstrap_metrics import metrics_context
from ingestflow.config.settings import Settings
from ingestflow.domain.activity import ActivitySnapshot
from ingestflow.domain.alerts import FIRING
from ingestflow.domain.batching import Backlog
from ingestflow.domain.explain import explain_file
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.entrypoints.alerts_json import RECENT
from ingestflow.entrypoints.server.params import (
    ApiError,
    encode_cursor,
    limit_param,
    param,
    requested_page,
    status_param,
)
from ingestflow.entrypoints.server.web.charts import (
    bar_chart,
    fmt_bytes,
    fmt_count,
    fmt_seconds,
    hbar_chart,
    line_chart,
)
from ingestflow.entrypoints.server.web.templating import page, static_dir
from ingestflow.ports import StatusStore
from ingestflow.services import queries
from ingestflow.services.activity_feed import ActivityFeed
from ingestflow.services.alert_rules import next_deadline
from ingestflow.services.alerting import LAST_EVALUATION
from ingestflow.services.waiting import explain

REFRESH_SECONDS = 10
PAGE_SIZES = (50, 100, 500)
NAV = (("/", "Overview"), ("/files", "Files"), ("/workflows", "Workflows"), ("/alerts", "Alerts"))


def _hour_label(start: float) -> str:
    return time.strftime("%H:00", time.gmtime(start))


def _charts(snapshot: ActivitySnapshot) -> dict[str, Any]:
    hours = snapshot.hours
    labels = [_hour_label(h.start) for h in hours]
    folders = snapshot.folders
    return {
        "per_hour": bar_chart(
            "Files processed per hour (UTC)",
            [(label, h.done) for label, h in zip(labels, hours, strict=True)]
            if snapshot.files_ended
            else [],
            fmt_count,
        ),
        "latency": line_chart(
            "End-to-end latency per hour (UTC)",
            labels,
            [("p50", [h.latency.p50 for h in hours]), ("p95", [h.latency.p95 for h in hours])],
            fmt_seconds,
        ),
        "folders": hbar_chart(
            "Average processing time by folder",
            [(f.folder, f.processing.avg) for f in folders],
            fmt_seconds,
            secondary=[f.processing.p95 for f in folders],
            secondary_name="p95",
        ),
        "bytes": hbar_chart("Bytes ingested by file type", list(snapshot.bytes_by_type), fmt_bytes),
    }


def _readiness(workflow: Workflow, store: StatusStore, now: float) -> tuple[Backlog, str]:
    """The workflow's backlog and why it waits, as `run --once` explains it (services.waiting);
    a folder whose completeness marker is present is ready now."""
    backlog = store.backlog(workflow.name, now)
    if backlog.count == 0:
        return backlog, "nothing waits"
    if workflow.ready_marker is not None and store.marked_backlog(workflow.name, now).count:
        return backlog, "ready (marker): the next scheduler pass claims a batch"
    return backlog, explain(workflow, backlog, now) or ""


class Pages:
    """The page handlers over one ledger and the settings; `feed` keeps the overview's window."""

    def __init__(self, store: StatusStore, settings: Settings, signed_in: bool) -> None:
        self.store = store
        self.settings = settings
        self.workflows = {w.name: w for w in settings.workflows}
        self.feed = ActivityFeed(store, metrics_context(settings))
        self.signed_in = signed_in

    def _context(self, current: str, **values: Any) -> dict[str, Any]:
        return {
            "nav": NAV,
            "current": current,
            "env": self.settings.metrics.env,
            "bucket": self.settings.landing_bucket,
            "refresh_seconds": REFRESH_SECONDS,
            "signed_in": self.signed_in,
            "now": time.time(),
        } | values

    def overview(self, request: Request) -> Response:
        now = time.time()
        summary = queries.status_summary(self.store)
        snapshot = self.feed.snapshot()
        backlog: list[dict[str, Any]] = []
        ages: list[float] = []
        for w in self.settings.workflows:
            b, line = _readiness(w, self.store, now)
            oldest = b.oldest_age(now) if b.count else None
            backlog.append(
                {"name": w.name, "count": b.count, "bytes": b.total_bytes, "oldest": oldest}
                | {"readiness": line}
            )
            if oldest is not None:
                ages.append(oldest)
        expired = [b for b in self.store.active_batches() if b[2] < now]
        alerts = [a for a in self.store.alerts(now - RECENT) if a.state == FIRING]
        stale = [w.stale_after for w in self.settings.workflows]
        return page(
            "overview.html",
            self._context(
                "/",
                counts=list(summary["counts"].items()),
                unrouted=summary["unrouted"],
                oldest_waiting=max(ages) if ages else None,
                stale_hint=min(stale) if stale else 5 * 3600.0,
                expired_leases=len(expired),
                failed_window=sum(h.failed for h in snapshot.hours),
                failed_total=summary["counts"][Status.FAILED.value],
                window_hours=snapshot.window_hours,
                loading=snapshot.loading,
                open_alerts=alerts,
                charts=_charts(snapshot),
                backlog=backlog,
                failures=snapshot.failures,
            ),
        )

    def files(self, request: Request) -> Response:
        now = time.time()
        filters = {
            name: request.query_params.get(name, "")
            for name in ("q", "status", "workflow", "prefix", "since", "until")
        }
        error = None
        records: list[Any] = []
        next_url = None
        limit = 100
        cursor = param(request, "cursor")
        wanted: Status | None = None
        try:
            wanted, limit = status_param(request), limit_param(request)
            result = requested_page(self.store, request, limit, now)
        except ApiError as exc:
            error = exc.message
        else:
            records = result.files
            if result.next_after is not None:
                query = {k: v for k, v in filters.items() if v} | {"limit": str(limit)}
                next_url = "/files?" + urlencode(
                    query | {"cursor": encode_cursor(result.next_after)}
                )
        first = {k: v for k, v in filters.items() if v} | {"limit": str(limit)}
        total = queries.count_files(self.store, wanted) if error is None else None
        if filters["prefix"] or filters["workflow"]:
            total = None
        retry_all = None
        if wanted is Status.FAILED and records:
            retry_all = {"workflow": filters["workflow"] or None}
        return page(
            "files.html",
            self._context(
                "/files",
                filters=filters,
                statuses=[s.value for s in Status],
                workflow_names=sorted(self.workflows),
                limit=limit,
                files=records,
                next_url=next_url,
                cursor=cursor,
                first_url="/files?" + urlencode(first),
                total=total,
                error=error,
                retry_all=retry_all,
            ),
            status=400 if error else 200,
        )

    def one_file(self, request: Request) -> Response:
        key = request.path_params["key"]
        record = self.store.get(self.settings.landing_bucket, key)
        if record is None:
            return page(
                "missing.html",
                self._context("/files", key=key),
                status=404,
            )
        now = time.time()
        workflow = self.workflows.get(record.workflow)
        history = self.store.history(record.bucket, record.key)
        backlog = marked = None
        if workflow is not None and record.status is Status.TODO:
            backlog = self.store.backlog(workflow.name, now)
            if workflow.ready_marker is not None:
                marked = self.store.marked_backlog(workflow.name, now).count > 0
        why = explain_file(record, workflow, backlog, history, now, marked=bool(marked))
        return page("file.html", self._context("/files", record=record, why=why, history=history))

    def workflow_list(self, request: Request) -> Response:
        now = time.time()
        snapshot = self.feed.snapshot()
        rows = []
        for w in self.settings.workflows:
            backlog, line = _readiness(w, self.store, now)
            counts = self.store.counts(w.name)
            rows.append(
                {
                    "workflow": w,
                    "backlog": backlog,
                    "readiness": line,
                    "oldest": backlog.oldest_age(now) if backlog.count else None,
                    "processing": counts[Status.PROCESSING],
                    "failed": counts[Status.FAILED],
                    "next_deadline": next_deadline(w, now),
                    "batches": snapshot.batches.get(w.name, ()),
                }
            )
        return page(
            "workflows.html",
            self._context("/workflows", workflows=rows, window_hours=snapshot.window_hours),
        )

    def alerts(self, request: Request) -> Response:
        now = time.time()
        last = self.store.get_info(LAST_EVALUATION)
        deadlines = [(w, next_deadline(w, now)) for w in self.settings.workflows if w.expect_cron]
        return page(
            "alerts.html",
            self._context(
                "/alerts",
                alerts=self.store.alerts(now - RECENT),
                firing=FIRING,
                deadlines=deadlines,
                last_evaluation=float(last) if last else None,
            ),
        )


def page_routes(store: StatusStore, settings: Settings, signed_in: bool) -> list[BaseRoute]:
    """The dashboard's routes. `signed_in`: a token protects the server (the pages show Sign
    out)."""
    pages = Pages(store, settings, signed_in)
    handlers: tuple[tuple[str, Callable[[Request], Response]], ...] = (
        ("/", pages.overview),
        ("/files", pages.files),
        ("/files/{key:path}", pages.one_file),
        ("/workflows", pages.workflow_list),
        ("/alerts", pages.alerts),
    )
    routes: list[BaseRoute] = [Route(path, h, methods=["GET"]) for path, h in handlers]
    routes.append(Mount("/static", StaticFiles(directory=static_dir()), name="static"))
    return routes
