"""Batches on the PostgreSQL ledger: claim (with completeness markers), renew, finish, release
and reap. Each is one transaction; the rows it changes are locked first (`FOR UPDATE`, in key
order), so every change is conditional on the state it read.

A claim locks its files with `FOR UPDATE SKIP LOCKED` on the TODO index: claimers racing on
one workflow take different files and never wait for each other. Readiness is first decided
on a plain read, so a backlog that is not ready yet is never locked (locking writes every
row); the locked rows are checked again, since a rival may have taken part of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from ingestflow.adapters.state.postgres_reads import PostgresReads
from ingestflow.adapters.state.postgres_rows import (
    ATTEMPTS,
    BATCH_ID,
    END_TIME,
    ETAG,
    KEY,
    OUTPUT,
    SELECT_WITH_ID,
    START_TIME,
    STATUS,
    WORKFLOW,
    ChangeWriter,
    Row,
    to_record,
)
from ingestflow.domain.batching import Backlog, readiness, retry_delay, take_within_limits
from ingestflow.domain.records import Batch, FileOutcome, Finished, Transition
from ingestflow.domain.workflow import Workflow

# Candidates are (id, size, upload_time): all readiness and the caps need.
_CANDIDATES = "SELECT id, size, upload_time FROM workflow_status"
_TODO = (
    f"{_CANDIDATES} WHERE status = 'TODO' AND workflow = %s AND available_at <= %s"
    " ORDER BY upload_time, id LIMIT %s"
)
# The marked folder holding the oldest eligible TODO file of a workflow: one index probe per
# marker (a workflow's markers are few: one per complete folder in the landing store).
_MARKED_FOLDER = """
SELECT m.bucket, m.prefix FROM markers AS m CROSS JOIN LATERAL (
    SELECT ws.upload_time FROM workflow_status AS ws
    WHERE ws.status = 'TODO' AND ws.workflow = m.workflow AND ws.bucket = m.bucket
        AND ws.prefix = m.prefix AND ws.available_at <= %s
    ORDER BY ws.upload_time LIMIT 1
) AS oldest WHERE m.workflow = %s ORDER BY oldest.upload_time LIMIT 1
"""
_FOLDER_TODO = (
    f"{_CANDIDATES} WHERE status = 'TODO' AND workflow = %s AND bucket = %s AND prefix = %s"
    " AND available_at <= %s ORDER BY upload_time, id LIMIT %s"
)
_RUNNING = f"{SELECT_WITH_ID} WHERE batch_id = %s AND status = 'PROCESSING'"
_SKIP = " FOR UPDATE SKIP LOCKED"
# Files whose lease ended, found through the running batches whose lease ended (a file's lease
# is its batch's: claim and renew set both).
_EXPIRED = (
    f"{SELECT_WITH_ID} WHERE status = 'PROCESSING' AND lease_until < %s AND batch_id IN"
    " (SELECT batch_id FROM batches WHERE state = 'RUNNING' AND lease_until < %s) ORDER BY key"
)
# The candidates must come off the TODO indexes in order (they stop at LIMIT). Right after a
# big registration the statistics still count a few TODO rows, and the planner would rather
# read every TODO row of the workflow with a bitmap scan and sort them (40 ms at 100k).
_IN_ORDER = "SET LOCAL enable_bitmapscan = off"
_R = 1  # offset of the record in a row selected with its id


def _backlog(candidates: Sequence[Row]) -> Backlog:
    oldest = candidates[0][2] if candidates else None
    return Backlog(len(candidates), sum(r[1] for r in candidates), oldest)


class PostgresBatches(PostgresReads):
    @staticmethod
    def _ready_rows(cur: Any, workflow: Workflow, now: float, lock: bool) -> list[Row] | None:
        """The oldest-first candidates (id, size, upload_time) of a ready batch, or None;
        locked (skipping rows other transactions hold) when `lock`."""
        name, suffix = workflow.name, _SKIP if lock else ""
        cur.execute(_IN_ORDER)
        if workflow.ready_marker is not None:
            cur.execute(_MARKED_FOLDER, (now, name))
            folder = cur.fetchone()
            if folder is not None:
                params = (name, folder[0], folder[1], now, workflow.max_batch_files)
                cur.execute(_FOLDER_TODO + suffix, params)
                rows: list[Row] = cur.fetchall()
                return rows if rows and readiness(workflow, _backlog(rows), now, True) else None
            if workflow.marker_required:
                return None
            limit = workflow.max_batch_files
        else:
            # Enough rows to decide readiness (batch_size) and to fill a batch (the caps).
            limit = max(workflow.max_batch_files, workflow.batch_size)
        cur.execute(_TODO + suffix, (name, now, limit))
        rows = cur.fetchall()
        return rows if readiness(workflow, _backlog(rows), now) else None

    def claim(self, workflow: Workflow, now: float, owner: str) -> Batch | None:
        if workflow.ready_marker is not None:
            self._ensure_folder_index()
        with self._snapshot() as cur:
            if not self._ready_rows(cur, workflow, now, lock=False):
                return None
        with self._tx() as cur:
            rows = self._ready_rows(cur, workflow, now, lock=True)
            if not rows:
                return None
            chosen = take_within_limits(
                ((r[0], r[1]) for r in rows), workflow.max_batch_files, workflow.max_batch_bytes
            )
            batch_id = uuid.uuid4().hex
            lease_until = now + workflow.lease
            writer = ChangeWriter(cur, now, self._channel)
            files = writer.claim(chosen, batch_id, lease_until)
            writer.flush(returning=False)
            cur.execute(
                "INSERT INTO batches VALUES (%s, %s, %s, %s, %s, 'RUNNING')",
                (batch_id, workflow.name, owner, now, lease_until),
            )
        return Batch(batch_id, workflow.name, tuple(map(to_record, files)), lease_until)

    def renew(self, batch_id: str, lease_until: float) -> bool:
        with self._tx() as cur:
            cur.execute(
                "UPDATE workflow_status SET lease_until = %s"
                " WHERE batch_id = %s AND status = 'PROCESSING'",
                (lease_until, batch_id),
            )
            renewed = cur.rowcount > 0
            cur.execute(
                "UPDATE batches SET lease_until = %s WHERE batch_id = %s AND state = 'RUNNING'",
                (lease_until, batch_id),
            )
            return renewed

    def finish(
        self, workflow: Workflow, batch_id: str, outcomes: Sequence[FileOutcome], now: float
    ) -> Finished:
        first: dict[str, FileOutcome] = {}
        for outcome in outcomes:  # a repeated report must not change the file twice
            first.setdefault(outcome.key, outcome)
        kinds = {"done": 0, "failed": 0, "retried": 0, "requeued": 0, "ignored": 0}
        with self._tx() as cur:
            cur.execute(
                f"{_RUNNING} AND key = ANY(%s) ORDER BY key FOR UPDATE", (batch_id, list(first))
            )
            found = {r[_R + KEY]: r for r in cur.fetchall()}
            writer = ChangeWriter(cur, now, self._channel)
            for key, outcome in first.items():
                row = found.get(key)
                if row is None:
                    kinds["ignored"] += 1  # lease lost: another worker owns the file now
                    continue
                kinds[self._record_outcome(writer, workflow, row, outcome, now)] += 1
            writer.flush(returning=False)
            self._close_batch_if_empty(cur, batch_id, "FINISHED")
        return Finished(**kinds)

    @staticmethod
    def _record_outcome(
        writer: ChangeWriter, workflow: Workflow, row: Row, outcome: FileOutcome, now: float
    ) -> str:
        """Write one outcome; which kind of change it was."""
        old = row[_R:]
        head, attempts, start = old[:STATUS], old[ATTEMPTS], old[START_TIME]
        if old[ETAG] != outcome.etag:
            new = (*head, "TODO", 0, None, None, start, old[END_TIME], None, old[OUTPUT])
            writer.update(row[0], old, new, "changed during processing", 0.0)
            return "requeued"
        if outcome.ok:
            new = (*head, "DONE", attempts, old[BATCH_ID], None, start, now, None, outcome.output)
            writer.update(row[0], old, new, "processed")
            return "done"
        if outcome.retryable and attempts < workflow.max_attempts:
            delay = retry_delay(workflow, attempts)
            end = old[END_TIME]
            new = (*head, "TODO", attempts, None, None, start, end, outcome.error, old[OUTPUT])
            writer.update(row[0], old, new, "retryable failure", now + delay)
            return "retried"
        batch = old[BATCH_ID]
        new = (*head, "FAILED", attempts, batch, None, start, now, outcome.error, old[OUTPUT])
        writer.update(row[0], old, new, "failed")
        return "failed"

    @staticmethod
    def _close_batch_if_empty(cur: Any, batch_id: str, state: str) -> None:
        cur.execute(
            "UPDATE batches SET state = %s WHERE batch_id = %s AND state = 'RUNNING'"
            " AND NOT EXISTS (SELECT 1 FROM workflow_status WHERE batch_id = %s"
            " AND status = 'PROCESSING')",
            (state, batch_id, batch_id),
        )

    def release_batch(self, batch_id: str, now: float, reason: str) -> list[Transition]:
        with self._tx() as cur:
            cur.execute(f"{_RUNNING} ORDER BY key FOR UPDATE", (batch_id,))
            writer = ChangeWriter(cur, now, self._channel)
            for row in cur.fetchall():
                old = row[_R:]
                attempts = max(0, old[ATTEMPTS] - 1)
                new = (*old[:STATUS], "TODO", attempts, None, None, *old[START_TIME:])
                writer.update(row[0], old, new, reason, 0.0)
            out = writer.flush()
            self._close_batch_if_empty(cur, batch_id, "RELEASED")
        return out

    def reap(
        self, workflows: Sequence[Workflow], now: float, dead_batches: Sequence[str] = ()
    ) -> list[Transition]:
        limits = {w.name: w.max_attempts for w in workflows}
        with self._tx() as cur:
            # Rows another transaction holds are skipped: it is changing them right now.
            cur.execute(_EXPIRED + _SKIP, (now, now))
            rows = cur.fetchall()
            for batch_id in dict.fromkeys(dead_batches):
                cur.execute(f"{_RUNNING} ORDER BY key{_SKIP}", (batch_id,))
                rows += cur.fetchall()
            unique: dict[Any, Row] = {r[0]: r for r in rows}  # each file once
            writer = ChangeWriter(cur, now, self._channel)
            batch_ids = set()
            for row in unique.values():
                old = row[_R:]
                attempts = old[ATTEMPTS]
                batch_ids.add(old[BATCH_ID])
                head, start = old[:STATUS], old[START_TIME]
                if attempts >= limits.get(old[WORKFLOW], 3):
                    error = f"lease expired on attempt {attempts}; no attempts left"
                    new = (*head, "FAILED", attempts, old[BATCH_ID], None, start, now, error)
                    writer.update(row[0], old, (*new, old[OUTPUT]), "lease expired")
                else:
                    error = f"lease expired on attempt {attempts}"
                    new = (*head, "TODO", attempts, None, None, start, old[END_TIME], error)
                    writer.update(row[0], old, (*new, old[OUTPUT]), "lease expired", 0.0)
            out = writer.flush()
            for expired in sorted(batch_ids):
                self._close_batch_if_empty(cur, str(expired), "EXPIRED")
        return out
