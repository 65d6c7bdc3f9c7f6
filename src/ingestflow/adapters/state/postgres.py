"""PostgresStatusStore: the shared ledger (StatusStore on PostgreSQL), write side.

The same semantics as SqliteStatusStore (the contract suite runs against both); the
transaction model is in postgres_db, the change stream's ordering in postgres_rows, claims in
postgres_batches. Needs the `postgres` extra (psycopg 3 and psycopg_pool), imported lazily.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from ingestflow.adapters.state.postgres_alerts import PostgresAlerts
from ingestflow.adapters.state.postgres_batches import PostgresBatches
from ingestflow.adapters.state.postgres_metrics import PostgresMetrics
from ingestflow.adapters.state.postgres_rows import (
    ETAG,
    FRESH_TAIL,
    SELECT_WITH_ID,
    STATUS,
    UPLOAD_TIME,
    ChangeWriter,
    Row,
)
from ingestflow.config.secrets import Secret
from ingestflow.domain import keys
from ingestflow.domain.records import ObjectInfo, Transition, UnroutedFile
from ingestflow.domain.workflow import Workflow

_CHUNK = 5000  # keys looked up per query by register
_EXISTING = f"{SELECT_WITH_ID} WHERE bucket = %s AND key = ANY(%s)"
_ETAGS = "SELECT key, etag FROM workflow_status WHERE bucket = %s AND key = ANY(%s)"
_WORKFLOW = (
    "INSERT INTO workflow_metadata VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (name) DO UPDATE SET prefix = excluded.prefix, transform = excluded.transform,"
    " batch_size = excluded.batch_size, max_wait = excluded.max_wait,"
    " max_batch_files = excluded.max_batch_files, max_batch_bytes = excluded.max_batch_bytes,"
    " max_attempts = excluded.max_attempts, lease = excluded.lease,"
    " retry_backoff = excluded.retry_backoff, stale_after = excluded.stale_after,"
    " include = excluded.include, options = excluded.options, updated_at = excluded.updated_at"
)


def _registered(old: Row, obj: ObjectInfo, workflow: str) -> tuple[Row, str | None] | None:
    """What registering `obj` does to the record `old`: (new row, reason: None for an update in
    place), or None when it changes nothing."""
    if old[ETAG] == obj.etag:
        return None
    if old[STATUS] in ("TODO", "PROCESSING"):
        # Same status: update in place; a PROCESSING file is re-queued at finish.
        head = (*old[:2], workflow, old[3], obj.size, obj.etag, obj.mtime)
        return (*head, *old[UPLOAD_TIME + 1 :]), None
    row = (*old[:2], workflow, old[3], obj.size, obj.etag, obj.mtime)
    return row + FRESH_TAIL, "re-uploaded"


class PostgresStatusStore(PostgresAlerts, PostgresMetrics, PostgresBatches):
    """StatusStore on PostgreSQL; see PostgresDb for the transaction model.

    `PostgresStatusStore(url, password=None, *, min_size=1, max_size=8, connect_timeout=10.0)`:
    `url` a libpq URL or conninfo (`postgresql://user@host:5432/db`); `password` kept apart
    from it (a Secret), never shown. The schema is created if missing; a ledger written by a
    newer release is refused with a LedgerError."""

    def __init__(
        self,
        url: str,
        password: Secret | None = None,
        *,
        min_size: int = 1,
        max_size: int = 8,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            url, password, min_size=min_size, max_size=max_size, connect_timeout=connect_timeout
        )

    def sync_workflows(self, workflows: Sequence[Workflow]) -> None:
        if any(w.ready_marker is not None for w in workflows):
            self._ensure_folder_index()
        with self._tx() as cur:
            for w in sorted(workflows, key=lambda w: w.name):
                cur.execute(
                    _WORKFLOW,
                    (
                        w.name, w.prefix, w.transform, w.batch_size, w.max_wait,
                        w.max_batch_files, w.max_batch_bytes, w.max_attempts, w.lease,
                        w.retry_backoff, w.stale_after, json.dumps(list(w.include)),
                        json.dumps(dict(w.options)), time.time(),
                    ),
                )  # fmt: skip

    def register(self, bucket: str, files: Sequence[tuple[ObjectInfo, str]], now: float) -> int:
        validate, parent = keys.validate_key, keys.parent_prefix
        wanted: dict[str, tuple[ObjectInfo, str]] = {}
        for obj, workflow in files:
            validate(obj.key)
            wanted.setdefault(obj.key, (obj, workflow))  # the same key twice: the first wins
        ordered = sorted(wanted)  # rows are locked in key order: no deadlock between writers
        with self._tx() as cur:
            writer = ChangeWriter(cur, now, self._channel)
            for start in range(0, len(ordered), _CHUNK):
                chunk = ordered[start : start + _CHUNK]
                # New files first (a listing mostly finds new ones): insert them all, a known
                # key is skipped. Then a plain read of the keys that were known: a listing
                # registers every known file again, and locking them all would write every row.
                fresh = []
                for key in chunk:
                    obj, workflow = wanted[key]
                    fresh.append(
                        (bucket, key, workflow, parent(key), obj.size, obj.etag, obj.mtime)
                    )
                inserted = writer.insert(fresh, "registered")
                known = [key for key in chunk if key not in inserted]
                if not known:
                    continue
                cur.execute(_ETAGS, (bucket, known))
                changing = [key for key, etag in cur.fetchall() if etag != wanted[key][0].etag]
                if changing:
                    cur.execute(f"{_EXISTING} ORDER BY key FOR UPDATE", (bucket, changing))
                    for found in cur.fetchall():
                        obj, workflow = wanted[found[2]]
                        change = _registered(found[1:], obj, workflow)
                        if change is not None:
                            available = None if change[1] is None else 0.0
                            writer.update(found[0], found[1:], *change, available)
            writer.flush(returning=False)
            return writer.changes

    def retry(self, bucket: str, keys: Sequence[str] | None, now: float) -> list[Transition]:
        with self._tx() as cur:
            if keys is None:
                cur.execute(
                    f"{SELECT_WITH_ID} WHERE status = 'FAILED' AND bucket = %s"
                    " ORDER BY key FOR UPDATE",
                    (bucket,),
                )
            else:
                cur.execute(
                    f"{_EXISTING} AND status = 'FAILED' ORDER BY key FOR UPDATE",
                    (bucket, list(dict.fromkeys(keys))),
                )
            writer = ChangeWriter(cur, now, self._channel)
            for row in cur.fetchall():
                old = row[1:]
                new = (*old[:STATUS], "TODO", 0, None, None, None, None, None, old[-1])
                writer.update(row[0], old, new, "retry requested", 0.0)
            return writer.flush()

    def set_unrouted(self, files: Sequence[UnroutedFile]) -> None:
        latest = {f.key: f for f in files}  # the same key twice: the last one wins
        with self._tx() as cur:
            cur.execute("DELETE FROM unrouted")
            if latest:
                columns: list[list[Any]] = [[], [], [], []]
                for f in latest.values():
                    for column, value in zip(
                        columns, (f.key, f.size, f.seen_at, f.reason), strict=True
                    ):
                        column.append(value)
                cur.execute(
                    "INSERT INTO unrouted SELECT * FROM unnest(%s::text[], %s::bigint[],"
                    " %s::float8[], %s::text[])",
                    columns,
                )

    def set_markers(self, bucket: str, markers: Sequence[tuple[str, str]]) -> None:
        wanted = set(markers)
        if wanted == set(self.markers(bucket)):
            return  # the usual listing: nothing changed, nothing written
        with self._tx() as cur:
            cur.execute("SELECT workflow, prefix FROM markers WHERE bucket = %s", (bucket,))
            present = {(str(w), str(p)) for w, p in cur.fetchall()}
            for w, p in sorted(present - wanted):
                cur.execute(
                    "DELETE FROM markers WHERE bucket = %s AND workflow = %s AND prefix = %s",
                    (bucket, w, p),
                )
            self._insert_markers(cur, bucket, wanted - present)

    def add_markers(self, bucket: str, markers: Sequence[tuple[str, str]]) -> None:
        if markers:
            with self._tx() as cur:
                self._insert_markers(cur, bucket, set(markers))

    def _insert_markers(self, cur: Any, bucket: str, markers: set[tuple[str, str]]) -> None:
        if markers:
            chosen = sorted(markers)
            cur.execute(
                "INSERT INTO markers (bucket, workflow, prefix) SELECT %s, w, p"
                " FROM unnest(%s::text[], %s::text[]) AS m(w, p) ON CONFLICT DO NOTHING",
                (bucket, [w for w, _ in chosen], [p for _, p in chosen]),
            )
            if cur.rowcount:  # a folder became complete: its files may make a batch now
                cur.execute("SELECT pg_notify(%s, '')", (self._channel,))
