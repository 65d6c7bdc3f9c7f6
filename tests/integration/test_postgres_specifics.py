"""What the PostgreSQL ledger must do beyond the StatusStore contract: schema versions, secrets
kept out of every message, query plans on index ranges, reconnecting after a server restart.

A server of its own (tests/support/postgres_server.py): one test restarts it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from postgres_server import PostgresServer

from ingestflow.adapters.state import postgres_batches, sql_metrics
from ingestflow.adapters.state.postgres import PostgresStatusStore
from ingestflow.adapters.state.postgres_reads import PostgresReads
from ingestflow.adapters.state.postgres_rows import SELECT_WITH_ID, TRANSITION_COLUMNS
from ingestflow.adapters.state.postgres_schema import SCHEMA_VERSION
from ingestflow.adapters.state.sql_dialect import POSTGRES
from ingestflow.config.secrets import Secret
from ingestflow.domain.errors import LedgerError, MissingExtraError
from ingestflow.domain.records import FileOutcome, ObjectInfo
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow

T0 = 1_700_000_000.0
BUCKET = "landing"


def wf(name: str = "ohlcv", **overrides: Any) -> Workflow:
    settings: dict[str, Any] = {
        "name": name,
        "prefix": f"{name}/",
        "batch_size": 100,
        "max_batch_files": 100,
        "max_wait": 60.0,
    }
    settings.update(overrides)
    return Workflow(**settings)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    running = PostgresServer().start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def url(server: PostgresServer) -> str:
    return str(server.new_database())


@pytest.fixture
def store(url: str) -> Iterator[PostgresStatusStore]:
    opened = PostgresStatusStore(url)
    try:
        yield opened
    finally:
        opened.close()


def _with_password(url: str, password: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{password}@")


# -- schema versions ----------------------------------------------------------------------------


def test_a_new_ledger_records_its_schema_version(store: PostgresStatusStore) -> None:
    assert store.get_info("schema_version") == str(SCHEMA_VERSION)


def test_a_ledger_from_a_newer_release_is_refused_with_one_line(url: str) -> None:
    PostgresStatusStore(url).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE ledger_info SET value = '99' WHERE name = 'schema_version'")

    with pytest.raises(LedgerError) as refused:
        PostgresStatusStore(url)

    message = str(refused.value)
    assert "newer ingestflow" in message and "schema version 99" in message
    assert "\n" not in message


# A version 1 ledger (tests/contract/postgres_ledger_v1.sql): six files of `ohlcv` registered at
# T1 + 10; batch 1 (files 0, 1) claimed at T1 + 20, 0 DONE and 1 FAILED at T1 + 30; batch 2
# (files 2, 3) claimed at T1 + 40 and still running, its lease until T1 + 100; files 4, 5 TODO.
_V1 = Path(__file__).resolve().parents[1] / "contract" / "postgres_ledger_v1.sql"
T1 = 1_780_000_000.0
V1_FLOW = wf("ohlcv", batch_size=2, max_batch_files=2, max_wait=0.0, lease=60.0)


def _indexes(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        ).fetchall()
    return {str(r[0]) for r in rows}


@pytest.fixture
def v1_url(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_V1.read_text())
    return url


def test_a_version_1_ledger_is_upgraded_when_opened_and_keeps_files_history_and_leases(
    v1_url: str,
) -> None:
    assert "workflow_status_processing" in _indexes(v1_url)
    store = PostgresStatusStore(v1_url)
    try:
        assert store.get_info("schema_version") == str(SCHEMA_VERSION)
        counts = store.counts()
        assert (counts[Status.TODO], counts[Status.PROCESSING]) == (2, 2)
        assert (counts[Status.DONE], counts[Status.FAILED]) == (1, 1)
        steps = [(t.old_status, t.new_status) for t in store.history(BUCKET, "ohlcv/d/0.csv")]
        assert steps == [(None, Status.TODO), (Status.TODO, Status.PROCESSING),
                         (Status.PROCESSING, Status.DONE)]  # fmt: skip
        assert store.reap([V1_FLOW], T1 + 99) == []  # batch 2's lease runs until T1 + 100
        reaped = store.reap([V1_FLOW], T1 + 101)
        assert sorted(t.key for t in reaped) == ["ohlcv/d/2.csv", "ohlcv/d/3.csv"]
        assert all(t.new_status is Status.TODO for t in reaped)
        batch = store.claim(V1_FLOW, T1 + 200, "host-c:3")
        assert batch is not None
        history = store.history(BUCKET, batch.files[0].key)
        assert history[-1].new_status is Status.PROCESSING
        assert history[-1].id > max(t.id for t in reaped)
    finally:
        store.close()
    indexes = _indexes(v1_url)
    assert {"transitions_by_file", "workflow_status_running", "batches_expiring"} <= indexes
    gone = {"transitions_by_key", "workflow_status_processing", "batches_running"}
    assert not gone & indexes
    assert "workflow_status_todo_folder" not in indexes  # no workflow waits for markers


def test_upgrading_is_idempotent_and_a_second_store_opens_the_upgraded_ledger(
    v1_url: str,
) -> None:
    first = PostgresStatusStore(v1_url)
    second = PostgresStatusStore(v1_url)
    try:
        assert second.get_info("schema_version") == str(SCHEMA_VERSION)
        assert len(second.history(BUCKET, "ohlcv/d/1.csv")) == 3
    finally:
        first.close()
        second.close()


def test_the_folder_index_is_made_only_for_workflows_waiting_for_markers(
    store: PostgresStatusStore, url: str
) -> None:
    store.sync_workflows([wf("ohlcv")])
    assert "workflow_status_todo_folder" not in _indexes(url)
    store.sync_workflows([wf("ohlcv"), wf("trades", ready_marker="_SUCCESS")])
    assert "workflow_status_todo_folder" in _indexes(url)


def test_reopening_a_ledger_keeps_its_files(url: str) -> None:
    first = PostgresStatusStore(url)
    first.register(BUCKET, [(ObjectInfo("ohlcv/a.csv", 1, "v1", T0), "ohlcv")], T0)
    first.close()

    second = PostgresStatusStore(url)
    try:
        assert second.counts()[Status.TODO] == 1
    finally:
        second.close()


# -- secrets ------------------------------------------------------------------------------------


def test_the_password_in_the_url_is_never_shown(url: str) -> None:
    # The test server trusts every local connection: any password is accepted.
    opened = PostgresStatusStore(_with_password(url, "s3cret-in-url"))
    try:
        assert "s3cret-in-url" not in repr(opened) and "s3cret-in-url" not in str(opened)
        assert "********" in repr(opened)
        assert opened.counts()[Status.TODO] == 0
    finally:
        opened.close()


def test_a_password_given_as_a_secret_is_never_shown(url: str) -> None:
    opened = PostgresStatusStore(url, password=Secret("hunter2-secret"))
    try:
        assert "hunter2-secret" not in repr(opened) + str(opened)
    finally:
        opened.close()


def _shown(exc: BaseException) -> str:
    """Every message of the exception and its chain (what a log with a traceback shows)."""
    messages = []
    seen: BaseException | None = exc
    while seen is not None:
        messages.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    return "\n".join(messages)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_failed_connection_names_the_ledger_but_never_the_password() -> None:
    url = f"postgresql://reader:pw-in-url-42@127.0.0.1:{_free_port()}/ledger"

    with pytest.raises(LedgerError) as failed:
        PostgresStatusStore(url, password=Secret("pw-secret-43"), connect_timeout=2)

    shown = _shown(failed.value)
    assert "cannot open ledger postgresql://reader:********@127.0.0.1" in str(failed.value)
    assert "pw-in-url-42" not in shown and "pw-secret-43" not in shown


def test_conninfo_passwords_are_redacted_too() -> None:
    conninfo = "host=127.0.0.1 port=1 dbname=x password='a b' user=postgres"
    with pytest.raises(LedgerError) as failed:
        PostgresStatusStore(conninfo, connect_timeout=2)
    assert "'a b'" not in _shown(failed.value)
    assert "password=********" in str(failed.value)


# -- query plans --------------------------------------------------------------------------------


# Small tables (markers, batches) may be read whole; the ledger's big tables never are.
_TABLE_SCANS = ("Seq Scan on workflow_status", "Seq Scan on transitions")


def _scans(url: str, sql: str, params: Any) -> list[str]:
    """Every scan node of the plan of `sql`: 'Seq Scan on t' / 'Index Scan using i on t'."""
    with psycopg.connect(url, autocommit=True) as conn:
        ((plan,),) = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchall()
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        kind = node["Node Type"]
        if "Scan" in kind and "Relation Name" in node:
            using = f" using {node['Index Name']}" if "Index Name" in node else ""
            found.append(f"{kind}{using} on {node['Relation Name']}")
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan[0]["Plan"])
    return found


@pytest.fixture
def loaded(store: PostgresStatusStore, url: str) -> PostgresStatusStore:
    """5,000 files of two workflows in every status, markers, and fresh statistics."""
    flows = [wf("ohlcv"), wf("trades", ready_marker="_SUCCESS")]
    store.sync_workflows(flows)
    for n, flow in enumerate(flows):
        objects = [
            (ObjectInfo(f"{flow.prefix}{i // 100:03}/{i:05}.csv", 10, "v1", T0 + i), flow.name)
            for i in range(2500)
        ]
        store.register(BUCKET, objects, T0 + 10_000)
        if n:
            store.set_markers(BUCKET, [("trades", "trades/001/")])
    for i in range(10):
        batch = store.claim(flows[0], T0 + 10_000 + i, "host:1")
        assert batch is not None
        if i < 8:
            outcomes = [
                FileOutcome.done(f.key, f.etag, "out", 1)
                if j % 5
                else FileOutcome.failed(f.key, f.etag, "bad", retryable=False)
                for j, f in enumerate(batch.files)
            ]
            store.finish(flows[0], batch.batch_id, outcomes, T0 + 10_001 + i)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return store


def test_claim_finish_and_reap_queries_use_indexes(loaded: PostgresStatusStore, url: str) -> None:
    now = T0 + 20_000
    queries: list[tuple[str, tuple[Any, ...]]] = [
        (postgres_batches._TODO + postgres_batches._SKIP, ("ohlcv", now, 100)),
        (postgres_batches._MARKED_FOLDER, (now, "trades")),
        (
            postgres_batches._FOLDER_TODO + postgres_batches._SKIP,
            ("trades", BUCKET, "trades/001/", now, 100),
        ),
        (postgres_batches._RUNNING + " AND key = ANY(%s) ORDER BY key", ("b", ["k"])),
        (postgres_batches._EXPIRED + postgres_batches._SKIP, (now, now)),
        (f"{SELECT_WITH_ID} WHERE status = 'FAILED' AND bucket = %s ORDER BY key", (BUCKET,)),
    ]
    for sql, params in queries:
        scans = _scans(url, sql, params)
        assert scans and not any(s.startswith(_TABLE_SCANS) for s in scans), (sql, scans)


def test_backlog_files_and_stream_queries_use_indexes(
    loaded: PostgresStatusStore, url: str
) -> None:
    now = T0 + 20_000
    queries: list[tuple[str, Any]] = [
        (
            "SELECT min(upload_time) FROM workflow_status WHERE status = 'TODO' AND workflow = %s",
            ("ohlcv",),
        ),
        (
            "SELECT count(*) FROM markers m JOIN workflow_status ws ON ws.status = 'TODO'"
            " AND ws.workflow = m.workflow AND ws.bucket = m.bucket AND ws.prefix = m.prefix"
            " WHERE m.workflow = %s",
            ("trades",),
        ),
        (
            f"SELECT {TRANSITION_COLUMNS} FROM transitions WHERE id > %s ORDER BY id LIMIT %s",
            (5, 100),
        ),
        (
            f"SELECT {TRANSITION_COLUMNS} FROM transitions WHERE file_id ="
            " (SELECT id FROM workflow_status WHERE bucket = %s AND key = %s) ORDER BY id",
            (BUCKET, "ohlcv/000/00001.csv"),
        ),
        (
            "SELECT count(*) FROM workflow_status WHERE status = 'PROCESSING'"
            " AND upload_time >= %s AND upload_time < %s AND workflow = %s",
            (T0, now, "ohlcv"),
        ),
        (POSTGRES.sql(sql_metrics._ENDED.format(hint="")), (T0, now, T0, 0, 100)),
    ]
    for status in Status:
        params: list[Any] = []
        flow = "ohlcv" if status is Status.TODO else None
        sql = PostgresReads._range(status, "ohlcv/0", flow, 50, (T0 + 5, "ohlcv/"), params)
        queries.append((sql, params))
    for sql, params in queries:
        scans = _scans(url, sql, params)
        assert scans and not any(s.startswith(_TABLE_SCANS) for s in scans), (sql, scans)


def test_every_query_answers_right_on_the_loaded_ledger(loaded: PostgresStatusStore) -> None:
    counts = loaded.counts()
    assert sum(counts.values()) == 5000
    assert counts[Status.PROCESSING] == 200
    assert counts[Status.FAILED] == 8 * 20
    done = loaded.files(status=Status.DONE, limit=10)
    assert [f.key for f in done] == sorted(f.key for f in done)
    assert loaded.marked_backlog("trades", T0).count == 100


# -- reconnecting -------------------------------------------------------------------------------


def test_the_pool_reconnects_after_the_server_restarts(server: PostgresServer, url: str) -> None:
    opened = PostgresStatusStore(url, max_size=2)
    try:
        opened.register(BUCKET, [(ObjectInfo("ohlcv/a.csv", 1, "v1", T0), "ohlcv")], T0)
        server.restart()
        assert opened.counts()[Status.TODO] == 1
        opened.register(BUCKET, [(ObjectInfo("ohlcv/b.csv", 1, "v1", T0), "ohlcv")], T0)
        assert opened.counts()[Status.TODO] == 2
    finally:
        opened.close()


# -- the optional extra -------------------------------------------------------------------------


def test_without_the_postgres_extra_opening_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what `import psycopg` meets uninstalled

    with pytest.raises(MissingExtraError, match=r"pip install 'ingestflow\[postgres\]'"):
        PostgresStatusStore("postgresql://postgres@127.0.0.1:1/ledger")


def test_importing_the_adapter_does_not_import_psycopg() -> None:
    code = (
        "import sys, ingestflow, ingestflow.adapters.state.postgres;"
        " sys.exit('psycopg' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- the change stream under concurrent writers -------------------------------------------------


def test_a_reader_following_the_stream_during_concurrent_claims_misses_no_transition(
    url: str,
) -> None:
    """Transition ids become visible in id order (STREAM_LOCK): a reader that moves its
    checkpoint past what it saw never skips an id a slower transaction commits later."""
    # One workflow per writer: no counter row they share serializes them by chance.
    flows = [wf(f"flow{n}", batch_size=5, max_batch_files=5, max_wait=0.0) for n in range(4)]
    writers = [PostgresStatusStore(url) for _ in flows]
    reader = PostgresStatusStore(url)
    objects = [
        (ObjectInfo(f"{flow.prefix}{i:04}.csv", 1, "v1", T0 + i), flow.name)
        for flow in flows
        for i in range(100)
    ]
    writers[0].register(BUCKET, objects, T0)
    seen: list[int] = [t.id for t in reader.transitions_after(0, 10_000)]
    done = threading.Event()

    def work(n: int) -> None:
        store, flow = writers[n], flows[n]
        while (batch := store.claim(flow, T0 + 1000, "w:1")) is not None:
            outcomes = [FileOutcome.done(f.key, f.etag, "out", 1) for f in batch.files]
            store.finish(flow, batch.batch_id, outcomes, T0 + 1001)

    def follow() -> None:
        while True:
            finished = done.is_set()
            page = reader.transitions_after(seen[-1], 1000)
            seen.extend(t.id for t in page)
            if finished and not page:
                return

    try:
        following = threading.Thread(target=follow)
        following.start()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(work, range(len(flows))))
        done.set()
        following.join(timeout=60)
        everything = [t.id for t in reader.transitions_after(0, 10_000)]
        assert len(everything) == 400 * 3
        assert seen == everything
    finally:
        for store in (*writers, reader):
            store.close()
