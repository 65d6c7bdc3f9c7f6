"""What only the SQLite ledger promises (README, "Architecture"): WAL mode, indexed status/age
queries, and `workflow_metadata` rows. These tests read the SQLite file directly; the adapter
independent contract is in test_status_store_contract.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.domain.records import FileOutcome, ObjectInfo
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
