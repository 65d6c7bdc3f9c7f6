"""A local stand-in for Datadog's metrics intake, for tests: a real HTTP server on 127.0.0.1
that stores what it is sent with Datadog's semantics, so tests can check "counted once".

    with DatadogCapture(api_key="k") as dd:   # or dd = DatadogCapture().start(); dd.stop()
        ...  # point the sink (or `[metrics.datadog] url`) at dd.url
        assert dd.count_total("ingestion.files.processed", workflow="w") == 3

Endpoints: `POST /api/v2/series` (counts, gauges; answers 202 `{"errors": []}`) and
`POST /api/v1/distribution_points` (answers 202 `{"status": "ok"}`); other paths 404 unless a
test adds a route (`add_route`). Checks, in this order: an injected failure (`fail_next`);
`DD-API-KEY` (missing -> 401, wrong -> 403); the raw body over MAX_BODY -> 413; Content-Type
not JSON -> 415; `Content-Encoding` deflate (zlib format), gzip or none (another -> 415,
undecodable -> 400); the decompressed body over MAX_BODY -> 413 (stricter than Datadog, which
takes 5 MB decompressed: the sink keeps its uncompressed JSON within 500 KB); the payload's
shape -> 400 with `{"errors": [...]}`, and nothing of that payload is stored.

Semantics: counts and gauges keep only the LAST value per (metric, sorted tags, timestamp);
distributions ADD every value. Points older than an hour or more than ten minutes in the
future are DROPPED, not refused: the answer is still 202, as Datadog's intake does; they are
listed in `dropped` (the clock is an argument). `down()` closes the listening socket
(connection refused) until `up()` reopens it on the same port.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

SERIES, DISTRIBUTIONS = "/api/v2/series", "/api/v1/distribution_points"
MAX_BODY = 512_000
MAX_AGE, MAX_AHEAD = 3600, 600
Tags = tuple[str, ...]
Parsed = list[tuple[str, int | str, Tags, list[tuple[int, list[float]]]]]
"""(metric, type, tags, [(timestamp, values)]) per series of a payload."""


@dataclass(frozen=True)
class CapturedRequest:
    """One request as received: `headers` with lower-case names, `raw` the body as sent,
    `body` decompressed (None when refused before decoding), `status` the capture's answer."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: bytes | None
    status: int


Route = Callable[[CapturedRequest], tuple[int, Any]]


class DatadogCapture:
    def __init__(self, api_key: str = "capture-test-key", clock: Callable[[], float] = time.time):
        self.api_key, self.clock = api_key, clock
        self.dropped: list[tuple[str, int]] = []  # (metric, timestamp) outside the window
        self._lock = threading.Lock()
        self._requests: list[CapturedRequest] = []
        self._kept: dict[tuple[str, Tags, int], tuple[float, int]] = {}  # -> (value, seq)
        self._values: dict[tuple[str, Tags], list[float]] = {}
        self._types: dict[str, int | str] = {}
        self._failures: list[tuple[str | None, int, bytes]] = []  # (path, status, body)
        self._skip: dict[str | None, int] = {}
        self._routes: dict[tuple[str, str], Route] = {}
        self._delay, self._seq, self.port = 0.0, 0, 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        return self.up()

    def stop(self) -> None:
        self.down()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def up(self) -> Self:
        """Listen (again, on the same port after `down`)."""
        if self._server is None:
            self._stopping.clear()
            server = _Server(("127.0.0.1", self.port), _Handler)
            server.capture = self
            self.port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever, args=(0.05,))
            self._thread.start()
        return self

    def down(self) -> None:
        """Stop listening: connections are refused until `up()`."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    # -- fault injection ------------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        body: bytes = b"",
        path: str | None = None,
        skip: int = 0,
    ) -> None:
        """Answer the next `n` requests (to `path` only, when given; after letting `skip` of
        them through) with `status` and `body`, storing nothing."""
        body = body or json.dumps({"errors": [f"injected failure {status}"]}).encode()
        with self._lock:
            self._failures += [(path, status, body)] * n
            self._skip[path] = skip

    def delay(self, seconds: float) -> None:
        """Hold every answer this long (after storing the payload); 0 to stop."""
        self._delay = seconds

    def add_route(self, method: str, path_prefix: str, route: Route) -> None:
        """Answer `method` requests under `path_prefix` with `route(request) -> (status,
        JSON-able answer)` (the API key is checked first)."""
        self._routes[(method, path_prefix)] = route

    # -- queries --------------------------------------------------------------------------

    @property
    def requests(self) -> list[CapturedRequest]:
        with self._lock:
            return list(self._requests)

    def metric_type(self, metric: str) -> int | str | None:
        """The last type sent for `metric`: 0-3 (v2) or "distribution"."""
        return self._types.get(metric)

    def tag_sets(self, metric: str) -> set[Tags]:
        with self._lock:
            kept = {tags for m, tags, _ in self._kept if m == metric}
            return kept | {tags for m, tags in self._values if m == metric}

    def count_total(self, metric: str, **tags: str) -> float:
        """The sum of the kept values over timestamps and matching tag sets."""
        with self._lock:
            items = self._kept.items()
            return sum(v for (m, t, _), (v, _s) in items if m == metric and _match(t, tags))

    def gauge_last(self, metric: str, **tags: str) -> float | None:
        """The kept value with the latest timestamp (the last received on a tie)."""
        with self._lock:
            found = [
                (ts, seq, v)
                for (m, t, ts), (v, seq) in self._kept.items()
                if m == metric and _match(t, tags)
            ]
        return max(found)[2] if found else None

    def distribution_values(self, metric: str, **tags: str) -> list[float]:
        with self._lock:
            values = self._values.items()
            return [v for (m, t), vs in values if m == metric and _match(t, tags) for v in vs]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    # -- handling (called by _Handler, in its thread) -------------------------------------

    def _answer(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any]:
        status, answer, body = self._check(method, path, headers, raw)
        with self._lock:
            self._requests.append(CapturedRequest(method, path, headers, raw, body, status))
        if self._delay:
            self._stopping.wait(self._delay)
        return status, answer

    def _check(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, bytes | None]:
        injected = self._injected(path)
        if injected is not None:
            return injected[0], json.loads(injected[1] or b"null"), None
        key = headers.get("dd-api-key")
        if key is None:
            return 401, {"errors": ["Unauthorized"]}, None
        if key != self.api_key:
            return 403, {"errors": ["Forbidden"]}, None
        for (route_method, prefix), route in self._routes.items():
            if method == route_method and path.startswith(prefix):
                status, answer = route(CapturedRequest(method, path, headers, raw, raw, 0))
                return status, answer, raw
        if method != "POST" or path not in (SERIES, DISTRIBUTIONS):
            return 404, {"errors": ["Not found"]}, None
        if len(raw) > MAX_BODY:
            return 413, {"errors": ["Payload too large"]}, None
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return 415, {"errors": ["Unsupported media type"]}, None
        try:
            body = _decompress(raw, headers.get("content-encoding", "identity").lower())
        except LookupError as exc:
            return 415, {"errors": [str(exc)]}, None
        except (ValueError, zlib.error) as exc:
            return 400, {"errors": [f"cannot decompress: {exc}"]}, None
        if len(body) > MAX_BODY:
            return 413, {"errors": ["Payload too large"]}, body
        try:
            payload = json.loads(body)
            series = _v2_series(payload) if path == SERIES else _distributions(payload)
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {"errors": [f"invalid payload: {exc}"]}, body
        self._store(series)
        return 202, ({"errors": []} if path == SERIES else {"status": "ok"}), body

    def _injected(self, path: str) -> tuple[int, bytes] | None:
        with self._lock:
            for i, (only, status, body) in enumerate(self._failures):
                if only is None or only == path:
                    if self._skip.get(only, 0) > 0:
                        self._skip[only] -= 1
                        return None
                    del self._failures[i]
                    return status, body
        return None

    def _store(self, series: Parsed) -> None:
        now = self.clock()
        with self._lock:
            for metric, kind, tags, points in series:
                self._types[metric] = kind
                for ts, values in points:
                    if not now - MAX_AGE <= ts <= now + MAX_AHEAD:
                        self.dropped.append((metric, ts))
                    elif kind == "distribution":
                        self._values.setdefault((metric, tags), []).extend(values)
                    else:
                        self._seq += 1
                        self._kept[(metric, tags, ts)] = (values[-1], self._seq)


class _Server(ThreadingHTTPServer):
    capture: DatadogCapture

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) is expected; anything else is shown."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = self.headers.get("Content-Length")
        raw = self.rfile.read(int(length)) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer = self.server.capture._answer(self.command, self.path, headers, raw)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


def _match(tags: Tags, wanted: dict[str, str]) -> bool:
    return all(f"{k}:{v}" in tags for k, v in wanted.items())


def _decompress(raw: bytes, encoding: str) -> bytes:
    """At most MAX_BODY + 1 bytes of the decoded body (enough to see it is too large)."""
    if encoding in ("identity", ""):
        return raw
    if encoding not in ("deflate", "gzip"):
        raise LookupError(f"unsupported Content-Encoding {encoding!r}")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | (16 if encoding == "gzip" else 0))
    body = inflater.decompress(raw, MAX_BODY + 1)
    if len(body) <= MAX_BODY and not inflater.eof:
        raise ValueError("truncated compressed body")
    return body


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def _integer(value: Any) -> int:
    """`value` when it is an integer (not a bool), else -1."""
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def _tags(series: dict[str, Any]) -> Tags:
    tags = series.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise TypeError("tags must be a list of strings")
    return tuple(sorted(set(tags)))


def _metric(series: Any) -> str:
    if not isinstance(series, dict) or not isinstance(series.get("metric"), str):
        raise TypeError("every series needs a metric name")
    if not series["metric"] or not isinstance(series.get("points"), list) or not series["points"]:
        raise ValueError(f"series {series['metric']!r} needs a name and points")
    return str(series["metric"])


def _v2_series(payload: Any) -> Parsed:
    out: Parsed = []
    for s in payload["series"]:
        metric, kind = _metric(s), s.get("type", 0)
        if isinstance(kind, bool) or kind not in (0, 1, 2, 3):
            raise ValueError(f"{metric}: type must be 0-3, not {kind!r}")
        if kind in (1, 2) and _integer(s.get("interval")) <= 0:
            raise ValueError(f"{metric}: a count or rate needs an interval")
        points = []
        for p in s["points"]:
            if not isinstance(p, dict) or _integer(p.get("timestamp")) < 0:
                raise TypeError(f"{metric}: a point needs an integer timestamp: {p!r}")
            points.append((p["timestamp"], [_number(p.get("value"), f"{metric} value")]))
        out.append((metric, kind, _tags(s), points))
    return out


def _distributions(payload: Any) -> Parsed:
    out: Parsed = []
    for s in payload["series"]:
        metric = _metric(s)
        if s.get("type", "distribution") != "distribution":
            raise ValueError(f"{metric}: type must be 'distribution'")
        points = []
        for p in s["points"]:
            if not isinstance(p, list) or len(p) != 2 or not isinstance(p[1], list) or not p[1]:
                raise TypeError(f"{metric}: a point is [timestamp, [values...]]: {p!r}")
            values = [_number(v, f"{metric} value") for v in p[1]]
            points.append((int(_number(p[0], f"{metric} timestamp")), values))
        out.append((metric, "distribution", _tags(s), points))
    return out
