"""The JSON API under `/api/`: what the dashboard page uses and users script against.

Every answer is the object the matching CLI command prints with `--json` (same services, same
shaping in `entrypoints.cli.render`), encoded by the same `render.dumps`; errors are
`{"error": "..."}` with 400 (a bad parameter or body), 403, 404 or 415. Keys and error texts
are data: the JSON encoder escapes them, nothing here interprets them.

Routes:
- `GET /api/` -> `{"routes": [...]}` (this list).
- `GET /api/status` = `ingestflow status --json`.
- `GET /api/files?status=&workflow=&prefix=&q=&since=&until=&limit=&cursor=` -> `{"files":
  [...], "next_cursor": str | null}`, file objects as `ingestflow files --json`, oldest upload
  first. `limit` 1..1000 (default 100); `q` is a key substring, case-insensitive; `since` and
  `until` bound the upload time (`since <= upload_time < until`; ISO 8601, UTC without an
  offset, epoch seconds, or a duration before now such as `24h`); `cursor` is
  the opaque `next_cursor` of the previous page (keyset pagination, see services.file_search:
  with `q`, a page may hold fewer than `limit` files while `next_cursor` is not null).
- `GET /api/files/{key}` -> one file object (404 when unknown); `GET /api/files/{key}/history`
  = `ingestflow history KEY --json` (404 for a key the ledger never saw). Keys are
  percent-encoded in the path (`/` may stay as it is).
- `GET /api/workflows` = `ingestflow workflows --json`.
- `GET /api/metrics?since=24h` = `ingestflow metrics --since 24h --json`.
- `GET /api/alerts` = `ingestflow alerts --json`.
- `POST /api/retry` with `{"keys": [...]}` or `{"failed": true, "workflow": W}` (without
  `workflow`: every FAILED file) -> `{"retried": N, "keys": [...], "skipped": [{"key",
  "status"}]}`; `skipped` lists requested keys that were not FAILED (status null: unknown).

Cross-site requests cannot retry: `POST /api/retry` needs `Content-Type: application/json`
(415 otherwise — an HTML form cannot send it, and a cross-site script cannot without a CORS
preflight, which this server never grants), and a request whose `Origin` is present and is
not the server's own origin (`scheme://Host`), or whose `Sec-Fetch-Site` is `cross-site`, gets
403. With `[server] token_env`, the bearer token is needed as for every route.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingestflow.bootstrap_metrics import metrics_context
from ingestflow.config.settings import Settings
from ingestflow.config.values import duration
from ingestflow.domain.errors import ConfigError
from ingestflow.domain.status import Status
from ingestflow.entrypoints.alerts_json import RECENT, alert_json
from ingestflow.entrypoints.cli import render
from ingestflow.entrypoints.server.params import (
    ApiError,
    encode_cursor,
    json_response,
    limit_param,
    requested_page,
    same_origin,
)
from ingestflow.ports import StatusStore
from ingestflow.services import queries
from ingestflow.services.alert_rules import next_deadline
from ingestflow.services.alerting import LAST_EVALUATION
from ingestflow.services.metric_report import metric_report

MAX_RETRY_KEYS = 10_000
MAX_BODY = 1_000_000  # bytes of a POST body
_HISTORY = "/history"


def _handles(endpoint: Callable[[Request], Response]) -> Callable[[Request], Response]:
    def run(request: Request) -> Response:
        try:
            return endpoint(request)
        except ApiError as exc:
            return json_response({"error": exc.message}, exc.status)

    return run


async def _read_body(request: Request) -> bytes:
    """The body, at most MAX_BODY bytes (400 beyond: read no further)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(400, f"the body is larger than {MAX_BODY} bytes")
    return bytes(body)


def _retry_body(data: Any) -> tuple[list[str] | None, str | None]:
    """(keys, None) for `{"keys": [...]}`, (None, workflow or None) for `{"failed": true}`."""
    if not isinstance(data, dict):
        raise ApiError(400, 'the body must be {"keys": [...]} or {"failed": true}')
    if "keys" in data:
        keys = data["keys"]
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise ApiError(400, "keys must be a non-empty list of strings")
        if len(keys) > MAX_RETRY_KEYS:
            raise ApiError(400, f"at most {MAX_RETRY_KEYS} keys per request")
        return keys, None
    if data.get("failed") is True:
        workflow = data.get("workflow")
        if workflow is not None and (not isinstance(workflow, str) or not workflow):
            raise ApiError(400, "workflow must be a workflow name")
        return None, workflow
    raise ApiError(400, 'the body must be {"keys": [...]} or {"failed": true}')


def api_routes(store: StatusStore, settings: Settings) -> list[Route]:
    """The `/api/` routes over `store` (the server's ledger) and `settings` (workflows,
    landing bucket, metrics context). Reads run in Starlette's worker threads."""
    bucket = settings.landing_bucket
    workflows = settings.workflows

    def status(request: Request) -> Response:
        return json_response(queries.status_summary(store))

    def files(request: Request) -> Response:
        page = requested_page(store, request, limit_param(request), time.time())
        after = page.next_after
        return json_response(
            {
                "files": [render.file_json(r) for r in page.files],
                "next_cursor": encode_cursor(after) if after is not None else None,
            }
        )

    def one_file(request: Request) -> Response:
        key = request.path_params["key"]
        record = store.get(bucket, key)
        if record is None:
            raise ApiError(404, f"no file with this key in the ledger: {key}")
        return json_response(render.file_json(record))

    def history(request: Request) -> Response:
        key = request.path_params["key"]
        items = [render.transition_json(t) for t in store.history(bucket, key)]
        if items:
            return json_response(items)
        if store.get(bucket, key + _HISTORY) is not None:
            # `/api/files/a/history` where the ledger knows a file named `a/history`
            # (and nothing named `a`): that file's record.
            return one_file_named(key + _HISTORY)
        if store.get(bucket, key) is None:
            raise ApiError(404, f"no file with this key in the ledger: {key}")
        return json_response(items)

    def one_file_named(key: str) -> Response:
        record = store.get(bucket, key)
        assert record is not None
        return json_response(render.file_json(record))

    def workflow_list(request: Request) -> Response:
        return json_response(queries.workflow_summaries(store, workflows))

    def metrics(request: Request) -> Response:
        since = request.query_params.get("since", "24h")
        try:
            window = duration(since, "since", positive=True)
        except ConfigError as exc:
            raise ApiError(400, f"since: {exc.problem}") from None
        report = metric_report(
            store, metrics_context(settings), workflows, bucket, window, time.time()
        )
        return json_response(report.as_json())

    def alerts(request: Request) -> Response:
        now = time.time()
        found = store.alerts(now - RECENT)
        last = store.get_info(LAST_EVALUATION)
        deadlines = [
            {"workflow": w.name, "next_deadline": render.iso(next_deadline(w, now))}
            for w in workflows
            if w.expect_cron is not None
        ]
        return json_response(
            {
                "alerts": [alert_json(a) for a in found],
                "missing_rules": deadlines,
                "last_evaluation": render.iso(float(last)) if last else None,
            }
        )

    def retry_keys(keys: list[str] | None, workflow: str | None) -> dict[str, Any]:
        if keys is None and workflow is not None:
            failed = queries.iter_files(store, Status.FAILED, workflow=workflow)
            keys = [r.key for r in failed if r.bucket == bucket]
            if not keys:
                return {"retried": 0, "keys": [], "skipped": []}
        done = store.retry(bucket, keys, queries.now())
        retried = list(dict.fromkeys(t.key for t in done))
        skipped = []
        if keys is not None and workflow is None:
            moved = set(retried)
            for key in dict.fromkeys(keys):
                if key not in moved:
                    record = store.get(bucket, key)
                    skipped.append({"key": key, "status": record.status.value if record else None})
        return {"retried": len(retried), "keys": retried, "skipped": skipped}

    async def retry(request: Request) -> Response:
        try:
            media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
            if media != "application/json":
                raise ApiError(415, "Content-Type must be application/json")
            if not same_origin(request):
                raise ApiError(403, "cross-site request refused")
            body = await _read_body(request)
            try:
                data = json.loads(body)
            except ValueError:
                raise ApiError(400, "the body is not JSON") from None
            keys, workflow = _retry_body(data)
            return json_response(await run_in_threadpool(retry_keys, keys, workflow))
        except ApiError as exc:
            return json_response({"error": exc.message}, exc.status)

    def index(request: Request) -> Response:
        paths = [path.replace(":path", "") for path, _ in gets[1:]]
        return json_response({"routes": [f"GET {p}" for p in paths] + ["POST /api/retry"]})

    gets: Sequence[tuple[str, Callable[[Request], Response]]] = (
        ("/api/", index),
        ("/api/status", status),
        ("/api/files", files),
        ("/api/files/{key:path}/history", history),  # before the next: `{key:path}` takes all
        ("/api/files/{key:path}", one_file),
        ("/api/workflows", workflow_list),
        ("/api/metrics", metrics),
        ("/api/alerts", alerts),
    )
    routes = [Route(path, _handles(handler), methods=["GET"]) for path, handler in gets]
    return [*routes, Route("/api/retry", retry, methods=["POST"])]
