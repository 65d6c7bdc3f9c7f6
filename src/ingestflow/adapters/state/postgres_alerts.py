"""Alert state in the PostgreSQL ledger (as sqlite_alerts): one row per problem (firing ->
resolved) and one row per notification, written in the same transaction as the state change
that causes it. Evaluations run one at a time (ALERTS_LOCK, an advisory lock held until
commit), so two processes evaluating at once cannot open a problem twice; a sender takes
notifications under a lease, rows locked with SKIP LOCKED, so none is sent twice."""

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
from ingestflow.adapters.state.postgres_db import PostgresDb
from ingestflow.adapters.state.postgres_schema import ALERTS_LOCK
from ingestflow.domain.alerts import (
    CLOSED,
    OPENED,
    REMINDER,
    AlertRecord,
    DeliveryRecord,
    Problem,
)

_SET_INFO = (
    "INSERT INTO ledger_info VALUES (%s, %s)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)


class PostgresAlerts(PostgresDb):
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
            db.execute("SELECT pg_advisory_xact_lock(%s)", (ALERTS_LOCK,))
            open_rows = {
                (r[1], r[2], r[3]): r
                for r in db.execute(
                    "SELECT id, rule, workflow, grp, reminders, next_remind FROM alerts"
                    " WHERE state = 'firing'"
                ).fetchall()
            }
            for key, problem in found.items():
                row = open_rows.get(key)
                if row is None:
                    db.execute(
                        "INSERT INTO alerts (rule, workflow, grp, state, since, summary, items,"
                        " count, next_remind, updated_at) VALUES (%s, %s, %s, 'firing', %s, %s,"
                        " %s, %s, %s, %s) RETURNING id",
                        (*key, now, problem.summary, items_json(problem), problem.count,
                         now + renotify, now),
                    )  # fmt: skip
                    (alert_id,) = db.fetchone() or (None,)
                    created += self._enqueue(db, alert_id, notifiers, OPENED, 0, now)
                    continue
                alert_id, reminders, next_remind = row[0], row[4], row[5]
                db.execute(
                    "UPDATE alerts SET summary = %s, items = %s, count = %s, updated_at = %s"
                    " WHERE id = %s",
                    (problem.summary, items_json(problem), problem.count, now, alert_id),
                )
                if reminders < max_renotify and next_remind is not None and now >= next_remind:
                    db.execute(
                        "UPDATE alerts SET reminders = reminders + 1, next_remind = %s"
                        " WHERE id = %s",
                        (now + renotify, alert_id),
                    )
                    seq = reminders + 1
                    created += self._enqueue(db, alert_id, notifiers, REMINDER, seq, now)
            for key, row in open_rows.items():
                if key in found or (key[0], key[1]) not in checked:
                    continue
                db.execute(
                    "UPDATE alerts SET state = 'resolved', resolved_at = %s, updated_at = %s"
                    " WHERE id = %s",
                    (now, now, row[0]),
                )
                created += self._enqueue(db, row[0], notifiers, CLOSED, 0, now)
        return created

    @staticmethod
    def _enqueue(
        db: Any,
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
                " next_attempt, created_at) VALUES (%s, %s, %s, %s, 'pending', %s, %s)"
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
                f"{DELIVERY_SELECT} WHERE notifier = %s AND ((status IN ('pending', 'failed')"
                " AND next_attempt <= %s) OR (status = 'sending' AND lease_until < %s))"
                " ORDER BY id FOR UPDATE SKIP LOCKED",
                (notifier, now, now),
            ).fetchall()
            if not rows:
                return []
            db.execute(
                "UPDATE alert_deliveries SET status = 'sending', lease_until = %s,"
                " attempts = attempts + 1 WHERE id = ANY(%s)",
                (now + lease, [r[0] for r in rows]),
            )
            alerts = {
                r[0]: alert_record(r)
                for r in db.execute(
                    f"{ALERT_SELECT} WHERE id = ANY(%s)", (sorted({r[1] for r in rows}),)
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
        with self._tx() as db:
            db.execute(
                "UPDATE alert_deliveries SET status = 'sent', sent_at = %s, lease_until = NULL,"
                " last_error = NULL WHERE id = ANY(%s)",
                (now, list(ids)),
            )

    def deliveries_failed(self, ids: Sequence[int], error: str, retry_at: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE alert_deliveries SET status = 'failed', next_attempt = %s,"
                " lease_until = NULL, last_error = %s WHERE id = ANY(%s)",
                (retry_at, error, list(ids)),
            )

    def alerts(self, since: float) -> list[AlertRecord]:
        rows = self._read(
            f"{ALERT_SELECT} WHERE state = 'firing' OR resolved_at >= %s ORDER BY since, id",
            (since,),
        )
        if not rows:
            return []
        ids = [r[0] for r in rows]
        deliveries: dict[int, list[DeliveryRecord]] = {}
        for d in self._read(f"{DELIVERY_SELECT} WHERE alert_id = ANY(%s) ORDER BY id", (ids,)):
            deliveries.setdefault(int(d[1]), []).append(delivery_record(d))
        return [alert_record(r, deliveries.get(int(r[0]), ())) for r in rows]

    def arrivals(self, workflow: str, start: float, end: float) -> int:
        # One index range per status: TODO is indexed per workflow, DONE and FAILED by upload
        # time (filtered by workflow), PROCESSING rows are few (running batches).
        queries = (
            "SELECT count(*) FROM workflow_status"
            " WHERE status = 'TODO' AND workflow = %s AND upload_time >= %s AND upload_time < %s",
            "SELECT count(*) FROM workflow_status"
            " WHERE status = 'DONE' AND upload_time >= %s AND upload_time < %s AND workflow = %s",
            "SELECT count(*) FROM workflow_status"
            " WHERE status = 'FAILED' AND upload_time >= %s AND upload_time < %s AND workflow = %s",
            "SELECT count(*) FROM workflow_status"
            " WHERE status = 'PROCESSING' AND upload_time >= %s AND upload_time < %s"
            " AND workflow = %s",
        )
        sql = "SELECT (" + ") + (".join(queries) + ")"
        params = (workflow, start, end, *(start, end, workflow) * 3)
        return int(self._read(sql, params)[0][0])

    def get_info(self, name: str) -> str | None:
        rows = self._read("SELECT value FROM ledger_info WHERE name = %s", (name,))
        return str(rows[0][0]) if rows else None

    def set_info(self, name: str, value: str) -> None:
        with self._tx() as db:
            db.execute(_SET_INFO, (name, value))

    def swap_info(self, name: str, expected: str | None, value: str) -> bool:
        with self._tx() as db:
            if expected is None:
                db.execute(
                    "INSERT INTO ledger_info VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                    (name, value),
                )
            else:
                db.execute(
                    "UPDATE ledger_info SET value = %s WHERE name = %s AND value = %s",
                    (value, name, expected),
                )
            return bool(db.rowcount == 1)
