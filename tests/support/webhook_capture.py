"""A local HTTP server for webhook tests: records every request and answers as scripted.

    with WebhookCapture() as hook:            # or hook = WebhookCapture().start(); hook.stop()
        hook.answer(429, headers={"Retry-After": "7"})   # the next request gets this, then 200
        ...  # point the notifier at hook.url + "/services/T000/B000/XXXX"
        request = hook.requests[0]; request.json(); request.headers["x-ingestflow-signature"]

Every request is answered 200 with the body `ok` (as Slack's incoming webhooks do) unless an
answer was queued with `answer(status, body, headers, n)`. `down()` closes the listening
socket (connection refused) until `up()` reopens it on the same port.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class CapturedRequest:
    """One request as received; `headers` with lower-case names, `body` the exact bytes."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the capture answered

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str]


class WebhookCapture:
    def __init__(self) -> None:
        self.port = 0
        self._lock = threading.Lock()
        self._requests: list[CapturedRequest] = []
        self._answers: list[_Answer] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

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
        if self._server is None:
            server = _Server(("127.0.0.1", self.port), _Handler)
            server.capture = self
            self.port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever, args=(0.05,))
            self._thread.start()
        return self

    def down(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def answer(
        self,
        status: int,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        n: int = 1,
    ) -> None:
        """Answer the next `n` requests with `status`, `body` and `headers` (then 200 again)."""
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._answers += [_Answer(status, data, dict(headers or {}))] * n

    @property
    def requests(self) -> list[CapturedRequest]:
        with self._lock:
            return list(self._requests)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _next(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Answer:
        with self._lock:
            answer = self._answers.pop(0) if self._answers else _Answer(200, b"ok", {})
            self._requests.append(CapturedRequest(method, path, headers, body, answer.status))
        return answer


class _Server(ThreadingHTTPServer):
    capture: WebhookCapture

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) is expected; anything else is shown."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = self.headers.get("Content-Length")
        body = self.rfile.read(int(length)) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.capture._next(self.command, self.path, headers, body)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass
