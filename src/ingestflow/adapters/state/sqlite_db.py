"""SqliteDb: connection, schema, transactions and the record/transition plumbing of the
SQLite ledger. One SQLite file in WAL mode is shared safely by several processes on one machine.
Every change runs in a `BEGIN IMMEDIATE` transaction (one writer at a time), so a claim's read and
its update are atomic, and each status change writes its `transitions` row in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingestflow.adapters.state.sqlite_schema import DDL, RECORD_COLUMNS
from ingestflow.domain.errors import LedgerError
from ingestflow.domain.records import FileRecord, Transition
from ingestflow.domain.status import Status, check_transition

SELECT = f"SELECT {RECORD_COLUMNS} FROM workflow_status"


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
        old=json.loads(r[8]) if r[8] else None,
        new=json.loads(r[9]),
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
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._lock = threading.RLock()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open SQLite ledger {self.path}: {exc}") from exc
        self._create_schema()

    def _create_schema(self) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for statement in DDL.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
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

    def change(
        self,
        db: sqlite3.Connection,
        old: FileRecord | None,
        new: FileRecord,
        now: float,
        reason: str,
        extra: dict[str, Any] | None = None,
    ) -> Transition:
        """Write `new` over `old` and record the transition (caller holds the transaction)."""
        check_transition(old.status if old else None, new.status)
        fields = new.as_dict()
        fields.update(extra or {})
        names = list(fields)
        if old is None:
            db.execute(
                f"INSERT INTO workflow_status ({', '.join(names)}) "
                f"VALUES ({', '.join('?' for _ in names)})",
                [fields[n] for n in names],
            )
        else:
            sets = ", ".join(f"{n} = ?" for n in names if n not in ("bucket", "key"))
            values = [fields[n] for n in names if n not in ("bucket", "key")]
            db.execute(
                f"UPDATE workflow_status SET {sets} WHERE bucket = ? AND key = ?",
                [*values, new.bucket, new.key],
            )
        old_image = json.dumps(old.as_dict()) if old else None
        cur = db.execute(
            "INSERT INTO transitions (bucket, key, workflow, from_status, to_status, at, reason,"
            " old_image, new_image) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.bucket,
                new.key,
                new.workflow,
                old.status.value if old else None,
                new.status.value,
                now,
                reason,
                old_image,
                json.dumps(new.as_dict()),
            ),
        )
        return Transition(
            id=int(cur.lastrowid or 0),
            bucket=new.bucket,
            key=new.key,
            workflow=new.workflow,
            old_status=old.status if old else None,
            new_status=new.status,
            at=now,
            reason=reason,
            old=old.as_dict() if old else None,
            new=new.as_dict(),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
