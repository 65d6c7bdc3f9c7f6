"""SqliteStatusStore: the embedded ledger (StatusStore on SQLite), write side."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace

from ingestflow.adapters.state.sqlite_db import SELECT, Change, CounterDeltas, to_record
from ingestflow.adapters.state.sqlite_reads import SqliteReads
from ingestflow.domain import keys
from ingestflow.domain.batching import Backlog, readiness, take_within_limits
from ingestflow.domain.records import (
    Batch,
    FileOutcome,
    FileRecord,
    ObjectInfo,
    Transition,
    UnroutedFile,
)
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow


class SqliteStatusStore(SqliteReads):
    """StatusStore on SQLite; see SqliteDb for the transaction model."""

    def __repr__(self) -> str:
        return f"SqliteStatusStore({self.path!r})"

    def sync_workflows(self, workflows: Sequence[Workflow]) -> None:
        with self._tx() as db:
            for w in workflows:
                db.execute(
                    "INSERT OR REPLACE INTO workflow_metadata VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                        w.retry_backoff,
                        w.stale_after,
                        json.dumps(list(w.include)),
                        json.dumps(dict(w.options)),
                        time.time(),
                    ),
                )

    def register(
        self, bucket: str, files: Sequence[tuple[ObjectInfo, str]], now: float
    ) -> list[Transition]:
        for obj, _ in files:
            keys.validate_key(obj.key)
        out: list[Transition] = []
        with self._tx() as db:
            for start in range(0, len(files), 500):
                chunk = files[start : start + 500]
                out += self._register_chunk(db, bucket, chunk, now)
        return out

    def _register_chunk(
        self,
        db: sqlite3.Connection,
        bucket: str,
        files: Sequence[tuple[ObjectInfo, str]],
        now: float,
    ) -> list[Transition]:
        marks = ", ".join("?" for _ in files)
        rows = db.execute(
            f"{SELECT} WHERE bucket = ? AND key IN ({marks})", [bucket, *(o.key for o, _ in files)]
        ).fetchall()
        existing = {r[1]: to_record(r) for r in rows}
        changes: list[Change] = []
        in_place = CounterDeltas()
        seen: set[str] = set()
        for obj, workflow in files:
            if obj.key in seen:
                continue  # the same key twice in one call: the first one wins
            seen.add(obj.key)
            new = FileRecord(
                bucket,
                obj.key,
                workflow,
                keys.parent_prefix(obj.key),
                obj.size,
                obj.etag,
                obj.mtime,
                Status.TODO,
            )
            old = existing.get(obj.key)
            if old is None:
                changes.append(Change(None, new, "registered", {"available_at": 0}))
            elif old.etag == obj.etag:
                continue
            elif old.status in (Status.TODO, Status.PROCESSING):
                # Same status: update in place; a PROCESSING file is re-queued at finish.
                db.execute(
                    "UPDATE workflow_status SET size = ?, etag = ?, upload_time = ?,"
                    " workflow = ? WHERE bucket = ? AND key = ?",
                    (obj.size, obj.etag, obj.mtime, workflow, bucket, obj.key),
                )
                in_place.remove(old)
                in_place.add(replace(old, size=obj.size, workflow=workflow))
            else:
                changes.append(Change(old, new, "re-uploaded", {"available_at": 0}))
        in_place.write(db)
        return self.apply(db, changes, now)

    def claim(self, workflow: Workflow, now: float, owner: str) -> Batch | None:
        with self._tx() as db:
            # Enough rows to decide readiness (batch_size) and to fill a batch (the caps).
            rows = db.execute(
                f"{SELECT} INDEXED BY workflow_status_todo WHERE status = 'TODO'"
                " AND workflow = ? AND available_at <= ? ORDER BY upload_time LIMIT ?",
                (workflow.name, now, max(workflow.max_batch_files, workflow.batch_size)),
            ).fetchall()
            if not rows:
                return None
            records = [to_record(r) for r in rows]
            backlog = Backlog(len(records), sum(r.size for r in records), records[0].upload_time)
            if readiness(workflow, backlog, now) is None:
                return None
            chosen = take_within_limits(
                ((r, r.size) for r in records), workflow.max_batch_files, workflow.max_batch_bytes
            )
            batch_id = uuid.uuid4().hex
            lease_until = now + workflow.lease
            changes = []
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
                changes.append(Change(old, new, "claimed"))
            self.apply(db, changes, now)
            db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, 'RUNNING')",
                (batch_id, workflow.name, owner, now, lease_until),
            )
        return Batch(batch_id, workflow.name, tuple(c.new for c in changes), lease_until)

    def renew(self, batch_id: str, lease_until: float) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE workflow_status INDEXED BY workflow_status_batch_key SET lease_until = ?"
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
        changes: list[Change] = []
        with self._tx() as db:
            # One outcome per key: a repeated report must not change the file twice.
            for outcome in {o.key: o for o in reversed(outcomes)}.values():
                row = db.execute(
                    f"{SELECT} INDEXED BY workflow_status_batch_key"
                    " WHERE batch_id = ? AND key = ? AND status = 'PROCESSING'",
                    (batch_id, outcome.key),
                ).fetchone()
                if row is None:
                    continue  # lease lost: another worker owns the file now
                old = to_record(row)
                if old.etag != outcome.etag:
                    new = replace(
                        old,
                        status=Status.TODO,
                        attempts=0,
                        batch_id=None,
                        lease_until=None,
                        error=None,
                    )
                    extra = {"available_at": 0}
                    changes.append(Change(old, new, "changed during processing", extra))
                elif outcome.ok:
                    new = replace(
                        old,
                        status=Status.DONE,
                        lease_until=None,
                        end_time=now,
                        error=None,
                        output=outcome.output,
                    )
                    changes.append(Change(old, new, "processed"))
                elif outcome.retryable and old.attempts < workflow.max_attempts:
                    delay = workflow.retry_backoff * 2 ** max(0, old.attempts - 1)
                    new = replace(
                        old,
                        status=Status.TODO,
                        batch_id=None,
                        lease_until=None,
                        error=outcome.error,
                    )
                    extra = {"available_at": now + delay}
                    changes.append(Change(old, new, "retryable failure", extra))
                else:
                    new = replace(
                        old,
                        status=Status.FAILED,
                        lease_until=None,
                        end_time=now,
                        error=outcome.error,
                    )
                    changes.append(Change(old, new, "failed"))
            out = self.apply(db, changes, now)
            self._close_batch_if_empty(db, batch_id, "FINISHED")
        return out

    def _close_batch_if_empty(self, db: sqlite3.Connection, batch_id: str, state: str) -> None:
        left = db.execute(
            "SELECT 1 FROM workflow_status INDEXED BY workflow_status_batch_key"
            " WHERE batch_id = ? AND status = 'PROCESSING' LIMIT 1",
            (batch_id,),
        ).fetchone()
        if left is None:
            db.execute(
                "UPDATE batches SET state = ? WHERE batch_id = ? AND state = 'RUNNING'",
                (state, batch_id),
            )

    def release_batch(self, batch_id: str, now: float, reason: str) -> list[Transition]:
        changes: list[Change] = []
        with self._tx() as db:
            rows = db.execute(
                f"{SELECT} INDEXED BY workflow_status_batch_key"
                " WHERE batch_id = ? AND status = 'PROCESSING'",
                (batch_id,),
            ).fetchall()
            for old in map(to_record, rows):
                new = replace(
                    old,
                    status=Status.TODO,
                    attempts=max(0, old.attempts - 1),
                    batch_id=None,
                    lease_until=None,
                )
                changes.append(Change(old, new, reason, {"available_at": 0}))
            out = self.apply(db, changes, now)
            self._close_batch_if_empty(db, batch_id, "RELEASED")
        return out

    def reap(
        self, workflows: Sequence[Workflow], now: float, dead_batches: Sequence[str] = ()
    ) -> list[Transition]:
        limits = {w.name: w.max_attempts for w in workflows}
        changes: list[Change] = []
        with self._tx() as db:
            rows = db.execute(
                f"{SELECT} INDEXED BY workflow_status_processing"
                " WHERE status = 'PROCESSING' AND lease_until < ?",
                (now,),
            ).fetchall()
            for batch_id in dict.fromkeys(dead_batches):
                rows += db.execute(
                    f"{SELECT} INDEXED BY workflow_status_batch_key"
                    " WHERE batch_id = ? AND status = 'PROCESSING' AND lease_until >= ?",
                    (batch_id, now),
                ).fetchall()
            rows = list({(r[0], r[1]): r for r in rows}.values())  # each file once
            batch_ids = set()
            for old in map(to_record, rows):
                batch_ids.add(old.batch_id)
                if old.attempts >= limits.get(old.workflow, 3):
                    error = f"lease expired on attempt {old.attempts}; no attempts left"
                    new = replace(
                        old, status=Status.FAILED, lease_until=None, end_time=now, error=error
                    )
                    changes.append(Change(old, new, "lease expired"))
                else:
                    new = replace(
                        old,
                        status=Status.TODO,
                        batch_id=None,
                        lease_until=None,
                        error=f"lease expired on attempt {old.attempts}",
                    )
                    extra = {"available_at": 0}
                    changes.append(Change(old, new, "lease expired", extra))
            out = self.apply(db, changes, now)
            for expired in batch_ids:
                self._close_batch_if_empty(db, str(expired), "EXPIRED")
        return out

    def retry(self, bucket: str, keys: Sequence[str] | None, now: float) -> list[Transition]:
        changes: list[Change] = []
        with self._tx() as db:
            if keys is None:
                rows = db.execute(
                    f"{SELECT} WHERE status = 'FAILED' AND bucket = ?", (bucket,)
                ).fetchall()
            else:
                rows = []
                for key in dict.fromkeys(keys):
                    row = db.execute(
                        f"{SELECT} WHERE bucket = ? AND key = ? AND status = 'FAILED'",
                        (bucket, key),
                    ).fetchone()
                    if row is not None:
                        rows.append(row)
            for old in map(to_record, rows):
                new = replace(
                    old,
                    status=Status.TODO,
                    attempts=0,
                    batch_id=None,
                    lease_until=None,
                    start_time=None,
                    end_time=None,
                    error=None,
                )
                changes.append(Change(old, new, "retry requested", {"available_at": 0}))
            return self.apply(db, changes, now)

    def set_unrouted(self, files: Sequence[UnroutedFile]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM unrouted")
            db.executemany(
                "INSERT OR REPLACE INTO unrouted VALUES (?, ?, ?, ?)",
                [(f.key, f.size, f.seen_at, f.reason) for f in files],
            )
