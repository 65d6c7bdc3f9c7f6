"""Batches on the SQLite ledger: claim (with completeness markers), renew, finish, release and
reap. Each method is one write transaction; rows are plain tuples (see sqlite_rows)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from ingestflow.adapters.state.sqlite_bulk import transitions_sql
from ingestflow.adapters.state.sqlite_reads import SqliteReads
from ingestflow.adapters.state.sqlite_rows import (
    ATTEMPTS,
    BATCH_ID,
    END_TIME,
    ERROR,
    ETAG,
    KEY,
    LEASE_UNTIL,
    OUTPUT,
    SELECT_WITH_ID,
    SIZE,
    START_TIME,
    STATUS,
    UPLOAD_TIME,
    WORKFLOW,
    ChangeWriter,
    Row,
    to_record,
)
from ingestflow.adapters.state.sqlite_schema import FOLDER_INDEX
from ingestflow.domain.batching import Backlog, readiness, retry_delay, take_within_limits
from ingestflow.domain.records import Batch, FileOutcome, Finished, Transition
from ingestflow.domain.workflow import Workflow

_RUNNING = f"{SELECT_WITH_ID} INDEXED BY workflow_status_running"
_TODO = (
    f"{SELECT_WITH_ID} INDEXED BY workflow_status_todo WHERE status = 'TODO'"
    " AND workflow = ? AND available_at <= ? ORDER BY upload_time LIMIT ?"
)
# The marked folder holding the oldest eligible TODO file of a workflow: one index seek per
# marker (the markers of a workflow are few: one per complete folder in the landing store).
_MARKED_FOLDER = f"""
SELECT bucket, prefix FROM (
    SELECT m.bucket, m.prefix, (
        SELECT ws.upload_time FROM workflow_status AS ws INDEXED BY {FOLDER_INDEX}
        WHERE ws.status = 'TODO' AND ws.workflow = m.workflow AND ws.bucket = m.bucket
            AND ws.prefix = m.prefix AND ws.available_at <= ?
        ORDER BY ws.upload_time LIMIT 1
    ) AS oldest FROM markers AS m WHERE m.workflow = ?
) WHERE oldest IS NOT NULL ORDER BY oldest LIMIT 1
"""
_FOLDER_TODO = (
    f"{SELECT_WITH_ID} INDEXED BY {FOLDER_INDEX} WHERE status = 'TODO' AND workflow = ?"
    " AND bucket = ? AND prefix = ? AND available_at <= ? ORDER BY upload_time LIMIT ?"
)
# finish: above this many outcomes, the batch's rows are read as one index range.
_FEW = 32
# finish: the successful files of a batch in one statement (JSON pairs [row id, output]).
_DONE_UPDATE = (
    "UPDATE workflow_status SET status = 'DONE', lease_until = NULL, end_time = ?,"
    " error = NULL, output = json_extract(json_each.value, '$[1]') FROM json_each(?)"
    " WHERE workflow_status.id = json_extract(json_each.value, '$[0]')"
)
# Offset of the record inside a row selected with its id.
_R = 1
# The positions each kind of change may alter (ChangeWriter.update's `changed`).
_CLAIMED = (STATUS, ATTEMPTS, BATCH_ID, LEASE_UNTIL, START_TIME, END_TIME, ERROR)
_REQUEUED = (STATUS, ATTEMPTS, BATCH_ID, LEASE_UNTIL, ERROR)
_ENDED = (STATUS, LEASE_UNTIL, END_TIME, ERROR, OUTPUT)
# The transitions of a claim (rows `:ids`, a JSON array) and of a batch's successful files
# (`:pairs`, JSON [row id, output] pairs), written before their UPDATE (see sqlite_bulk).
_CLAIM_TRANSITIONS = transitions_sql(
    "PROCESSING",
    {
        STATUS: "'PROCESSING'",
        ATTEMPTS: "workflow_status.attempts + 1",
        BATCH_ID: ":batch",
        LEASE_UNTIL: ":lease",
        START_TIME: ":at",
        END_TIME: "NULL",
        ERROR: "NULL",
    },
    _CLAIMED,
    "FROM json_each(:ids) JOIN workflow_status ON workflow_status.id = json_each.value"
    " ORDER BY json_each.key",
)
_DONE_TRANSITIONS = transitions_sql(
    "DONE",
    {
        STATUS: "'DONE'",
        LEASE_UNTIL: "NULL",
        END_TIME: ":at",
        ERROR: "NULL",
        OUTPUT: "json_extract(json_each.value, '$[1]')",
    },
    _ENDED,
    "FROM json_each(:pairs) JOIN workflow_status"
    " ON workflow_status.id = json_extract(json_each.value, '$[0]') ORDER BY json_each.key",
)


def _backlog(rows: Sequence[Row]) -> Backlog:
    size = _R + SIZE
    oldest = rows[0][_R + UPLOAD_TIME] if rows else None
    return Backlog(len(rows), sum(r[size] for r in rows), oldest)


class SqliteBatches(SqliteReads):
    def _ready_rows(
        self, db: sqlite3.Connection, workflow: Workflow, now: float
    ) -> list[Row] | None:
        """The oldest-first candidates of a ready batch (rows with their id), or None."""
        name = workflow.name
        if workflow.ready_marker is not None:
            self._ensure_folder_index(db)
            folder = db.execute(_MARKED_FOLDER, (now, name)).fetchone()
            if folder is not None:
                rows = db.execute(
                    _FOLDER_TODO, (name, folder[0], folder[1], now, workflow.max_batch_files)
                ).fetchall()
                return rows if readiness(workflow, _backlog(rows), now, marked=True) else None
            if workflow.marker_required:
                return None
            limit = workflow.max_batch_files
        else:
            # Enough rows to decide readiness (batch_size) and to fill a batch (the caps).
            limit = max(workflow.max_batch_files, workflow.batch_size)
        rows = db.execute(_TODO, (name, now, limit)).fetchall()
        return rows if readiness(workflow, _backlog(rows), now) else None

    def claim(self, workflow: Workflow, now: float, owner: str) -> Batch | None:
        with self._tx() as db:
            rows = self._ready_rows(db, workflow, now)
            if not rows:
                return None
            chosen = take_within_limits(
                ((r, r[_R + SIZE]) for r in rows),
                workflow.max_batch_files,
                workflow.max_batch_bytes,
            )
            batch_id = uuid.uuid4().hex
            lease_until = now + workflow.lease
            writer = ChangeWriter(db, now)
            items = [
                (
                    row[0],
                    row[_R:],
                    (
                        *row[_R : _R + STATUS],
                        "PROCESSING",
                        row[_R + ATTEMPTS] + 1,
                        batch_id,
                        lease_until,
                        now,
                        None,
                        None,
                        row[_R + OUTPUT],
                    ),
                )
                for row in chosen
            ]
            ids = orjson.dumps([r[0] for r in chosen]).decode()
            params = {"ids": ids, "batch": batch_id, "lease": lease_until}
            writer.record_bulk(items, "claimed", _CLAIM_TRANSITIONS, params)
            db.execute(
                "UPDATE workflow_status SET status = 'PROCESSING', attempts = attempts + 1,"
                " batch_id = ?, lease_until = ?, start_time = ?, end_time = NULL, error = NULL"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (batch_id, lease_until, now, ids),
            )
            writer.flush(returning=False)
            db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, 'RUNNING')",
                (batch_id, workflow.name, owner, now, lease_until),
            )
        files = tuple(to_record(new) for _, _, new in items)
        return Batch(batch_id, workflow.name, files, lease_until)

    def renew(self, batch_id: str, lease_until: float) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE workflow_status INDEXED BY workflow_status_running SET lease_until = ?"
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
    ) -> Finished:
        first: dict[str, FileOutcome] = {}
        for outcome in outcomes:  # a repeated report must not change the file twice
            first.setdefault(outcome.key, outcome)
        kinds = {"done": 0, "failed": 0, "retried": 0, "requeued": 0, "ignored": 0}
        with self._tx() as db:
            if len(first) > _FEW:  # most of a batch: one range of the index, filtered here
                rows = db.execute(
                    f"{_RUNNING} WHERE batch_id = ? AND status = 'PROCESSING'", (batch_id,)
                ).fetchall()
            else:  # a file or a few (a running batch reports as files end): one seek each
                rows = db.execute(
                    f"{_RUNNING} WHERE batch_id = ? AND status = 'PROCESSING'"
                    " AND key IN (SELECT value FROM json_each(?))",
                    (batch_id, orjson.dumps(list(first)).decode()),
                ).fetchall()
            found = {r[_R + KEY]: r for r in rows}
            writer = ChangeWriter(db, now)
            done = []
            for key, outcome in first.items():
                row = found.get(key)
                if row is None:
                    kinds["ignored"] += 1  # lease lost: another worker owns the file now
                    continue
                if outcome.ok and row[_R + ETAG] == outcome.etag:  # the common case, in bulk
                    old = row[_R:]
                    new = (
                        *old[:STATUS],
                        "DONE",
                        *old[ATTEMPTS:LEASE_UNTIL],
                        None,
                        old[START_TIME],
                        now,
                        None,
                        outcome.output,
                    )
                    done.append((row[0], old, new))
                else:
                    kinds[self._record_outcome(writer, workflow, row, outcome, now)] += 1
            if done:
                pairs = orjson.dumps([(row_id, new[OUTPUT]) for row_id, _, new in done]).decode()
                writer.record_bulk(done, "processed", _DONE_TRANSITIONS, {"pairs": pairs})
                db.execute(_DONE_UPDATE, (now, pairs))
            writer.flush(returning=False)
            self._close_batch_if_empty(db, batch_id, "FINISHED")
        kinds["done"] += len(done)
        return Finished(**kinds)

    @staticmethod
    def _record_outcome(
        writer: ChangeWriter, workflow: Workflow, row: Row, outcome: FileOutcome, now: float
    ) -> str:
        """Write one outcome that is not a plain success; which kind of change it was."""
        old = row[_R:]
        head, attempts, start = old[:STATUS], old[ATTEMPTS], old[START_TIME]
        if old[ETAG] != outcome.etag:
            new = (*head, "TODO", 0, None, None, start, old[END_TIME], None, old[OUTPUT])
            writer.update(row[0], old, new, "changed during processing", 0.0, _REQUEUED)
            return "requeued"
        if outcome.retryable and attempts < workflow.max_attempts:
            # Capped: 2**attempts grows past any sensible (and any representable) delay.
            delay = retry_delay(workflow, attempts)
            end = old[END_TIME]
            new = (*head, "TODO", attempts, None, None, start, end, outcome.error, old[OUTPUT])
            writer.update(row[0], old, new, "retryable failure", now + delay, _REQUEUED)
            return "retried"
        batch = old[BATCH_ID]
        new = (*head, "FAILED", attempts, batch, None, start, now, outcome.error, old[OUTPUT])
        writer.update(row[0], old, new, "failed", changed=_ENDED)
        return "failed"

    def _close_batch_if_empty(self, db: sqlite3.Connection, batch_id: str, state: str) -> None:
        left = db.execute(
            "SELECT 1 FROM workflow_status INDEXED BY workflow_status_running"
            " WHERE batch_id = ? AND status = 'PROCESSING' LIMIT 1",
            (batch_id,),
        ).fetchone()
        if left is None:
            db.execute(
                "UPDATE batches SET state = ? WHERE batch_id = ? AND state = 'RUNNING'",
                (state, batch_id),
            )

    def release_batch(self, batch_id: str, now: float, reason: str) -> list[Transition]:
        with self._tx() as db:
            rows = db.execute(
                f"{_RUNNING} WHERE batch_id = ? AND status = 'PROCESSING'", (batch_id,)
            ).fetchall()
            writer = ChangeWriter(db, now)
            for row in rows:
                old = row[_R:]
                attempts = max(0, old[ATTEMPTS] - 1)
                new = (*old[:STATUS], "TODO", attempts, None, None, *old[START_TIME:])
                writer.update(row[0], old, new, reason, 0.0, _REQUEUED)
            out = writer.flush()
            self._close_batch_if_empty(db, batch_id, "RELEASED")
        return out

    def reap(
        self, workflows: Sequence[Workflow], now: float, dead_batches: Sequence[str] = ()
    ) -> list[Transition]:
        limits = {w.name: w.max_attempts for w in workflows}
        with self._tx() as db:
            rows = db.execute(
                f"{SELECT_WITH_ID} INDEXED BY workflow_status_processing"
                " WHERE status = 'PROCESSING' AND lease_until < ?",
                (now,),
            ).fetchall()
            for batch_id in dict.fromkeys(dead_batches):
                rows += db.execute(
                    f"{_RUNNING} WHERE batch_id = ? AND status = 'PROCESSING' AND lease_until >= ?",
                    (batch_id, now),
                ).fetchall()
            unique: dict[Any, Row] = {r[0]: r for r in rows}  # each file once
            writer = ChangeWriter(db, now)
            batch_ids = set()
            for row in unique.values():
                old = row[_R:]
                attempts = old[ATTEMPTS]
                batch_ids.add(old[BATCH_ID])
                head, tail = old[:STATUS], old[START_TIME]
                if attempts >= limits.get(old[WORKFLOW], 3):
                    error = f"lease expired on attempt {attempts}; no attempts left"
                    new = (*head, "FAILED", attempts, old[BATCH_ID], None, tail, now, error)
                    writer.update(row[0], old, (*new, old[OUTPUT]), "lease expired", changed=_ENDED)
                else:
                    error = f"lease expired on attempt {attempts}"
                    new = (*head, "TODO", attempts, None, None, tail, old[END_TIME], error)
                    writer.update(row[0], old, (*new, old[OUTPUT]), "lease expired", 0.0, _REQUEUED)
            out = writer.flush()
            for expired in batch_ids:
                self._close_batch_if_empty(db, str(expired), "EXPIRED")
        return out
