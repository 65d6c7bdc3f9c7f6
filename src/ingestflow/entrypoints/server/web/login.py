"""Signing in to a server that has a token, from a browser (which cannot send a bearer header
on page loads): `POST /login` with the token sets a session cookie, `POST /logout` clears it.

The cookie holds an HMAC of the token, never the token itself; it is `HttpOnly` (scripts
cannot read it), `SameSite=Strict` (a cross-site page never makes the browser send it) and
`Secure` over HTTPS. Both forms are refused when the request is cross-site (Origin or
Sec-Fetch-Site), and a wrong token is answered after a pause, to slow guessing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ingestflow.config.secrets import Secret
from ingestflow.entrypoints.server.params import same_origin
from ingestflow.entrypoints.server.web.templating import page

COOKIE = "ingestflow_session"
OPEN_PATHS = ("/login", "/logout")  # reachable without the token (with the static files)
MAX_FORM = 16_384  # bytes of a sign-in form
FAILURE_PAUSE = 0.5  # seconds before a wrong token is answered


def session_value(token: Secret) -> str:
    """The cookie value for `token` (an HMAC-SHA256 of a fixed text keyed by the token)."""
    key = token.reveal().encode("utf-8")
    return hmac.new(key, b"ingestflow dashboard session", hashlib.sha256).hexdigest()


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith("/static/")


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this server, else `/`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def login_page(next_path: str, status: int = 200, failed: bool = False) -> Response:
    return page(
        "login.html",
        {
            "nav": (),
            "current": "",
            "env": None,
            "bucket": None,
            "refresh_seconds": 0,
            "signed_in": False,
            "now": None,
            "next": _safe_next(next_path),
            "failed": failed,
        },
        status=status,
    )


def login_routes(token: Secret) -> list[Route]:
    expected = token.reveal().encode("utf-8")
    cookie = session_value(token)

    def show(request: Request) -> Response:
        return login_page(request.query_params.get("next", "/"))

    async def sign_in(request: Request) -> Response:
        if not same_origin(request):
            return Response("cross-site request refused\n", status_code=403)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                return Response("form too large\n", status_code=400)
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        given = (form.get("token") or [""])[0].strip().encode("utf-8")
        next_path = (form.get("next") or ["/"])[0]
        if not given or not hmac.compare_digest(given, expected):
            await asyncio.sleep(FAILURE_PAUSE)
            return login_page(next_path, status=401, failed=True)
        response = RedirectResponse(_safe_next(next_path), status_code=303)
        response.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    def sign_out(request: Request) -> Response:
        if not same_origin(request):
            return Response("cross-site request refused\n", status_code=403)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return [
        Route("/login", show, methods=["GET"]),
        Route("/login", sign_in, methods=["POST"]),
        Route("/logout", sign_out, methods=["POST"]),
    ]
