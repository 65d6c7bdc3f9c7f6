"""DynamoDBStatusStore: the ledger (StatusStore) on DynamoDB, for ingestflow on AWS.

`DynamoDBStatusStore("dynamodb://PREFIX?region=REGION", client=None)`: the tables are
`PREFIX-files`, `PREFIX-transitions`, ... (dynamodb_tables). The region is optional; the
endpoint, credentials and region otherwise come from the standard AWS configuration
(`AWS_ENDPOINT_URL`, profiles, roles), like S3ObjectStore: the same URL works on AWS and on a
moto server. `client` is a boto3 DynamoDB client to use instead (tests, a shared session).
Opening a store on missing tables creates them (like SQLite creates its file); `setup()` does
it explicitly (`ingestflow setup`). Errors are one-line LedgerErrors naming the prefix.

The layers: dynamodb_base (client, errors, pages, pool) < dynamodb_log (transition ids and
the change log) < dynamodb_changes (conditional per-file writes) < dynamodb_reads <
dynamodb_batches < this class (register, retry, workflows, markers, and the side tables,
delegated to dynamodb_side.DynamoSide on the meta table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from ingestflow.adapters.state.dynamodb_base import problem
from ingestflow.adapters.state.dynamodb_batches import DynamoBatches
from ingestflow.adapters.state.dynamodb_changes import Change, Unit, key_of
from ingestflow.adapters.state.dynamodb_items import Item, av, plain, record_from_item
from ingestflow.adapters.state.dynamodb_tables import FILES, META, META_INDEX, WORKFLOWS
from ingestflow.adapters.state.dynamodb_tables import create_tables as _create_tables
from ingestflow.domain import keys
from ingestflow.domain.alerts import AlertRecord, DeliveryRecord, Problem
from ingestflow.domain.errors import LedgerError, MissingExtraError
from ingestflow.domain.metrics import SinkState
from ingestflow.domain.records import FileRecord, ObjectInfo, Transition, UnroutedFile
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow

_BATCH_WRITE = 25


def parse_url(url: str) -> tuple[str, str | None]:
    """(table prefix, region or None) of "dynamodb://PREFIX?region=REGION"."""
    parts = urlsplit(url)
    regions = parse_qs(parts.query).get("region") or []
    region = regions[0] if regions else None
    if parts.scheme != "dynamodb" or not parts.netloc or parts.path not in ("", "/"):
        raise LedgerError(f"{url}: not a DynamoDB ledger URL (expected dynamodb://PREFIX)")
    return parts.netloc, region


def _client(region: str | None) -> Any:
    try:
        import boto3
    except ImportError:
        raise MissingExtraError("aws", "the DynamoDB ledger") from None
    return boto3.client("dynamodb", region_name=region)


class DynamoDBStatusStore(DynamoBatches):
    """StatusStore on DynamoDB; thread-safe (one boto3 client, a small write pool)."""

    def __init__(self, url: str, *, client: Any = None) -> None:
        prefix, region = parse_url(url)
        self.url = url
        super().__init__(client if client is not None else _client(region), prefix)
        self._noted = set()
        self.setup()
        from ingestflow.adapters.state.dynamodb_side import DynamoSide

        self.side = DynamoSide(
            self._client, self.tables[META], self.transitions_after, index=META_INDEX
        )

    def __repr__(self) -> str:
        return f"DynamoDBStatusStore({self.url!r})"

    def setup(self) -> list[str]:
        """Create the missing tables, indexes and stream; waits until ACTIVE. Idempotent."""
        try:
            return _create_tables(self._client, self.prefix)
        except Exception as exc:
            if not type(exc).__module__.startswith("botocore"):
                raise
            raise LedgerError(
                f"cannot open DynamoDB ledger {self.prefix}: {problem(exc)}"
            ) from None

    create_tables = setup

    def sync_workflows(self, workflows: Sequence[Workflow]) -> None:
        self.note_workflows(w.name for w in workflows)
        for w in workflows:
            item: Item = {
                "pk": av(w.name),
                "prefix": av(w.prefix),
                "transform": av(orjson.dumps(w.transform).decode()),
                "settings": av(orjson.dumps({
                    n: getattr(w, n) for n in ("batch_size", "max_wait", "max_batch_files",
                    "max_batch_bytes", "max_attempts", "lease", "retry_backoff", "stale_after")
                }).decode()),
                "include": av(orjson.dumps(list(w.include)).decode()),
                "options": av(orjson.dumps(dict(w.options)).decode()),
            }  # fmt: skip
            self._call("write a workflow", self._client.put_item,
                       TableName=self.tables[WORKFLOWS], Item=item)  # fmt: skip

    def register(self, bucket: str, files: Sequence[tuple[ObjectInfo, str]], now: float) -> int:
        for obj, _ in files:
            keys.validate_key(obj.key)
        wanted: dict[str, tuple[ObjectInfo, str]] = {}
        for obj, workflow in files:  # the same key twice in one call: the first one wins
            wanted.setdefault(obj.key, (obj, workflow))
        self.note_workflows({w for _, w in wanted.values()})
        found = self.get_many("read registered files", FILES, [key_of(bucket, k) for k in wanted])
        items = {str(plain(i["key"])): i for i in found}

        def decide(item: Item | None, obj: ObjectInfo, workflow: str) -> Change | None:
            if item is None:
                prefix = keys.parent_prefix(obj.key)
                new = FileRecord(bucket, obj.key, workflow, prefix, obj.size, obj.etag,
                                 obj.mtime, Status.TODO)  # fmt: skip
                return Change(new, "registered")
            old = record_from_item(item)
            if old.etag == obj.etag:
                return None
            if old.status in (Status.TODO, Status.PROCESSING):
                # Same status: updated in place; a PROCESSING file is re-queued at finish.
                new = replace(old, workflow=workflow, size=obj.size, etag=obj.etag,
                              upload_time=obj.mtime)  # fmt: skip
                return Change(new, None, float(plain(item["available_at"])))
            new = FileRecord(bucket, obj.key, workflow, old.prefix, obj.size, obj.etag,
                             obj.mtime, Status.TODO)  # fmt: skip
            return Change(new, "re-uploaded")

        units: list[Unit] = [
            (key_of(bucket, k), items.get(k), partial(decide, obj=o, workflow=w))
            for k, (o, w) in wanted.items()
        ]
        return sum(1 for w in self.apply("register files", units, now) if w.transition)

    def retry(self, bucket: str, keys: Sequence[str] | None, now: float) -> list[Transition]:
        if keys is None:
            where, values = "#bucket = :b", {":b": av(bucket)}
            items = [
                i
                for w in self.workflow_names()
                for i in self.partition(Status.FAILED, w, values=values, where=where)
            ]
        else:
            wanted = list(dict.fromkeys(keys))
            items = self.get_many("read failed files", FILES, [key_of(bucket, k) for k in wanted])
            order = {k: n for n, k in enumerate(wanted)}
            items.sort(key=lambda i: order[str(plain(i["key"]))])

        def decide(item: Item | None) -> Change | None:
            if item is None:
                return None
            old = record_from_item(item)
            if old.status is not Status.FAILED:
                return None
            new = replace(old, status=Status.TODO, attempts=0, batch_id=None, lease_until=None,
                          start_time=None, end_time=None, error=None)  # fmt: skip
            return Change(new, "retry requested")

        units: list[Unit] = [({"pk": i["pk"]}, i, decide) for i in items]
        return [w.transition for w in self.apply("retry files", units, now) if w.transition]

    # -- markers --

    def set_markers(self, bucket: str, markers: Sequence[tuple[str, str]]) -> None:
        wanted = set(markers)
        present = set(self.markers(bucket))
        self._write_markers(bucket, wanted - present, present - wanted)

    def add_markers(self, bucket: str, markers: Sequence[tuple[str, str]]) -> None:
        self._write_markers(bucket, set(markers) - set(self.markers(bucket)), set())

    def _write_markers(
        self, bucket: str, add: set[tuple[str, str]], remove: set[tuple[str, str]]
    ) -> None:
        self.note_workflows({w for w, _ in add})

        def key(workflow: str, prefix: str) -> Item:
            return {"pk": av(f"marker#{workflow}"), "sk": av(f"{bucket}/{prefix}")}

        requests = [{"DeleteRequest": {"Key": key(w, p)}} for w, p in sorted(remove)]
        requests += [{"PutRequest": {"Item": key(w, p)}} for w, p in sorted(add)]
        for start in range(0, len(requests), _BATCH_WRITE):
            pending: Any = {self.tables[META]: requests[start : start + _BATCH_WRITE]}
            for _ in range(9):
                answer = self._call("write markers", self._client.batch_write_item,
                                    RequestItems=pending)  # fmt: skip
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
            else:
                raise LedgerError(f"DynamoDB ledger {self.prefix}: write markers: throttled")

    # -- the side tables (dynamodb_side.DynamoSide) --

    def sink_states(self) -> list[SinkState]:
        return self.side.sink_states()

    def lease_sink(
        self, sink: str, owner: str, now: float, lease: float, take_over: str | None = None
    ) -> SinkState | None:
        return self.side.lease_sink(sink, owner, now, lease, take_over)

    def mark_in_flight(self, sink: str, owner: str, upto: int) -> bool:
        return self.side.mark_in_flight(sink, owner, upto)

    def advance_sink(self, sink: str, owner: str, position: int, now: float, dropped: int = 0,
                     totals: Mapping[str, float] | None = None) -> bool:  # fmt: skip
        return self.side.advance_sink(sink, owner, position, now, dropped, totals)

    def sink_failed(self, sink: str, owner: str, error: str, now: float) -> None:
        self.side.sink_failed(sink, owner, error, now)

    def release_sink(self, sink: str, owner: str) -> None:
        self.side.release_sink(sink, owner)

    def metric_totals(self, sink: str) -> dict[str, float]:
        return self.side.metric_totals(sink)

    def sync_alerts(self, problems: Sequence[Problem], evaluated: Sequence[tuple[str, str]],
                    notifiers: Sequence[str], now: float, renotify: float,
                    max_renotify: int) -> list[int]:  # fmt: skip
        return self.side.sync_alerts(problems, evaluated, notifiers, now, renotify, max_renotify)

    def take_deliveries(
        self, notifier: str, owner: str, now: float, lease: float
    ) -> list[tuple[DeliveryRecord, AlertRecord]]:
        return self.side.take_deliveries(notifier, owner, now, lease)

    def deliveries_sent(self, ids: Sequence[int], now: float) -> None:
        self.side.deliveries_sent(ids, now)

    def deliveries_failed(self, ids: Sequence[int], error: str, retry_at: float) -> None:
        self.side.deliveries_failed(ids, error, retry_at)

    def alerts(self, since: float) -> list[AlertRecord]:
        return self.side.alerts(since)

    def get_info(self, name: str) -> str | None:
        return self.side.get_info(name)

    def set_info(self, name: str, value: str) -> None:
        self.side.set_info(name, value)

    def swap_info(self, name: str, expected: str | None, value: str) -> bool:
        return self.side.swap_info(name, expected, value)

    def set_unrouted(self, files: Sequence[UnroutedFile]) -> None:
        self.side.set_unrouted(files)

    def unrouted(self, limit: int | None = None) -> list[UnroutedFile]:
        return self.side.unrouted(limit)

    def count_unrouted(self) -> int:
        return self.side.count_unrouted()
