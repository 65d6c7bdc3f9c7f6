"""The metrics side of the PostgreSQL ledger: the change stream's end, ended files by time, and each
metrics sink's checkpoint (one lease holder at a time) with its running totals."""

from __future__ import annotations

from collections.abc import Mapping

from ingestflow.adapters.state.ledger_rows import SINK_COLUMNS, TRANSITION_COLUMNS, sink_state
from ingestflow.adapters.state.postgres_db import PostgresDb
from ingestflow.adapters.state.postgres_rows import to_transition
from ingestflow.domain.metrics import SinkState
from ingestflow.domain.records import Transition

# The index's entries are in (at, rowid) order: a page is one index range, no sort.
_ENDED = (
    f"SELECT {TRANSITION_COLUMNS}"
    " FROM transitions WHERE to_status IN ('DONE', 'FAILED') AND at >= %s AND at < %s"
    " AND (at, id) > (%s, %s) ORDER BY at, id LIMIT %s"
)


class PostgresMetrics(PostgresDb):
    def last_transition_id(self) -> int:
        rows = self._read("SELECT coalesce(max(id), 0) FROM transitions")
        return int(rows[0][0])

    def ended_between(
        self,
        start: float,
        end: float,
        after: tuple[float, int] | None = None,
        limit: int = 10_000,
    ) -> list[Transition]:
        query = _ENDED
        at, last = after if after is not None else (start, 0)
        rows = self._read(query, (max(start, at), end, at, last, limit))
        return [to_transition(r) for r in rows]

    def sink_states(self) -> list[SinkState]:
        rows = self._read(f"SELECT {SINK_COLUMNS} FROM metric_sinks ORDER BY sink")
        return [sink_state(r) for r in rows]

    def lease_sink(
        self, sink: str, owner: str, now: float, lease: float, take_over: str | None = None
    ) -> SinkState | None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO metric_sinks (sink, updated_at) VALUES (%s, %s)"
                " ON CONFLICT (sink) DO NOTHING",
                (sink, now),
            )
            taken = db.execute(
                "UPDATE metric_sinks SET owner = %s, lease_until = %s, updated_at = %s"
                " WHERE sink = %s AND (owner IS NULL OR owner IN (%s, %s) OR lease_until < %s)"
                f" RETURNING {SINK_COLUMNS}",
                (owner, now + lease, now, sink, owner, take_over or owner, now),
            ).fetchone()
        return None if taken is None else sink_state(taken)

    def mark_in_flight(self, sink: str, owner: str, upto: int) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE metric_sinks SET in_flight = %s WHERE sink = %s AND owner = %s",
                (upto, sink, owner),
            )
            return cur.rowcount > 0

    def advance_sink(
        self,
        sink: str,
        owner: str,
        position: int,
        now: float,
        dropped: int = 0,
        totals: Mapping[str, float] | None = None,
    ) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE metric_sinks SET position = greatest(position, %s), in_flight = NULL,"
                " last_error = NULL, last_success = %s, dropped = dropped + %s, updated_at = %s"
                " WHERE sink = %s AND owner = %s",
                (position, now, dropped, now, sink, owner),
            )
            if cur.rowcount == 0:
                return False
            if totals:
                series = sorted(totals)
                db.execute(
                    "INSERT INTO metric_totals (sink, series, value)"
                    " SELECT %s, s, v FROM unnest(%s::text[], %s::float8[]) AS t(s, v)"
                    " ON CONFLICT (sink, series) DO UPDATE"
                    " SET value = metric_totals.value + excluded.value",
                    (sink, series, [float(totals[s]) for s in series]),
                )
            return True

    def sink_failed(self, sink: str, owner: str, error: str, now: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE metric_sinks SET last_error = %s, in_flight = NULL, updated_at = %s"
                " WHERE sink = %s AND owner = %s",
                (error, now, sink, owner),
            )

    def release_sink(self, sink: str, owner: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE metric_sinks SET owner = NULL, lease_until = NULL"
                " WHERE sink = %s AND owner = %s",
                (sink, owner),
            )

    def metric_totals(self, sink: str) -> dict[str, float]:
        rows = self._read("SELECT series, value FROM metric_totals WHERE sink = %s", (sink,))
        return {str(series): float(value) for series, value in rows}
