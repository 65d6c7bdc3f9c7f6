"""DynamoBase: the DynamoDB ledger's client side: one-line errors, paged Queries, consistent
batch reads with retries of unprocessed keys, and a small thread pool for per-file writes
(boto3 clients are thread-safe; each file's write is its own request, so a batch's writes
overlap instead of queueing one round trip after another).

Only Query, GetItem/BatchGetItem and (conditional or transactional) writes are used: never a
Scan, so every read costs the items it returns, whatever else the tables hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ingestflow.adapters.aws_errors import error_parts, transport_problem
from ingestflow.adapters.state.dynamodb_items import Item
from ingestflow.adapters.state.dynamodb_tables import table_names
from ingestflow.domain.errors import LedgerError

T = TypeVar("T")
R = TypeVar("R")
RETRIES = 8  # rounds of unprocessed keys, and re-reads after a lost race
_BATCH_GET = 100
_PROBLEMS = {
    "ResourceNotFoundException": "no such table (run `ingestflow setup`?)",
    "AccessDeniedException": "access denied",
    "UnrecognizedClientException": "the AWS access key id is not valid",
    "InvalidSignatureException": "the AWS secret key does not match the access key id",
    "ExpiredTokenException": "the AWS credentials have expired",
    "ProvisionedThroughputExceededException": "throttled by DynamoDB",
    "ThrottlingException": "throttled by DynamoDB",
    "RequestLimitExceeded": "throttled by DynamoDB",
}
# Cancellation reasons of a transaction that mean "lost a race": read again, decide again.
RACES = frozenset({"None", "ConditionalCheckFailed", "TransactionConflict"})


class LostRace(Exception):
    """A conditional write or transaction did not apply: another writer changed the item."""


def call(
    label: str,
    what: str,
    method: Callable[..., Any],
    request: dict[str, Any],
    condition_failed: type[Exception],
    cancelled: type[Exception],
) -> Any:
    """`method(**request)`; a failed condition raises `condition_failed`, a transaction lost
    to a race `cancelled`, any other AWS error a one-line LedgerError naming `label`."""
    try:
        return method(**request)
    except Exception as exc:
        if not type(exc).__module__.startswith("botocore"):
            raise
        code = (error_parts(exc) or ("", "", None))[0]
        if code == "ConditionalCheckFailedException":
            raise condition_failed() from None
        if code == "TransactionCanceledException":
            reasons = {
                str(r.get("Code") or "None")
                for r in getattr(exc, "response", {}).get("CancellationReasons") or ()
            }
            if reasons <= RACES:
                raise cancelled() from None
            said = ", ".join(sorted(reasons - RACES))
            raise LedgerError(
                f"DynamoDB ledger {label}: {what}: transaction refused ({said})"
            ) from None
        raise LedgerError(f"DynamoDB ledger {label}: {what}: {problem(exc)}") from None


def problem(exc: BaseException) -> str:
    """One line describing a botocore error."""
    parts = error_parts(exc)
    if parts is not None:
        code, message, status = parts
        code = code or str(status or "")
        said = _PROBLEMS.get(code) or message or "request failed"
        return " ".join((f"{said} ({code})" if code else said).split())
    return transport_problem(exc) or " ".join(str(exc).split()) or type(exc).__name__


class DynamoBase:
    """The ledger's tables `<prefix>-<name>` through one boto3 DynamoDB client."""

    def __init__(self, client: Any, prefix: str, workers: int = 8) -> None:
        self._client = client
        self.prefix = prefix
        self.tables = table_names(prefix)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ledger")
        self._workers = workers

    def _call(self, what: str, method: Callable[..., Any], **request: Any) -> Any:
        """One request; races become LostRace, any other AWS error a one-line LedgerError."""
        return call(self.prefix, what, method, request, LostRace, LostRace)

    def query(
        self, what: str, table: str, *, limit: int | None = None, **request: Any
    ) -> Iterator[Item]:
        """The items of one Query (request fields as boto3 takes them), page after page, at
        most `limit` of them (a FilterExpression's misses do not count)."""
        request["TableName"] = self.tables[table]
        left = limit
        while left is None or left > 0:
            page = self._call(what, self._client.query, **request)
            items = page.get("Items", [])
            if left is not None:
                items = items[:left]
                left -= len(items)
            yield from items
            if not page.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def count(self, what: str, table: str, **request: Any) -> int:
        """Select=COUNT over every page of one Query."""
        request.update(TableName=self.tables[table], Select="COUNT")
        total = 0
        while True:
            page = self._call(what, self._client.query, **request)
            total += int(page.get("Count", 0))
            if not page.get("LastEvaluatedKey"):
                return total
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_item(self, what: str, table: str, key: Item) -> Item | None:
        found = self._call(
            what, self._client.get_item, TableName=self.tables[table], Key=key, ConsistentRead=True
        )
        item: Item | None = found.get("Item")
        return item

    def get_many(self, what: str, table: str, keys: Sequence[Item]) -> list[Item]:
        """BatchGetItem (consistent) of distinct keys, retrying unprocessed ones; any order."""
        name = self.tables[table]
        found: list[Item] = []
        for start in range(0, len(keys), _BATCH_GET):
            pending: Any = {name: {"Keys": list(keys[start : start + _BATCH_GET]),
                                   "ConsistentRead": True}}  # fmt: skip
            for attempt in range(RETRIES + 1):
                answer = self._call(what, self._client.batch_get_item, RequestItems=pending)
                found += answer.get("Responses", {}).get(name, [])
                pending = answer.get("UnprocessedKeys") or {}
                if not pending:
                    break
                if attempt == RETRIES:
                    raise LedgerError(f"DynamoDB ledger {self.prefix}: {what}: throttled")
                time.sleep(min(0.05 * 2**attempt, 2.0))
        return found

    def in_parallel(self, work: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`work` on each item on the pool, results in the items' order. A call from a pool
        thread runs inline (no deadlock on a full pool)."""
        todo = list(items)
        if len(todo) <= 1:
            return [work(i) for i in todo]
        return list(self._pool.map(work, todo))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
