"""Read side of the SQLite ledger: every query here uses an index (see sqlite_schema)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ingestflow.adapters.state.sqlite_db import SELECT, SqliteDb, to_record, to_transition
from ingestflow.domain.batching import Backlog
from ingestflow.domain.records import FileRecord, Transition, UnroutedFile
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow


class SqliteReads(SqliteDb):
    def active_batches(self) -> list[tuple[str, str, float]]:
        rows = self._read(
            "SELECT batch_id, owner, lease_until FROM batches WHERE state = 'RUNNING'"
        )
        return [(str(a), str(b), float(c)) for a, b, c in rows]

    def backlog(self, workflow: str, now: float) -> Backlog:
        counted = self._read(
            "SELECT files, bytes FROM status_counts WHERE workflow = ? AND status = 'TODO'",
            (workflow,),
        )
        count, total = counted[0] if counted else (0, 0)
        ((oldest,),) = self._read(
            "SELECT min(upload_time) FROM workflow_status INDEXED BY workflow_status_todo"
            " WHERE status = 'TODO' AND workflow = ?",
            (workflow,),
        )
        return Backlog(int(count), int(total), oldest)

    def get(self, bucket: str, key: str) -> FileRecord | None:
        rows = self._read(f"{SELECT} WHERE bucket = ? AND key = ?", (bucket, key))
        return to_record(rows[0]) if rows else None

    def files(
        self,
        status: Status | None = None,
        prefix: str | None = None,
        workflow: str | None = None,
        limit: int | None = None,
    ) -> list[FileRecord]:
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if prefix:
            # A range on `key` uses its index (a LIKE or substr would scan).
            where.append("key >= ? AND key < ?")
            params += [prefix, prefix + "\U0010ffff"]
        if workflow:
            where.append("workflow = ?")
            params.append(workflow)
        sql = SELECT + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY upload_time, key"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [to_record(r) for r in self._read(sql, params)]

    def counts(self) -> dict[Status, int]:
        found = dict(self._read("SELECT status, sum(files) FROM status_counts GROUP BY status"))
        return {s: int(found.get(s.value, 0)) for s in Status}

    def stale(
        self, workflows: Sequence[Workflow], now: float, limit: int = 1000
    ) -> list[FileRecord]:
        out: list[FileRecord] = []
        for w in workflows:
            rows = self._read(
                f"{SELECT} WHERE status = 'TODO' AND workflow = ? AND upload_time <= ?"
                " ORDER BY upload_time LIMIT ?",
                (w.name, now - w.stale_after, limit),
            )
            out += map(to_record, rows)
        return sorted(out, key=lambda r: r.upload_time)[:limit]

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
        return [to_transition(r) for r in rows]

    def unrouted(self) -> list[UnroutedFile]:
        rows = self._read("SELECT key, size, seen_at, reason FROM unrouted ORDER BY key")
        return [UnroutedFile(*r) for r in rows]
