"""A local stand-in for Datadog's dashboard and monitor APIs, for `ingestflow datadog push`.

A real ThreadingHTTPServer on 127.0.0.1 (port 0) serving GET/POST/PUT /api/v1/dashboard[/<id>]
and /api/v1/monitor[/<id>] (with the `monitor_tags` filter and dashboard paging). It checks
both key headers (403 otherwise), validates every body with datadog-api-client's models — the
same `validation_errors` the tests apply to the files under deploy/datadog — and answers 400
with the problems, like the API. It behaves like Datadog where that matters to a push: it adds
fields of its own (ids, authors, dates, widget ids, option defaults) and returns a "metric
alert" monitor as a "query alert" (research/monitoring.md §1d).
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from datadog_api_client import ApiClient, Configuration
from datadog_api_client.model_utils import ModelComposed, ModelNormal
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_update_request import MonitorUpdateRequest

API_KEY, APP_KEY = "capture-api-key-1234", "capture-app-key-5678"
_CLIENT = ApiClient(Configuration())


def validation_errors(model: type, body: Any) -> list[str]:
    """What is wrong with `body` as a `model` (Dashboard, Monitor, ...); [] when valid.

    The client's deserializer is the check, with three additions it lacks: a value that no
    schema accepts (unknown widget type, enum value) is an error instead of an "unparsed"
    object, so is a key no schema defines (a typo), and a read-only field in a request."""
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    try:
        parsed = _CLIENT.deserialize(json.dumps(body), (model,), True)
    except Exception as exc:  # the client raises TypeError, ApiTypeError, ApiValueError...
        return [f"{type(exc).__name__}: {exc}"]
    problems = [f"read-only field {k!r}" for k in body if k in getattr(model, "read_only_vars", ())]
    if parsed._unparsed:
        problems.append("a value matches no schema (unknown type or enum value)")
    _unknown_keys(parsed, "", problems)
    return problems


def _unknown_keys(value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _unknown_keys(item, f"{path}[{i}]", problems)
    elif isinstance(value, dict):
        for k, item in value.items():
            _unknown_keys(item, f"{path}.{k}", problems)
    elif isinstance(value, ModelComposed):  # oneOf: check the schema that matched
        for instance in value._composed_instances:
            _unknown_keys(instance, path, problems)
    elif isinstance(value, ModelNormal):
        for k, item in value._data_store.items():
            if k not in value.attribute_map:
                problems.append(f"unknown key {path}.{k} in {type(value).__name__}")
            _unknown_keys(item, f"{path}.{k}", problems)


class DatadogApiCapture:
    """The server and what it holds. `dashboards` / `monitors`: stored objects by id;
    `writes`: every accepted POST and PUT as (method, path); `requests`: every request."""

    def __init__(self, api_key: str = API_KEY, app_key: str = APP_KEY) -> None:
        self.api_key, self.app_key = api_key, app_key
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.monitors: dict[int, dict[str, Any]] = {}
        self.writes: list[tuple[str, str]] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> DatadogApiCapture:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- objects as the server keeps them ---------------------------------------------------

    def add_dashboard(self, body: dict[str, Any]) -> str:
        """Store a dashboard as if made by hand (not counted as a write)."""
        with self.lock:
            n = next(self._ids)
            dashboard_id = f"abc-{n:03d}-xyz"
            self.dashboards[dashboard_id] = self._dashboard(dashboard_id, body)
            return dashboard_id

    def add_monitor(self, body: dict[str, Any]) -> int:
        with self.lock:
            monitor_id = 1000 + next(self._ids)
            self.monitors[monitor_id] = self._monitor(monitor_id, body)
            return monitor_id

    def _dashboard(self, dashboard_id: str, body: dict[str, Any]) -> dict[str, Any]:
        stored = json.loads(json.dumps(body))
        for i, widget in enumerate(stored.get("widgets", [])):
            widget["id"] = 7000 + i
        stored.update(
            id=dashboard_id,
            url=f"/dashboard/{dashboard_id}/x",
            author_handle="someone@example.com",
            created_at="2024-11-28T10:00:00.000000+00:00",
            modified_at="2024-11-28T10:00:00.000000+00:00",
            is_read_only=False,
        )
        return stored

    def _monitor(self, monitor_id: int, body: dict[str, Any]) -> dict[str, Any]:
        stored = json.loads(json.dumps(body))
        if stored.get("type") == "metric alert":
            stored["type"] = "query alert"
        stored.setdefault("options", {}).update(notify_audit=False, silenced={})
        stored.update(id=monitor_id, overall_state="OK", multi=True, created="2024-11-28")
        return stored


def _handler(capture: DatadogApiCapture) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with capture.lock:
                capture.requests.append((method, url.path))
            if (
                self.headers.get("DD-API-KEY") != capture.api_key
                or self.headers.get("DD-APPLICATION-KEY") != capture.app_key
            ):
                return self._answer(403, {"errors": ["Forbidden"]})
            parts = url.path.strip("/").split("/")
            if parts[:2] != ["api", "v1"] or len(parts) not in (3, 4):
                return self._answer(404, {"errors": ["Not found"]})
            kind, object_id = parts[2], (parts[3] if len(parts) == 4 else None)
            if kind not in ("dashboard", "monitor"):
                return self._answer(404, {"errors": ["Not found"]})
            body = None
            if method in ("POST", "PUT"):
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._answer(400, {"errors": ["Invalid JSON"]})
            status, answer = _serve(capture, method, kind, object_id, query, body)
            self._answer(status, answer)

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler


def _serve(
    capture: DatadogApiCapture,
    method: str,
    kind: str,
    object_id: str | None,
    query: dict[str, str],
    body: Any,
) -> tuple[int, Any]:
    store: dict[Any, dict[str, Any]] = (
        capture.dashboards if kind == "dashboard" else capture.monitors
    )
    key: Any = object_id
    if object_id is not None and kind == "monitor":
        key = int(object_id) if object_id.isdigit() else None
    if method == "GET" and object_id is None:
        with capture.lock:
            items = list(store.values())
        if kind == "monitor":
            wanted = [t for t in query.get("monitor_tags", "").split(",") if t]
            return 200, [m for m in items if all(t in m.get("tags", []) for t in wanted)]
        start, count = int(query.get("start", 0)), int(query.get("count", 1000))
        fields = ("id", "title", "description", "layout_type", "url", "author_handle")
        page = [{f: d.get(f) for f in fields} for d in items[start : start + count]]
        return 200, {"dashboards": page}
    if object_id is not None and key not in store:
        return 404, {"errors": [f"{kind} not found"]}
    if method == "GET":
        return 200, store[key]
    if (method == "POST") != (object_id is None):  # POST to the list, PUT to an object
        return 405, {"errors": ["Method not allowed"]}
    model = Dashboard if kind == "dashboard" else Monitor
    if kind == "monitor" and method == "PUT":
        model = MonitorUpdateRequest
    problems = validation_errors(model, body)
    if problems:
        return 400, {"errors": problems}
    with capture.lock:
        capture.writes.append((method, f"/api/v1/{kind}" + (f"/{object_id}" if object_id else "")))
    if method == "PUT":
        with capture.lock:
            fresh = capture._dashboard(key, body) if kind == "dashboard" else None
            if fresh is None:
                merged = {k: v for k, v in store[key].items() if k not in body}
                fresh = capture._monitor(key, {**merged, **body})
            store[key] = fresh
        return 200, fresh
    new_id: Any = capture.add_dashboard(body) if kind == "dashboard" else capture.add_monitor(body)
    return 200, store[new_id]
