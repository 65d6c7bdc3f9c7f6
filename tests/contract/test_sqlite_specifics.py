"""What only the SQLite ledger promises (README, "Architecture"): WAL mode, indexed status/age
queries, and `workflow_metadata` rows. These tests read the SQLite file directly; the adapter
independent contract is in test_status_store_contract.py."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.domain.errors import LedgerError
from ingestflow.domain.records import FileOutcome, Finished, ObjectInfo
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow

T0 = 1_700_000_000.0
W = Workflow(name="ohlcv", prefix="ohlcv/", batch_size=2, max_batch_files=2, lease=10)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteStatusStore]:
    store = SqliteStatusStore(path)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection on the ledger file, next to the store's own."""
    with closing(sqlite3.connect(path)) as db:
        yield db


@contextmanager
def traced(store: SqliteStatusStore) -> Iterator[list[str]]:
    """Every SQL statement the store runs meanwhile, with its parameters bound."""
    statements: list[str] = []
    connection: sqlite3.Connection = store._db  # the adapter's own connection
    connection.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        connection.set_trace_callback(None)


def test_the_ledger_file_is_in_wal_mode(store: SqliteStatusStore, path: Path) -> None:
    with raw(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_todo_and_processing_queries_use_an_index(store: SqliteStatusStore, path: Path) -> None:
    files = [ObjectInfo(f"ohlcv/{i:03}.csv", 10, "v1", T0 + i) for i in range(50)]
    store.register("landing", [(f, W.name) for f in files], T0)

    with traced(store) as statements:
        store.backlog(W.name, T0)
        store.stale([W], T0 + 10**6)
        batch = store.claim(W, T0, "host:1")
        assert batch is not None
        store.renew(batch.batch_id, T0 + 20)
        first = batch.files[0]
        store.finish(W, batch.batch_id, [FileOutcome.done(first.key, first.etag, "o", 1)], T0)
        store.reap([W], T0 + 100)

    by_status = [
        s for s in statements if "workflow_status" in s and ("'TODO'" in s or "'PROCESSING'" in s)
    ]
    assert any("'TODO'" in s for s in by_status), statements
    assert any("'PROCESSING'" in s for s in by_status), statements
    with raw(path) as db:
        for sql in by_status:
            plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
            scans = [p for p in plan if "workflow_status" in p and "USING" not in p]
            assert scans == [], f"full table scan in {sql!r}: {plan}"


def test_syncing_workflows_writes_one_metadata_row_per_workflow(
    store: SqliteStatusStore, path: Path
) -> None:
    trades = Workflow(name="trades", prefix="trades/")

    store.sync_workflows([W, trades])
    store.sync_workflows([W, trades])
    store.sync_workflows([Workflow(name="ohlcv", prefix="ohlcv/", batch_size=50), trades])

    with raw(path) as db:
        rows = db.execute(
            "SELECT name, prefix, batch_size FROM workflow_metadata ORDER BY name"
        ).fetchall()
    assert rows == [("ohlcv", "ohlcv/", 50), ("trades", "trades/", trades.batch_size)]


# -- reads use indexes ----------------------------------------------------------------------------


def _plan_scans(path: Path, sql: str) -> list[str]:
    with raw(path) as db:
        plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
    return [p for p in plan if p.startswith("SCAN") and "USING" not in p and "json_each" not in p]


def test_every_ledger_read_and_claim_query_uses_an_index(
    store: SqliteStatusStore, path: Path
) -> None:
    marked = Workflow(name="m", prefix="m/", batch_size=2, ready_marker="_SUCCESS")
    files = [ObjectInfo(f"ohlcv/{i:03}.csv", 10, "v1", T0 + i) for i in range(20)]
    store.register("landing", [(f, W.name) for f in files], T0)
    store.register("landing", [(ObjectInfo("m/d/a.csv", 1, "v1", T0), marked.name)], T0)
    store.set_markers("landing", [(marked.name, "m/d/")])
    batch = store.claim(W, T0, "host:1")
    assert batch is not None
    first, second = batch.files
    done = FileOutcome.done(first.key, first.etag, "o", 1)
    failed = FileOutcome.failed(second.key, second.etag, "bad", retryable=False)
    store.claim(W, T0, "host:1")

    with traced(store) as statements:
        store.finish(W, batch.batch_id, [done, failed], T0)
        for status in (None, *Status):
            for cursor in (None, (T0 + 3, "ohlcv/003.csv")):
                store.files(status=status, limit=5, after=cursor)
                store.files(status=status, prefix="ohlcv/", workflow=W.name, after=cursor)
        store.marked_backlog(marked.name, T0)
        store.claim(marked, T0, "host:1")
        store.retry("landing", None, T0)
        store.retry("landing", [second.key], T0)
        store.history("landing", first.key)

    queries = [s for s in statements if "workflow_status" in s and not s.startswith("INSERT")]
    assert len(queries) > 20, statements
    for sql in queries:
        assert _plan_scans(path, sql) == [], f"full table scan in {sql!r}"


# -- schema versions ------------------------------------------------------------------------------

V1_DUMP = Path(__file__).with_name("ledger_v1.sql")


@pytest.fixture
def v1_path(tmp_path: Path) -> Path:
    """A ledger as the first release wrote it (see ledger_v1.sql)."""
    path = tmp_path / "v1.db"
    with closing(sqlite3.connect(path)) as db:
        db.executescript(V1_DUMP.read_text())
        db.execute("PRAGMA journal_mode=WAL")
    return path


def _stored_transitions(path: Path) -> list[tuple[Any, ...]]:
    with raw(path) as db:
        rows = db.execute(
            "SELECT id, key, from_status, to_status, old_image, new_image FROM transitions"
            " ORDER BY id"
        ).fetchall()
    return [(i, k, f, t, json.loads(o) if o else None, json.loads(n)) for i, k, f, t, o, n in rows]


def test_a_first_release_ledger_opens_upgraded_with_its_history_intact(v1_path: Path) -> None:
    before = _stored_transitions(v1_path)
    assert len(before) == 11 and all(isinstance(n, dict) for *_, n in before)

    store = SqliteStatusStore(v1_path)
    try:
        read = store.transitions_after(0)
        assert [(t.id, t.key, t.old_status, t.new_status, t.old, t.new) for t in read] == before
        assert store.counts() == {
            Status.TODO: 1,
            Status.PROCESSING: 2,
            Status.DONE: 1,
            Status.FAILED: 1,
        }
        store.set_markers("landing", [("ohlcv", "ohlcv/2024/")])
        ((batch_id, _, _),) = store.active_batches()
        running = store.files(status=Status.PROCESSING)
        outcomes = [FileOutcome.done(r.key, r.etag, "o", 1) for r in running]
        finished = store.finish(W, batch_id, outcomes, T0 + 40)
        assert (finished.done, finished.ignored) == (len(running), 0)
        for record in running:  # old and new image formats chain without a seam
            history = store.history("landing", record.key)
            assert [t.new_status for t in history] == [Status.TODO, Status.PROCESSING, Status.DONE]
            assert (history[-1].at, history[-1].new["output"]) == (T0 + 40, "o")
            assert history[-1].old == history[-2].new
    finally:
        store.close()
    with raw(v1_path) as db:
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        version = db.execute("SELECT value FROM ledger_info WHERE name = 'schema_version'")
        assert version.fetchone() == ("3",)
    assert "markers" in indexes and "workflow_status_done" in indexes
    assert {"metric_sinks", "metric_totals", "transitions_ended"} <= indexes
    assert "workflow_status_by_status" not in indexes
    assert "workflow_status_batch_key" not in indexes


def test_a_first_release_ledger_is_readable_read_only_without_being_upgraded(
    v1_path: Path,
) -> None:
    store = SqliteStatusStore(v1_path, read_only=True)
    try:
        assert [r.key for r in store.files(limit=2)] == ["ohlcv/2024/a.csv", "ohlcv/2024/b.csv"]
        assert len(store.files(status=Status.PROCESSING, after=(T0, ""))) == 2
        assert store.markers("landing") == []
        assert len(store.history("landing", "ohlcv/2024/a.csv")) == 3
    finally:
        store.close()
    with raw(v1_path) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'markers'").fetchall() == []


def test_a_ledger_from_a_newer_release_is_refused_with_one_line(path: Path) -> None:
    SqliteStatusStore(path).close()
    with raw(path) as db:
        db.execute("UPDATE ledger_info SET value = '99' WHERE name = 'schema_version'")
        db.commit()

    for read_only in (False, True):
        with pytest.raises(LedgerError) as caught:
            SqliteStatusStore(path, read_only=read_only)
        message = str(caught.value)
        assert str(path) in message and "newer" in message and "\n" not in message


# -- write paths ----------------------------------------------------------------------------------


def test_setting_the_same_markers_again_writes_nothing(store: SqliteStatusStore) -> None:
    store.set_markers("landing", [("ohlcv", "ohlcv/a/")])

    with traced(store) as statements:
        store.set_markers("landing", [("ohlcv", "ohlcv/a/")])

    assert not [s for s in statements if s.startswith(("BEGIN", "INSERT", "DELETE"))]


def test_a_transition_stores_the_new_image_compactly_and_only_what_the_change_touched(
    store: SqliteStatusStore, path: Path
) -> None:
    store.register("landing", [(ObjectInfo("ohlcv/a.csv", 10, "v1", T0), W.name)], T0)
    store.register("landing", [(ObjectInfo("ohlcv/b.csv", 10, "v1", T0), W.name)], T0)
    batch = store.claim(W, T0, "host:1")
    assert batch is not None

    with raw(path) as db:
        query = "SELECT old_image, new_image FROM transitions ORDER BY id DESC"
        old, new = db.execute(query).fetchone()
    assert json.loads(new)[0] == "ohlcv/"  # values in field order, from `prefix` on
    assert set(json.loads(old)) <= {
        "status",
        "attempts",
        "batch_id",
        "lease_until",
        "start_time",
        "end_time",
        "error",
    }
    (claimed,) = [t for t in store.history("landing", "ohlcv/b.csv") if t.old is not None]
    assert claimed.old == store.history("landing", "ohlcv/b.csv")[0].new
    assert claimed.new["batch_id"] == batch.batch_id and claimed.old["batch_id"] is None


AWKWARD = ["plain", 'quote " and \\ backslash', "tab\tnew\nline \x01 \u2028 é 字", "{[,]}:"]


def test_images_written_in_bulk_read_back_as_exactly_the_records_values(
    store: SqliteStatusStore,
) -> None:
    """Claims and successful finishes build their transitions' images in SQL (sqlite_bulk):
    texts, integers and doubles (not round in 15 digits) must come back unchanged."""
    w = Workflow(name="ohlcv", prefix="ohlcv/", batch_size=4, max_batch_files=4, lease=10.1)
    odd = T0 + 0.123456789012345  # needs 17 significant digits
    files = [
        ObjectInfo(f'ohlcv/{i} " é 字.csv', 10**6 + i, text, odd + i / 3)
        for i, text in enumerate(AWKWARD)
    ]
    store.register("landing", [(f, w.name) for f in files], odd)
    batch = store.claim(w, odd + 5 / 7 + 1, "host:1")
    assert batch is not None and len(batch.files) == 4
    claimed = {r.key: r for r in batch.files}
    outcomes = [
        FileOutcome.done(r.key, r.etag, f"out/{AWKWARD[i % 4]}", 5)
        for i, r in enumerate(batch.files)
    ]
    returned = store.finish(w, batch.batch_id, outcomes, odd + 9 / 7)

    for f in files:
        registered, claim, done = store.history("landing", f.key)
        assert claim.old == registered.new
        assert claim.new == claimed[f.key].as_dict()
        assert done.old == claim.new
        final = store.get("landing", f.key)
        assert final is not None and done.new == final.as_dict()
        assert type(done.new["upload_time"]) is float and done.new["upload_time"] == f.mtime
        assert done.new["etag"] == f.etag
    assert returned == Finished(done=4)
