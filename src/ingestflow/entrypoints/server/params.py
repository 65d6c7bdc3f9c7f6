"""Query parameters shared by the JSON API and the dashboard's pages: limits, statuses,
moments (`since`/`until`), keyset cursors, and the same-origin check of state-changing
requests. A bad value raises ApiError 400 with a message that names the parameter."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingestflow.config.values import duration
from ingestflow.domain.errors import ConfigError
from ingestflow.domain.status import Status, parse_status
from ingestflow.entrypoints.cli import render
from ingestflow.ports import StatusStore
from ingestflow.services.file_search import Cursor, FilePage, file_page

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class ApiError(Exception):
    """An answer `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(data: Any, status: int = 200) -> Response:
    return Response(render.dumps(data), status_code=status, media_type="application/json")


def encode_cursor(position: Cursor) -> str:
    raw = json.dumps([position[0], position[1]], ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """The position in a `next_cursor`; ApiError 400 for anything this API did not make."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError included
        raise ApiError(400, "invalid cursor") from None
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int | float)
        and not isinstance(value[0], bool)
        and math.isfinite(value[0])
        and isinstance(value[1], str)
    ):
        return (float(value[0]), value[1])
    raise ApiError(400, "invalid cursor")


def param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value else None  # `?status=` (an empty form field) means no filter


def limit_param(request: Request) -> int:
    text = param(request, "limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ApiError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}: {text}")
    return int(text)


def status_param(request: Request) -> Status | None:
    text = param(request, "status")
    try:
        return parse_status(text) if text else None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def moment(request: Request, name: str, now: float) -> float | None:
    """`name` as epoch seconds: an ISO 8601 time (`2026-12-02T14:05`, `...Z`, `...+01:00`;
    without an offset it is UTC), epoch seconds (`1764684300`), or a duration before `now`
    (`24h`, `30m`, `7d`)."""
    text = param(request, name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(value):
            return value
        raise ApiError(400, f"{name}: not a time: {text}")
    try:
        moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        try:
            return now - duration(text, name, positive=True)
        except ConfigError:
            raise ApiError(
                400, f"{name}: not a time (use ISO 8601, epoch seconds or e.g. 24h): {text}"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def same_origin(request: Request) -> bool:
    """False for a browser's cross-site request: `Sec-Fetch-Site: cross-site`, or an `Origin`
    that is not this server's own (`scheme://Host`). No `Origin` (curl, scripts) passes."""
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return False
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin.lower() == f"{request.url.scheme}://{host}".lower()


def requested_page(store: StatusStore, request: Request, limit: int, now: float) -> FilePage:
    """The page of files the request's filters ask for (`status`, `workflow`, `prefix`, `q`,
    `since`, `until`, `cursor`), `limit` of them: the JSON API's and the Files page's query."""
    cursor = param(request, "cursor")
    return file_page(
        store,
        limit,
        status=status_param(request),
        prefix=param(request, "prefix"),
        workflow=param(request, "workflow"),
        query=param(request, "q"),
        after=decode_cursor(cursor) if cursor else None,
        since=moment(request, "since", now),
        until=moment(request, "until", now),
    )
