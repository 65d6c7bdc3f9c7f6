"""What the DynamoDB ledger's side tables (dynamodb_side*.py) share: attribute values, sortable
key parts, expression placeholders, paged reads, batch writes with retries, transactions, and
the translation of AWS errors into LedgerError.

Everything lives in the meta table (pk S, sk S; one sparse GSI on g_pk/g_sk, projection ALL,
named META_INDEX unless the core store says otherwise).
Only Query, GetItem/BatchGetItem and (conditional) writes are used: never a Scan, so every read
costs the items it returns, whatever else the table holds.

Expressions name attributes as `#name` (the placeholder is the attribute's name with a '#') and
values as `:value`; `expressions()` builds ExpressionAttributeNames from the placeholders it
finds and passes only the values an expression uses (DynamoDB refuses unused ones).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ingestflow.adapters.state.dynamodb_base import call
from ingestflow.domain.errors import LedgerError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

Item = dict[str, Any]

# The meta table's one GSI (keys g_pk/g_sk). DynamoDB wants index names of 3 to 255
# characters, so the layout's "g" is spelled out.
META_INDEX = "g_index"
ID_WIDTH = 16  # zero-padded ids sort as numbers
ATTEMPTS = 8  # optimistic rounds (a lost race re-reads and tries again) and batch retries
TRANSACTION_LIMIT = 100  # actions per TransactWriteItems
_BATCH_WRITE = 25
_BATCH_GET = 100
_NAME = re.compile(r"#[A-Za-z_][A-Za-z0-9_]*")
_VALUE = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")


class ConditionFailed(Exception):
    """A conditional write's condition did not hold (another process got there first)."""


class Cancelled(Exception):
    """A transaction was cancelled: a condition did not hold or a concurrent transaction
    touched one of its items. Either way the caller re-reads and decides again."""


def av(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value (dicts are taken as attribute values)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        raise TypeError("booleans are not stored")
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": repr(value)}  # the shortest text that reads back as the same float
    raise TypeError(f"cannot store {type(value).__name__}")


def text(item: Item, name: str) -> str | None:
    value = item.get(name)
    return None if value is None or "S" not in value else str(value["S"])


def number(item: Item, name: str) -> float | None:
    value = item.get(name)
    return None if value is None or "N" not in value else float(value["N"])


def integer(item: Item, name: str, default: int = 0) -> int:
    value = item.get(name)
    return default if value is None or "N" not in value else int(value["N"])


def pad(ident: int) -> str:
    return f"{ident:0{ID_WIDTH}d}"


def stamp(at: float) -> str:
    """Epoch seconds as fixed-width text that sorts as the number does (microseconds; times
    are never negative). Index keys built from it give candidates; the exact comparison is
    always repeated on the item's numbers in a condition."""
    return f"{max(at, 0.0):020.6f}"


def expressions(values: Mapping[str, Any] | None = None, **parts: str | None) -> dict[str, Any]:
    """Request fields for the expressions `parts` (UpdateExpression=..., ...) with their
    attribute names and the values of `values` they use."""
    request: dict[str, Any] = {k: v for k, v in parts.items() if v}
    used = " ".join(request.values())
    names = {token: token[1:] for token in _NAME.findall(used)}
    if names:
        request["ExpressionAttributeNames"] = names
    wanted = set(_VALUE.findall(used))
    if values and wanted:
        request["ExpressionAttributeValues"] = {k: av(v) for k, v in values.items() if k in wanted}
    return request


class SideTable:
    """The meta table through a boto3 DynamoDB client, with one-line errors."""

    def __init__(self, client: DynamoDBClient, table: str, index: str = META_INDEX) -> None:
        self._client: Any = client
        self._table = table
        self._index = index

    def _call(self, what: str, method: Callable[..., Any], **request: Any) -> Any:
        return call(self._table, what, method, request, ConditionFailed, Cancelled)

    @staticmethod
    def key(pk: str, sk: str) -> Item:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def get(self, pk: str, sk: str) -> Item | None:
        found = self._call(
            "read",
            self._client.get_item,
            TableName=self._table,
            Key=self.key(pk, sk),
            ConsistentRead=True,
        )
        item: Item | None = found.get("Item")
        return item

    def update(self, what: str, pk: str, sk: str, values: Mapping[str, Any], **parts: Any) -> Item:
        """One UpdateItem; `parts` are its expressions and ReturnValues. Raises ConditionFailed."""
        returns = parts.pop("ReturnValues", "NONE")
        answer = self._call(
            what,
            self._client.update_item,
            TableName=self._table,
            Key=self.key(pk, sk),
            ReturnValues=returns,
            **expressions(values, **parts),
        )
        attributes: Item = answer.get("Attributes", {})
        return attributes

    def update_if(
        self, what: str, pk: str, sk: str, values: Mapping[str, Any], **parts: Any
    ) -> Item | None:
        """update() with a ConditionExpression: None when the condition did not hold."""
        try:
            return self.update(what, pk, sk, values, **parts)
        except ConditionFailed:
            return None

    def query(self, what: str, values: Mapping[str, Any], *, limit: int | None = None,
              index: bool = False, **parts: Any) -> Iterator[Item]:  # fmt: skip
        """The items of one Query, page after page (at most `limit`). Index reads are
        eventually consistent; base-table reads are consistent."""
        request: dict[str, Any] = {"TableName": self._table, **expressions(values, **parts)}
        if index:
            request["IndexName"] = self._index
        else:
            request["ConsistentRead"] = True
        left = limit
        while left is None or left > 0:
            if left is not None:
                request["Limit"] = left
            page = self._call(what, self._client.query, **request)
            items = page.get("Items", [])
            yield from items
            if left is not None:
                left -= len(items)
            if not page.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def count(self, what: str, values: Mapping[str, Any], **parts: Any) -> int:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Select": "COUNT",
            "ConsistentRead": True,
            **expressions(values, **parts),
        }
        total = 0
        while True:
            page = self._call(what, self._client.query, **request)
            total += int(page.get("Count", 0))
            if not page.get("LastEvaluatedKey"):
                return total
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_many(self, what: str, keys: Sequence[tuple[str, str]]) -> list[Item]:
        """BatchGetItem (consistent) of distinct keys, retrying unprocessed ones; any order."""
        found: list[Item] = []
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), _BATCH_GET):
            pending: Any = {
                self._table: {
                    "Keys": [self.key(pk, sk) for pk, sk in wanted[start : start + _BATCH_GET]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(ATTEMPTS + 1):
                answer = self._call(what, self._client.batch_get_item, RequestItems=pending)
                found += answer.get("Responses", {}).get(self._table, [])
                pending = answer.get("UnprocessedKeys") or {}
                if not pending:
                    break
                self._back_off(what, attempt)
        return found

    def write_many(self, what: str, requests: Sequence[Item]) -> None:
        """BatchWriteItem of put/delete requests (distinct keys), 25 at a time, retrying the
        unprocessed ones with back-off. Not atomic: a crash may leave part of them written."""
        for start in range(0, len(requests), _BATCH_WRITE):
            pending: Any = {self._table: list(requests[start : start + _BATCH_WRITE])}
            for attempt in range(ATTEMPTS + 1):
                answer = self._call(what, self._client.batch_write_item, RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                self._back_off(what, attempt)

    def _back_off(self, what: str, attempt: int) -> None:
        if attempt >= ATTEMPTS:
            raise LedgerError(f"DynamoDB ledger {self._table}: {what}: throttled by DynamoDB")
        time.sleep(min(0.05 * 2**attempt, 2.0))

    def transact(self, what: str, actions: Sequence[Item]) -> None:
        """One TransactWriteItems of actions made by `action` (at most 100). Raises Cancelled."""
        if len(actions) > TRANSACTION_LIMIT:
            raise LedgerError(
                f"DynamoDB ledger {self._table}: {what}: {len(actions)} writes in one"
                f" transaction (DynamoDB takes at most {TRANSACTION_LIMIT})"
            )
        self._call(what, self._client.transact_write_items, TransactItems=list(actions))

    def action(self, kind: str, pk: str, sk: str, values: Mapping[str, Any] | None = None,
               item: Mapping[str, Any] | None = None, **parts: str) -> Item:  # fmt: skip
        """A transaction action: kind Put (with the attributes `item`), Update, Delete or
        ConditionCheck, with its expressions (ConditionExpression=..., UpdateExpression=...)."""
        body: Item = {"TableName": self._table, **expressions(values, **parts)}
        if kind == "Put":
            body["Item"] = {**self.key(pk, sk), **{k: av(v) for k, v in (item or {}).items()}}
        else:
            body["Key"] = self.key(pk, sk)
        return {kind: body}
