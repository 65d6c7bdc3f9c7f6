"""The HTTP server over real HTTP: uvicorn on 127.0.0.1 port 0 serving the Starlette app on a
real SQLite ledger; `/metrics` parsed by prometheus_client's parser, `/healthz`, the bearer
token, and the foreground runner stopped by a real signal in a child process."""

from __future__ import annotations

import gzip
import json
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ingestflow.adapters.metrics.prometheus import LedgerCollector, PrometheusSink, ledger_registry
from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.config.secrets import Secret
from ingestflow.domain.metrics import MetricsContext
from ingestflow.domain.records import FileOutcome, ObjectInfo
from ingestflow.domain.workflow import Workflow
from ingestflow.entrypoints.server import RunningServer, create_app, start_server
from ingestflow.services.forwarding import Forwarder

T0 = 1_700_000_000.0
BUCKET = "landing"
WF = Workflow("ohlcv", "ohlcv/", batch_size=2, max_batch_files=2)
CONTEXT = MetricsContext("test", {"ohlcv": "ohlcv/"})
TOKEN = "s3cret-token"
SRC = Path(__file__).resolve().parents[2] / "src"

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET; error statuses are answers too."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def processed(body: bytes) -> float:
    families = text_string_to_metric_families(body.decode())
    return sum(
        s.value for f in families for s in f.samples if s.name == "ingestion_files_processed_total"
    )


def finish_two_files(store: SqliteStatusStore) -> None:
    infos = [ObjectInfo(f"ohlcv/2024/{n}.csv", 10, "v1", T0 - 30) for n in "ab"]
    store.register(BUCKET, [(i, WF.name) for i in infos], T0 - 20)
    batch = store.claim(WF, T0, "worker")
    assert batch is not None
    outcomes = [FileOutcome.done(f.key, f.etag, "out.parquet", rows=1) for f in batch.files]
    store.finish(WF, batch.batch_id, outcomes, T0 + 1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStatusStore]:
    store = SqliteStatusStore(tmp_path / "ledger.db")
    try:
        yield store
    finally:
        store.close()


Serve = Callable[[Starlette], RunningServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start servers on 127.0.0.1 port 0 (`serve(app)`); all stopped at teardown."""
    running: list[RunningServer] = []

    def start(app: Starlette) -> RunningServer:
        server = start_server(app, "127.0.0.1", 0)
        running.append(server)
        return server

    try:
        yield start
    finally:
        for server in running:
            server.stop()


def app_for(
    store: SqliteStatusStore,
    token: str | None = None,
    before_scrape: Callable[[], object] | None = None,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    registry = ledger_registry(LedgerCollector(store, CONTEXT, [WF], BUCKET))
    secret = Secret(token) if token else None
    return create_app(store, registry, secret, before_scrape, routes)


def test_metrics_answers_in_the_prometheus_text_format(
    store: SqliteStatusStore, serve: Serve
) -> None:
    server = serve(app_for(store))
    status, headers, body = get(f"{server.url}/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {"ingestion_files_processed", "ingestion_file_processing_time_seconds",
            "ingestion_backlog_files", "ingestion_backlog_oldest_age_seconds"} <= names  # fmt: skip


def test_before_scrape_folds_pending_transitions_so_the_scrape_sees_them(
    store: SqliteStatusStore, serve: Serve
) -> None:
    forwarder = Forwarder(store, [PrometheusSink()], CONTEXT, [WF], BUCKET, "server")
    try:
        server = serve(app_for(store, before_scrape=forwarder.forward))
        assert processed(get(f"{server.url}/metrics")[2]) == 0
        finish_two_files(store)
        assert processed(get(f"{server.url}/metrics")[2]) == 2
        assert processed(get(f"{server.url}/metrics")[2]) == 2  # folded once
    finally:
        forwarder.close()


def test_a_failing_before_scrape_still_answers_from_the_ledger(
    store: SqliteStatusStore, serve: Serve
) -> None:
    def broken() -> None:
        raise RuntimeError("fold failed")

    server = serve(app_for(store, before_scrape=broken))
    status, _, body = get(f"{server.url}/metrics")
    assert status == 200 and processed(body) == 0


def test_openmetrics_is_served_when_the_scraper_asks_for_it(
    store: SqliteStatusStore, serve: Serve
) -> None:
    server = serve(app_for(store))
    accept = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"
    status, headers, body = get(f"{server.url}/metrics", {"Accept": accept})
    assert status == 200
    assert headers["content-type"].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


def test_metrics_are_gzipped_when_the_scraper_accepts_it(
    store: SqliteStatusStore, serve: Serve
) -> None:
    server = serve(app_for(store))
    status, headers, body = get(f"{server.url}/metrics", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert processed(gzip.decompress(body)) == 0


def test_healthz_reports_a_readable_ledger(store: SqliteStatusStore, serve: Serve) -> None:
    server = serve(app_for(store))
    status, headers, body = get(f"{server.url}/healthz")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"status": "ok", "ledger": "ok"}


def test_a_ledger_that_cannot_be_read_gives_503_on_both_routes(
    tmp_path: Path, serve: Serve
) -> None:
    closed = SqliteStatusStore(tmp_path / "gone.db")
    closed.close()
    server = serve(app_for(closed))
    status, _, body = get(f"{server.url}/healthz")
    assert status == 503
    answer = json.loads(body)
    assert (answer["status"], answer["ledger"]) == ("error", "unavailable")
    assert "closed" in answer["reason"]
    assert get(f"{server.url}/metrics")[0] == 503


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/nowhere"])
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer ", f"Bearer {TOKEN}x", TOKEN],
)
def test_every_route_refuses_a_request_without_the_right_token(
    store: SqliteStatusStore, serve: Serve, path: str, authorization: str | None
) -> None:
    server = serve(app_for(store, token=TOKEN))
    headers = {"Authorization": authorization} if authorization is not None else {}
    status, answer_headers, body = get(f"{server.url}{path}", headers)
    assert status == 401
    assert answer_headers["www-authenticate"] == "Bearer"
    assert TOKEN.encode() not in body


@pytest.mark.parametrize(("path", "expected"), [("/metrics", 200), ("/healthz", 200),
                                                 ("/nowhere", 404)])  # fmt: skip
def test_the_right_token_opens_every_route(
    store: SqliteStatusStore, serve: Serve, path: str, expected: int
) -> None:
    server = serve(app_for(store, token=TOKEN))
    assert get(f"{server.url}{path}", {"Authorization": f"bearer {TOKEN}"})[0] == expected


def test_extra_routes_are_served_behind_the_same_token(
    store: SqliteStatusStore, serve: Serve
) -> None:
    def hello(request: Request) -> Response:
        return PlainTextResponse("hello")

    server = serve(app_for(store, token=TOKEN, routes=[Route("/hello", hello)]))
    assert get(f"{server.url}/hello")[0] == 401
    assert get(f"{server.url}/hello", {"Authorization": f"Bearer {TOKEN}"})[2] == b"hello"


def test_a_server_on_port_0_gets_a_real_port_and_frees_it_when_stopped(
    store: SqliteStatusStore,
) -> None:
    server = start_server(app_for(store), "127.0.0.1", 0)
    try:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        assert get(f"{server.url}/healthz")[0] == 200
    finally:
        server.stop()
    assert not server.alive
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", server.port))  # the port is free again


def test_a_port_that_is_taken_fails_with_an_os_error_naming_it(store: SqliteStatusStore) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            start_server(app_for(store), "127.0.0.1", port)


FOREGROUND = textwrap.dedent(
    """
    import sys
    from ingestflow.adapters.metrics.prometheus import LedgerCollector, ledger_registry
    from ingestflow.adapters.state.sqlite import SqliteStatusStore
    from ingestflow.domain.metrics import MetricsContext
    from ingestflow.entrypoints.server import create_app, serve_forever

    store = SqliteStatusStore(sys.argv[1])
    registry = ledger_registry(LedgerCollector(store, MetricsContext("test", {}), [], "landing"))
    serve_forever(create_app(store, registry, None), "127.0.0.1", 0,
                  lambda url: print(f"serving on {url}", flush=True))
    store.close()
    print("stopped", flush=True)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_foreground_server_prints_its_url_first_and_returns_on_a_signal(
    tmp_path: Path, sig: signal.Signals
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", FOREGROUND, str(tmp_path / "ledger.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        assert first.startswith("serving on http://127.0.0.1:")
        url = first.split()[-1]
        assert get(f"{url}/healthz")[0] == 200
        child.send_signal(sig)
        out, err = child.communicate(timeout=15)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    assert out == "stopped\n"
    assert err == ""
