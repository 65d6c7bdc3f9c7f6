"""Read side of the PostgreSQL ledger: every query is an index range (see postgres_schema)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ingestflow.adapters.state.postgres_db import PostgresDb
from ingestflow.adapters.state.postgres_rows import (
    SELECT,
    TRANSITION_COLUMNS,
    to_record,
    to_transition,
)
from ingestflow.domain.batching import Backlog
from ingestflow.domain.records import FileRecord, Transition, UnroutedFile
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow

_TOP = "\U0010ffff"  # above every character: `key < prefix || _TOP` ends a prefix range


class PostgresReads(PostgresDb):
    def active_batches(self) -> list[tuple[str, str, float]]:
        rows = self._read(
            "SELECT batch_id, owner, lease_until FROM batches WHERE state = 'RUNNING'"
            " ORDER BY batch_id"
        )
        return [(str(a), str(b), float(c)) for a, b, c in rows]

    def backlog(self, workflow: str, now: float) -> Backlog:
        ((count, total, oldest),) = self._read(
            "SELECT coalesce((SELECT files FROM status_counts WHERE workflow = %(w)s"
            " AND status = 'TODO'), 0), coalesce((SELECT bytes FROM status_counts"
            " WHERE workflow = %(w)s AND status = 'TODO'), 0), (SELECT min(upload_time)"
            " FROM workflow_status WHERE status = 'TODO' AND workflow = %(w)s)",
            {"w": workflow},
        )
        return Backlog(int(count), int(total), oldest)

    def marked_backlog(self, workflow: str, now: float) -> Backlog:
        ((count, total, oldest),) = self._read(
            "SELECT count(*), coalesce(sum(ws.size), 0), min(ws.upload_time) FROM markers m"
            " JOIN workflow_status ws ON ws.status = 'TODO' AND ws.workflow = m.workflow"
            " AND ws.bucket = m.bucket AND ws.prefix = m.prefix WHERE m.workflow = %s",
            (workflow,),
        )
        return Backlog(int(count), int(total), oldest)

    def get(self, bucket: str, key: str) -> FileRecord | None:
        rows = self._read(f"{SELECT} WHERE bucket = %s AND key = %s", (bucket, key))
        return to_record(rows[0]) if rows else None

    def files(
        self,
        status: Status | None = None,
        prefix: str | None = None,
        workflow: str | None = None,
        limit: int | None = None,
        after: tuple[float, str] | None = None,
    ) -> list[FileRecord]:
        """One ordered index range per status (per workflow for TODO, whose index is by
        workflow), each at most `limit` rows, merged by one statement."""
        if limit is not None and limit <= 0:
            return []
        with self._snapshot() as cur:
            parts: list[str] = []
            params: list[Any] = []
            for wanted in [status] if status is not None else list(Status):
                if wanted is Status.TODO and not workflow:
                    cur.execute(
                        "SELECT workflow FROM status_counts WHERE status = 'TODO' AND files > 0"
                        " ORDER BY workflow"
                    )
                    for (name,) in cur.fetchall():
                        parts.append(self._range(wanted, prefix, str(name), limit, after, params))
                else:
                    parts.append(self._range(wanted, prefix, workflow, limit, after, params))
            if not parts:
                return []
            sql = parts[0]
            if len(parts) > 1:  # a Merge Append of the ordered ranges
                sql = " UNION ALL ".join(f"({p})" for p in parts) + " ORDER BY upload_time, key"
                if limit is not None:
                    sql += f" LIMIT {int(limit)}"
            cur.execute(sql, params)
            return [to_record(r) for r in cur.fetchall()]

    @staticmethod
    def _range(
        status: Status,
        prefix: str | None,
        workflow: str | None,
        limit: int | None,
        after: tuple[float, str] | None,
        params: list[Any],
    ) -> str:
        # The status as a literal: the planner matches it to the partial index at plan time.
        where = [f"status = '{status.value}'"]
        if prefix:
            # A range on `key`, not a LIKE: '_' and '%' are literal in keys.
            where.append("key >= %s AND key < %s")
            params += [prefix, prefix + _TOP]
        if workflow:
            where.append("workflow = %s")
            params.append(workflow)
        if after is not None:
            where.append("(upload_time, key) > (%s, %s)")
            params += [float(after[0]), after[1]]
        sql = f"{SELECT} WHERE {' AND '.join(where)} ORDER BY upload_time, key"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql

    def counts(self, workflow: str | None = None) -> dict[Status, int]:
        if workflow is None:
            rows = self._read("SELECT status, sum(files) FROM status_counts GROUP BY status")
        else:
            rows = self._read(
                "SELECT status, sum(files) FROM status_counts WHERE workflow = %s GROUP BY status",
                (workflow,),
            )
        found = dict(rows)
        return {s: int(found.get(s.value, 0)) for s in Status}

    def stale(
        self, workflows: Sequence[Workflow], now: float, limit: int = 1000
    ) -> list[FileRecord]:
        out: list[FileRecord] = []
        for w in workflows:
            rows = self._read(
                f"{SELECT} WHERE status = 'TODO' AND workflow = %s AND upload_time <= %s"
                " ORDER BY upload_time, key LIMIT %s",
                (w.name, now - w.stale_after, limit),
            )
            out += map(to_record, rows)
        return sorted(out, key=lambda r: (r.upload_time, r.key))[:limit]

    def history(self, bucket: str, key: str) -> list[Transition]:
        return self._transitions(
            "WHERE file_id = (SELECT id FROM workflow_status WHERE bucket = %s AND key = %s)"
            " ORDER BY id",
            (bucket, key),
        )

    def transitions_after(self, checkpoint: int, limit: int = 1000) -> list[Transition]:
        return self._transitions("WHERE id > %s ORDER BY id LIMIT %s", (checkpoint, limit))

    def _transitions(self, where: str, params: Sequence[Any]) -> list[Transition]:
        rows = self._read(f"SELECT {TRANSITION_COLUMNS} FROM transitions {where}", params)
        return [to_transition(r) for r in rows]

    def unrouted(self, limit: int | None = None) -> list[UnroutedFile]:
        sql = "SELECT key, size, seen_at, reason FROM unrouted ORDER BY key"
        if limit is not None:
            sql += f" LIMIT {max(0, int(limit))}"
        return [UnroutedFile(*r) for r in self._read(sql)]

    def count_unrouted(self) -> int:
        ((count,),) = self._read("SELECT count(*) FROM unrouted")
        return int(count)

    def markers(self, bucket: str) -> list[tuple[str, str]]:
        rows = self._read(
            "SELECT workflow, prefix FROM markers WHERE bucket = %s ORDER BY workflow, prefix",
            (bucket,),
        )
        return [(str(w), str(p)) for w, p in rows]
