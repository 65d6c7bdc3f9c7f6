"""Alert state in the SQLite ledger: one row per problem (firing -> resolved) and one row per
notification, written in the same transaction as the state change that causes it. Two
processes evaluating at once (two `run`s, a cron `alerts check`) cannot open a problem twice
(a partial unique index) nor send one notification twice (a sender takes it under a lease)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace

import orjson

from ingestflow.adapters.state.ledger_rows import (
    ALERT_SELECT,
    DELIVERY_SELECT,
    alert_record,
    delivery_record,
    items_json,
)
from ingestflow.adapters.state.sqlite_db import SqliteDb
from ingestflow.domain.alerts import (
    CLOSED,
    OPENED,
    REMINDER,
    AlertRecord,
    DeliveryRecord,
    Problem,
)


class SqliteAlerts(SqliteDb):
    def sync_alerts(
        self,
        problems: Sequence[Problem],
        evaluated: Sequence[tuple[str, str]],
        notifiers: Sequence[str],
        now: float,
        renotify: float,
        max_renotify: int,
    ) -> list[int]:
        found = {p.key: p for p in problems}
        checked = set(evaluated) | {(p.rule, p.workflow) for p in problems}
        created: list[int] = []
        with self._tx() as db:
            open_rows = {
                (r[1], r[2], r[3]): r
                for r in db.execute(
                    "SELECT id, rule, workflow, grp, reminders, next_remind FROM alerts"
                    " INDEXED BY alerts_open WHERE state = 'firing'"
                )
            }
            for key, problem in found.items():
                row = open_rows.get(key)
                if row is None:
                    alert_id = db.execute(
                        "INSERT INTO alerts (rule, workflow, grp, state, since, summary, items,"
                        " count, next_remind, updated_at) VALUES (?, ?, ?, 'firing', ?, ?, ?, ?,"
                        " ?, ?) RETURNING id",
                        (*key, now, problem.summary, items_json(problem), problem.count,
                         now + renotify, now),
                    ).fetchone()[0]  # fmt: skip
                    created += self._enqueue(db, alert_id, notifiers, OPENED, 0, now)
                    continue
                alert_id, reminders, next_remind = row[0], row[4], row[5]
                db.execute(
                    "UPDATE alerts SET summary = ?, items = ?, count = ?, updated_at = ?"
                    " WHERE id = ?",
                    (problem.summary, items_json(problem), problem.count, now, alert_id),
                )
                if reminders < max_renotify and next_remind is not None and now >= next_remind:
                    db.execute(
                        "UPDATE alerts SET reminders = reminders + 1, next_remind = ? WHERE id = ?",
                        (now + renotify, alert_id),
                    )
                    seq = reminders + 1
                    created += self._enqueue(db, alert_id, notifiers, REMINDER, seq, now)
            for key, row in open_rows.items():
                if key in found or (key[0], key[1]) not in checked:
                    continue
                db.execute(
                    "UPDATE alerts SET state = 'resolved', resolved_at = ?, updated_at = ?"
                    " WHERE id = ?",
                    (now, now, row[0]),
                )
                created += self._enqueue(db, row[0], notifiers, CLOSED, 0, now)
        return created

    @staticmethod
    def _enqueue(
        db: sqlite3.Connection,
        alert_id: int,
        notifiers: Sequence[str],
        event: str,
        seq: int,
        now: float,
    ) -> list[int]:
        ids = []
        for notifier in notifiers:
            row = db.execute(
                "INSERT INTO alert_deliveries (alert_id, notifier, event, seq, status,"
                " next_attempt, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING id",
                (alert_id, notifier, event, seq, now, now),
            ).fetchone()
            if row is not None:
                ids.append(int(row[0]))
        return ids

    def take_deliveries(
        self, notifier: str, owner: str, now: float, lease: float
    ) -> list[tuple[DeliveryRecord, AlertRecord]]:
        with self._tx() as db:
            rows = db.execute(
                f"{DELIVERY_SELECT} WHERE notifier = ? AND ((status IN ('pending', 'failed')"
                " AND next_attempt <= ?) OR (status = 'sending' AND lease_until < ?))"
                " ORDER BY id",
                (notifier, now, now),
            ).fetchall()
            if not rows:
                return []
            ids = orjson.dumps([r[0] for r in rows]).decode()
            db.execute(
                "UPDATE alert_deliveries SET status = 'sending', lease_until = ?,"
                " attempts = attempts + 1 WHERE id IN (SELECT value FROM json_each(?))",
                (now + lease, ids),
            )
            alerts = {
                r[0]: alert_record(r)
                for r in db.execute(
                    f"{ALERT_SELECT} WHERE id IN (SELECT value FROM json_each(?))",
                    (orjson.dumps(sorted({r[1] for r in rows})).decode(),),
                )
            }
        return [
            (
                replace(delivery_record(row), status="sending", attempts=row[5] + 1),
                alerts[int(row[1])],
            )
            for row in rows
        ]

    def deliveries_sent(self, ids: Sequence[int], now: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE alert_deliveries SET status = 'sent', sent_at = ?, lease_until = NULL,"
                " last_error = NULL WHERE id IN (SELECT value FROM json_each(?))",
                (now, orjson.dumps(list(ids)).decode()),
            )

    def deliveries_failed(self, ids: Sequence[int], error: str, retry_at: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE alert_deliveries SET status = 'failed', next_attempt = ?,"
                " lease_until = NULL, last_error = ? WHERE id IN (SELECT value FROM json_each(?))",
                (retry_at, error, orjson.dumps(list(ids)).decode()),
            )

    def alerts(self, since: float) -> list[AlertRecord]:
        if not self._has_table("alerts"):
            return []
        rows = self._read(
            f"{ALERT_SELECT} WHERE state = 'firing' OR resolved_at >= ? ORDER BY since, id",
            (since,),
        )
        if not rows:
            return []
        ids = orjson.dumps([r[0] for r in rows]).decode()
        deliveries: dict[int, list[DeliveryRecord]] = {}
        for d in self._read(
            f"{DELIVERY_SELECT} WHERE alert_id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (ids,),
        ):
            deliveries.setdefault(int(d[1]), []).append(delivery_record(d))
        return [alert_record(r, deliveries.get(int(r[0]), ())) for r in rows]

    def arrivals(self, workflow: str, start: float, end: float) -> int:
        # One index range per status: TODO is indexed per workflow, DONE and FAILED by upload
        # time (filtered by workflow), PROCESSING rows are few (running batches).
        queries = (
            "SELECT count(*) FROM workflow_status INDEXED BY workflow_status_todo"
            " WHERE status = 'TODO' AND workflow = ? AND upload_time >= ? AND upload_time < ?",
            "SELECT count(*) FROM workflow_status INDEXED BY workflow_status_done"
            " WHERE status = 'DONE' AND upload_time >= ? AND upload_time < ? AND workflow = ?",
            "SELECT count(*) FROM workflow_status INDEXED BY workflow_status_failed"
            " WHERE status = 'FAILED' AND upload_time >= ? AND upload_time < ? AND workflow = ?",
            "SELECT count(*) FROM workflow_status INDEXED BY workflow_status_processing"
            " WHERE status = 'PROCESSING' AND upload_time >= ? AND upload_time < ?"
            " AND workflow = ?",
        )
        with self._snapshot():
            total = self._read(queries[0], (workflow, start, end))[0][0]
            for query in queries[1:]:
                total += self._read(query, (start, end, workflow))[0][0]
        return int(total)

    def get_info(self, name: str) -> str | None:
        rows = self._read("SELECT value FROM ledger_info WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def set_info(self, name: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO ledger_info VALUES (?, ?)", (name, value))

    def swap_info(self, name: str, expected: str | None, value: str) -> bool:
        with self._tx() as db:
            row = db.execute("SELECT value FROM ledger_info WHERE name = ?", (name,)).fetchone()
            if (row[0] if row else None) != expected:
                return False
            db.execute("INSERT OR REPLACE INTO ledger_info VALUES (?, ?)", (name, value))
            return True
