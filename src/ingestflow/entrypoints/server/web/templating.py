"""The dashboard's Jinja2 environment: templates from the package, autoescaped, strict.

Every value that reaches a template from the ledger (keys, errors, workflow names) is escaped
by Jinja2's autoescaping; the `data` filter first writes control characters and bidirectional
overrides as visible escapes (as the CLI does), so a key cannot reorder what the page shows.
Static files are addressed with a content hash (`/static/app.css?v=...`) so a new version is
never served from a browser's cache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from ingestflow.domain.explain import clock, duration
from ingestflow.entrypoints.cli import render
from ingestflow.entrypoints.server.web.charts import fmt_bytes, fmt_count, fmt_seconds

SECURITY_HEADERS = {
    # Scripts, styles and images only from this server; no frames, no foreign form targets.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def static_dir() -> Path:
    return Path(str(resources.files("ingestflow") / "resources" / "web" / "static"))


@cache
def _version(name: str) -> str:
    return hashlib.sha256((static_dir() / name).read_bytes()).hexdigest()[:12]


def _static(name: str) -> str:
    return f"/static/{quote(name)}?v={_version(name)}"


def _when(ts: float | None) -> str:
    return "—" if ts is None else clock(ts)


def _iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")


def _age(seconds: float | None) -> str:
    return "—" if seconds is None else duration(seconds)


def _seconds(seconds: float | None) -> str:
    return "—" if seconds is None else fmt_seconds(seconds)


def _data(value: object) -> str:
    return "" if value is None else render.safe(value)


def _exact(value: object) -> Markup:
    """`value` escaped for an attribute a script reads back exactly (a key to retry): control
    and bidirectional characters as numeric character references, so the markup holds none
    of them raw while the attribute's value is the original text."""
    escaped = escape("" if value is None else str(value))
    return Markup(render.CONTROL.sub(lambda m: f"&#x{ord(m.group()):x};", str(escaped)))


def file_url(key: str) -> str:
    """The file page of `key` (percent-encoded; `/` kept)."""
    return "/files/" + quote(key, safe="/")


def _api_history_url(key: str) -> str:
    return "/api/files/" + quote(key, safe="/") + "/history"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ingestflow", "resources/web/templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=_when,
        iso=_iso,
        age=_age,
        seconds=_seconds,
        count=lambda n: fmt_count(n),
        bytes=lambda n: fmt_bytes(n),
        data=_data,
        exact=_exact,
        file_url=file_url,
        api_history_url=_api_history_url,
    )
    env.globals["static"] = _static
    return env


def page(name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Template `name` rendered with `context` as an HTML response with the security headers."""
    body = environment().get_template(name).render(context)
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
