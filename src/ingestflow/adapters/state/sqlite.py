"""SqliteStatusStore: the embedded ledger.

One SQLite file in WAL mode shared safely by several processes on one machine. Every change runs
in a `BEGIN IMMEDIATE` transaction (one writer at a time), so a claim's read and its update are
atomic, and each status change inserts its row into `transitions` in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingestflow.adapters.state.sqlite_schema import DDL, RECORD_COLUMNS
from ingestflow.domain import keys
from ingestflow.domain.batching import Backlog, readiness, take_within_limits
from ingestflow.domain.errors import LedgerError
from ingestflow.domain.records import (
    Batch,
    FileOutcome,
    FileRecord,
    ObjectInfo,
    Transition,
    UnroutedFile,
)
from ingestflow.domain.status import Status, check_transition
from ingestflow.domain.workflow import Workflow

_SELECT = f"SELECT {RECORD_COLUMNS} FROM workflow_status"


def _record(row: sqlite3.Row | tuple[Any, ...]) -> FileRecord:
    values = list(row)
    values[7] = Status(values[7])
    return FileRecord(*values)


class SqliteStatusStore:
    """StatusStore on SQLite. Thread-safe within a process; process-safe through SQLite locks."""

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

    def __repr__(self) -> str:
        return f"SqliteStatusStore({self.path!r})"

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

    # -- writes ---------------------------------------------------------------------------

    def _change(
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

    def sync_workflows(self, workflows: Sequence[Workflow]) -> None:
        with self._tx() as db:
            for w in workflows:
                db.execute(
                    "INSERT OR REPLACE INTO workflow_metadata VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        w.name,
                        w.prefix,
                        w.transform,
                        w.batch_size,
                        w.max_wait,
                        w.max_batch_files,
                        w.max_batch_bytes,
                        w.max_attempts,
                        w.lease,
                        w.stale_after,
                        json.dumps(list(w.include)),
                        json.dumps(dict(w.options)),
                        time.time(),
                    ),
                )

    def register(
        self, bucket: str, files: Sequence[tuple[ObjectInfo, str]], now: float
    ) -> list[Transition]:
        out: list[Transition] = []
        with self._tx() as db:
            for obj, workflow in files:
                keys.validate_key(obj.key)
                row = db.execute(
                    f"{_SELECT} WHERE bucket = ? AND key = ?", (bucket, obj.key)
                ).fetchone()
                if row is None:
                    new = FileRecord(
                        bucket, obj.key, workflow, keys.parent_prefix(obj.key), obj.size,
                        obj.etag, obj.mtime, Status.TODO,
                    )  # fmt: skip
                    out.append(self._change(db, None, new, now, "registered", {"available_at": 0}))
                    continue
                old = _record(row)
                if old.etag == obj.etag:
                    continue
                if old.status in (Status.TODO, Status.PROCESSING):
                    # Same status: update in place; a PROCESSING file is re-queued at finish.
                    db.execute(
                        "UPDATE workflow_status SET size = ?, etag = ?, upload_time = ?,"
                        " workflow = ? WHERE bucket = ? AND key = ?",
                        (obj.size, obj.etag, obj.mtime, workflow, bucket, obj.key),
                    )
                    continue
                new = FileRecord(
                    bucket, obj.key, workflow, keys.parent_prefix(obj.key), obj.size, obj.etag,
                    obj.mtime, Status.TODO,
                )  # fmt: skip
                out.append(self._change(db, old, new, now, "re-uploaded", {"available_at": 0}))
        return out

    def claim(self, workflow: Workflow, now: float, owner: str) -> Batch | None:
        with self._tx() as db:
            rows = db.execute(
                f"{_SELECT} WHERE status = 'TODO' AND workflow = ? AND available_at <= ?"
                " ORDER BY upload_time, key LIMIT ?",
                (workflow.name, now, workflow.max_batch_files),
            ).fetchall()
            if not rows:
                return None
            records = [_record(r) for r in rows]
            backlog = Backlog(len(records), sum(r.size for r in records), records[0].upload_time)
            if readiness(workflow, backlog, now) is None:
                return None
            chosen = take_within_limits(
                ((r, r.size) for r in records), workflow.max_batch_files, workflow.max_batch_bytes
            )
            batch_id = uuid.uuid4().hex
            lease_until = now + workflow.lease
            claimed = []
            for old in chosen:
                new = replace(
                    old,
                    status=Status.PROCESSING,
                    attempts=old.attempts + 1,
                    batch_id=batch_id,
                    lease_until=lease_until,
                    start_time=now,
                    end_time=None,
                    error=None,
                )
                self._change(db, old, new, now, "claimed")
                claimed.append(new)
            db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, 'RUNNING')",
                (batch_id, workflow.name, owner, now, lease_until),
            )
        return Batch(batch_id, workflow.name, tuple(claimed), lease_until)

    def renew(self, batch_id: str, lease_until: float) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE workflow_status SET lease_until = ?"
                " WHERE batch_id = ? AND status = 'PROCESSING'",
                (lease_until, batch_id),
            )
            db.execute(
                "UPDATE batches SET lease_until = ? WHERE batch_id = ? AND state = 'RUNNING'",
                (lease_until, batch_id),
            )
            return cur.rowcount > 0

    def finish(
        self, workflow: Workflow, batch_id: str, outcomes: Sequence[FileOutcome], now: float
    ) -> list[Transition]:
        out: list[Transition] = []
        with self._tx() as db:
            for outcome in outcomes:
                row = db.execute(
                    f"{_SELECT} WHERE batch_id = ? AND key = ? AND status = 'PROCESSING'",
                    (batch_id, outcome.key),
                ).fetchone()
                if row is None:
                    continue  # lease lost: another worker owns the file now
                old = _record(row)
                if old.etag != outcome.etag:
                    new = replace(old, status=Status.TODO, attempts=0, batch_id=None,
                                   lease_until=None, error=None)  # fmt: skip
                    extra = {"available_at": 0}
                    out.append(self._change(db, old, new, now, "changed during processing", extra))
                elif outcome.ok:
                    new = replace(old, status=Status.DONE, lease_until=None, end_time=now,
                                   error=None, output=outcome.output)  # fmt: skip
                    out.append(self._change(db, old, new, now, "processed"))
                elif outcome.retryable and old.attempts < workflow.max_attempts:
                    delay = workflow.retry_backoff * 2 ** max(0, old.attempts - 1)
                    new = replace(old, status=Status.TODO, batch_id=None, lease_until=None,
                                   error=outcome.error)  # fmt: skip
                    extra = {"available_at": now + delay}
                    out.append(self._change(db, old, new, now, "retryable failure", extra))
                else:
                    new = replace(old, status=Status.FAILED, lease_until=None, end_time=now,
                                   error=outcome.error)  # fmt: skip
                    out.append(self._change(db, old, new, now, "failed"))
            self._close_batch_if_empty(db, batch_id, "FINISHED")
        return out

    def _close_batch_if_empty(self, db: sqlite3.Connection, batch_id: str, state: str) -> None:
        left = db.execute(
            "SELECT 1 FROM workflow_status WHERE batch_id = ? AND status = 'PROCESSING' LIMIT 1",
            (batch_id,),
        ).fetchone()
        if left is None:
            db.execute(
                "UPDATE batches SET state = ? WHERE batch_id = ? AND state = 'RUNNING'",
                (state, batch_id),
            )

    def release_batch(self, batch_id: str, now: float, reason: str) -> list[Transition]:
        out: list[Transition] = []
        with self._tx() as db:
            rows = db.execute(
                f"{_SELECT} WHERE batch_id = ? AND status = 'PROCESSING'", (batch_id,)
            ).fetchall()
            for old in map(_record, rows):
                new = replace(old, status=Status.TODO, attempts=max(0, old.attempts - 1),
                               batch_id=None, lease_until=None)  # fmt: skip
                out.append(self._change(db, old, new, now, reason, {"available_at": 0}))
            self._close_batch_if_empty(db, batch_id, "RELEASED")
        return out

    def reap(self, workflows: Sequence[Workflow], now: float) -> list[Transition]:
        limits = {w.name: w.max_attempts for w in workflows}
        out: list[Transition] = []
        with self._tx() as db:
            rows = db.execute(
                f"{_SELECT} WHERE status = 'PROCESSING' AND lease_until < ?", (now,)
            ).fetchall()
            batch_ids = set()
            for old in map(_record, rows):
                batch_ids.add(old.batch_id)
                if old.attempts >= limits.get(old.workflow, 3):
                    error = f"lease expired on attempt {old.attempts}; no attempts left"
                    new = replace(old, status=Status.FAILED, lease_until=None, end_time=now,
                                   error=error)  # fmt: skip
                    out.append(self._change(db, old, new, now, "lease expired"))
                else:
                    new = replace(old, status=Status.TODO, batch_id=None, lease_until=None,
                                   error=f"lease expired on attempt {old.attempts}")  # fmt: skip
                    extra = {"available_at": 0}
                    out.append(self._change(db, old, new, now, "lease expired", extra))
            for batch_id in batch_ids:
                self._close_batch_if_empty(db, str(batch_id), "EXPIRED")
        return out

    def retry(self, bucket: str, keys: Sequence[str] | None, now: float) -> list[Transition]:
        out: list[Transition] = []
        with self._tx() as db:
            if keys is None:
                rows = db.execute(
                    f"{_SELECT} WHERE status = 'FAILED' AND bucket = ?", (bucket,)
                ).fetchall()
            else:
                rows = []
                for key in keys:
                    row = db.execute(
                        f"{_SELECT} WHERE bucket = ? AND key = ? AND status = 'FAILED'",
                        (bucket, key),
                    ).fetchone()
                    if row is not None:
                        rows.append(row)
            for old in map(_record, rows):
                new = replace(old, status=Status.TODO, attempts=0, batch_id=None,
                               lease_until=None, start_time=None, end_time=None)  # fmt: skip
                out.append(self._change(db, old, new, now, "retry requested", {"available_at": 0}))
        return out

    def set_unrouted(self, files: Sequence[UnroutedFile]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM unrouted")
            db.executemany(
                "INSERT OR REPLACE INTO unrouted VALUES (?, ?, ?, ?)",
                [(f.key, f.size, f.seen_at, f.reason) for f in files],
            )

    # -- reads ----------------------------------------------------------------------------

    def active_batches(self) -> list[tuple[str, str, float]]:
        rows = self._read(
            "SELECT batch_id, owner, lease_until FROM batches WHERE state = 'RUNNING'"
        )
        return [(str(a), str(b), float(c)) for a, b, c in rows]

    def backlog(self, workflow: str, now: float) -> Backlog:
        (count, total, oldest), = self._read(
            "SELECT count(*), coalesce(sum(size), 0), min(upload_time) FROM workflow_status"
            " WHERE status = 'TODO' AND workflow = ? AND available_at <= ?",
            (workflow, now),
        )  # fmt: skip
        return Backlog(int(count), int(total), oldest)

    def get(self, bucket: str, key: str) -> FileRecord | None:
        rows = self._read(f"{_SELECT} WHERE bucket = ? AND key = ?", (bucket, key))
        return _record(rows[0]) if rows else None

    def files(
        self,
        status: Status | None = None,
        prefix: str | None = None,
        workflow: str | None = None,
        limit: int | None = None,
    ) -> list[FileRecord]:
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if prefix:
            where.append("substr(key, 1, ?) = ?")
            params += [len(prefix), prefix]
        if workflow:
            where.append("workflow = ?")
            params.append(workflow)
        sql = _SELECT + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY upload_time, key"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_record(r) for r in self._read(sql, params)]

    def counts(self) -> dict[Status, int]:
        found = dict(self._read("SELECT status, count(*) FROM workflow_status GROUP BY status"))
        return {s: int(found.get(s.value, 0)) for s in Status}

    def stale(self, workflows: Sequence[Workflow], now: float) -> list[FileRecord]:
        out: list[FileRecord] = []
        for w in workflows:
            rows = self._read(
                f"{_SELECT} WHERE status = 'TODO' AND workflow = ? AND upload_time <= ?"
                " ORDER BY upload_time",
                (w.name, now - w.stale_after),
            )
            out += map(_record, rows)
        return sorted(out, key=lambda r: r.upload_time)

    def history(self, bucket: str, key: str) -> list[Transition]:
        return self._transitions("WHERE bucket = ? AND key = ? ORDER BY id", (bucket, key))

    def transitions_after(self, checkpoint: int, limit: int = 1000) -> list[Transition]:
        return self._transitions("WHERE id > ? ORDER BY id LIMIT ?", (checkpoint, limit))

    def _transitions(self, where: str, params: Sequence[Any]) -> list[Transition]:
        rows = self._read(
            "SELECT id, bucket, key, workflow, from_status, to_status, at, reason, old_image,"
            f" new_image FROM transitions {where}",
            params,
        )
        return [
            Transition(
                id=r[0], bucket=r[1], key=r[2], workflow=r[3],
                old_status=Status(r[4]) if r[4] else None, new_status=Status(r[5]), at=r[6],
                reason=r[7], old=json.loads(r[8]) if r[8] else None, new=json.loads(r[9]),
            )  # fmt: skip
            for r in rows
        ]

    def unrouted(self) -> list[UnroutedFile]:
        rows = self._read("SELECT key, size, seen_at, reason FROM unrouted ORDER BY key")
        return [UnroutedFile(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
