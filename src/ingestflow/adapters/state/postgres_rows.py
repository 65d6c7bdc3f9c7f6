"""Rows and transitions of the PostgreSQL ledger, and `ChangeWriter`, which writes the status
changes of one transaction in bulk: one INSERT / UPDATE per kind of change over `unnest` of
arrays (a claim or a finished batch of a thousand files is a handful of statements), the
per-(workflow, status) counters, and one transition per status change.

The change stream is read by position (`transitions_after(id)`), so ids must become visible
in id order: a transaction numbers its transitions only while holding STREAM_LOCK (an advisory
lock held until commit), so no transaction can commit a smaller id after a reader saw a bigger
one. Writers hold it only for their last statements (counters and transitions), after their
row locks: claims still run side by side up to that point. Counters are written under the
same lock, so their rows are never a deadlock.

Rows are plain tuples (`Row`: the 15 record columns in RECORD_FIELDS order); images are JSON
arrays of those values. Images of new and claimed records are built by the server
(`image_sql`: they never travel through Python on the way in); the server prints a whole float
without its `.0`, so `_image` reads the float columns back as floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ingestflow.adapters.state.postgres_schema import STREAM_LOCK
from ingestflow.adapters.state.sql_dialect import POSTGRES
from ingestflow.domain.records import RECORD_FIELDS, FileRecord, Transition
from ingestflow.domain.status import Status, check_transition

if TYPE_CHECKING:
    import psycopg

Row = tuple[Any, ...]
"""The 15 record columns of one `workflow_status` row, in RECORD_FIELDS order."""

COLUMNS = ", ".join(RECORD_FIELDS)
SELECT = f"SELECT {COLUMNS} FROM workflow_status"
SELECT_WITH_ID = f"SELECT id, {COLUMNS} FROM workflow_status"
TRANSITION_COLUMNS = (
    "id, bucket, key, workflow, from_status, to_status, at, reason, old_image, new_image"
)

BUCKET, KEY, WORKFLOW, PREFIX, SIZE, ETAG, UPLOAD_TIME, STATUS = range(8)
ATTEMPTS, BATCH_ID, LEASE_UNTIL, START_TIME, END_TIME, ERROR, OUTPUT = range(8, 15)
_STATUS = {s.value: s for s in Status}

Fresh = tuple[str, str, str, str, int, str, float]
"""A new file: (bucket, key, workflow, prefix, size, etag, upload_time); it starts as TODO."""
FRESH_TAIL: Row = ("TODO", 0, None, None, None, None, None, None)

# Bulk statements take their rows as ONE JSON parameter (an array of arrays, by orjson):
# binding thousands of values as SQL arrays cost more in the driver than the statements did.
# `->>` gives an element's text, which casts back exactly (floats print round-trip exact).
_INSERT = (
    "INSERT INTO workflow_status (bucket, key, workflow, prefix, size, etag, upload_time, status)"
    " SELECT e->>0, e->>1, e->>2, e->>3, (e->>4)::bigint, e->>5, (e->>6)::float8, 'TODO'"
    " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS f(e, n) ORDER BY n"
    " ON CONFLICT (bucket, key) DO NOTHING"
)
# Every column a change may alter (bucket, key and prefix never change).
_MUTABLE = (
    ("workflow", "text"), ("size", "bigint"), ("etag", "text"), ("upload_time", "float8"),
    ("status", "text"), ("attempts", "integer"), ("batch_id", "text"),
    ("lease_until", "float8"), ("start_time", "float8"), ("end_time", "float8"),
    ("error", "text"), ("output", "text"),
)  # fmt: skip
_MUTABLE_AT = tuple(RECORD_FIELDS.index(name) for name, _ in _MUTABLE)
_UPDATE = (
    "UPDATE workflow_status AS ws SET "
    + ", ".join(f"{name} = u.{name}" for name, _ in _MUTABLE)
    + ", available_at = coalesce(u.available_at, ws.available_at) FROM (SELECT"
    + " (e->>0)::bigint AS id, "
    + ", ".join(f"(e->>{n + 1})::{kind} AS {name}" for n, (name, kind) in enumerate(_MUTABLE))
    + f", (e->>{len(_MUTABLE) + 1})::float8 AS available_at"
    + " FROM jsonb_array_elements(%s::jsonb) AS e) AS u WHERE ws.id = u.id"
)
# Images are JSON arrays inside the parameter: `e->6` prints them back (jsonb keeps a
# number's digits as written: 5 stays 5, 5.0 stays 5.0, a float reads back exactly).
_TRANSITIONS = (
    "INSERT INTO transitions (file_id, bucket, key, workflow, from_status, to_status, at, reason,"
    " old_image, new_image) SELECT (e->>0)::bigint, e->>1, e->>2, e->>3, e->>4, e->>5, %s, e->>6,"
    " CASE WHEN jsonb_typeof(e->7) = 'null' THEN NULL ELSE (e->7)::text END, (e->8)::text"
    " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY n RETURNING id"
)
_FLOATS = (UPLOAD_TIME, LEASE_UNTIL, START_TIME, END_TIME)


def image_sql(alias: str) -> str:
    """SQL for the image (JSON array text) of the `workflow_status` row `alias`."""
    return "json_build_array(" + ", ".join(f"{alias}.{n}" for n in RECORD_FIELDS) + ")::text"


# New records: the rows are inserted (a key another transaction inserted meanwhile is
# skipped); what was inserted, per workflow: (workflow, files, bytes, keys, ids). No lock is
# taken: a writer takes its row locks first and STREAM_LOCK last (at flush), never the reverse.
_REGISTER = (
    f"WITH ins AS ({_INSERT} RETURNING id, key, workflow, size)"
    " SELECT workflow, count(*), sum(size), array_agg(key), array_agg(id) FROM ins"
    " GROUP BY workflow"
)
# Their transitions, at flush under STREAM_LOCK, in insertion (id) order, the images built
# from the rows.
_FRESH_TRANSITIONS = (
    "INSERT INTO transitions (file_id, bucket, key, workflow, from_status, to_status, at,"
    " reason, old_image, new_image) SELECT ws.id, ws.bucket, ws.key, ws.workflow, NULL, 'TODO',"
    f" %s, %s, NULL, {image_sql('ws')} FROM workflow_status AS ws WHERE ws.id = ANY(%s::bigint[])"
    " ORDER BY ws.id"
)
# A claim in one statement: the locked TODO rows `ids` become PROCESSING (the FROM list reads
# each row as it was, for the old image: the statement's snapshot), then STREAM_LOCK is taken
# (`lock` needs every row of `u`: all rows are updated first), then the transitions are
# numbered (each needs the row of `lock`), in `ids` order. The claimed rows, in that order.
_CLAIM = (
    "WITH u AS (UPDATE workflow_status AS ws SET status = 'PROCESSING',"
    " attempts = ws.attempts + 1, batch_id = %(batch)s, lease_until = %(lease)s,"
    " start_time = %(now)s, end_time = NULL, error = NULL"
    f" FROM (SELECT c.n, o.id, {image_sql('o')} AS image"
    " FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS c(id, n)"
    " JOIN workflow_status AS o ON o.id = c.id) AS old WHERE ws.id = old.id"
    f" RETURNING old.n, ws.id, old.image AS old_image, {image_sql('ws')} AS new_image, "
    + ", ".join(f"ws.{name}" for name in RECORD_FIELDS)
    + "), lock AS (SELECT pg_advisory_xact_lock(%(lock)s) FROM (SELECT count(*) FROM u) AS n),"
    " t AS (INSERT INTO transitions (file_id, bucket, key, workflow, from_status, to_status, at,"
    " reason, old_image, new_image) SELECT u.id, u.bucket, u.key, u.workflow, 'TODO',"
    " 'PROCESSING', %(now)s, 'claimed', u.old_image, u.new_image FROM u CROSS JOIN lock"
    " ORDER BY u.n)"
    f" SELECT {COLUMNS} FROM u ORDER BY n"
)
_COUNTS = (
    "INSERT INTO status_counts (workflow, status, files, bytes)"
    " SELECT e->>0, e->>1, (e->>2)::bigint, (e->>3)::bigint FROM jsonb_array_elements(%s::jsonb) e"
    " ON CONFLICT (workflow, status) DO UPDATE SET files = status_counts.files + excluded.files,"
    " bytes = status_counts.bytes + excluded.bytes"
)


def _json(rows: Sequence[Sequence[Any]]) -> str:
    return orjson.dumps(rows).decode()


def to_record(row: Sequence[Any]) -> FileRecord:
    values = list(row)
    values[STATUS] = _STATUS[values[STATUS]]
    return FileRecord(*values)


def _image(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    values = orjson.loads(text)
    for at in _FLOATS:
        if values[at] is not None:
            values[at] = float(values[at])
    return dict(zip(RECORD_FIELDS, values, strict=True))


def to_transition(r: Sequence[Any]) -> Transition:
    """A `transitions` row, in TRANSITION_COLUMNS order."""
    old_status = _STATUS[r[4]] if r[4] else None
    new = _image(r[9])
    assert new is not None
    return Transition(
        int(r[0]), r[1], r[2], r[3], old_status, _STATUS[r[5]], float(r[6]), r[7], _image(r[8]),
        new,
    )  # fmt: skip


class ChangeWriter:
    """The status changes of one write transaction, written by `flush`. The caller holds the
    transaction and the row locks of every row it updates."""

    def __init__(self, cur: psycopg.Cursor[Any], now: float, channel: str | None = None) -> None:
        self._cur, self._now = cur, now
        self._channel = channel  # NOTIFY'd at flush when a file became TODO
        self._woken = False  # a file became TODO in this transaction
        self._fresh_ids: list[int] = []  # rows `insert` wrote: their transitions at flush
        self._fresh_reason = "registered"
        self._updates: list[tuple[int, Row, float | None]] = []
        self._changes: list[tuple[int, Row, Row, str]] = []
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._checked: set[tuple[str | None, str]] = set()
        self.changes = 0
        """How many status changes (transitions) were written by `flush`."""

    def _count(self, workflow: str, status: str, files: int, size: int) -> None:
        delta = self._counts.setdefault((workflow, status), [0, 0])
        delta[0] += files
        delta[1] += size

    def _check(self, old: str | None, new: str) -> None:
        if (old, new) not in self._checked:
            check_transition(_STATUS[old] if old else None, _STATUS[new])
            self._checked.add((old, new))

    def insert(self, fresh: Sequence[Fresh], reason: str) -> set[str]:
        """New records (TODO, attempts 0), inserted now (their transitions are written by
        `flush`); one reason per writer. The keys inserted: a key another process inserted
        meanwhile is left to it (not a change of this writer)."""
        self._check(None, "TODO")
        if not fresh:
            return set()
        cur = self._cur
        cur.execute(_REGISTER, (_json(fresh),))
        inserted: set[str] = set()
        for workflow, files, size, keys, ids in cur.fetchall():
            self._count(workflow, "TODO", int(files), int(size))
            inserted.update(keys)
            self._fresh_ids.extend(ids)
        self._fresh_reason = reason
        self._woken = self._woken or bool(inserted)
        return inserted

    def update(
        self, row_id: int, old: Row, new: Row, reason: str | None, available_at: float | None = None
    ) -> None:
        """Write `new` over `old` (row `row_id`); `reason` None: not a status change (no
        transition). `available_at` also sets that ledger-only column."""
        if new[STATUS] == "TODO" and old[STATUS] != "TODO":
            self._woken = True  # a file became TODO: wake the sleeping workers
        if reason is not None:
            self._check(old[STATUS], new[STATUS])
            self._changes.append((row_id, old, new, reason))
        self._updates.append((row_id, new, available_at))
        if old[STATUS] != new[STATUS] or old[WORKFLOW] != new[WORKFLOW] or old[SIZE] != new[SIZE]:
            self._count(old[WORKFLOW], old[STATUS], -1, -old[SIZE])
            self._count(new[WORKFLOW], new[STATUS], 1, new[SIZE])

    def claim(self, ids: Sequence[int], batch_id: str, lease_until: float) -> list[Row]:
        """Claim the TODO rows `ids` (locked by the caller) for `batch_id`: PROCESSING, one
        more attempt, leased until `lease_until`, started now; their transitions are written
        at once (under STREAM_LOCK, taken once every row is updated), the counters by
        `flush`. The claimed rows, in `ids` order."""
        self._check("TODO", "PROCESSING")
        params = {
            "batch": batch_id, "lease": lease_until, "now": self._now, "ids": POSTGRES.ids(ids),
            "lock": STREAM_LOCK,
        }  # fmt: skip
        self._cur.execute(_CLAIM, params)
        claimed = self._cur.fetchall()
        moved: dict[str, list[int]] = {}
        for new in claimed:
            files_bytes = moved.setdefault(new[WORKFLOW], [0, 0])
            files_bytes[0] += 1
            files_bytes[1] += new[SIZE]
        for workflow, (files, size) in moved.items():
            self._count(workflow, "TODO", -files, -size)
            self._count(workflow, "PROCESSING", files, size)
        self.changes += len(claimed)
        return claimed

    def flush(self, returning: bool = True) -> list[Transition]:
        """Write every update, the transitions (those of `insert`'s rows first) and the
        counters; the transitions of updates, in id order (none are built when not
        `returning`; those of new records are never returned)."""
        assert not (returning and self._fresh_ids), "new records' transitions are not returned"
        cur = self._cur
        if self._woken and self._channel is not None:
            cur.execute("SELECT pg_notify(%s, '')", (self._channel,))  # delivered at commit
        if self._updates:
            at = _MUTABLE_AT
            rows = [(row_id, *[new[i] for i in at], av) for row_id, new, av in self._updates]
            cur.execute(_UPDATE, (_json(rows),))
        counts = [(w, s, n, b) for (w, s), (n, b) in sorted(self._counts.items()) if n or b]
        if not counts and not self._changes and not self._fresh_ids:
            return []
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (STREAM_LOCK,))
        if counts:
            cur.execute(_COUNTS, (_json(counts),))
        if self._fresh_ids:
            ids = POSTGRES.ids(self._fresh_ids)
            cur.execute(_FRESH_TRANSITIONS, (self._now, self._fresh_reason, ids))
            self.changes += cur.rowcount
        out: list[Transition] = []
        if self._changes:
            out += self._write_changes(returning)
        return out

    def _write_changes(self, returning: bool) -> list[Transition]:
        """The transitions of `update`s, images from Python."""
        cur, now, changes = self._cur, self._now, self._changes
        rows = [
            (row_id, new[BUCKET], new[KEY], new[WORKFLOW], old[STATUS], new[STATUS], reason, old,
             new)
            for row_id, old, new, reason in changes
        ]  # fmt: skip
        cur.execute(_TRANSITIONS, (now, _json(rows)))
        ids = [r[0] for r in cur.fetchall()]
        self.changes += len(ids)
        if not returning:
            return []
        names, status = RECORD_FIELDS, _STATUS
        return [
            Transition(
                int(tid), new[BUCKET], new[KEY], new[WORKFLOW], status[old[STATUS]],
                status[new[STATUS]], now, reason, dict(zip(names, old, strict=True)),
                dict(zip(names, new, strict=True)),
            )
            for tid, (_, old, new, reason) in zip(ids, changes, strict=True)
        ]  # fmt: skip
