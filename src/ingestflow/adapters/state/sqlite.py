"""SqliteStatusStore: the embedded ledger (StatusStore on SQLite), write side."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from ingestflow.adapters.state.sqlite_alerts import SqliteAlerts
from ingestflow.adapters.state.sqlite_batches import SqliteBatches
from ingestflow.adapters.state.sqlite_metrics import SqliteMetrics
from ingestflow.adapters.state.sqlite_rows import (
    ETAG,
    FRESH_TAIL,
    SELECT_WITH_ID,
    STATUS,
    UPLOAD_TIME,
    ChangeWriter,
    Fresh,
)
from ingestflow.domain import keys
from ingestflow.domain.records import ObjectInfo, Transition, UnroutedFile
from ingestflow.domain.workflow import Workflow

_CHUNK = 5000  # keys looked up per query by register
_EXISTING = f"{SELECT_WITH_ID} WHERE bucket = ? AND key IN (SELECT value FROM json_each(?))"


class SqliteStatusStore(SqliteAlerts, SqliteMetrics, SqliteBatches):
    """StatusStore on SQLite; see SqliteDb for the transaction model.

    `SqliteStatusStore(path, busy_timeout=60.0, *, read_only=False)`: `read_only` opens an
    existing ledger without ever writing it (`status`, `files`, `history` on a read-only
    folder); its write methods raise LedgerError."""

    def __init__(
        self, path: str | Path, busy_timeout: float = 60.0, *, read_only: bool = False
    ) -> None:
        super().__init__(path, busy_timeout, read_only=read_only)

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"SqliteStatusStore({self.path!r}{mode})"

    def sync_workflows(self, workflows: Sequence[Workflow]) -> None:
        with self._tx() as db:
            if any(w.ready_marker is not None for w in workflows):
                self._ensure_folder_index(db)
            for w in workflows:
                db.execute(
                    "INSERT OR REPLACE INTO workflow_metadata VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        w.name,
                        w.prefix,
                        w.transform,
                        w.batch_size,
                        w.max_wait,
                        w.max_batch_files,
                        w.max_batch_bytes,
                        w.max_attempts,
                        w.lease,
                        w.retry_backoff,
                        w.stale_after,
                        json.dumps(list(w.include)),
                        json.dumps(dict(w.options)),
                        time.time(),
                    ),
                )

    def register(self, bucket: str, files: Sequence[tuple[ObjectInfo, str]], now: float) -> int:
        validate, parent = keys.validate_key, keys.parent_prefix
        for obj, _ in files:
            validate(obj.key)
        seen: set[str] = set()  # the same key twice in one call: the first one wins
        with self._tx() as db:
            writer = ChangeWriter(db, now)
            for start in range(0, len(files), _CHUNK):
                chunk = files[start : start + _CHUNK]
                wanted = orjson.dumps([obj.key for obj, _ in chunk]).decode()
                existing = {r[2]: r for r in db.execute(_EXISTING, (bucket, wanted))}
                fresh: list[Fresh] = []
                for obj, workflow in chunk:
                    key = obj.key
                    if key in seen:
                        continue
                    seen.add(key)
                    found = existing.get(key)
                    if found is None:
                        fresh.append(
                            (bucket, key, workflow, parent(key), obj.size, obj.etag, obj.mtime)
                        )
                        continue
                    old = found[1:]
                    if old[ETAG] == obj.etag:
                        continue
                    if old[STATUS] in ("TODO", "PROCESSING"):
                        # Same status: update in place; a PROCESSING file is re-queued at finish.
                        head = (*old[:2], workflow, old[3], obj.size, obj.etag, obj.mtime)
                        writer.update(found[0], old, (*head, *old[UPLOAD_TIME + 1 :]), None)
                    else:
                        row = (bucket, key, workflow, old[3], obj.size, obj.etag, obj.mtime)
                        writer.update(found[0], old, row + FRESH_TAIL, "re-uploaded", 0.0)
                writer.insert(fresh, "registered")
            writer.flush(returning=False)
            return writer.changes

    def retry(self, bucket: str, keys: Sequence[str] | None, now: float) -> list[Transition]:
        with self._tx() as db:
            if keys is None:
                rows = db.execute(
                    f"{SELECT_WITH_ID} INDEXED BY workflow_status_failed"
                    " WHERE status = 'FAILED' AND bucket = ?",
                    (bucket,),
                ).fetchall()
            else:
                wanted = orjson.dumps(list(dict.fromkeys(keys))).decode()
                failed = f"{_EXISTING} AND status = 'FAILED'"
                rows = db.execute(failed, (bucket, wanted)).fetchall()
            writer = ChangeWriter(db, now)
            for row in rows:
                old = row[1:]
                new = (*old[:STATUS], "TODO", 0, None, None, None, None, None, old[-1])
                writer.update(row[0], old, new, "retry requested", 0.0)
            return writer.flush()

    def set_unrouted(self, files: Sequence[UnroutedFile]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM unrouted")
            db.executemany(
                "INSERT OR REPLACE INTO unrouted VALUES (?, ?, ?, ?)",
                [(f.key, f.size, f.seen_at, f.reason) for f in files],
            )

    def set_markers(self, bucket: str, markers: Sequence[tuple[str, str]]) -> None:
        wanted = set(markers)
        if wanted == set(self.markers(bucket)):
            return  # the usual listing: nothing changed, nothing written
        with self._tx() as db:
            present = set(
                db.execute("SELECT workflow, prefix FROM markers WHERE bucket = ?", (bucket,))
            )
            db.executemany(
                "DELETE FROM markers WHERE bucket = ? AND workflow = ? AND prefix = ?",
                [(bucket, w, p) for w, p in present - wanted],
            )
            self._insert_markers(db, bucket, wanted - present)

    def add_markers(self, bucket: str, markers: Sequence[tuple[str, str]]) -> None:
        if markers:
            with self._tx() as db:
                self._insert_markers(db, bucket, markers)

    @staticmethod
    def _insert_markers(
        db: sqlite3.Connection,
        bucket: str,
        markers: Sequence[tuple[str, str]] | set[tuple[str, str]],
    ) -> None:
        db.executemany(
            "INSERT OR IGNORE INTO markers (bucket, workflow, prefix) VALUES (?, ?, ?)",
            [(bucket, w, p) for w, p in markers],
        )
