"""SqliteDb: connection, schema, transactions and the record/transition plumbing of the
SQLite ledger. One SQLite file in WAL mode is shared safely by several processes on one machine.
Every change runs in a `BEGIN IMMEDIATE` transaction (one writer at a time), so a claim's read and
its update are atomic, and each status change writes its `transitions` row in the same transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ingestflow.adapters.state.sqlite_schema import DDL, REBUILD_COUNTS, RECORD_COLUMNS
from ingestflow.domain.errors import LedgerError
from ingestflow.domain.records import FileRecord, Transition
from ingestflow.domain.status import Status, check_transition

SELECT = f"SELECT {RECORD_COLUMNS} FROM workflow_status"


@dataclass(frozen=True, slots=True)
class Change:
    """One status change to write: `old` is None for a new record; `extra` sets ledger-only
    columns such as `available_at`."""

    old: FileRecord | None
    new: FileRecord
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)


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


class CounterDeltas:
    """Accumulated changes to `status_counts` (files and bytes per workflow and status), so
    counts and backlog sizes are O(1) reads at any ledger size."""

    def __init__(self) -> None:
        self._deltas: dict[tuple[str, str], list[int]] = {}

    def add(self, record: FileRecord, sign: int = 1) -> None:
        delta = self._deltas.setdefault((record.workflow, record.status.value), [0, 0])
        delta[0] += sign
        delta[1] += sign * record.size

    def remove(self, record: FileRecord) -> None:
        self.add(record, -1)

    def write(self, db: sqlite3.Connection) -> None:
        db.executemany(
            "INSERT INTO status_counts (workflow, status, files, bytes) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (workflow, status) DO UPDATE SET files = files + excluded.files,"
            " bytes = bytes + excluded.bytes",
            [(w, s, n, b) for (w, s), (n, b) in self._deltas.items() if n or b],
        )


def _json(image: dict[str, Any]) -> str:
    # orjson: transition images are the hot path of register/claim/finish.
    return orjson.dumps(image).decode()


def to_record(row: tuple[Any, ...]) -> FileRecord:
    values = list(row)
    values[7] = Status(values[7])
    return FileRecord(*values)


def to_transition(r: tuple[Any, ...]) -> Transition:
    return Transition(
        id=r[0],
        bucket=r[1],
        key=r[2],
        workflow=r[3],
        old_status=Status(r[4]) if r[4] else None,
        new_status=Status(r[5]),
        at=r[6],
        reason=r[7],
        old=orjson.loads(r[8]) if r[8] else None,
        new=orjson.loads(r[9]),
    )


class SqliteDb:
    """Thread-safe within a process (one lock); process-safe through SQLite's locks."""

    def __init__(self, path: str | Path, busy_timeout: float = 60.0) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints run in a background thread (below), off the claim/finish path; this
            # high automatic threshold only bounds the WAL if that thread falls behind.
            self._db.execute("PRAGMA wal_autocheckpoint=50000")
            # A 1M-row ledger's indexes do not fit SQLite's default 2 MB page cache.
            self._db.execute("PRAGMA cache_size=-65536")
            self._db.execute("PRAGMA mmap_size=268435456")
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._lock = threading.RLock()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open SQLite ledger {self.path}: {exc}") from exc
        self._create_schema()
        self._checkpointer: _Checkpointer | None = None
        if self.path != ":memory:":
            self._checkpointer = _Checkpointer(self.path)
            self._checkpointer.start()

    def _create_schema(self) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for statement in DDL.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                counted = self._db.execute("SELECT 1 FROM status_counts LIMIT 1").fetchone()
                if counted is None:
                    self._db.execute(REBUILD_COUNTS)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise LedgerError(f"cannot create ledger schema in {self.path}: {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger {self.path} is unavailable: {exc}") from exc
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._db.execute("ROLLBACK")
                    raise LedgerError(f"ledger commit failed: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger query failed: {exc}") from exc

    def apply(
        self, db: sqlite3.Connection, changes: Sequence[Change], now: float
    ) -> list[Transition]:
        """Write each `new` over its `old`, record one transition per change, and keep the
        per-(workflow, status) counters in step. The caller holds the write transaction, so
        the transition ids are consecutive after the table's current sequence."""
        if not changes:
            return []
        inserts: dict[tuple[str, ...], list[list[Any]]] = {}
        updates: dict[tuple[str, ...], list[list[Any]]] = {}
        counters = CounterDeltas()
        rows = []
        for c in changes:
            check_transition(c.old.status if c.old else None, c.new.status)
            new_image = c.new.as_dict()
            fields = {**new_image, **c.extra}
            names = tuple(fields)
            if c.old is None:
                inserts.setdefault(names, []).append([fields[n] for n in names])
            else:
                counters.remove(c.old)
                updates.setdefault(names, []).append(
                    [*(fields[n] for n in names[2:]), c.new.bucket, c.new.key]
                )
            counters.add(c.new)
            old_image = c.old.as_dict() if c.old else None
            rows.append((c, old_image, new_image))
        for names, values in inserts.items():
            db.executemany(
                f"INSERT INTO workflow_status ({', '.join(names)}) "
                f"VALUES ({', '.join('?' for _ in names)})",
                values,
            )
        for names, values in updates.items():
            sets = ", ".join(f"{n} = ?" for n in names[2:])  # bucket and key come first
            db.executemany(
                f"UPDATE workflow_status SET {sets} WHERE bucket = ? AND key = ?", values
            )
        counters.write(db)
        seq_row = db.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'transitions'"
        ).fetchone()
        first_id = (seq_row[0] if seq_row else 0) + 1
        db.executemany(
            "INSERT INTO transitions (bucket, key, workflow, from_status, to_status, at, reason,"
            " old_image, new_image) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    c.new.bucket,
                    c.new.key,
                    c.new.workflow,
                    c.old.status.value if c.old else None,
                    c.new.status.value,
                    now,
                    c.reason,
                    _json(old_image) if old_image else None,
                    _json(new_image),
                )
                for c, old_image, new_image in rows
            ],
        )
        return [
            Transition(
                id=first_id + i,
                bucket=c.new.bucket,
                key=c.new.key,
                workflow=c.new.workflow,
                old_status=c.old.status if c.old else None,
                new_status=c.new.status,
                at=now,
                reason=c.reason,
                old=old_image,
                new=new_image,
            )
            for i, (c, old_image, new_image) in enumerate(rows)
        ]

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._lock:
            self._db.close()
