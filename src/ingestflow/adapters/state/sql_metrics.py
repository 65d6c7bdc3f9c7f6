"""The metrics side of a SQL ledger (SQLite, PostgreSQL; see `sql_dialect`): the change
stream's end, ended files by time, and each metrics sink's checkpoint (one lease holder at a
time) with its running totals."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ingestflow.adapters.state.ledger_rows import SINK_COLUMNS, TRANSITION_COLUMNS, sink_state
from ingestflow.adapters.state.sql_dialect import SqlLedger
from ingestflow.domain.metrics import SinkState
from ingestflow.domain.records import Transition

# The index's entries are in (at, id) order: a page is one index range, no sort.
_ENDED = (
    f"SELECT {TRANSITION_COLUMNS}"
    " FROM transitions{hint} WHERE to_status IN ('DONE', 'FAILED') AND at >= ? AND at < ?"
    " AND (at, id) > (?, ?) ORDER BY at, id LIMIT ?"
)


class SqlMetrics(SqlLedger):
    """The metrics part of the `StatusStore` port on a SQL ledger (mixed into its store)."""

    # The dialect's reader of a `transitions` row (TRANSITION_COLUMNS order).
    to_transition: Callable[[Sequence[Any]], Transition]

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
        query = self.DIALECT.sql(_ENDED.format(hint=self._hint("transitions_ended")))
        at, last = after if after is not None else (start, 0)
        rows = self._read(query, (max(start, at), end, at, last, limit))
        return [self.to_transition(r) for r in rows]

    def sink_states(self) -> list[SinkState]:
        if not self._table_ready("metric_sinks"):
            return []
        rows = self._read(f"SELECT {SINK_COLUMNS} FROM metric_sinks ORDER BY sink")
        return [sink_state(r) for r in rows]

    def lease_sink(
        self, sink: str, owner: str, now: float, lease: float, take_over: str | None = None
    ) -> SinkState | None:
        sql = self.DIALECT.sql
        with self._tx() as db:
            db.execute(
                sql(
                    "INSERT INTO metric_sinks (sink, updated_at) VALUES (?, ?)"
                    " ON CONFLICT (sink) DO NOTHING"
                ),
                (sink, now),
            )
            taken = db.execute(
                sql(
                    "UPDATE metric_sinks SET owner = ?, lease_until = ?, updated_at = ?"
                    " WHERE sink = ? AND (owner IS NULL OR owner IN (?, ?) OR lease_until < ?)"
                    f" RETURNING {SINK_COLUMNS}"
                ),
                (owner, now + lease, now, sink, owner, take_over or owner, now),
            ).fetchone()
        return None if taken is None else sink_state(taken)

    def mark_in_flight(self, sink: str, owner: str, upto: int) -> bool:
        update = "UPDATE metric_sinks SET in_flight = ? WHERE sink = ? AND owner = ?"
        return self._write(update, (upto, sink, owner)) > 0

    def advance_sink(
        self,
        sink: str,
        owner: str,
        position: int,
        now: float,
        dropped: int = 0,
        totals: Mapping[str, float] | None = None,
    ) -> bool:
        dialect = self.DIALECT
        with self._tx() as db:
            cur = db.execute(
                dialect.sql(
                    f"UPDATE metric_sinks SET position = {dialect.greatest}(position, ?),"
                    " in_flight = NULL, last_error = NULL, last_success = ?,"
                    " dropped = dropped + ?, updated_at = ? WHERE sink = ? AND owner = ?"
                ),
                (position, now, dropped, now, sink, owner),
            )
            if cur.rowcount == 0:
                return False
            if totals:
                db.executemany(
                    dialect.sql(
                        "INSERT INTO metric_totals (sink, series, value) VALUES (?, ?, ?)"
                        " ON CONFLICT (sink, series) DO UPDATE"
                        " SET value = metric_totals.value + excluded.value"
                    ),
                    [(sink, series, float(totals[series])) for series in sorted(totals)],
                )
            return True

    def sink_failed(self, sink: str, owner: str, error: str, now: float) -> None:
        self._write(
            "UPDATE metric_sinks SET last_error = ?, in_flight = NULL, updated_at = ?"
            " WHERE sink = ? AND owner = ?",
            (error, now, sink, owner),
        )

    def release_sink(self, sink: str, owner: str) -> None:
        self._write(
            "UPDATE metric_sinks SET owner = NULL, lease_until = NULL WHERE sink = ? AND owner = ?",
            (sink, owner),
        )

    def metric_totals(self, sink: str) -> dict[str, float]:
        if not self._table_ready("metric_totals"):
            return {}
        query = self.DIALECT.sql("SELECT series, value FROM metric_totals WHERE sink = ?")
        rows = self._read(query, (sink,))
        return {str(series): float(value) for series, value in rows}
