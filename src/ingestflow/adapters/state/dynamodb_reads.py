"""Read side of the DynamoDB ledger: every read is a GetItem or a Query of one partition.

Files by status are Queries of `queue_index` (TODO, PROCESSING) or `outcome_index` (DONE,
FAILED). Both are eventually consistent, like every GSI: a change shows there a moment after
it is written (on moto at once). Workflow-wide reads visit the
partitions `<STATUS>#<workflow>#<shard>` of every workflow the ledger has seen (the item
"#names" of workflow_metadata, read consistently) and merge them in (upload_time, key) order.

Costs, since DynamoDB keeps no counters for us: `counts` is one Select=COUNT Query per (status,
workflow, shard), paged every 1 MB of index, so it reads the whole index once (about 0.5
read units per 4 KB of items: ~100 read units per 100,000 files, $0.0000125 each on demand).
`backlog` reads the TODO partition of one workflow (its sizes and upload times); `arrivals`
counts one upload-time range per status; PROCESSING partitions hold only running batches.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from ingestflow.adapters.state.dynamodb_changes import DynamoChanges, key_of
from ingestflow.adapters.state.dynamodb_items import (
    SEP,
    SHARDS,
    Item,
    av,
    index_of,
    plain,
    record_from_item,
    sortable,
    status_partition,
)
from ingestflow.adapters.state.dynamodb_tables import (
    BATCHES,
    FILES,
    META,
    RUNNING_INDEX,
    WORKFLOWS,
)
from ingestflow.domain.batching import Backlog
from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow

NAMES = {"pk": {"S": "#names"}}  # workflow_metadata: every workflow name seen (SS `names`)
# Attribute names in expressions: many are DynamoDB reserved words (key, size, status, ...).
NAMES_OF = {f"#{n}": n for n in ("key", "bucket", "prefix", "upload_time", "available_at",
                                  "batch_id", "size", "lease_until")}  # fmt: skip


def _order(record: FileRecord) -> tuple[float, str]:
    return (record.upload_time, record.key)


def _names(*expressions: str | None) -> dict[str, str]:
    used = " ".join(e for e in expressions if e)
    return {k: v for k, v in NAMES_OF.items() if k in used}


class DynamoReads(DynamoChanges):
    _noted: set[str]

    # -- the workflows the ledger has seen --

    def workflow_names(self) -> list[str]:
        item = self.get_item("read the workflow names", WORKFLOWS, NAMES)
        return sorted(item["names"]["SS"]) if item and "names" in item else []

    def note_workflows(self, names: Iterable[str]) -> None:
        """Add names to "#names" (once per process and name: ADD to a string set is
        idempotent, so a repeat is harmless, only not free)."""
        new = sorted(set(names) - self._noted)
        if not new:
            return
        self._call(
            "note the workflows",
            self._client.update_item,
            TableName=self.tables[WORKFLOWS],
            Key=NAMES,
            UpdateExpression="ADD #names :names",
            ExpressionAttributeNames={"#names": "names"},
            ExpressionAttributeValues={":names": {"SS": new}},
        )
        self._noted.update(new)

    # -- the status index --

    def partition(
        self,
        status: Status,
        workflow: str,
        *,
        key_condition: str = "",
        values: dict[str, Any] | None = None,
        where: str | None = None,
        limit: int | None = None,
        **request: Any,
    ) -> Iterator[Item]:
        """Items of one status of one workflow in (upload_time, key) order, every shard
        merged, from the status's index (dynamodb_items.index_of); `key_condition` adds sort
        key comparisons to the partition's (`{sk}` stands for the sort key), `where` filters."""
        index, hash_key, range_key = index_of(status)
        if key_condition:
            key_condition = key_condition.format(sk=range_key)
        shards = []
        for part in range(SHARDS):
            condition = f"{hash_key} = :q" + (f" AND {key_condition}" if key_condition else "")
            extra: dict[str, Any] = dict(request)
            names = _names(where, request.get("ProjectionExpression"))
            if names:
                extra["ExpressionAttributeNames"] = names
            if where:
                extra["FilterExpression"] = where
            shards.append(
                self.query(
                    "read files by status",
                    FILES,
                    limit=limit,
                    IndexName=index,
                    KeyConditionExpression=condition,
                    ExpressionAttributeValues={
                        ":q": av(status_partition(status, workflow, part)),
                        **(values or {}),
                    },
                    **extra,
                )
            )
        if len(shards) == 1:
            return shards[0]
        return islice(heapq.merge(*shards, key=lambda i: str(i[range_key]["S"])), limit)

    def get(self, bucket: str, key: str) -> FileRecord | None:
        item = self.get_item("read a file", FILES, key_of(bucket, key))
        return None if item is None else record_from_item(item)

    def files(
        self,
        status: Status | None = None,
        prefix: str | None = None,
        workflow: str | None = None,
        limit: int | None = None,
        after: tuple[float, str] | None = None,
    ) -> list[FileRecord]:
        if limit is not None and limit <= 0:
            return []
        filters, values = [], {}
        condition = ""
        if prefix:
            filters.append("begins_with(#key, :prefix)")
            values[":prefix"] = av(prefix)
        if after is not None:
            condition = "{sk} >= :from"
            values.update({":from": av(sortable(after[0])), ":t": av(float(after[0])),
                           ":k": av(after[1])})  # fmt: skip
            filters.append("(#upload_time > :t OR (#upload_time = :t AND #key > :k))")
        where = " AND ".join(filters) or None
        ranges = [
            map(record_from_item, self.partition(
                s, w, key_condition=condition, values=values, where=where, limit=limit))
            for s in ([status] if status is not None else list(Status))
            for w in ([workflow] if workflow else self.workflow_names())
        ]  # fmt: skip
        return list(islice(heapq.merge(*ranges, key=_order), limit))

    def counts(self, workflow: str | None = None) -> dict[Status, int]:
        names = [workflow] if workflow else self.workflow_names()
        return {
            s: sum(
                self.count(
                    "count files",
                    FILES,
                    IndexName=index_of(s)[0],
                    KeyConditionExpression=f"{index_of(s)[1]} = :q",
                    ExpressionAttributeValues={":q": av(status_partition(s, w, part))},
                )
                for w in names
                for part in range(SHARDS)
            )
            for s in Status
        }

    def backlog(self, workflow: str, now: float) -> Backlog:
        todo = self.partition(Status.TODO, workflow, ProjectionExpression="#size, #upload_time")
        return self._backlog(todo)

    @staticmethod
    def _backlog(items: Iterable[Item]) -> Backlog:
        count = total = 0
        oldest: float | None = None
        for item in items:
            count += 1
            total += int(plain(item["size"]))
            at = float(plain(item["upload_time"]))
            oldest = at if oldest is None else min(oldest, at)
        return Backlog(count, total, oldest)

    def marked_backlog(self, workflow: str, now: float) -> Backlog:
        items: list[Item] = []
        for bucket, prefix in self.markers_of(workflow):
            items += self.folder(workflow, bucket, prefix)
        return self._backlog(items)

    def folder(
        self, workflow: str, bucket: str, prefix: str, now: float | None = None,
        limit: int | None = None,
    ) -> Iterator[Item]:  # fmt: skip
        """TODO files of one landing folder (eligible at `now` when given), oldest first. A
        filtered read of the workflow's TODO partition: markers are for small backlogs."""
        where = "#bucket = :b AND #prefix = :p"
        values = {":b": av(bucket), ":p": av(prefix)}
        if now is not None:
            where += " AND #available_at <= :now"
            values[":now"] = av(float(now))
        return self.partition(Status.TODO, workflow, values=values, where=where, limit=limit)

    def stale(
        self, workflows: Sequence[Workflow], now: float, limit: int = 1000
    ) -> list[FileRecord]:
        out: list[FileRecord] = []
        for w in workflows:
            cutoff = {":hi": av(sortable(now - w.stale_after) + chr(ord(SEP) + 1))}
            found = self.partition(
                Status.TODO, w.name, key_condition="{sk} < :hi", values=cutoff, limit=limit
            )
            out += map(record_from_item, found)
        return sorted(out, key=_order)[:limit]

    def arrivals(self, workflow: str, start: float, end: float) -> int:
        if end <= start:
            return 0
        values = {":lo": av(sortable(start)), ":hi": av(sortable(end))}
        return sum(
            self.count(
                "count arrivals",
                FILES,
                IndexName=index_of(s)[0],
                KeyConditionExpression="{1} = :q AND {2} BETWEEN :lo AND :hi".format(*index_of(s)),
                ExpressionAttributeValues={
                    ":q": av(status_partition(s, workflow, part)),
                    **values,
                },
            )
            for s in Status
            for part in range(SHARDS)
        )

    def active_batches(self) -> list[tuple[str, str, float]]:
        items = self.query(
            "read the running batches",
            BATCHES,
            IndexName=RUNNING_INDEX,
            KeyConditionExpression="r_pk = :r",
            ExpressionAttributeValues={":r": av("RUNNING")},
        )
        return [
            (str(plain(i["pk"])), str(plain(i["owner"])), float(plain(i["lease_until"])))
            for i in items
        ]

    # -- markers (meta items pk "marker#<workflow>", sk "<bucket>/<prefix>") --

    def markers_of(self, workflow: str, bucket: str | None = None) -> list[tuple[str, str]]:
        """(bucket, prefix) of the workflow's markers (of one bucket when given)."""
        condition = "pk = :pk" + (" AND begins_with(sk, :b)" if bucket is not None else "")
        values = {":pk": av(f"marker#{workflow}")}
        if bucket is not None:
            values[":b"] = av(f"{bucket}/")
        items = self.query(
            "read the markers",
            META,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ConsistentRead=True,
        )
        pairs = [str(plain(i["sk"])).split("/", 1) for i in items]
        return [(b, p) for b, p in pairs]

    def markers(self, bucket: str) -> list[tuple[str, str]]:
        return sorted((w, p) for w in self.workflow_names() for _, p in self.markers_of(w, bucket))
