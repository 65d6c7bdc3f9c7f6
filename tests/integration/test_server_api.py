"""The JSON API over real HTTP: uvicorn on 127.0.0.1 port 0 serving `create_app` with the
`/api/` routes on a real SQLite ledger filled through the store API. Every read route is
compared with what the CLI command prints with `--json` (run in-process on the same ledger)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestflow.adapters.metrics.prometheus import LedgerCollector, ledger_registry
from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.bootstrap_alerts import build_alerting
from ingestflow.bootstrap_metrics import metrics_context
from ingestflow.config.loader import load_settings
from ingestflow.config.secrets import Secret
from ingestflow.config.settings import Settings
from ingestflow.domain.records import FileOutcome, ObjectInfo
from ingestflow.domain.status import Status
from ingestflow.entrypoints.cli.app import app as cli_app
from ingestflow.entrypoints.server import RunningServer, create_app, start_server
from ingestflow.entrypoints.server.api import api_routes, encode_cursor
from ingestflow.services.file_search import file_page

T0 = time.time() - 3600  # within the default 24 h metrics window
TOKEN = "api-token"
FAILED_KEY = "ohlcv/2024/a b#1%.csv"
DONE_KEY = "ohlcv/2024/ünï 😀.csv"
TODO_KEY = "ohlcv/2024/c.csv"
TRADES_KEY = "trades/t1.csv"
ERROR = "column 'Date', row 2: <b>\"bad\"</b>"
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

[[workflows]]
name = "trades"
prefix = "trades/"
transform = "ohlcv"
"""

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


class Api:
    """The running server, its ledger and settings, and the CLI on the same config."""

    def __init__(self, server: RunningServer, store: SqliteStatusStore, settings: Settings):
        self.server = server
        self.store = store
        self.settings = settings

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.server.url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with _OPENER.open(request, timeout=30) as response:
                assert response.headers["content-type"] == "application/json"
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read())

    def get(self, path: str, **params: str) -> tuple[int, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self.request("GET", path + query)

    def ok(self, path: str, **params: str) -> Any:
        status, data = self.get(path, **params)
        assert status == 200, data
        return data

    def post(self, path: str, data: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        return self.request("POST", path, json.dumps(data).encode(), sent)

    def cli(self, *args: str) -> Any:
        """What `ingestflow ARGS --json` prints, parsed."""
        out = io.StringIO()
        assert self.settings.config_path is not None
        argv = [*args, "--json", "--config", str(self.settings.config_path)]
        with contextlib.redirect_stdout(out):
            code = cli_app(argv, standalone_mode=False)
        assert not code, f"{args} exited {code}"
        return json.loads(out.getvalue())


def path_of(key: str) -> str:
    return "/api/files/" + urllib.parse.quote(key, safe="/")


def fill(store: SqliteStatusStore, settings: Settings) -> None:
    """FAILED_KEY failed, DONE_KEY done, TODO_KEY and TRADES_KEY waiting."""
    ohlcv = settings.workflow("ohlcv")
    assert ohlcv is not None
    files = [(FAILED_KEY, -50, "ohlcv"), (DONE_KEY, -40, "ohlcv"), (TODO_KEY, -30, "ohlcv")]
    files.append((TRADES_KEY, -20, "trades"))
    infos = [(ObjectInfo(key, 100, "v1", T0 + at), wf) for key, at, wf in files]
    store.register("landing", infos, T0 - 10)
    batch = store.claim(ohlcv, T0, "worker")
    assert batch is not None and {f.key for f in batch.files} == {FAILED_KEY, DONE_KEY}
    outcomes = [
        FileOutcome.failed(FAILED_KEY, "v1", ERROR, retryable=False),
        FileOutcome.done(DONE_KEY, "v1", "output/ohlcv/x.parquet", rows=3),
    ]
    store.finish(ohlcv, batch.batch_id, outcomes, T0 + 5)


def register_many(store: SqliteStatusStore, keys: list[str], workflow: str = "ohlcv") -> None:
    """Keys registered with upload times in groups of three equal times (ties order by key)."""
    infos = [(ObjectInfo(k, 1, "v1", T0 - 7200 + i // 3), workflow) for i, k in enumerate(keys)]
    store.register("landing", infos, T0)


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


def start(store: SqliteStatusStore, settings: Settings, token: str | None = None) -> RunningServer:
    collector = LedgerCollector(
        store, metrics_context(settings), settings.workflows, settings.landing_bucket
    )
    secret = Secret(token) if token else None
    routes = api_routes(store, settings)
    return start_server(
        create_app(store, ledger_registry(collector), secret, routes=routes), "127.0.0.1", 0
    )


@pytest.fixture
def api(store: SqliteStatusStore, settings: Settings) -> Iterator[Api]:
    server = start(store, settings)
    try:
        yield Api(server, store, settings)
    finally:
        server.stop()


@pytest.fixture
def filled(api: Api) -> Api:
    fill(api.store, api.settings)
    return api


def without(data: Any, *names: str) -> Any:
    """`data` with the keys `names` dropped at every depth (values that depend on the clock)."""
    if isinstance(data, dict):
        return {k: without(v, *names) for k, v in data.items() if k not in names}
    if isinstance(data, list):
        return [without(v, *names) for v in data]
    return data


# -- reads: the same objects as the CLI ---------------------------------------------------------


def test_status_is_the_object_status_json_prints(filled: Api) -> None:
    data = filled.ok("/api/status")
    assert data == filled.cli("status")
    assert data["counts"] == {"TODO": 2, "PROCESSING": 0, "DONE": 1, "FAILED": 1}


def test_files_are_the_objects_files_json_prints(filled: Api) -> None:
    data = filled.ok("/api/files")
    assert data == {"files": filled.cli("files"), "next_cursor": None}
    assert [f["key"] for f in data["files"]] == [FAILED_KEY, DONE_KEY, TODO_KEY, TRADES_KEY]


@pytest.mark.parametrize(
    ("params", "cli_args"),
    [
        ({"status": "failed"}, ["--status", "FAILED"]),
        ({"status": "TODO"}, ["--status", "TODO"]),
        ({"workflow": "trades"}, ["--workflow", "trades"]),
        ({"prefix": "ohlcv/2024/c"}, ["--prefix", "ohlcv/2024/c"]),
        ({"status": "TODO", "workflow": "ohlcv"}, ["--status", "TODO", "--workflow", "ohlcv"]),
        ({"status": "", "workflow": "", "prefix": "", "q": ""}, []),
    ],
)
def test_files_filters_give_what_the_same_cli_filters_give(
    filled: Api, params: dict[str, str], cli_args: list[str]
) -> None:
    data = filled.ok("/api/files", **params)
    assert data == {"files": filled.cli("files", *cli_args), "next_cursor": None}


def test_one_file_is_found_by_its_url_encoded_key(filled: Api) -> None:
    for key in (FAILED_KEY, DONE_KEY, TODO_KEY):
        data = filled.ok(path_of(key))
        assert data == next(f for f in filled.cli("files") if f["key"] == key)
    assert filled.ok(path_of(FAILED_KEY))["error"] == ERROR


def test_history_is_the_array_history_json_prints(filled: Api) -> None:
    for key in (FAILED_KEY, DONE_KEY):
        data = filled.ok(path_of(key) + "/history")
        assert data == filled.cli("history", key)
    moves = [(t["from"], t["to"]) for t in filled.ok(path_of(FAILED_KEY) + "/history")]
    assert moves == [(None, "TODO"), ("TODO", "PROCESSING"), ("PROCESSING", "FAILED")]


def test_a_file_whose_key_ends_in_history_is_still_reachable(api: Api) -> None:
    api.store.register("landing", [(ObjectInfo("ohlcv/x/history", 1, "v1", T0), "ohlcv")], T0)
    assert api.ok(path_of("ohlcv/x/history"))["key"] == "ohlcv/x/history"
    assert api.ok(path_of("ohlcv/x/history") + "/history") == api.cli("history", "ohlcv/x/history")


def test_workflows_are_what_workflows_json_prints(filled: Api) -> None:
    data = filled.ok("/api/workflows")
    assert without(data, "oldest_age_s") == without(filled.cli("workflows"), "oldest_age_s")
    assert [(w["name"], w["backlog"]) for w in data] == [("ohlcv", 1), ("trades", 1)]


def test_metrics_are_the_metric_report_of_the_window(filled: Api) -> None:
    data = filled.ok("/api/metrics", since="24h")
    clock = ("window", "oldest_age_seconds")
    assert without(data, *clock) == without(filled.cli("metrics", "--since", "24h"), *clock)
    assert (data["totals"]["files_done"], data["totals"]["files_failed"]) == (1, 1)
    assert data["window"]["since_seconds"] == 86400
    assert filled.ok("/api/metrics")["window"]["since_seconds"] == 86400


def test_alerts_are_the_object_alerts_json_prints(filled: Api) -> None:
    assert filled.ok("/api/alerts") == filled.cli("alerts")
    build_alerting(filled.settings, filled.store, environ={}).run_pass()
    data = filled.ok("/api/alerts")
    assert data == filled.cli("alerts")
    assert data["last_evaluation"] is not None
    assert any(a["workflow"] == "ohlcv" for a in data["alerts"]), data


# -- pagination ---------------------------------------------------------------------------------


def pages(api: Api, **params: str) -> Iterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        page = api.ok("/api/files", **params, **({"cursor": cursor} if cursor else {}))
        yield page
        cursor = page["next_cursor"]
        if cursor is None:
            return


def test_paging_through_2500_files_returns_each_exactly_once_in_ledger_order(api: Api) -> None:
    register_many(api.store, [f"ohlcv/p/{i:05d}.csv" for i in range(2500)])
    found = list(pages(api, limit="1000"))
    assert [len(p["files"]) for p in found] == [1000, 1000, 500]
    files = [f for p in found for f in p["files"]]
    assert files == api.cli("files")
    assert len({f["key"] for f in files}) == 2500
    assert api.ok("/api/files")["files"] == files[:100]  # the default limit


def test_filtered_pages_keep_their_filter_across_cursors(api: Api) -> None:
    register_many(api.store, [f"ohlcv/p/{i:04d}.csv" for i in range(30)])
    register_many(api.store, [f"trades/p/{i:04d}.csv" for i in range(30)], workflow="trades")
    found = [f for p in pages(api, workflow="trades", limit="7") for f in p["files"]]
    assert found == api.cli("files", "--workflow", "trades")
    assert len(found) == 30


def test_a_key_substring_is_matched_case_insensitively_across_pages(api: Api) -> None:
    keys = [f"ohlcv/p/{i:04d}{'-NeedLe' if i % 10 == 3 else ''}.csv" for i in range(3000)]
    register_many(api.store, keys)
    found = list(pages(api, q="needle", limit="50"))
    matches = [f["key"] for p in found for f in p["files"]]
    assert matches == [k for k in keys if "needle" in k.casefold()]
    assert [len(p["files"]) for p in found] == [50, 50, 50, 50, 50, 50]


def test_a_substring_scan_stops_at_its_budget_and_continues_from_there(
    store: SqliteStatusStore,
) -> None:
    keys = [f"ohlcv/p/{i:04d}{'-x' if i in (5, 150) else ''}.csv" for i in range(200)]
    register_many(store, keys)
    first = file_page(store, 10, query="-x", max_scan=100)
    assert [r.key for r in first.files] == [keys[5]]
    assert first.next_after is not None and first.next_after[1] == keys[99]
    second = file_page(store, 10, query="-x", after=first.next_after, max_scan=100)
    assert [r.key for r in second.files] == [keys[150]]
    assert second.next_after is not None and second.next_after[1] == keys[199]  # budget spent
    third = file_page(store, 10, query="-x", after=second.next_after, max_scan=100)
    assert (third.files, third.next_after) == ([], None)


def test_a_cursor_is_opaque_urlsafe_text(api: Api) -> None:
    register_many(api.store, ["ohlcv/ä b#c%/1.csv", "ohlcv/ä b#c%/2.csv"])
    page = api.ok("/api/files", limit="1")
    assert page["next_cursor"] == encode_cursor((T0 - 7200, "ohlcv/ä b#c%/1.csv"))
    assert page["next_cursor"].replace("-", "").replace("_", "").isalnum()
    assert api.ok("/api/files", limit="1", cursor=page["next_cursor"])["next_cursor"] is None


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"status": "stuck"},
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"limit": "-5"},
        {"cursor": "not a cursor!"},
        {"cursor": encode_cursor((1.0, "k"))[:-3] + "@@@"},
        {"cursor": "WzEsMiwzXQ"},  # [1,2,3]
        {"cursor": "WyJhIiwiYiJd"},  # ["a","b"]
        {"cursor": "W3RydWUsImsiXQ"},  # [true,"k"]
    ],
)
def test_invalid_file_parameters_are_400_with_the_reason(api: Api, params: dict[str, str]) -> None:
    status, data = api.get("/api/files", **params)
    assert status == 400
    assert set(data) == {"error"} and data["error"]


def test_an_invalid_metrics_window_is_400(api: Api) -> None:
    for since in ("soon", "-1h", "0s"):
        status, data = api.get("/api/metrics", since=since)
        assert status == 400 and data["error"].startswith("since:"), data


def test_unknown_keys_are_404_with_the_key_as_data(filled: Api) -> None:
    key = 'ohlcv/nope "<script>"#%.csv'
    for path in (path_of(key), path_of(key) + "/history"):
        status, data = filled.get(path)
        assert status == 404
        assert data == {"error": f"no file with this key in the ledger: {key}"}


# -- retry --------------------------------------------------------------------------------------


def test_retry_of_keys_moves_a_failed_file_to_todo(filled: Api) -> None:
    status, data = filled.post("/api/retry", {"keys": [FAILED_KEY, DONE_KEY, "ohlcv/none.csv"]})
    assert status == 200
    assert data == {
        "retried": 1,
        "keys": [FAILED_KEY],
        "skipped": [{"key": DONE_KEY, "status": "DONE"}, {"key": "ohlcv/none.csv", "status": None}],
    }
    record = filled.store.get("landing", FAILED_KEY)
    assert record is not None and record.status is Status.TODO and record.attempts == 0
    assert filled.ok(path_of(FAILED_KEY))["status"] == "TODO"


def test_retry_of_a_workflows_failed_files_moves_only_that_workflow(filled: Api) -> None:
    trades = filled.settings.workflow("trades")
    assert trades is not None
    batch = filled.store.claim(trades, T0 + 86400, "worker")  # past max_wait: ready
    assert batch is not None
    outcomes = [FileOutcome.failed(f.key, f.etag, "boom", retryable=False) for f in batch.files]
    filled.store.finish(trades, batch.batch_id, outcomes, T0 + 86401)
    status, data = filled.post("/api/retry", {"failed": True, "workflow": "ohlcv"})
    assert (status, data) == (200, {"retried": 1, "keys": [FAILED_KEY], "skipped": []})
    record = filled.store.get("landing", TRADES_KEY)
    assert record is not None and record.status is Status.FAILED
    status, data = filled.post("/api/retry", {"failed": True, "workflow": "ohlcv"})
    assert (status, data) == (200, {"retried": 0, "keys": [], "skipped": []})
    status, data = filled.post("/api/retry", {"failed": True})
    assert (status, data) == (200, {"retried": 1, "keys": [TRADES_KEY], "skipped": []})


def test_retry_from_the_servers_own_origin_is_allowed(filled: Api) -> None:
    origin = filled.server.url
    status, data = filled.post("/api/retry", {"keys": [FAILED_KEY]}, {"Origin": origin})
    assert (status, data["retried"]) == (200, 1)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_cross_site_retry_is_403_and_changes_nothing(
    filled: Api, headers: dict[str, str]
) -> None:
    status, data = filled.post("/api/retry", {"keys": [FAILED_KEY]}, headers)
    assert (status, data) == (403, {"error": "cross-site request refused"})
    record = filled.store.get("landing", FAILED_KEY)
    assert record is not None and record.status is Status.FAILED


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]
)
def test_a_retry_a_form_could_send_is_415_and_changes_nothing(
    filled: Api, content_type: str
) -> None:
    body = json.dumps({"keys": [FAILED_KEY]}).encode()
    status, data = filled.request("POST", "/api/retry", body, {"Content-Type": content_type})
    assert (status, data) == (415, {"error": "Content-Type must be application/json"})
    record = filled.store.get("landing", FAILED_KEY)
    assert record is not None and record.status is Status.FAILED


@pytest.mark.parametrize(
    "body",
    [[FAILED_KEY], {"keys": []}, {"keys": "k"}, {"keys": [1]}, {"failed": False}, {},
     {"failed": True, "workflow": 3}],
)  # fmt: skip
def test_a_malformed_retry_body_is_400(filled: Api, body: Any) -> None:
    status, data = filled.post("/api/retry", body)
    assert status == 400 and data["error"]


def test_a_retry_body_that_is_not_json_is_400(filled: Api) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    status, data = filled.request("POST", "/api/retry", b"{keys:", headers)
    assert (status, data) == (400, {"error": "the body is not JSON"})


def test_retry_answers_only_post(api: Api) -> None:
    request = urllib.request.Request(api.server.url + "/api/retry")
    with pytest.raises(urllib.error.HTTPError) as caught:
        _OPENER.open(request, timeout=10)
    with caught.value:
        assert caught.value.code == 405


# -- the token ----------------------------------------------------------------------------------


def test_with_a_token_every_api_route_needs_it(
    store: SqliteStatusStore, settings: Settings
) -> None:
    server = start(store, settings, token=TOKEN)
    try:
        api = Api(server, store, settings)
        assert api.get("/api/status")[0] == 401
        assert api.post("/api/retry", {"keys": [FAILED_KEY]})[0] == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert api.request("GET", "/api/status", headers=auth)[0] == 200
    finally:
        server.stop()
