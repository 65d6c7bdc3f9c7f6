"""Alert notifications in the DynamoDB ledger's meta table, and reading alerts back.

Items: pk "alert", sk <zero-padded id> (the alert; `deliveries` lists its notification ids;
in the GSI under g_pk "alerts", g_sk <updated_at>#<id>), pk "alert_open", sk
"<rule>#<workflow>#<group>" (the alert now firing for that problem), pk "delivery", sk
<zero-padded id> (one notification; in the GSI under g_pk "due", g_sk <when due>#<id> until it
is sent: `next_attempt` while pending or failed, `lease_until` while a sender holds it).

A sender takes a notification with one conditional update (pending or failed and due, or
sending with an expired lease): of two senders one gets it. Index reads are eventually
consistent, so they only give candidates; the condition decides.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingestflow.adapters.state.dynamodb_side_base import (
    Item,
    SideTable,
    integer,
    number,
    pad,
    stamp,
    text,
)
from ingestflow.adapters.state.ledger_rows import alert_record
from ingestflow.domain.alerts import FIRING, RESOLVED, AlertRecord, DeliveryRecord

ALERT, OPEN, DELIVERY = "alert", "alert_open", "delivery"
RECENT, DUE = "alerts", "due"  # GSI partitions
_TAKE = (
    "(#status IN (:pending, :failed) AND #next_attempt <= :now)"
    " OR (#status = :sending AND #lease_until < :now)"
)


def open_sk(rule: str, workflow: str, group: str) -> str:
    """The problem's sort key; '%' and '#' inside names are escaped so that no two problems
    share one ("a#b", "c") and ("a", "b#c")."""
    parts = (p.replace("%", "%25").replace("#", "%23") for p in (rule, workflow, group))
    return "#".join(parts)


def problem_of(item: Item) -> tuple[str, str, str]:
    return (str(item["rule"]["S"]), str(item["workflow"]["S"]), str(item["grp"]["S"]))


def alert_of(item: Item, deliveries: Sequence[DeliveryRecord] = ()) -> AlertRecord:
    row = (
        integer(item, "id"), *problem_of(item), text(item, "state"), number(item, "since"),
        text(item, "summary"), text(item, "items") or "[]", integer(item, "count"),
        integer(item, "reminders"), number(item, "resolved_at"),
    )  # fmt: skip
    return alert_record(row, deliveries)


def delivery_ids(item: Item) -> list[int]:
    return [int(v["N"]) for v in item.get("deliveries", {}).get("L", [])]


def delivery_of(item: Item) -> DeliveryRecord:
    return DeliveryRecord(
        integer(item, "id"), integer(item, "alert_id"), str(text(item, "notifier")),
        str(text(item, "event")), str(text(item, "status")), integer(item, "attempts"),
        number(item, "created_at") or 0.0, number(item, "next_attempt"),
        number(item, "sent_at"), text(item, "last_error"),
    )  # fmt: skip


def new_delivery(
    ident: int, alert_id: int, notifier: str, event: str, seq: int, now: float
) -> Item:
    """The attributes of a pending notification (due now)."""
    return {"id": ident, "alert_id": alert_id, "notifier": notifier, "event": event, "seq": seq,
            "status": "pending", "attempts": 0, "created_at": now, "next_attempt": now,
            "g_pk": DUE, "g_sk": f"{stamp(now)}#{pad(ident)}"}  # fmt: skip


class DynamoDeliveries(SideTable):
    def take_deliveries(
        self, notifier: str, owner: str, now: float, lease: float
    ) -> list[tuple[DeliveryRecord, AlertRecord]]:
        candidates = self.query(
            f"find notifications due for {notifier}",
            {":due": DUE, ":upto": stamp(now) + "$", ":notifier": notifier},
            index=True,
            KeyConditionExpression="#g_pk = :due AND #g_sk < :upto",  # '$' sorts after '#'
            FilterExpression="#notifier = :notifier",
        )
        taken: list[DeliveryRecord] = []
        for candidate in list(candidates):
            ident = integer(candidate, "id")
            values = {":pending": "pending", ":failed": "failed", ":sending": "sending",
                      ":now": now, ":until": now + lease, ":one": 1, ":owner": owner,
                      ":g_sk": f"{stamp(now + lease)}#{pad(ident)}"}  # fmt: skip
            item = self.update_if(
                f"take notification {ident}",
                DELIVERY,
                pad(ident),
                values,
                UpdateExpression="SET #status = :sending, #lease_until = :until,"
                " #owner = :owner, #g_sk = :g_sk ADD #attempts :one",
                ConditionExpression=_TAKE,
                ReturnValues="ALL_NEW",
            )
            if item is not None:  # else another sender took it, or it was sent meanwhile
                taken.append(delivery_of(item))
        if not taken:
            return []
        alerts = self._alerts_by_id({d.alert_id for d in taken})
        return [(d, alerts[d.alert_id]) for d in sorted(taken, key=lambda d: d.id)]

    def deliveries_sent(self, ids: Sequence[int], now: float) -> None:
        for ident in dict.fromkeys(ids):
            self.update_if(  # no such notification: nothing written
                f"record notification {ident} sent",
                DELIVERY,
                pad(ident),
                {":sent": "sent", ":now": now},
                UpdateExpression="SET #status = :sent, #sent_at = :now"
                " REMOVE #lease_until, #owner, #last_error, #g_pk, #g_sk",
                ConditionExpression="attribute_exists(#pk)",
            )

    def deliveries_failed(self, ids: Sequence[int], error: str, retry_at: float) -> None:
        for ident in dict.fromkeys(ids):
            values = {":failed": "failed", ":at": retry_at, ":error": error, ":due": DUE,
                      ":g_sk": f"{stamp(retry_at)}#{pad(ident)}"}  # fmt: skip
            self.update_if(
                f"record notification {ident} failed",
                DELIVERY,
                pad(ident),
                values,
                UpdateExpression="SET #status = :failed, #next_attempt = :at,"
                " #last_error = :error, #g_pk = :due, #g_sk = :g_sk"
                " REMOVE #lease_until, #owner",
                ConditionExpression="attribute_exists(#pk)",
            )

    def alerts(self, since: float) -> list[AlertRecord]:
        # Firing alerts from their open-problem items (consistent reads); resolved ones from
        # the index of recent changes: a resolved alert never changes again, so its indexed
        # copy is final once the index has it.
        firing = self._open_alerts()
        recent = self.query(
            "read recent alerts",
            {":recent": RECENT, ":since": stamp(since)},
            index=True,
            KeyConditionExpression="#g_pk = :recent AND #g_sk >= :since",
        )
        found = {integer(item, "id"): item for item in firing.values()}
        for item in recent:
            resolved_at = number(item, "resolved_at")
            if text(item, "state") == RESOLVED and resolved_at is not None and resolved_at >= since:
                found.setdefault(integer(item, "id"), item)
        if not found:
            return []
        wanted = [(DELIVERY, pad(i)) for item in found.values() for i in delivery_ids(item)]
        deliveries: dict[int, list[DeliveryRecord]] = {}
        for d in sorted(map(delivery_of, self.get_many("read notifications", wanted)),
                        key=lambda d: d.id):  # fmt: skip
            deliveries.setdefault(d.alert_id, []).append(d)
        records = [alert_of(item, deliveries.get(i, ())) for i, item in found.items()]
        return sorted(records, key=lambda a: (a.since, a.id))

    def _open_alerts(self) -> dict[tuple[str, str, str], Item]:
        """The firing alerts, by problem."""
        opened = self.query("read open alerts", {":pk": OPEN}, KeyConditionExpression="#pk = :pk")
        ids = {integer(item, "alert_id") for item in opened}
        items = self.get_many("read open alerts", [(ALERT, pad(i)) for i in sorted(ids)])
        return {problem_of(i): i for i in items if text(i, "state") == FIRING}

    def _alerts_by_id(self, ids: set[int]) -> dict[int, AlertRecord]:
        items = self.get_many("read alerts", [(ALERT, pad(i)) for i in sorted(ids)])
        return {integer(i, "id"): alert_of(i) for i in items}

    def _open_alert(self, problem: tuple[str, str, str]) -> Item | None:
        """The alert firing for `problem` now, if any (consistent reads)."""
        opened = self.get(OPEN, open_sk(*problem))
        if opened is None:
            return None
        item = self.get(ALERT, pad(integer(opened, "alert_id")))
        return item if item is not None and text(item, "state") == FIRING else None
