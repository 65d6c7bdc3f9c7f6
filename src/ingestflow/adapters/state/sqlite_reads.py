"""Read side of the SQLite ledger: every query here uses an index (see sqlite_schema)."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from itertools import islice
from typing import Any

from ingestflow.adapters.state.sqlite_db import SqliteDb
from ingestflow.adapters.state.sqlite_rows import SELECT, to_record, to_transition
from ingestflow.adapters.state.sqlite_schema import FOLDER_INDEX
from ingestflow.domain.batching import Backlog
from ingestflow.domain.records import FileRecord, Transition, UnroutedFile
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow

# The index giving one status's rows in upload order (TODO: per workflow).
_FILES_INDEX = {
    Status.TODO: "workflow_status_todo",
    Status.PROCESSING: "workflow_status_processing",  # few rows: bounded by running batches
    Status.DONE: "workflow_status_done",
    Status.FAILED: "workflow_status_failed",
}


def _order(record: FileRecord) -> tuple[float, str]:
    return (record.upload_time, record.key)


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

    def marked_backlog(self, workflow: str, now: float) -> Backlog:
        """The TODO files of `workflow` (including retries in their backoff) that lie in a
        folder whose completeness marker is present. One index range per marked folder."""
        if not self._has_markers_table():
            return Backlog(0, 0, None)
        ((count, total, oldest),) = self._read(
            "SELECT count(*), coalesce(sum(ws.size), 0), min(ws.upload_time) FROM markers m"
            f" JOIN workflow_status AS ws{self._hint(FOLDER_INDEX)}"
            " ON ws.status = 'TODO' AND ws.workflow = m.workflow AND ws.bucket = m.bucket"
            " AND ws.prefix = m.prefix WHERE m.workflow = ?",
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
        after: tuple[float, str] | None = None,
    ) -> list[FileRecord]:
        """One ordered index range per status (and per workflow for TODO, whose index is per
        workflow), each at most `limit` rows, merged; all read in one snapshot."""
        with self._snapshot():
            ranges = []
            for wanted in [status] if status is not None else list(Status):
                if wanted is Status.TODO and not workflow:
                    names = self._read(
                        "SELECT workflow FROM status_counts WHERE status = 'TODO' AND files > 0"
                    )
                    for (name,) in names:
                        ranges.append(self._files(wanted, prefix, str(name), limit, after))
                else:
                    ranges.append(self._files(wanted, prefix, workflow, limit, after))
        if len(ranges) == 1:
            return ranges[0]
        return list(islice(heapq.merge(*ranges, key=_order), limit))

    def _files(
        self,
        status: Status,
        prefix: str | None,
        workflow: str | None,
        limit: int | None,
        after: tuple[float, str] | None,
    ) -> list[FileRecord]:
        # A literal, not a parameter: SQLite uses a partial index only for a literal.
        where: list[str] = [f"status = '{status.value}'"]
        params: list[Any] = []
        if prefix:
            # A range on `key`, not a LIKE: '_' and '%' are literal in keys.
            where.append("key >= ? AND key < ?")
            params += [prefix, prefix + "\U0010ffff"]
        if workflow:
            where.append("workflow = ?")
            params.append(workflow)
        if after is not None:
            # The plain range lets every index on upload_time seek to the cursor.
            where.append("upload_time >= ? AND (upload_time, key) > (?, ?)")
            params += [float(after[0]), float(after[0]), after[1]]
        sql = f"{SELECT}{self._hint(_FILES_INDEX[status])} WHERE {' AND '.join(where)}"
        sql += " ORDER BY upload_time, key"
        if limit is not None:
            sql += f" LIMIT {max(0, int(limit))}"
        return [to_record(r) for r in self._read(sql, params)]

    def counts(self, workflow: str | None = None) -> dict[Status, int]:
        params: tuple[str, ...] = ()
        if workflow is None:
            query = "SELECT status, sum(files) FROM status_counts GROUP BY status"
        else:
            query = (
                "SELECT status, sum(files) FROM status_counts WHERE workflow = ? GROUP BY status"
            )
            params = (workflow,)
        found = dict(self._read(query, params))
        return {s: int(found.get(s.value, 0)) for s in Status}

    def stale(
        self, workflows: Sequence[Workflow], now: float, limit: int = 1000
    ) -> list[FileRecord]:
        out: list[FileRecord] = []
        for w in workflows:
            rows = self._read(
                f"{SELECT} INDEXED BY workflow_status_todo WHERE status = 'TODO'"
                " AND workflow = ? AND upload_time <= ? ORDER BY upload_time LIMIT ?",
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

    def unrouted(self, limit: int | None = None) -> list[UnroutedFile]:
        sql = "SELECT key, size, seen_at, reason FROM unrouted ORDER BY key"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [UnroutedFile(*r) for r in self._read(sql)]

    def count_unrouted(self) -> int:
        ((count,),) = self._read("SELECT count(*) FROM unrouted")
        return int(count)

    def markers(self, bucket: str) -> list[tuple[str, str]]:
        if not self._has_markers_table():
            return []
        rows = self._read(
            "SELECT workflow, prefix FROM markers WHERE bucket = ? ORDER BY workflow, prefix",
            (bucket,),
        )
        return [(str(w), str(p)) for w, p in rows]

    def _has_markers_table(self) -> bool:
        """False only on a read-only ledger from before markers (schema version 1)."""
        if not self.read_only:
            return True
        return bool(
            self._read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'markers'")
        )
