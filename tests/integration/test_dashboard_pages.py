"""The dashboard's pages over real HTTP (no browser): uvicorn on 127.0.0.1 port 0 serving
`build_server_app` (the real wiring: pages, login, JSON API, bearer check) on a real SQLite
ledger filled through the store API. Pages are read as text: landmarks, numbers, links,
escaping, security headers, and the sign-in flow with its session cookie."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.bootstrap_alerts import build_alerting
from ingestflow.bootstrap_metrics import build_server_app
from ingestflow.config.loader import load_settings
from ingestflow.config.secrets import Secret
from ingestflow.config.settings import Settings
from ingestflow.domain.explain import clock, duration
from ingestflow.domain.records import FileOutcome, FileRecord, ObjectInfo
from ingestflow.domain.status import Status
from ingestflow.entrypoints.alerts_json import RECENT
from ingestflow.entrypoints.server import RunningServer, start_server
from ingestflow.services import queries
from ingestflow.services.alert_rules import next_deadline

T0 = time.time() - 3600  # inside the overview's 24 h window
TOKEN = "dashboard-token"
NASTY = "<script>alert(1)</script> \"dq\" 'sq' {{ 7*7 }} [bold] \u202e"
FAILED_KEY = "ohlcv/2024/a b#1%.csv"
DONE_KEY = "ohlcv/2024/ünï 😀.csv"
TODO_KEY = "ohlcv/2024/c.csv"
PROCESSING_KEY = "trades/t1.csv"
ODD_PREFIX = f"odd/{NASTY}/"
NASTY_KEY = f"{ODD_PREFIX}{NASTY}.csv"
ERROR = "column 'Date', row 2: <b>\"bad\"</b>"
NASTY_ERROR = f"engine error: {NASTY}"
OUTPUT = "output/ohlcv/x.parquet"
CONFIG = """\
[landing]
path = "landing"
bucket = "landing"

[output]
path = "output"

[ledger]
url = "sqlite://ledger.db"

[[workflows]]
name = "ohlcv"
prefix = "ohlcv/"
transform = "ohlcv"
batch_size = 2
max_batch_files = 2
max_wait = "2h"

[[workflows]]
name = "trades"
prefix = "trades/"
transform = "ohlcv"
expect_cron = "0 6 * * *"

[[workflows]]
name = "odd"
prefix = "odd/<script>alert(1)</script> \\"dq\\" 'sq' {{ 7*7 }} [bold] \\u202E/"
transform = "ohlcv"
"""
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
CSP_PARTS = ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'")
PAGES = ("/", "/files", "/workflows", "/alerts")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to look at (303 after sign-in), not to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    text: str

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True)
class Site:
    """The running server with its ledger and settings; `ids` holds the batch ids of `fill`."""

    server: RunningServer
    store: SqliteStatusStore
    settings: Settings
    ids: dict[str, str]

    @property
    def origin(self) -> str:
        return self.server.url

    def request(
        self,
        path: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        request = urllib.request.Request(
            self.server.url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with _OPENER.open(request, timeout=30) as response:
                return Answer(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, error.headers, error.read().decode())

    def page(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self.request(path, headers={"Accept": "text/html", **(headers or {})})

    def ok(self, path: str, **params: str) -> str:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        answer = self.page(path + query)
        assert answer.status == 200, answer.text
        assert answer.content_type.startswith("text/html")
        return answer.text

    def form(self, path: str, fields: dict[str, str], headers: dict[str, str]) -> Answer:
        body = urllib.parse.urlencode(fields).encode()
        sent = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        return self.request(path, "POST", body, sent)


def file_path(key: str) -> str:
    return "/files/" + urllib.parse.quote(key, safe="/")


def fill(store: SqliteStatusStore, settings: Settings) -> dict[str, str]:
    """FAILED_KEY failed and DONE_KEY done in one ohlcv batch, TODO_KEY waiting for a second
    file (batch_size 2, max_wait 2h), PROCESSING_KEY claimed now (trades), NASTY_KEY failed
    (odd). Returns the batch ids by name."""
    ohlcv, trades, odd = (settings.workflow(n) for n in ("ohlcv", "trades", "odd"))
    assert ohlcv is not None and trades is not None and odd is not None
    files = [
        (FAILED_KEY, -50, "ohlcv"),
        (DONE_KEY, -40, "ohlcv"),
        (TODO_KEY, -30, "ohlcv"),
        (PROCESSING_KEY, -20, "trades"),
        (NASTY_KEY, -10, "odd"),
    ]
    store.register("landing", [(ObjectInfo(k, 100, "v1", T0 + at), w) for k, at, w in files], T0)
    batch = store.claim(ohlcv, T0, "worker")
    assert batch is not None and {f.key for f in batch.files} == {FAILED_KEY, DONE_KEY}
    outcomes = [
        FileOutcome.failed(FAILED_KEY, "v1", ERROR, retryable=False),
        FileOutcome.done(DONE_KEY, "v1", OUTPUT, rows=3),
    ]
    store.finish(ohlcv, batch.batch_id, outcomes, T0 + 5)
    odd_batch = store.claim(odd, T0 + 100, "worker")  # past max_wait (60 s): ready
    assert odd_batch is not None
    failed = [FileOutcome.failed(NASTY_KEY, "v1", NASTY_ERROR, retryable=False)]
    store.finish(odd, odd_batch.batch_id, failed, T0 + 110)
    running = store.claim(trades, time.time(), "worker")
    assert running is not None and [f.key for f in running.files] == [PROCESSING_KEY]
    return {"ohlcv": batch.batch_id, "odd": odd_batch.batch_id, "trades": running.batch_id}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [n for n in os.environ if n.startswith("INGESTFLOW_")]:
        monkeypatch.delenv(name)
    (tmp_path / "landing").mkdir()
    (tmp_path / "ingestflow.toml").write_text(CONFIG, encoding="utf-8")
    return load_settings(tmp_path / "ingestflow.toml", environ={})


@pytest.fixture
def store(settings: Settings) -> Iterator[SqliteStatusStore]:
    store = SqliteStatusStore(settings.ledger_path)
    try:
        store.sync_workflows(settings.workflows)
        yield store
    finally:
        store.close()


def serve(
    store: SqliteStatusStore, settings: Settings, token: str | None, ids: dict[str, str]
) -> Iterator[Site]:
    app = build_server_app(settings, store, Secret(token) if token else None, fold_on_scrape=False)
    server = start_server(app, "127.0.0.1", 0)
    try:
        yield Site(server, store, settings, ids)
    finally:
        server.stop()


@pytest.fixture
def empty(store: SqliteStatusStore, settings: Settings) -> Iterator[Site]:
    """The dashboard on an empty ledger, without a token."""
    yield from serve(store, settings, None, {})


@pytest.fixture
def site(store: SqliteStatusStore, settings: Settings) -> Iterator[Site]:
    """The dashboard on the ledger `fill` makes, without a token (the ledger is filled before
    the first page, so the overview's window reads it all at once)."""
    ids = fill(store, settings)
    yield from serve(store, settings, None, ids)


@pytest.fixture
def secured(store: SqliteStatusStore, settings: Settings) -> Iterator[Site]:
    """The dashboard on the filled ledger behind TOKEN."""
    ids = fill(store, settings)
    yield from serve(store, settings, TOKEN, ids)


def assert_security_headers(answer: Answer) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value, name
    csp = answer.headers["Content-Security-Policy"]
    assert all(part in csp for part in CSP_PARTS), csp


def keys_listed(text: str) -> list[str]:
    """The keys of a page's file table(s), in order, as a reader sees them."""
    cells = re.findall(r'<td class="key"><a href="[^"]*">(.*?)</a></td>', text)
    return [html.unescape(cell) for cell in cells]


def why_text(text: str) -> str:
    match = re.search(r'<span class="why-text">(.*?)</span>', text, re.S)
    assert match, text
    return html.unescape(match.group(1))


def shown(value: str) -> str:
    """`value` as the pages write it: bidi and control characters as visible escapes, then
    HTML-escaped."""
    return str(escape(value.replace("\u202e", "\\u202e")))


# -- every page --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_html_with_the_security_headers(site: Site, path: str) -> None:
    answer = site.page(path)
    assert answer.status == 200
    assert answer.content_type == "text/html; charset=utf-8"
    assert_security_headers(answer)
    assert "<!doctype html>" in answer.text
    assert re.search(r'<a href="' + re.escape(path) + r'" aria-current="page">', answer.text)


def test_each_page_has_its_landmarks(site: Site) -> None:
    assert "<h1>Overview</h1>" in site.ok("/")
    assert "<caption>Files</caption>" in site.ok("/files")
    assert "<h1>Workflows</h1>" in site.ok("/workflows")
    assert "<caption>Alerts of the last 7 days</caption>" in site.ok("/alerts")
    page = site.ok(file_path(FAILED_KEY))
    assert '<h1 class="key">' + str(escape(FAILED_KEY)) + "</h1>" in page
    assert "<caption>Ledger record</caption>" in page


def test_only_a_failed_files_page_has_a_retry_button(site: Site) -> None:
    failed = site.ok(file_path(FAILED_KEY))
    assert f'data-retry-key="{escape(FAILED_KEY)}">Retry</button>' in failed
    for key in (DONE_KEY, TODO_KEY, PROCESSING_KEY):
        page = site.ok(file_path(key))
        assert "data-retry-key" not in page and ">Retry</button>" not in page, key


def test_an_unknown_file_is_a_404_page_naming_the_key(site: Site) -> None:
    key = "ohlcv/nope <b>x</b>.csv"
    answer = site.page(file_path(key))
    assert answer.status == 404
    assert answer.content_type.startswith("text/html")
    assert_security_headers(answer)
    assert "<h1>Not in the ledger</h1>" in answer.text
    assert f'<code class="key">{escape(key)}</code>' in answer.text
    assert "<b>x</b>" not in answer.text


@pytest.mark.parametrize(
    ("name", "content_type"), [("app.css", "text/css"), ("app.js", "javascript")]
)
def test_the_stylesheet_and_the_script_are_served(site: Site, name: str, content_type: str) -> None:
    answer = site.request(f"/static/{name}")
    assert answer.status == 200
    assert content_type in answer.content_type
    expected = (resources.files("ingestflow") / "resources" / "web" / "static" / name).read_text(
        encoding="utf-8"
    )
    assert answer.text == expected
    assert f"/static/{name}?v=" in site.ok("/")


# -- no resource from elsewhere ----------------------------------------------------------------

_LINK = re.compile(r"""\b(?:src|href|action)\s*=\s*["']?([^"'\s>]*)""", re.I)
_SVG_NAMESPACE = 'xmlns="http://www.w3.org/2000/svg"'


def external_references(text: str) -> list[str]:
    """Links, sources and form targets that leave the server, and absolute URLs anywhere
    else (the SVG namespace is a name, not a fetch)."""
    found = [v for v in _LINK.findall(text) if not v.startswith("/") or v.startswith("//")]
    found += [v for v in _LINK.findall(text) if "\\" in v]
    found += re.findall(r"https?://\S+", text.replace(_SVG_NAMESPACE, ""))
    return found


@pytest.mark.parametrize("path", PAGES)
def test_no_page_references_another_site(site: Site, path: str) -> None:
    page = site.ok(path)
    assert external_references(page) == []
    assert _LINK.findall(page), "the test reads the page's links"


def test_no_file_page_references_another_site(site: Site) -> None:
    for key in (FAILED_KEY, DONE_KEY, TODO_KEY, PROCESSING_KEY, NASTY_KEY):
        assert external_references(site.ok(file_path(key))) == [], key


def test_no_template_or_static_file_loads_from_a_cdn() -> None:
    web = resources.files("ingestflow") / "resources" / "web"
    templates = [f for f in (web / "templates").iterdir() if f.name.endswith(".html")]
    assert {f.name for f in templates} >= {"base.html", "overview.html", "files.html"}
    for item in [*templates, *(web / "static").iterdir()]:
        # In a template a link may also be an expression (its output is checked on the pages).
        text = re.sub(r"\{%.*?%\}", "", item.read_text(encoding="utf-8"))
        text = re.sub(r"\{\{.*?\}\}", "/expr", text)
        assert external_references(text) == [], item.name
        assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", text), item.name


# -- overview ----------------------------------------------------------------------------------


def test_the_overview_shows_the_ledgers_counts(site: Site) -> None:
    page = site.ok("/")
    shown_counts = dict(re.findall(r'data-count="(\w+)" data-value="(\d+)"', page))
    summary = queries.status_summary(site.store)
    expected = {k: str(v) for k, v in summary["counts"].items()}
    assert shown_counts == expected | {"unrouted": str(summary["unrouted"])}
    assert summary["counts"] == {"TODO": 1, "PROCESSING": 1, "DONE": 1, "FAILED": 2}
    assert re.search(r"failed \(24 h\)</span><span class=\"value\">2</span>", page)


def test_every_chart_draws_points_once_files_ended(site: Site) -> None:
    page = site.ok("/")
    charts = re.findall(r'<svg [^>]*class="chart"[^>]*data-points="(\d+)"', page)
    assert len(charts) == 4
    assert all(int(n) > 0 for n in charts), charts
    assert "No data in this window" not in page


def charts_of(page: str) -> dict[str, str]:
    svgs = re.findall(r'(<svg [^>]*class="chart".*?</svg>)', page, re.S)
    return {m.group(1): s for s in svgs if (m := re.search(r'aria-label="([^"]*)"', s))}


def test_with_an_empty_ledger_the_duration_and_size_charts_say_there_is_no_data(
    empty: Site,
) -> None:
    charts = charts_of(empty.ok("/"))
    assert len(charts) == 4
    for title in (
        "End-to-end latency per hour (UTC)",
        "Average processing time by folder",
        "Bytes ingested by file type",
    ):
        assert 'data-points="0"' in charts[title], title
        assert "No data in this window" in charts[title], title


def test_with_an_empty_ledger_the_per_hour_chart_says_there_is_no_data(empty: Site) -> None:
    chart = charts_of(empty.ok("/"))["Files processed per hour (UTC)"]
    assert 'data-points="0"' in chart
    assert "No data in this window" in chart


def test_the_overview_lists_the_last_failures_newest_first(site: Site) -> None:
    page = site.ok("/")
    failures = page[page.index('<section id="failures"') :]
    assert keys_listed(failures) == [NASTY_KEY.replace("\u202e", "\\u202e"), FAILED_KEY]
    assert str(escape(ERROR)) in failures
    assert '<a href="/files?status=FAILED">All 2 FAILED files</a>' in failures


def test_the_overview_shows_each_workflows_backlog(site: Site) -> None:
    page = site.ok("/")
    backlog = page[page.index('<section id="backlog"') : page.index('<section id="alerts"')]
    rows = re.findall(
        r'<a href="/workflows#wf-(\w+)">\w+</a></td>\s*<td class="num"><a [^>]*>(\d+)', backlog
    )
    assert rows == [("ohlcv", "1"), ("trades", "0"), ("odd", "0")]
    assert "nothing waits" in backlog


# -- files -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [FAILED_KEY, DONE_KEY, TODO_KEY, PROCESSING_KEY, NASTY_KEY]),
        ({"status": "FAILED"}, [FAILED_KEY, NASTY_KEY]),
        ({"status": "todo"}, [TODO_KEY]),
        ({"workflow": "trades"}, [PROCESSING_KEY]),
        ({"prefix": "ohlcv/2024/c"}, [TODO_KEY]),
        ({"q": "B#1"}, [FAILED_KEY]),
        ({"q": "2024", "status": "DONE"}, [DONE_KEY]),
        ({"status": "", "workflow": "", "prefix": "", "q": "", "since": "", "until": ""},
         [FAILED_KEY, DONE_KEY, TODO_KEY, PROCESSING_KEY, NASTY_KEY]),
    ],
)  # fmt: skip
def test_the_files_page_lists_what_its_filters_select(
    site: Site, params: dict[str, str], expected: list[str]
) -> None:
    page = site.ok("/files", **params)
    assert keys_listed(page) == [k.replace("\u202e", "\\u202e") for k in expected]
    assert "End of the list" in page


def test_the_files_page_keeps_its_filters_in_the_form(site: Site) -> None:
    page = site.ok("/files", status="FAILED", workflow="ohlcv", q="a b")
    assert '<option value="FAILED" selected>' in page
    assert '<option value="ohlcv" selected>' in page
    assert 'name="q" value="a b"' in page
    assert 'data-retry-failed="ohlcv"' in page  # FAILED files listed: retry them all


def upload_times(store: SqliteStatusStore) -> dict[str, float]:
    """Files uploaded 3 days, 2 hours and 1 minute ago (whole seconds)."""
    now = int(time.time())
    times = {"ohlcv/r/old.csv": now - 3 * 86400, "ohlcv/r/mid.csv": now - 7200}
    times["ohlcv/r/new.csv"] = now - 60
    store.register("landing", [(ObjectInfo(k, 1, "v1", t), "ohlcv") for k, t in times.items()], now)
    return {k: float(t) for k, t in times.items()}


def iso(ts: float, offset_hours: int = 0) -> str:
    zone = dt.timezone(dt.timedelta(hours=offset_hours))
    return dt.datetime.fromtimestamp(ts, zone).isoformat()


def test_the_files_page_selects_an_upload_time_range_in_every_form(empty: Site) -> None:
    times = upload_times(empty.store)
    old, mid, new = times
    utc = {k: iso(t).replace("+00:00", "Z") for k, t in times.items()}
    naive = {k: iso(t).replace("+00:00", "") for k, t in times.items()}
    cases = [
        ({"since": utc[mid], "until": utc[new]}, [mid]),  # since inclusive, until exclusive
        ({"since": iso(times[mid], 1)}, [mid, new]),
        ({"since": naive[mid], "until": naive[new]}, [mid]),
        ({"since": str(int(times[mid]))}, [mid, new]),
        ({"until": str(times[mid])}, [old]),
        ({"since": "24h"}, [mid, new]),
        ({"until": "24h"}, [old]),
        ({"since": "3h", "until": "30s"}, [mid, new]),
        ({"since": "90m", "until": "1d"}, []),
    ]
    for params, expected in cases:
        assert keys_listed(empty.ok("/files", **params)) == expected, params


def next_link(page: str) -> str | None:
    match = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', page)
    return html.unescape(match.group(1)) if match else None


@pytest.mark.parametrize("params", [{}, {"q": "/P/", "status": "TODO", "workflow": "ohlcv"}])
def test_next_page_links_visit_every_file_exactly_once(empty: Site, params: dict[str, str]) -> None:
    keys = [f"ohlcv/p/{i:03d}.csv" for i in range(120)]
    infos = [(ObjectInfo(k, 1, "v1", T0 - 7200 + i // 3), "ohlcv") for i, k in enumerate(keys)]
    empty.store.register("landing", infos, T0)
    pages = []
    url: str | None = "/files?" + urllib.parse.urlencode({**params, "limit": "50"})
    while url is not None:
        assert url.startswith("/files?")
        page = empty.ok(url)
        pages.append(keys_listed(page))
        if len(pages) > 1:
            assert "First page</a>" in page
        url = next_link(page)
    assert [len(p) for p in pages] == [50, 50, 20]
    assert [k for p in pages for k in p] == keys


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "NOPE"},
         "unknown status 'NOPE'; expected one of TODO, PROCESSING, DONE, FAILED"),
        ({"since": "yesterday-ish"},
         "since: not a time (use ISO 8601, epoch seconds or e.g. 24h): yesterday-ish"),
        ({"until": "<script>alert(1)</script>"},
         "until: not a time (use ISO 8601, epoch seconds or e.g. 24h): <script>alert(1)</script>"),
        ({"limit": "7x"}, "limit must be a whole number from 1 to 1000: 7x"),
        ({"cursor": "not a cursor!"}, "invalid cursor"),
    ],
)  # fmt: skip
def test_bad_file_parameters_are_a_400_page_with_the_message_escaped(
    site: Site, params: dict[str, str], message: str
) -> None:
    answer = site.page("/files?" + urllib.parse.urlencode(params))
    assert answer.status == 400
    assert answer.content_type.startswith("text/html")
    assert_security_headers(answer)
    assert f'<p class="error" role="alert">{escape(message)}</p>' in answer.text
    assert "<script>alert" not in answer.text
    assert keys_listed(answer.text) == []


# -- one file ----------------------------------------------------------------------------------


def record(site: Site, key: str) -> FileRecord:
    found = site.store.get("landing", key)
    assert found is not None
    return found


def test_a_waiting_files_page_says_what_it_waits_for(site: Site) -> None:
    todo = record(site, TODO_KEY)
    deadline = clock(todo.upload_time + 7200)
    assert why_text(site.ok(file_path(TODO_KEY))) == (
        f"waiting: 1 of batch_size 2, ready by max_wait at {deadline}"
    )


def test_a_processing_files_page_names_its_batch_and_lease(site: Site) -> None:
    running = record(site, PROCESSING_KEY)
    assert running.start_time is not None and running.lease_until is not None
    assert running.batch_id == site.ids["trades"]
    assert why_text(site.ok(file_path(PROCESSING_KEY))) == (
        f"processing in batch {running.batch_id} since {clock(running.start_time)}, "
        f"lease until {clock(running.lease_until)}"
    )


def test_a_done_files_page_names_its_output(site: Site) -> None:
    done = record(site, DONE_KEY)
    assert done.end_time is not None and done.start_time is not None
    took = duration(done.end_time - done.start_time)
    assert why_text(site.ok(file_path(DONE_KEY))) == (
        f"done at {clock(done.end_time)} in {took}, output {OUTPUT}"
    )


def test_a_failed_files_page_gives_the_error(site: Site) -> None:
    page = site.ok(file_path(FAILED_KEY))
    assert why_text(page) == f"FAILED after 1 attempt (retry it to run it again): {ERROR}"
    assert f"<pre>{escape(ERROR)}</pre>" in page


def test_a_files_history_is_listed_oldest_first(site: Site) -> None:
    page = site.ok(file_path(FAILED_KEY))
    moves = re.findall(r'<span class="move">(.*?) → <b>(\w+)</b></span>', page)
    assert moves == [("·", "TODO"), ("TODO", "PROCESSING"), ("PROCESSING", "FAILED")]
    times = re.findall(r'<li class="status-\w+">\s*<time datetime="([^"]+)"', page)
    assert times == sorted(times) and len(times) == 3
    history = page[page.index('<section id="history"') :]
    assert f'<pre class="reason">{escape(ERROR)}</pre>' in history
    quoted = urllib.parse.quote(FAILED_KEY, safe="/")
    assert f'<a href="/api/files/{quoted}/history">' in history


# -- escaping ----------------------------------------------------------------------------------


def assert_shown_as_data(page: str) -> None:
    """Nothing of NASTY is live: no markup, no bidi override, no template evaluation."""
    assert "<script>alert(1)</script>" not in page
    assert "\u202e" not in page
    assert '"dq"' not in page and "'sq'" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;dq&#34;" in page and "&#39;sq&#39;" in page
    assert "{{ 7*7 }}" in page
    assert "[bold]" in page
    assert "\\u202e" in page


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/files",
        "/files?status=FAILED",
        "/files?q=" + urllib.parse.quote("{{ 7*7 }}"),
        file_path(NASTY_KEY),
        "/workflows",
    ],
)
def test_keys_errors_and_prefixes_are_shown_as_data(site: Site, path: str) -> None:
    page = site.ok(path)
    assert_shown_as_data(page)


def test_a_nasty_key_is_listed_and_linked_exactly(site: Site) -> None:
    page = site.ok("/files", status="FAILED")
    assert shown(NASTY_KEY) in page
    assert shown(NASTY_ERROR) in page
    link = f'<a href="{file_path(NASTY_KEY)}">'
    assert link in page
    assert site.page(file_path(NASTY_KEY)).status == 200


def test_a_nasty_files_page_shows_key_and_error_as_text(site: Site) -> None:
    page = site.ok(file_path(NASTY_KEY))
    assert f'<h1 class="key">{shown(NASTY_KEY)}</h1>' in page
    assert f"<pre>{shown(NASTY_ERROR)}</pre>" in page
    assert f"<title>{shown(NASTY_KEY)} · ingestflow</title>" in page


def test_the_retry_button_of_a_nasty_key_names_the_real_key(site: Site) -> None:
    page = site.ok(file_path(NASTY_KEY))
    match = re.search(r'data-retry-key="([^"]*)"', page)
    assert match is not None
    sent = {"keys": [html.unescape(match.group(1))]}  # what app.js posts for the button
    headers = {"Content-Type": "application/json", "Origin": site.origin}
    answer = site.request("/api/retry", "POST", json.dumps(sent).encode(), headers)
    assert json.loads(answer.text)["keys"] == [NASTY_KEY]


def test_a_nasty_prefix_is_shown_as_data_on_the_workflows_page(site: Site) -> None:
    page = site.ok("/workflows")
    assert f'<span class="muted">{shown(ODD_PREFIX)}</span>' in page


# -- workflows and alerts ----------------------------------------------------------------------


def workflow_section(page: str, name: str) -> str:
    start = page.index(f'<section class="workflow" id="wf-{name}"')
    return page[start : page.index("</section>", start)]


def test_the_workflows_page_shows_settings_backlog_and_last_batches(site: Site) -> None:
    page = site.ok("/workflows")
    ohlcv = workflow_section(page, "ohlcv")
    for setting in (
        "<dt>transform</dt><dd>ohlcv</dd>",
        "<dt>batch_size</dt><dd>2</dd>",
        "<dt>max_wait</dt><dd>2 h</dd>",
        "<dt>max_batch_files</dt><dd>2</dd>",
        "<dt>max_attempts</dt><dd>3</dd>",
        "<dt>include</dt><dd>*.csv, *.csv.gz</dd>",
    ):
        assert setting in ohlcv, setting
    assert '<a href="/files?status=TODO&amp;workflow=ohlcv">1</a> (100 B)' in ohlcv
    assert '<a href="/files?status=FAILED&amp;workflow=ohlcv">1</a>' in ohlcv
    assert re.search(
        r'<p class="why">ohlcv: 1 file\w* wait\w*: batch_size 2, or by max_wait', ohlcv
    )
    batch = (
        f'<tr><td><code>{site.ids["ohlcv"]}</code></td><td class="num">1</td>'
        f'<td class="num">1</td><td class="num">5.0 s</td><td>{clock(T0 + 5)}</td></tr>'
    )
    assert batch in ohlcv
    odd = workflow_section(page, "odd")
    assert f"<code>{site.ids['odd']}</code>" in odd and "10.0 s" in odd
    trades = workflow_section(page, "trades")
    assert "<dt>processing</dt><dd>1</dd>" in trades
    assert "No batch ended in the last 24 hours." in trades  # its batch is still running


def test_the_workflows_page_gives_the_next_missing_deadline_of_an_expect_cron(
    site: Site,
) -> None:
    trades = site.settings.workflow("trades")
    assert trades is not None
    before = next_deadline(trades, time.time())
    page = site.ok("/workflows")
    after = next_deadline(trades, time.time())
    assert before is not None and after is not None
    section = workflow_section(page, "trades")
    shown_deadline = re.search(r"deadline</dt><dd>([^<]*)</dd>", section)
    assert shown_deadline is not None
    assert shown_deadline.group(1) in {clock(before), clock(after)}
    assert "<dt>expect_cron</dt><dd><code>0 6 * * *</code> UTC" in section
    assert re.search(r"deadline</dt><dd>—</dd>", workflow_section(page, "ohlcv"))


def test_the_alerts_page_lists_the_alerts_and_the_last_evaluation(site: Site) -> None:
    page = site.ok("/alerts")
    assert "No alert in the last 7 days." in page
    assert "Last evaluation: —" in page
    build_alerting(site.settings, site.store, environ={}).run_pass()
    page = site.ok("/alerts")
    alerts = site.store.alerts(time.time() - RECENT)
    assert any(a.workflow == "ohlcv" for a in alerts), alerts
    for alert in alerts:
        row = f"<td>{escape(alert.rule)}</td><td>{escape(alert.workflow)}</td>"
        assert row + f"<td>{alert.state}</td>" in page
        assert shown(alert.summary) in page
    assert "Last evaluation: —" not in page
    assert "<tr><td>trades</td><td><code>0 6 * * *</code> UTC</td>" in page
    assert "\u202e" not in page and "<script>alert" not in page


def test_the_overview_lists_the_alerts_that_are_firing(site: Site) -> None:
    assert "No alert is firing." in site.ok("/")
    build_alerting(site.settings, site.store, environ={}).run_pass()
    firing = [a for a in site.store.alerts(time.time() - RECENT) if a.state == "firing"]
    assert firing
    page = site.ok("/")
    assert "No alert is firing." not in page
    for alert in firing:
        assert f"<b>{escape(alert.rule)}</b> · {escape(alert.workflow)}" in page
    assert f'<span class="label">open alerts</span><span class="value">{len(firing)}</span>' in page


# -- signing in --------------------------------------------------------------------------------


def cookie_of(answer: Answer) -> str:
    """The session cookie's value from a Set-Cookie header."""
    (header,) = [h for h in answer.headers.get_all("Set-Cookie") or [] if "ingestflow_session" in h]
    match = re.match(r'ingestflow_session=("?)([^";]*)\1(;|$)', header)
    assert match, header
    return match.group(2)


def signed_in(site: Site) -> str:
    answer = site.form("/login", {"token": TOKEN, "next": "/workflows"}, {"Origin": site.origin})
    assert answer.status == 303
    return cookie_of(answer)


def test_a_page_without_the_token_is_a_401_sign_in_form(secured: Site) -> None:
    answer = secured.page("/")
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.content_type.startswith("text/html")
    assert_security_headers(answer)
    assert "<h1>Sign in</h1>" in answer.text
    assert '<form method="post" action="/login" class="login">' in answer.text
    assert '<input type="hidden" name="next" value="/">' in answer.text
    assert "<h1>Overview</h1>" not in answer.text
    deep = secured.page("/workflows")
    assert deep.status == 401 and 'name="next" value="/workflows"' in deep.text


def test_the_api_without_the_token_is_a_401_json_answer(secured: Site) -> None:
    for headers in ({}, {"Accept": "text/html"}):
        answer = secured.request("/api/status", headers=headers)
        assert answer.status == 401
        assert answer.content_type == "application/json"
        assert json.loads(answer.text) == {"error": "unauthorized"}
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert secured.request("/").status == 401  # not a browser: JSON too
    assert secured.request("/").content_type == "application/json"


def test_the_bearer_token_opens_pages_and_the_api(secured: Site) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert secured.request("/api/status", headers=auth).status == 200
    answer = secured.page("/", headers=auth)
    assert answer.status == 200 and "<h1>Overview</h1>" in answer.text
    assert secured.page("/", headers={"Authorization": "Bearer wrong"}).status == 401


def test_the_sign_in_routes_and_static_files_need_no_token(secured: Site) -> None:
    assert secured.request("/static/app.css").status == 200
    assert secured.request("/static/app.js").status == 200
    answer = secured.page("/login")
    assert answer.status == 200 and "<h1>Sign in</h1>" in answer.text
    assert 'role="alert"' not in answer.text


def test_signing_in_sets_an_http_only_strict_cookie_that_is_not_the_token(
    secured: Site,
) -> None:
    answer = secured.form(
        "/login", {"token": TOKEN, "next": "/workflows"}, {"Origin": secured.origin}
    )
    assert answer.status == 303
    assert answer.headers["Location"] == "/workflows"
    (header,) = answer.headers.get_all("Set-Cookie") or []
    attributes = [part.strip().lower() for part in header.split(";")]
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # plain HTTP here
    value = cookie_of(answer)
    assert value and TOKEN not in value and value != TOKEN


def test_the_session_cookie_opens_pages_and_retry(secured: Site) -> None:
    cookie = {"Cookie": f"ingestflow_session={signed_in(secured)}"}
    for path in (*PAGES, file_path(FAILED_KEY)):
        answer = secured.page(path, headers=cookie)
        assert answer.status == 200, path
    overview = secured.page("/", headers=cookie).text
    assert '<form class="logout" method="post" action="/logout">' in overview
    body = json.dumps({"keys": [FAILED_KEY]}).encode()
    headers = {**cookie, "Content-Type": "application/json", "Origin": secured.origin}
    answer = secured.request("/api/retry", "POST", body, headers)
    assert answer.status == 200, answer.text
    assert json.loads(answer.text)["retried"] == 1
    assert record(secured, FAILED_KEY).status is Status.TODO


def test_a_wrong_token_is_a_401_form_with_an_error(secured: Site) -> None:
    answer = secured.form("/login", {"token": "guess", "next": "/"}, {"Origin": secured.origin})
    assert answer.status == 401
    assert answer.content_type.startswith("text/html")
    assert "That token is not this server's token." in answer.text
    assert not answer.headers.get_all("Set-Cookie")
    empty_token = secured.form("/login", {"token": ""}, {"Origin": secured.origin})
    assert empty_token.status == 401


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_a_cross_site_sign_in_or_out_is_403(secured: Site, headers: dict[str, str]) -> None:
    answer = secured.form("/login", {"token": TOKEN}, headers)
    assert answer.status == 403
    assert not answer.headers.get_all("Set-Cookie")
    assert secured.form("/logout", {}, headers).status == 403


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example/", "/\\evil.example", "evil", ""]
)
def test_after_signing_in_only_a_path_of_this_server_is_followed(
    secured: Site, target: str
) -> None:
    answer = secured.form("/login", {"token": TOKEN, "next": target}, {"Origin": secured.origin})
    assert answer.status == 303
    assert answer.headers["Location"] == "/"
    form = secured.page("/login?" + urllib.parse.urlencode({"next": target}))
    assert '<input type="hidden" name="next" value="/">' in form.text


def test_signing_out_clears_the_cookie(secured: Site) -> None:
    cookie = signed_in(secured)
    answer = secured.form(
        "/logout", {}, {"Origin": secured.origin, "Cookie": f"ingestflow_session={cookie}"}
    )
    assert answer.status == 303
    assert answer.headers["Location"] == "/login"
    (header,) = answer.headers.get_all("Set-Cookie") or []
    assert cookie_of(answer) == ""
    assert "max-age=0" in header.lower()


@pytest.mark.parametrize("value", ["forged", TOKEN, "0" * 64, ""])
def test_a_forged_session_cookie_is_refused(secured: Site, value: str) -> None:
    answer = secured.page("/", headers={"Cookie": f"ingestflow_session={value}"})
    assert answer.status == 401
    assert "<h1>Sign in</h1>" in answer.text
    answer = secured.request(
        "/api/retry",
        "POST",
        json.dumps({"keys": [FAILED_KEY]}).encode(),
        {"Cookie": f"ingestflow_session={value}", "Content-Type": "application/json"},
    )
    assert answer.status == 401
    assert record(secured, FAILED_KEY).status is Status.FAILED


def test_without_a_token_there_is_no_sign_in(site: Site) -> None:
    assert site.page("/login").status == 404
    assert site.form("/login", {"token": TOKEN}, {"Origin": site.origin}).status in (404, 405)
    for path in PAGES:
        assert "Sign out" not in site.ok(path)
        assert 'action="/logout"' not in site.ok(path)
