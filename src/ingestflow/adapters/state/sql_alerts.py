"""Alert state in a SQL ledger (SQLite, PostgreSQL): one row per problem (firing -> resolved)
and one row per notification, written in the same transaction as the state change that causes
it. The algorithm is written once here; each dialect says how it binds a list of ids, how it
serialises evaluations and takes rows (`sql_dialect.SqlDialect`):
- two processes evaluating at once (two `run`s, a cron `alerts check`) cannot open a problem
  twice: SQLite's write transactions run one at a time, PostgreSQL takes ALERTS_LOCK (an
  advisory lock held until commit); a partial unique index backs both;
- a sender takes notifications under a lease (PostgreSQL: rows locked with SKIP LOCKED), so
  none is sent twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ingestflow.adapters.state.ledger_rows import (
    ALERT_SELECT,
    DELIVERY_SELECT,
    alert_record,
    delivery_record,
    items_json,
)
from ingestflow.adapters.state.sql_dialect import SqlLedger
from ingestflow.domain.alerts import (
    CLOSED,
    OPENED,
    REMINDER,
    AlertRecord,
    DeliveryRecord,
    Problem,
)

_SET_INFO = (
    "INSERT INTO ledger_info VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)


class SqlAlerts(SqlLedger):
    """The alerts part of the `StatusStore` port on a SQL ledger (mixed into its store)."""

    SERIALISE_KEY: int = 0  # the `serialise` statement's parameter

    def _in(self, column: str) -> str:
        return self.DIALECT.in_list.format(column=column)

    def sync_alerts(
        self,
        problems: Sequence[Problem],
        evaluated: Sequence[tuple[str, str]],
        notifiers: Sequence[str],
        now: float,
        renotify: float,
        max_renotify: int,
    ) -> list[int]:
        sql = self.DIALECT.sql
        found = {p.key: p for p in problems}
        checked = set(evaluated) | {(p.rule, p.workflow) for p in problems}
        created: list[int] = []
        with self._tx() as db:
            if self.DIALECT.serialise is not None:
                db.execute(sql(self.DIALECT.serialise), (self.SERIALISE_KEY,))
            open_rows = {
                (r[1], r[2], r[3]): r
                for r in db.execute(
                    "SELECT id, rule, workflow, grp, reminders, next_remind FROM alerts"
                    f"{self._hint('alerts_open')} WHERE state = 'firing'"
                ).fetchall()
            }
            for key, problem in found.items():
                row = open_rows.get(key)
                if row is None:
                    (alert_id,) = db.execute(
                        sql(
                            "INSERT INTO alerts (rule, workflow, grp, state, since, summary,"
                            " items, count, next_remind, updated_at)"
                            " VALUES (?, ?, ?, 'firing', ?, ?, ?, ?, ?, ?) RETURNING id"
                        ),
                        (*key, now, problem.summary, items_json(problem), problem.count,
                         now + renotify, now),
                    ).fetchone()  # fmt: skip
                    created += self._enqueue(db, alert_id, notifiers, OPENED, 0, now)
                    continue
                alert_id, reminders, next_remind = row[0], row[4], row[5]
                db.execute(
                    sql(
                        "UPDATE alerts SET summary = ?, items = ?, count = ?, updated_at = ?"
                        " WHERE id = ?"
                    ),
                    (problem.summary, items_json(problem), problem.count, now, alert_id),
                )
                if reminders < max_renotify and next_remind is not None and now >= next_remind:
                    db.execute(
                        sql(
                            "UPDATE alerts SET reminders = reminders + 1, next_remind = ?"
                            " WHERE id = ?"
                        ),
                        (now + renotify, alert_id),
                    )
                    seq = reminders + 1
                    created += self._enqueue(db, alert_id, notifiers, REMINDER, seq, now)
            for key, row in open_rows.items():
                if key in found or (key[0], key[1]) not in checked:
                    continue
                db.execute(
                    sql(
                        "UPDATE alerts SET state = 'resolved', resolved_at = ?, updated_at = ?"
                        " WHERE id = ?"
                    ),
                    (now, now, row[0]),
                )
                created += self._enqueue(db, row[0], notifiers, CLOSED, 0, now)
        return created

    def _enqueue(
        self, db: Any, alert_id: int, notifiers: Sequence[str], event: str, seq: int, now: float
    ) -> list[int]:
        ids = []
        insert = self.DIALECT.sql(
            "INSERT INTO alert_deliveries (alert_id, notifier, event, seq, status,"
            " next_attempt, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING id"
        )
        for notifier in notifiers:
            row = db.execute(insert, (alert_id, notifier, event, seq, now, now)).fetchone()
            if row is not None:
                ids.append(int(row[0]))
        return ids

    def take_deliveries(
        self, notifier: str, owner: str, now: float, lease: float
    ) -> list[tuple[DeliveryRecord, AlertRecord]]:
        dialect = self.DIALECT
        with self._tx() as db:
            rows = db.execute(
                dialect.sql(
                    f"{DELIVERY_SELECT} WHERE notifier = ? AND ((status IN ('pending', 'failed')"
                    " AND next_attempt <= ?) OR (status = 'sending' AND lease_until < ?))"
                    f" ORDER BY id{dialect.lock_rows}"
                ),
                (notifier, now, now),
            ).fetchall()
            if not rows:
                return []
            db.execute(
                dialect.sql(
                    "UPDATE alert_deliveries SET status = 'sending', lease_until = ?,"
                    f" attempts = attempts + 1 WHERE {self._in('id')}"
                ),
                (now + lease, dialect.ids([r[0] for r in rows])),
            )
            alerts = {
                r[0]: alert_record(r)
                for r in db.execute(
                    dialect.sql(f"{ALERT_SELECT} WHERE {self._in('id')}"),
                    (dialect.ids(sorted({r[1] for r in rows})),),
                ).fetchall()
            }
        return [
            (
                replace(delivery_record(row), status="sending", attempts=row[5] + 1),
                alerts[int(row[1])],
            )
            for row in rows
        ]

    def deliveries_sent(self, ids: Sequence[int], now: float) -> None:
        self._write(
            "UPDATE alert_deliveries SET status = 'sent', sent_at = ?, lease_until = NULL,"
            f" last_error = NULL WHERE {self._in('id')}",
            (now, self.DIALECT.ids(ids)),
        )

    def deliveries_failed(self, ids: Sequence[int], error: str, retry_at: float) -> None:
        self._write(
            "UPDATE alert_deliveries SET status = 'failed', next_attempt = ?, lease_until = NULL,"
            f" last_error = ? WHERE {self._in('id')}",
            (retry_at, error, self.DIALECT.ids(ids)),
        )

    def alerts(self, since: float) -> list[AlertRecord]:
        if not self._table_ready("alerts"):
            return []
        sql = self.DIALECT.sql
        rows = self._read(
            sql(f"{ALERT_SELECT} WHERE state = 'firing' OR resolved_at >= ? ORDER BY since, id"),
            (since,),
        )
        if not rows:
            return []
        ids = self.DIALECT.ids([r[0] for r in rows])
        deliveries: dict[int, list[DeliveryRecord]] = {}
        query = sql(f"{DELIVERY_SELECT} WHERE {self._in('alert_id')} ORDER BY id")
        for d in self._read(query, (ids,)):
            deliveries.setdefault(int(d[1]), []).append(delivery_record(d))
        return [alert_record(r, deliveries.get(int(r[0]), ())) for r in rows]

    def arrivals(self, workflow: str, start: float, end: float) -> int:
        # One index range per status (one statement, so one snapshot): TODO is indexed per
        # workflow, DONE and FAILED by upload time (filtered by workflow), PROCESSING rows are
        # few (running batches).
        hint = self._hint
        queries = (
            f"SELECT count(*) FROM workflow_status{hint('workflow_status_todo')}"
            " WHERE status = 'TODO' AND workflow = ? AND upload_time >= ? AND upload_time < ?",
            *(
                f"SELECT count(*) FROM workflow_status{hint(index)} WHERE status = '{status}'"
                " AND upload_time >= ? AND upload_time < ? AND workflow = ?"
                for status, index in (
                    ("DONE", "workflow_status_done"),
                    ("FAILED", "workflow_status_failed"),
                    ("PROCESSING", "workflow_status_processing"),
                )
            ),
        )
        sql = self.DIALECT.sql("SELECT (" + ") + (".join(queries) + ")")
        params = (workflow, start, end, *(start, end, workflow) * 3)
        return int(self._read(sql, params)[0][0])

    def get_info(self, name: str) -> str | None:
        rows = self._read(self.DIALECT.sql("SELECT value FROM ledger_info WHERE name = ?"), (name,))
        return str(rows[0][0]) if rows else None

    def set_info(self, name: str, value: str) -> None:
        self._write(_SET_INFO, (name, value))

    def swap_info(self, name: str, expected: str | None, value: str) -> bool:
        if expected is None:
            insert = "INSERT INTO ledger_info VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
            return self._write(insert, (name, value)) == 1
        update = "UPDATE ledger_info SET value = ? WHERE name = ? AND value = ?"
        return self._write(update, (value, name, expected)) == 1
