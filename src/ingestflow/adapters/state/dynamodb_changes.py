"""Per-file writes of the DynamoDB ledger: read, decide, write conditionally, and on a lost
race read again and decide again.

Every write of a file item is conditioned on the revision (`rev`) it was decided from
(`attribute_not_exists(pk)` for a new file), so nothing another process wrote meanwhile is
overwritten; the decision functions restate each operation's guard (claim: still TODO with
the etag seen; finish/release/reap: still PROCESSING in that batch; retry: still FAILED), so a
re-read after a lost race decides correctly. A status change is ONE TransactWriteItems: the
file Put and its transition Put (dynamodb_log); an in-place update (no status change) is one
conditional PutItem. Files are written in parallel on the pool, never as one transaction of
the whole batch: a stale candidate then costs only its own write (research aws.md §1.3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ingestflow.adapters.state.dynamodb_base import RETRIES, LostRace
from ingestflow.adapters.state.dynamodb_items import (
    Item,
    av,
    file_item,
    image_from_item,
    plain,
    record_from_item,
)
from ingestflow.adapters.state.dynamodb_log import DynamoLog, transition_item
from ingestflow.adapters.state.dynamodb_tables import FILES, TRANSITIONS
from ingestflow.domain.errors import LedgerError
from ingestflow.domain.records import FileRecord, Transition
from ingestflow.domain.status import check_transition


@dataclass(frozen=True, slots=True)
class Change:
    """What to write over a file: the new record, the reason of its status change (None: an
    in-place update, no transition), when it may be claimed, and a label for the caller."""

    record: FileRecord
    reason: str | None
    available_at: float = 0.0
    kind: str = ""


Decide = Callable[[Item | None], Change | None]
"""Given a file's item (None: not in the ledger), the change to make, or None for none."""
Unit = tuple[Item, Item | None, Decide]
"""One file to change: its key, its item as read (None: not in the ledger), the decision."""


@dataclass(frozen=True, slots=True)
class Written:
    """One applied change and its transition (None for an in-place update)."""

    change: Change
    transition: Transition | None


def key_of(bucket: str, key: str) -> Item:
    return {"pk": {"S": f"{bucket}/{key}"}}


def _rev(item: Item | None) -> int:
    return 0 if item is None else int(plain(item["rev"]))


class DynamoChanges(DynamoLog):
    def apply(self, what: str, units: Sequence[Unit], now: float) -> list[Written]:
        """For each (file key, item as read, decide): write decide(item), re-reading and
        deciding again after a lost race. The applied changes, in transition-id order
        (in-place updates last)."""
        plans = [(key, item, decide, decide(item)) for key, item, decide in units]
        plans = [p for p in plans if p[3] is not None]
        first = self.allocate(sum(1 for p in plans if p[3] and p[3].reason is not None))
        ids: list[int | None] = []
        for *_, change in plans:
            if change is not None and change.reason is not None:
                ids.append(first)
                first += 1
            else:
                ids.append(None)

        def run(job: tuple[tuple[Item, Item | None, Decide, Change | None], int | None]) -> Any:
            (key, item, decide, change), ident = job
            return self._write_until_applied(what, key, item, decide, change, ident, now)

        written = [w for w in self.in_parallel(run, list(zip(plans, ids, strict=True))) if w]
        return sorted(
            written, key=lambda w: (w.transition is None, w.transition and w.transition.id)
        )

    def _write_until_applied(
        self,
        what: str,
        key: Item,
        item: Item | None,
        decide: Decide,
        change: Change | None,
        ident: int | None,
        now: float,
    ) -> Written | None:
        for _ in range(RETRIES):
            if change is None:
                return None
            if change.reason is not None and ident is None:
                ident = self.allocate(1)
            try:
                return Written(change, self._write(what, item, change, ident, now))
            except LostRace:
                if ident is not None:
                    self.void(ident)
                    ident = None
            item = self.get_item(what, FILES, key)
            change = decide(item)
        raise LedgerError(f"DynamoDB ledger {self.prefix}: {what}: lost {RETRIES} races in a row")

    def _write(
        self, what: str, old: Item | None, change: Change, ident: int | None, now: float
    ) -> Transition | None:
        keep = old or {}
        if change.reason is not None:
            assert ident is not None
            new = file_item(change.record, rev=_rev(old) + 1, available_at=change.available_at,
                            changed_at=now, reason=change.reason, tid=ident)  # fmt: skip
        else:
            new = file_item(change.record, rev=_rev(old) + 1, available_at=change.available_at)
            for name in ("changed_at", "reason", "tid"):  # still describe the last change
                if name in keep:
                    new[name] = keep[name]
        put: dict[str, Any] = {"TableName": self.tables[FILES], "Item": new}
        if old is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "#rev = :rev"
            put["ExpressionAttributeNames"] = {"#rev": "rev"}
            put["ExpressionAttributeValues"] = {":rev": av(_rev(old))}
        if change.reason is None:
            self._call(what, self._client.put_item, **put)
            return None
        before = None if old is None else record_from_item(old)
        check_transition(None if before is None else before.status, change.record.status)
        t = Transition(
            ident or 0,
            change.record.bucket,
            change.record.key,
            change.record.workflow,
            None if before is None else before.status,
            change.record.status,
            now,
            change.reason,
            None if old is None else image_from_item(old),
            change.record.as_dict(),
        )
        log = {"TableName": self.tables[TRANSITIONS], "Item": transition_item(t)}
        self._call(
            what, self._client.transact_write_items, TransactItems=[{"Put": put}, {"Put": log}]
        )
        return t
