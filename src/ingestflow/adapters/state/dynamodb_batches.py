"""Batches on the DynamoDB ledger: claim, renew, finish, release and reap (research aws.md §1.3).

A claim reads candidates from the sparse `queue_index` (eventually consistent), decides readiness on
them like every ledger (domain.batching), then claims each file with its own conditional
write on the base table (still TODO, same etag, same revision): losers are skipped, the batch
is the winners. The batch item (table batches) is written after its files, RUNNING with the
sparse `running_index` keys, and names the buckets of its files so that finish reads them
consistently by key. Finish, release and reap are conditioned on the file still being
PROCESSING in that batch; a batch without PROCESSING files is closed (FINISHED, RELEASED,
EXPIRED) and leaves the running index.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from functools import partial

from ingestflow.adapters.state.dynamodb_changes import Change, Unit, key_of
from ingestflow.adapters.state.dynamodb_items import (
    SEP,
    Item,
    av,
    plain,
    record_from_item,
    sortable,
)
from ingestflow.adapters.state.dynamodb_reads import DynamoReads
from ingestflow.adapters.state.dynamodb_tables import BATCHES
from ingestflow.domain.batching import readiness, retry_delay, take_within_limits
from ingestflow.domain.records import Batch, FileOutcome, FileRecord, Finished, Transition
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow

TODO, PROCESSING, DONE, FAILED = Status.TODO, Status.PROCESSING, Status.DONE, Status.FAILED
_CLAIM_ROUNDS = 8  # candidates all taken by other claimers: read the index again


def _key(item: Item) -> Item:
    return {"pk": item["pk"]}


def _in_batch(item: Item | None, batch_id: str) -> FileRecord | None:
    if item is None:
        return None
    record = record_from_item(item)
    return record if record.status is PROCESSING and record.batch_id == batch_id else None


class DynamoBatches(DynamoReads):
    def _candidates(self, workflow: Workflow, now: float) -> tuple[list[Item], bool] | None:
        """Oldest-first eligible TODO items of a ready batch (and whether by marker), or None."""
        name, eligible = workflow.name, "#available_at <= :now"
        values = {":now": av(float(now))}
        if workflow.ready_marker is not None:
            oldest: tuple[float, list[Item]] | None = None
            for bucket, prefix in self.markers_of(name):
                first = list(self.folder(name, bucket, prefix, now, limit=1))
                at = float(plain(first[0]["upload_time"])) if first else None
                if at is not None and (oldest is None or at < oldest[0]):
                    oldest = (at, list(self.folder(name, bucket, prefix, now,
                                                   limit=workflow.max_batch_files)))  # fmt: skip
            if oldest is not None:
                items = oldest[1]
                return (
                    (items, True) if readiness(workflow, self._backlog(items), now, True) else None
                )
            if workflow.marker_required:
                return None
            limit = workflow.max_batch_files
        else:
            limit = max(workflow.max_batch_files, workflow.batch_size)
        items = list(self.partition(TODO, name, values=values, where=eligible, limit=limit))
        return (items, False) if readiness(workflow, self._backlog(items), now) else None

    def claim(self, workflow: Workflow, now: float, owner: str) -> Batch | None:
        for _ in range(_CLAIM_ROUNDS):
            ready = self._candidates(workflow, now)
            if ready is None:
                return None
            chosen = take_within_limits(
                ((i, int(plain(i["size"]))) for i in ready[0]),
                workflow.max_batch_files,
                workflow.max_batch_bytes,
            )
            batch_id, lease_until = uuid.uuid4().hex, now + workflow.lease

            def decide(
                item: Item | None,
                seen: Item,
                batch_id: str = batch_id,
                lease_until: float = lease_until,
            ) -> Change | None:
                if item is None:
                    return None
                record = record_from_item(item)
                if record.status is not TODO or record.etag != str(plain(seen["etag"])):
                    return None
                if float(plain(item["available_at"])) > now:
                    return None
                claimed = replace(record, status=PROCESSING, attempts=record.attempts + 1,
                                  batch_id=batch_id, lease_until=lease_until, start_time=now,
                                  end_time=None, error=None)  # fmt: skip
                return Change(claimed, "claimed")

            units: list[Unit] = [(_key(i), i, partial(decide, seen=i)) for i in chosen]
            won = self.apply("claim files", units, now)
            if not won:
                continue  # every candidate was taken meanwhile: read the index again
            files = tuple(w.change.record for w in won)
            self._put_batch(batch_id, workflow.name, owner, now, lease_until, files)
            return Batch(batch_id, workflow.name, files, lease_until)
        return None

    def _put_batch(self, batch_id: str, workflow: str, owner: str, now: float,
                   lease_until: float, files: Sequence[FileRecord]) -> None:  # fmt: skip
        item: Item = {
            "pk": av(batch_id),
            "state": av("RUNNING"),
            "workflow": av(workflow),
            "owner": av(owner),
            "created_at": av(float(now)),
            "lease_until": av(float(lease_until)),
            "buckets": {"SS": sorted({f.bucket for f in files})},
            "r_pk": av("RUNNING"),
            "r_sk": av(f"{sortable(lease_until)}{SEP}{batch_id}"),
        }
        self._call("record a batch", self._client.put_item, TableName=self.tables[BATCHES],
                   Item=item)  # fmt: skip

    def _batch(self, batch_id: str) -> Item | None:
        return self.get_item("read a batch", BATCHES, {"pk": av(batch_id)})

    def _batch_files(self, batch_id: str, batch: Item | None) -> list[Item]:
        """The PROCESSING items of a batch, from the status index (its workflow's partition;
        every workflow's when the batch item is missing)."""
        names = [str(plain(batch["workflow"]))] if batch else self.workflow_names()
        where, values = "#batch_id = :b", {":b": av(batch_id)}
        return [i for w in names for i in self.partition(PROCESSING, w, values=values, where=where)]

    def _close_if_empty(self, batch_id: str, state: str) -> None:
        batch = self._batch(batch_id)
        if batch is None or str(plain(batch["state"])) != "RUNNING":
            return
        if any(_in_batch(self.get_item("read a file", "files", _key(i)), batch_id)
               for i in self._batch_files(batch_id, batch)):  # fmt: skip
            return
        self._call(
            "close a batch",
            self._client.update_item,
            TableName=self.tables[BATCHES],
            Key={"pk": av(batch_id)},
            UpdateExpression="SET #state = :s REMOVE r_pk, r_sk",
            ConditionExpression="#state = :running",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":s": av(state), ":running": av("RUNNING")},
        )

    def renew(self, batch_id: str, lease_until: float) -> bool:
        batch = self._batch(batch_id)

        def decide(item: Item | None) -> Change | None:
            record = _in_batch(item, batch_id)
            return None if record is None else Change(
                replace(record, lease_until=lease_until), None,
                float(plain(item["available_at"])) if item else 0.0)  # fmt: skip

        units = [(_key(i), i, decide) for i in self._batch_files(batch_id, batch)]
        renewed = self.apply("renew a lease", units, lease_until)
        if batch is not None and str(plain(batch["state"])) == "RUNNING":
            self._call(
                "renew a batch",
                self._client.update_item,
                TableName=self.tables[BATCHES],
                Key={"pk": av(batch_id)},
                UpdateExpression="SET lease_until = :l, r_sk = :sk",
                ConditionExpression="#state = :running",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":l": av(float(lease_until)), ":running": av("RUNNING"),
                                           ":sk": av(f"{sortable(lease_until)}{SEP}{batch_id}")},
            )  # fmt: skip
        return bool(renewed)

    def finish(
        self, workflow: Workflow, batch_id: str, outcomes: Sequence[FileOutcome], now: float
    ) -> Finished:
        first: dict[str, FileOutcome] = {}
        for outcome in outcomes:  # a repeated report must not change the file twice
            first.setdefault(outcome.key, outcome)
        batch = self._batch(batch_id)
        if batch is not None:
            buckets = list(batch["buckets"]["SS"])
            keys = [key_of(b, k) for b in buckets for k in first]
            items = self.get_many("read a batch's files", "files", keys)
        else:
            items = self._batch_files(batch_id, None)
        # A batch may hold one key of two buckets: the outcome (by key) applies to both.
        found = [(str(plain(i["key"])), i) for i in items if _in_batch(i, batch_id)]

        def decide(item: Item | None, outcome: FileOutcome) -> Change | None:
            record = _in_batch(item, batch_id)
            if record is None:
                return None  # lease lost: another worker owns the file now
            if record.etag != outcome.etag:
                new = replace(record, status=TODO, attempts=0, batch_id=None, lease_until=None,
                              error=None)  # fmt: skip
                return Change(new, "changed during processing", 0.0, "requeued")
            if outcome.ok:
                new = replace(record, status=DONE, lease_until=None, end_time=now, error=None,
                              output=outcome.output)  # fmt: skip
                return Change(new, "processed", 0.0, "done")
            if outcome.retryable and record.attempts < workflow.max_attempts:
                delay = retry_delay(workflow, record.attempts)
                new = replace(record, status=TODO, batch_id=None, lease_until=None,
                              error=outcome.error)  # fmt: skip
                return Change(new, "retryable failure", now + delay, "retried")
            new = replace(record, status=FAILED, lease_until=None, end_time=now,
                          error=outcome.error)  # fmt: skip
            return Change(new, "failed", 0.0, "failed")

        units: list[Unit] = [
            (_key(item), item, partial(decide, outcome=first[k])) for k, item in found
        ]
        written = self.apply("record outcomes", units, now)
        kinds = {"done": 0, "failed": 0, "retried": 0, "requeued": 0}
        for w in written:
            kinds[w.change.kind] += 1
        self._close_if_empty(batch_id, "FINISHED")
        ignored = len(first.keys() - {w.change.record.key for w in written})
        return Finished(**kinds, ignored=ignored)

    def release_batch(self, batch_id: str, now: float, reason: str) -> list[Transition]:
        def decide(item: Item | None) -> Change | None:
            record = _in_batch(item, batch_id)
            if record is None:
                return None
            new = replace(record, status=TODO, attempts=max(0, record.attempts - 1),
                          batch_id=None, lease_until=None)  # fmt: skip
            return Change(new, reason)

        batch = self._batch(batch_id)
        units = [(_key(i), i, decide) for i in self._batch_files(batch_id, batch)]
        out = [w.transition for w in self.apply("release a batch", units, now) if w.transition]
        self._close_if_empty(batch_id, "RELEASED")
        return out

    def reap(
        self, workflows: Sequence[Workflow], now: float, dead_batches: Sequence[str] = ()
    ) -> list[Transition]:
        limits = {w.name: w.max_attempts for w in workflows}
        dead = set(dead_batches)
        names = sorted(set(self.workflow_names()) | set(limits))
        where = "#lease_until < :now" + "".join(f" OR #batch_id = :d{n}" for n in range(len(dead)))
        values = {":now": av(float(now)), **{f":d{n}": av(b) for n, b in enumerate(sorted(dead))}}
        items = [
            i for w in names for i in self.partition(PROCESSING, w, values=values, where=where)
        ]

        def decide(item: Item | None, batch_id: str) -> Change | None:
            record = _in_batch(item, batch_id)
            if record is None or not ((record.lease_until or 0.0) < now or batch_id in dead):
                return None
            attempts = record.attempts
            if attempts >= limits.get(record.workflow, 3):
                error = f"lease expired on attempt {attempts}; no attempts left"
                new = replace(record, status=FAILED, lease_until=None, end_time=now, error=error)
            else:
                error = f"lease expired on attempt {attempts}"
                new = replace(record, status=TODO, batch_id=None, lease_until=None, error=error)
            return Change(new, "lease expired")

        units: list[Unit] = [
            (_key(i), i, partial(decide, batch_id=str(plain(i["batch_id"]))))
            for i in {str(plain(i["pk"])): i for i in items}.values()
        ]
        written = self.apply("reap expired leases", units, now)
        for batch_id in sorted({str(plain(i["batch_id"])) for i in items}):
            self._close_if_empty(batch_id, "EXPIRED")
        return [w.transition for w in written if w.transition]
