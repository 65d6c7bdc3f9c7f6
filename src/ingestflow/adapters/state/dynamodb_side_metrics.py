"""Metrics sinks' checkpoints in the DynamoDB ledger's meta table (as sqlite_metrics).

Items: pk "sink", sk <sink name> (position, in_flight, owner, lease_until, last_error,
last_success, dropped, updated_at), and pk "totals#<sink>", sk <series> (value).

The lease is one conditional update on owner/lease_until, so of two forwarders one holds a
sink. A checkpoint moves forward only (DynamoDB has no max()): advance_sink reads the position
and writes with a condition on the position it read and on the owner, retrying when another
write came in between. The new position and the folded totals are one TransactWriteItems, so
a delivery is counted with its checkpoint or not at all. A transaction holds 100 actions: with
more than 99 series in one call the rest are folded by further transactions right after,
atomic per chunk of 100 (a crash between them leaves part of that delivery's totals out).
"""

from __future__ import annotations

from collections.abc import Mapping

from ingestflow.adapters.state.dynamodb_side_base import (
    ATTEMPTS,
    TRANSACTION_LIMIT,
    Cancelled,
    Item,
    SideTable,
    integer,
    number,
    text,
)
from ingestflow.domain.errors import LedgerError
from ingestflow.domain.metrics import SinkState

SINK = "sink"


def totals_pk(sink: str) -> str:
    return f"totals#{sink}"


def sink_state(item: Item) -> SinkState:
    in_flight = item.get("in_flight")
    return SinkState(
        str(item["sk"]["S"]),
        integer(item, "position"),
        None if in_flight is None else int(in_flight["N"]),
        text(item, "owner"),
        number(item, "lease_until"),
        text(item, "last_error"),
        number(item, "last_success"),
        integer(item, "dropped"),
        number(item, "updated_at") or 0.0,
    )


class DynamoMetrics(SideTable):
    def sink_states(self) -> list[SinkState]:
        items = self.query(
            "read the metrics sinks", {":pk": SINK}, KeyConditionExpression="#pk = :pk"
        )
        return [sink_state(item) for item in items]

    def lease_sink(
        self, sink: str, owner: str, now: float, lease: float, take_over: str | None = None
    ) -> SinkState | None:
        values = {":owner": owner, ":other": take_over or owner, ":until": now + lease,
                  ":now": now, ":zero": 0}  # fmt: skip
        item = self.update_if(
            f"lease metrics sink {sink}",
            SINK,
            sink,
            values,
            UpdateExpression="SET #owner = :owner, #lease_until = :until, #updated_at = :now,"
            " #position = if_not_exists(#position, :zero),"
            " #dropped = if_not_exists(#dropped, :zero)",
            ConditionExpression="attribute_not_exists(#owner)"
            " OR #owner IN (:owner, :other) OR #lease_until < :now",
            ReturnValues="ALL_NEW",
        )
        return None if item is None else sink_state(item)

    def mark_in_flight(self, sink: str, owner: str, upto: int) -> bool:
        marked = self.update_if(
            f"mark metrics sink {sink} in flight",
            SINK,
            sink,
            {":owner": owner, ":upto": upto},
            UpdateExpression="SET #in_flight = :upto",
            ConditionExpression="#owner = :owner",
            ReturnValues="UPDATED_NEW",
        )
        return marked is not None

    def advance_sink(
        self,
        sink: str,
        owner: str,
        position: int,
        now: float,
        dropped: int = 0,
        totals: Mapping[str, float] | None = None,
    ) -> bool:
        what = f"advance metrics sink {sink}"
        adds = [
            self.action(
                "Update",
                totals_pk(sink),
                series,
                {":d": float(delta)},
                UpdateExpression="ADD #value :d",
            )
            for series, delta in sorted((totals or {}).items())
        ]
        first, rest = adds[: TRANSACTION_LIMIT - 1], adds[TRANSACTION_LIMIT - 1 :]
        for _ in range(ATTEMPTS):
            item = self.get(SINK, sink)
            if item is None or text(item, "owner") != owner:
                return False
            seen = integer(item, "position")
            values = {":owner": owner, ":seen": seen, ":pos": max(seen, position), ":now": now,
                      ":dropped": dropped, ":zero": 0}  # fmt: skip
            checkpoint = self.action(
                "Update",
                SINK,
                sink,
                values,
                UpdateExpression="SET #position = :pos, #last_success = :now, #updated_at = :now,"
                " #dropped = if_not_exists(#dropped, :zero) + :dropped"
                " REMOVE #in_flight, #last_error",
                ConditionExpression="#owner = :owner AND #position = :seen",
            )
            try:
                self.transact(what, [checkpoint, *first])
            except Cancelled:
                continue  # another write came in between: read again
            for start in range(0, len(rest), TRANSACTION_LIMIT):
                self._fold(what, rest[start : start + TRANSACTION_LIMIT])
            return True
        raise LedgerError(f"DynamoDB ledger {self._table}: {what}: it kept changing under us")

    def _fold(self, what: str, adds: list[Item]) -> None:
        """Totals beyond the first transaction's room (no conditions: only a conflict with a
        concurrent transaction cancels them, and then trying again is right)."""
        for _ in range(ATTEMPTS):
            try:
                self.transact(what, adds)
                return
            except Cancelled:
                continue
        raise LedgerError(f"DynamoDB ledger {self._table}: {what}: it kept changing under us")

    def sink_failed(self, sink: str, owner: str, error: str, now: float) -> None:
        # Not the holder any more: nothing is written (the holder records its own failures).
        self.update_if(
            f"record a failure of metrics sink {sink}",
            SINK,
            sink,
            {":owner": owner, ":error": error, ":now": now},
            UpdateExpression="SET #last_error = :error, #updated_at = :now REMOVE #in_flight",
            ConditionExpression="#owner = :owner",
        )

    def release_sink(self, sink: str, owner: str) -> None:
        self.update_if(
            f"release metrics sink {sink}",
            SINK,
            sink,
            {":owner": owner},
            UpdateExpression="REMOVE #owner, #lease_until",
            ConditionExpression="#owner = :owner",
        )

    def metric_totals(self, sink: str) -> dict[str, float]:
        items = self.query(
            f"read the totals of metrics sink {sink}",
            {":pk": totals_pk(sink)},
            KeyConditionExpression="#pk = :pk",
        )
        return {str(item["sk"]["S"]): number(item, "value") or 0.0 for item in items}
