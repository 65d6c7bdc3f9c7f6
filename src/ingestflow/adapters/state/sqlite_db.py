"""SqliteDb: connection, schema and transactions of the SQLite ledger. One SQLite file in WAL
mode is shared safely by several processes on one machine. Every change runs in a
`BEGIN IMMEDIATE` transaction (one writer at a time), so a claim's read and its update are
atomic, and each status change writes its `transitions` row in the same transaction.

A store opened `read_only` never writes: no schema, no checkpoints; its write methods raise
LedgerError. Every problem opening the file is one LedgerError line naming the path.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingestflow.adapters.state.sql_dialect import SQLITE
from ingestflow.adapters.state.sqlite_files import connect_read_only, open_problem, prepare_folder
from ingestflow.adapters.state.sqlite_schema import (
    CREATE_FOLDER_INDEX,
    DDL,
    FOLDER_INDEX,
    REBUILD_COUNTS,
    SCHEMA_VERSION,
)
from ingestflow.domain.errors import LedgerError


def _wal_mode(db: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch to WAL. Processes opening a new ledger at the same moment race for the switch,
    and SQLite answers the losers "database is locked" at once, without its busy handler:
    they retry until `busy_timeout`."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


class _Checkpointer(threading.Thread):
    """Copies the WAL back into the database (a PASSIVE checkpoint: never blocks readers or
    writers) once it grows past `wal_bytes`, so no claim or finish pays for a checkpoint."""

    def __init__(self, path: str, interval: float = 0.5, wal_bytes: int = 16 * 1024 * 1024):
        super().__init__(name="ledger-checkpoint", daemon=True)
        self._path, self._interval, self._wal_bytes = path, interval, wal_bytes
        self._stopped = threading.Event()

    def run(self) -> None:
        wal = Path(self._path + "-wal")
        con: sqlite3.Connection | None = None
        try:
            while not self._stopped.wait(self._interval):
                try:
                    if wal.stat().st_size < self._wal_bytes:
                        continue
                    if con is None:
                        con = sqlite3.connect(self._path, timeout=1, isolation_level=None)
                    con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except (OSError, sqlite3.Error):
                    continue  # retried on the next round; SQLite also checkpoints on close
        finally:
            if con is not None:
                con.close()

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=10)


class SqliteDb:
    """Thread-safe within a process (one lock); process-safe through SQLite's locks."""

    DIALECT = SQLITE  # for the parts written once for both SQL ledgers (sql_dialect)

    def __init__(
        self, path: str | Path, busy_timeout: float = 60.0, *, read_only: bool = False
    ) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._checkpointer: _Checkpointer | None = None
        if read_only:
            self._db = connect_read_only(self.path, busy_timeout)
        else:
            self._db = self._connect(busy_timeout)
        try:
            self._db.execute("PRAGMA cache_size=-65536")  # a 1M-row ledger's indexes
            self._db.execute("PRAGMA mmap_size=268435456")
            self._check_version(self._db)
            self._load_indexes()
        except sqlite3.Error as exc:
            self._db.close()
            raise LedgerError(open_problem(self.path, exc, read_only)) from None
        except LedgerError:
            self._db.close()
            raise
        if not read_only and self.path != ":memory:":
            self._checkpointer = _Checkpointer(self.path)
            self._checkpointer.start()

    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        if self.path != ":memory:":
            prepare_folder(self.path)
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            _wal_mode(db, busy_timeout)
            db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints run in a background thread, off the claim/finish path; this high
            # automatic threshold only bounds the WAL if that thread falls behind.
            db.execute("PRAGMA wal_autocheckpoint=50000")
            db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._create_schema(db)
        except sqlite3.Error as exc:
            if db is not None:
                db.close()
            raise LedgerError(open_problem(self.path, exc, False)) from None
        except BaseException:
            if db is not None:
                db.close()
            raise
        return db

    def _create_schema(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            self._check_version(db)
            for statement in DDL.split(";"):
                if statement.strip():
                    db.execute(statement)
            counted = db.execute("SELECT 1 FROM status_counts LIMIT 1").fetchone()
            if counted is None:
                db.execute(REBUILD_COUNTS)
            # Written on every open: a ledger SQLite could only open read-only fails here, at
            # once, rather than at the first change.
            db.execute(
                "INSERT OR REPLACE INTO ledger_info VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _check_version(self, db: sqlite3.Connection) -> None:
        stored = _stored_version(db)
        if stored > SCHEMA_VERSION:
            raise LedgerError(
                f"cannot open ledger {self.path}: it was written by a newer ingestflow"
                f" (schema version {stored}; this release knows up to {SCHEMA_VERSION})"
            )

    def has_schema(self) -> bool:
        """Whether the ledger's tables exist (a file being created by another process may
        not have them committed yet)."""
        return self._has_table("status_counts")

    def _has_table(self, name: str) -> bool:
        """Whether table `name` exists (a read-only ledger of an older release may lack it)."""
        found = self._read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return bool(found)

    def _table_ready(self, name: str) -> bool:
        return self._has_table(name)

    def _hint(self, index: str) -> str:
        """`INDEXED BY index` when the ledger has it (a read-only older ledger may not)."""
        return f" INDEXED BY {index}" if index in self._indexes else ""

    def _ensure_folder_index(self, db: sqlite3.Connection) -> None:
        """Create the per-folder TODO index (markers) once; the caller holds the transaction."""
        if FOLDER_INDEX not in self._indexes:
            db.execute(CREATE_FOLDER_INDEX)
            self._indexes.add(FOLDER_INDEX)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise LedgerError(f"cannot change ledger {self.path}: it is open read-only")
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger {self.path} is unavailable: {exc}") from exc
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlite3.Error):
                    raise LedgerError(f"cannot change ledger {self.path}: {exc}") from exc
                raise

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._load_indexes()  # a folder index created in the transaction is gone with it

    def _load_indexes(self) -> None:
        query = "SELECT name FROM sqlite_master WHERE type = 'index'"
        self._indexes = {str(name) for (name,) in self._db.execute(query)}

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Several reads that see one state of the ledger (a read transaction)."""
        with self._lock:
            if self._db.in_transaction:
                yield
                return
            try:
                self._db.execute("BEGIN")
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger query failed: {exc}") from exc
            try:
                yield
            finally:
                self._db.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger query failed: {exc}") from exc

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._lock:
            self._db.close()


def _stored_version(db: sqlite3.Connection) -> int:
    """The ledger's schema version (1: a ledger from before versions were recorded)."""
    has_info = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_info'"
    ).fetchone()
    if has_info is None:
        return 1
    row = db.execute("SELECT value FROM ledger_info WHERE name = 'schema_version'").fetchone()
    return int(row[0]) if row else 1
