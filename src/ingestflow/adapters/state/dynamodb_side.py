"""DynamoSide: the DynamoDB ledger's side tables, the StatusStore methods that are not about
files, transitions or batches; DynamoDBStatusStore delegates them here.

Everything is an item of the meta table (pk S, sk S; one sparse GSI on g_pk/g_sk, projection
ALL, named `index`; layout agreed with dynamodb.py / dynamodb_tables.py). This side owns:

| pk | sk | what |
|---|---|---|
| info | name | small named values (`value`) |
| unrouted | key | landing files no workflow takes (`size`, `seen_at`, `reason`) |
| sink | sink name | a metrics sink's checkpoint (dynamodb_side_metrics) |
| totals#<sink> | series | a sink's running totals (`value`) |
| alert | zero-padded id | an alert; GSI g_pk "alerts" by updated_at (dynamodb_side_deliveries) |
| alert_open | <rule>#<workflow>#<grp> | the firing alert of a problem (`alert_id`) |
| delivery | zero-padded id | a notification; GSI g_pk "due" by when due, until sent |
| seq | alert, delivery | atomic id counters (`n`) |

No Scan anywhere: Query, GetItem/BatchGetItem and conditional writes only. AWS errors become
one-line LedgerErrors naming the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ingestflow.adapters.state.dynamodb_side_alerts import DynamoAlerts
from ingestflow.adapters.state.dynamodb_side_base import (
    META_INDEX,
    Item,
    av,
    integer,
    number,
    text,
)
from ingestflow.adapters.state.dynamodb_side_metrics import DynamoMetrics
from ingestflow.domain.records import Transition, UnroutedFile

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

INFO, UNROUTED = "info", "unrouted"


def _unrouted_file(item: Item) -> UnroutedFile:
    return UnroutedFile(
        str(item["sk"]["S"]),
        integer(item, "size"),
        number(item, "seen_at") or 0.0,
        text(item, "reason") or "",
    )


class DynamoSide(DynamoAlerts, DynamoMetrics):
    """The side tables on the meta table `meta_table` through the boto3 DynamoDB `client`.

    `index` names the table's GSI on g_pk/g_sk ("g" in the agreed layout, but DynamoDB wants
    index names of 3 to 255 characters). `transitions(checkpoint, limit)` is the core store's
    transitions_after. The checkpoints here need not look at it (as in the SQL ledgers, a
    position is the caller's to choose and only ever moves forward); it is kept so that a
    check can be added without changing how the core builds this class."""

    def __init__(
        self,
        client: DynamoDBClient,
        meta_table: str,
        transitions: Callable[[int, int], list[Transition]],
        *,
        index: str = META_INDEX,
    ) -> None:
        super().__init__(client, meta_table, index)
        self._transitions = transitions

    def __repr__(self) -> str:
        return f"DynamoSide({self._table!r})"

    # -- named values --

    def get_info(self, name: str) -> str | None:
        item = self.get(INFO, name)
        return None if item is None else text(item, "value")

    def set_info(self, name: str, value: str) -> None:
        self.update(
            f"set {name}", INFO, name, {":value": value}, UpdateExpression="SET #value = :value"
        )

    def swap_info(self, name: str, expected: str | None, value: str) -> bool:
        condition = "attribute_not_exists(#value)" if expected is None else "#value = :expected"
        swapped = self.update_if(
            f"set {name}",
            INFO,
            name,
            {":value": value, ":expected": expected or ""},
            UpdateExpression="SET #value = :value",
            ConditionExpression=condition,
            ReturnValues="UPDATED_NEW",
        )
        return swapped is not None

    # -- unrouted landing files --

    def set_unrouted(self, files: Sequence[UnroutedFile]) -> None:
        """Replace the list: delete the keys no longer listed, write the new and changed ones
        (an unchanged listing writes nothing). Batches of 25, not one transaction: a crash
        midway leaves a mix of the old and new lists until the next listing replaces it."""
        wanted = {f.key: f for f in files}  # the same key twice: the last one wins
        present = {str(item["sk"]["S"]): _unrouted_file(item) for item in self._unrouted_items()}
        requests: list[Item] = [
            {"DeleteRequest": {"Key": self.key(UNROUTED, key)}}
            for key in present
            if key not in wanted
        ]
        for key, f in wanted.items():
            if present.get(key) == f:
                continue
            item = {**self.key(UNROUTED, key), "size": av(int(f.size)),
                    "seen_at": av(float(f.seen_at)), "reason": av(f.reason)}  # fmt: skip
            requests.append({"PutRequest": {"Item": item}})
        self.write_many("replace the unrouted files", requests)

    def unrouted(self, limit: int | None = None) -> list[UnroutedFile]:
        if limit is not None and limit <= 0:
            return []
        return [_unrouted_file(item) for item in self._unrouted_items(limit)]

    def count_unrouted(self) -> int:
        return self.count(
            "count the unrouted files", {":pk": UNROUTED}, KeyConditionExpression="#pk = :pk"
        )

    def _unrouted_items(self, limit: int | None = None) -> list[Item]:
        return list(
            self.query(
                "read the unrouted files",
                {":pk": UNROUTED},
                limit=limit,
                KeyConditionExpression="#pk = :pk",
            )
        )
