"""The ASGI app of ingestflow's HTTP server: `/metrics`, `/healthz`, and the routes given (the
dashboard's pages and its JSON API, see bootstrap_metrics.build_server_app).

`create_app` wires the routes behind one bearer-token check that wraps the whole app (every
route, also unknown paths, so a later page cannot be added without it). Endpoints that read
the ledger are synchronous: Starlette runs them in its worker threads, off the event loop
(the SQLite ledger is thread-safe within a process).
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from ingestflow.config.secrets import Secret
from ingestflow.entrypoints.server.web.login import COOKIE, is_open, login_page, session_value
from ingestflow.ports import StatusStore

log = logging.getLogger(__name__)
_REASON_LIMIT = 300  # characters of a ledger error shown by /healthz


class BearerAuth:
    """Pure ASGI middleware: HTTP requests and WebSockets need `Authorization: Bearer
    <token>`, or the dashboard's session cookie (web.login, set by signing in with the
    token); anything else gets 401 with `WWW-Authenticate: Bearer` (a WebSocket is closed
    with 1008) — a browser asking for a page gets the sign-in form with that 401. Only the
    sign-in routes and the static files are open. Comparisons take constant time
    (hmac.compare_digest on bytes)."""

    def __init__(self, app: ASGIApp, token: Secret) -> None:
        self.app = app
        self._expected = token.reveal().encode("utf-8")
        self._session = session_value(token).encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await WebSocketClose(code=1008)(scope, receive, send)
            return
        response: Response
        if self._wants_page(scope):
            response = login_page(scope.get("path", "/"), status=401)
            response.headers["WWW-Authenticate"] = "Bearer"
        else:
            response = JSONResponse(
                {"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        if scope["type"] == "http" and is_open(scope.get("path", "")):
            return True
        bearer = None
        cookies = []
        for name, value in scope.get("headers", []):
            name = name.lower()
            if name == b"authorization" and bearer is None:
                bearer = value
            elif name == b"cookie":
                cookies.append(value)
        if bearer is not None:
            scheme, _, token = bearer.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return hmac.compare_digest(token.strip(), self._expected)
            return False
        prefix = COOKIE.encode("ascii") + b"="
        for header in cookies:
            for part in header.split(b";"):
                part = part.strip()
                if part.startswith(prefix) and hmac.compare_digest(
                    part[len(prefix) :].strip(b'"'), self._session
                ):
                    return True
        return False

    @staticmethod
    def _wants_page(scope: Scope) -> bool:
        if scope.get("method") != "GET" or str(scope.get("path", "")).startswith("/api/"):
            return False
        for name, value in scope.get("headers", []):
            if name.lower() == b"accept":
                return b"text/html" in value.lower()
        return False


def create_app(
    store: StatusStore,
    collector_registry: CollectorRegistry,
    token: Secret | None,
    before_scrape: Callable[[], object] | None = None,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The server's app. `GET /metrics`: the registry in the text format the scraper asks
    for (Prometheus text or OpenMetrics, gzip when accepted); `before_scrape` runs first, one
    call at a time (e.g. fold pending transitions into the ledger); if it fails the scrape
    still answers from the ledger as it is. 503 when the ledger cannot be read. `GET
    /healthz`: 200 `{"status": "ok", "ledger": "ok"}` after a cheap ledger read, 503 with the
    reason otherwise. `routes` are added as given (the dashboard). With `token`, every
    request needs it as a bearer token (see BearerAuth)."""
    scrape_lock = threading.Lock()

    def metrics(request: Request) -> Response:
        if before_scrape is not None:
            with scrape_lock:
                try:
                    before_scrape()
                except Exception:
                    log.warning("before a scrape: could not fold pending metrics", exc_info=True)
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        try:
            body = encoder(collector_registry)
        except Exception as exc:
            log.warning("/metrics: the ledger cannot be read: %s", exc)
            return PlainTextResponse("ledger unavailable\n", status_code=503)
        return Response(body, headers={"Content-Type": content_type})

    def healthz(request: Request) -> Response:
        try:
            store.last_transition_id()
        except Exception as exc:
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:_REASON_LIMIT]
            return JSONResponse(
                {"status": "error", "ledger": "unavailable", "reason": reason}, status_code=503
            )
        return JSONResponse({"status": "ok", "ledger": "ok"})

    middleware = [Middleware(GZipMiddleware, minimum_size=1024)]
    if token is not None:
        middleware.insert(0, Middleware(BearerAuth, token=token))
    return Starlette(
        routes=[
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            *routes,
        ],
        middleware=middleware,
    )
