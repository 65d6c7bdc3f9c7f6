"""Alert state in the DynamoDB ledger's meta table (as sqlite_alerts; items in
dynamodb_side_deliveries).

Each change an evaluation makes to one alert is one TransactWriteItems together with the
notifications it causes, conditioned on what the evaluation read:
- opening puts the problem's "alert_open" item only if none exists, so two evaluators
  finding the same problem open it once;
- an update or reminder requires the alert still firing with the reminder count it read, so
  a reminder is made once however many evaluators run;
- resolving requires the alert still firing and deletes its "alert_open" item.
A cancelled step re-reads that one problem and decides again. An evaluation is therefore
atomic per alert, not as a whole (DynamoDB's 100-action transactions could not hold every
evaluation; each alert's step holds its alert, its open item and one notification per
notifier, so at most 98 notifiers). Ids come from atomic counters (pk "seq"); a step that
loses its race leaves unused ids behind (gaps, never duplicates).
"""

from __future__ import annotations

from collections.abc import Sequence

from ingestflow.adapters.state.dynamodb_side_base import (
    ATTEMPTS,
    Cancelled,
    Item,
    integer,
    number,
    pad,
    stamp,
)
from ingestflow.adapters.state.dynamodb_side_deliveries import (
    ALERT,
    DELIVERY,
    OPEN,
    RECENT,
    DynamoDeliveries,
    new_delivery,
    open_sk,
    problem_of,
)
from ingestflow.adapters.state.ledger_rows import items_json
from ingestflow.domain.alerts import CLOSED, FIRING, OPENED, REMINDER, RESOLVED, Problem
from ingestflow.domain.errors import LedgerError

SEQ = "seq"


class DynamoAlerts(DynamoDeliveries):
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
        notifiers = list(dict.fromkeys(notifiers))
        opened = self._open_alerts()
        created: list[int] = []
        for key, problem in found.items():
            row = opened.get(key)
            for _ in range(ATTEMPTS):
                made = (
                    self._open(problem, notifiers, now, renotify)
                    if row is None
                    else self._refresh(row, problem, notifiers, now, renotify, max_renotify)
                )
                if made is not None:
                    created += made
                    break
                row = self._open_alert(key)  # lost a race: read that problem again
            else:
                raise self._busy()
        for key, row in opened.items():
            if key in found or (key[0], key[1]) not in checked:
                continue
            for _ in range(ATTEMPTS):
                made = self._resolve(row, notifiers, now)
                if made is not None:
                    created += made
                    break
                again = self._open_alert(key)
                if again is None or integer(again, "id") != integer(row, "id"):
                    break  # resolved (or reopened) by another evaluator meanwhile
                row = again
            else:
                raise self._busy()
        return created

    def _open(
        self, problem: Problem, notifiers: list[str], now: float, renotify: float
    ) -> list[int] | None:
        (alert_id,) = self._next_ids(ALERT, 1)
        ids = self._next_ids(DELIVERY, len(notifiers))
        alert = {"id": alert_id, "rule": problem.rule, "workflow": problem.workflow,
                 "grp": problem.group, "state": FIRING, "since": now, "summary": problem.summary,
                 "items": items_json(problem), "count": problem.count, "reminders": 0,
                 "next_remind": now + renotify, "updated_at": now, "deliveries": _id_list(ids),
                 "g_pk": RECENT, "g_sk": f"{stamp(now)}#{pad(alert_id)}"}  # fmt: skip
        actions = [
            self.action("Put", OPEN, open_sk(*problem.key), {}, {"alert_id": alert_id},
                        ConditionExpression="attribute_not_exists(#pk)"),
            self.action("Put", ALERT, pad(alert_id), {}, alert),
            *self._deliveries(ids, alert_id, notifiers, OPENED, 0, now),
        ]  # fmt: skip
        return self._step("open an alert", actions, ids)

    def _refresh(
        self,
        row: Item,
        problem: Problem,
        notifiers: list[str],
        now: float,
        renotify: float,
        max_renotify: int,
    ) -> list[int] | None:
        alert_id, reminders = integer(row, "id"), integer(row, "reminders")
        next_remind = number(row, "next_remind")
        due = reminders < max_renotify and next_remind is not None and now >= next_remind
        values = {":summary": problem.summary, ":items": items_json(problem),
                  ":count": problem.count, ":now": now, ":firing": FIRING, ":seen": reminders,
                  ":g_sk": f"{stamp(now)}#{pad(alert_id)}"}  # fmt: skip
        update = (
            "SET #summary = :summary, #items = :items, #count = :count, #updated_at = :now,"
            " #g_sk = :g_sk"
        )
        ids: list[int] = []
        if due:
            ids = self._next_ids(DELIVERY, len(notifiers))
            values |= {":reminders": reminders + 1, ":next": now + renotify,
                       ":ids": _id_list(ids), ":none": _id_list([])}  # fmt: skip
            update += (
                ", #reminders = :reminders, #next_remind = :next,"
                " #deliveries = list_append(if_not_exists(#deliveries, :none), :ids)"
            )
        actions = [
            self.action("Update", ALERT, pad(alert_id), values, UpdateExpression=update,
                        ConditionExpression="#state = :firing AND #reminders = :seen"),
        ]  # fmt: skip
        if due:
            actions += self._deliveries(ids, alert_id, notifiers, REMINDER, reminders + 1, now)
        return self._step("update an alert", actions, ids)

    def _resolve(self, row: Item, notifiers: list[str], now: float) -> list[int] | None:
        alert_id = integer(row, "id")
        ids = self._next_ids(DELIVERY, len(notifiers))
        values = {":resolved": RESOLVED, ":firing": FIRING, ":now": now, ":id": alert_id,
                  ":ids": _id_list(ids), ":none": _id_list([]),
                  ":g_sk": f"{stamp(now)}#{pad(alert_id)}"}  # fmt: skip
        actions = [
            self.action(
                "Update", ALERT, pad(alert_id), values,
                UpdateExpression="SET #state = :resolved, #resolved_at = :now,"
                " #updated_at = :now, #g_sk = :g_sk,"
                " #deliveries = list_append(if_not_exists(#deliveries, :none), :ids)",
                ConditionExpression="#state = :firing",
            ),
            self.action("Delete", OPEN, open_sk(*problem_of(row)), values,
                        ConditionExpression="#alert_id = :id"),
            *self._deliveries(ids, alert_id, notifiers, CLOSED, 0, now),
        ]  # fmt: skip
        return self._step("resolve an alert", actions, ids)

    def _step(self, what: str, actions: list[Item], ids: list[int]) -> list[int] | None:
        """Run one alert's transaction: its new notification ids, None when it lost a race."""
        try:
            self.transact(what, actions)
        except Cancelled:
            return None
        return ids

    def _deliveries(self, ids: list[int], alert_id: int, notifiers: list[str], event: str,
                    seq: int, now: float) -> list[Item]:  # fmt: skip
        return [
            self.action(
                "Put", DELIVERY, pad(i), {}, new_delivery(i, alert_id, notifier, event, seq, now)
            )
            for i, notifier in zip(ids, notifiers, strict=True)
        ]

    def _next_ids(self, counter: str, count: int) -> list[int]:
        """`count` fresh ids from the atomic counter pk "seq", sk `counter`."""
        if count <= 0:
            return []
        item = self.update(
            f"number new {counter}s",
            SEQ,
            counter,
            {":count": count},
            UpdateExpression="ADD #n :count",
            ReturnValues="UPDATED_NEW",
        )
        last = integer(item, "n")
        return list(range(last - count + 1, last + 1))

    def _busy(self) -> LedgerError:
        return LedgerError(
            f"DynamoDB ledger {self._table}: record alerts: other evaluators kept changing them"
        )


def _id_list(ids: list[int]) -> dict[str, object]:
    return {"L": [{"N": str(i)} for i in ids]}
