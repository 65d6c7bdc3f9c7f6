"""Rows and transition images of the SQLite ledger, and `ChangeWriter`, which writes the
status changes of one transaction in bulk.

Write paths work on plain row tuples (`Row`: the 15 record columns in RECORD_FIELDS order) rather
than FileRecord objects: building dataclasses and dicts per row was most of the cost of
register, claim and finish at a million rows.

Transition images are stored compactly (schema version 2): `new_image` is a JSON array of the
record's values in RECORD_FIELDS order, and `old_image` holds only the fields whose value differs
from the new image (a JSON object). Version-1 rows store both images as complete JSON objects;
`to_transition` reads both formats and returns the same complete `old` / `new` dicts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from ingestflow.adapters.state.sqlite_schema import RECORD_COLUMNS, RECORD_FIELDS
from ingestflow.domain.records import FileRecord, Transition
from ingestflow.domain.status import Status, check_transition

Row = tuple[Any, ...]
"""The 15 record columns of one `workflow_status` row, in RECORD_FIELDS order."""

SELECT = f"SELECT {RECORD_COLUMNS} FROM workflow_status"
SELECT_WITH_ID = f"SELECT id, {RECORD_COLUMNS} FROM workflow_status"

# Positions in a Row.
BUCKET, KEY, WORKFLOW, PREFIX, SIZE, ETAG, UPLOAD_TIME, STATUS = range(8)
ATTEMPTS, BATCH_ID, LEASE_UNTIL, START_TIME, END_TIME, ERROR, OUTPUT = range(8, 15)
_WIDTH = len(RECORD_FIELDS)
_STATUS = {s.value: s for s in Status}
_INSERT = (
    f"INSERT INTO workflow_status ({RECORD_COLUMNS}, available_at) "
    f"VALUES ({', '.join('?' for _ in range(_WIDTH + 1))})"
)
_INSERT_TRANSITION = (
    "INSERT INTO transitions (bucket, key, workflow, from_status, to_status, at, reason,"
    " old_image, new_image) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def to_record(row: Row) -> FileRecord:
    values = list(row)
    values[STATUS] = _STATUS[values[STATUS]]
    return FileRecord(*values)


def new_row(
    bucket: str, key: str, workflow: str, prefix: str, size: int, etag: str, t: float
) -> Row:
    """A fresh TODO record."""
    return (
        bucket,
        key,
        workflow,
        prefix,
        size,
        etag,
        t,
        "TODO",
        0,
        None,
        None,
        None,
        None,
        None,
        None,
    )


def image(row: Row) -> dict[str, Any]:
    """A row as the plain dict transitions carry (status as its string)."""
    return dict(zip(RECORD_FIELDS, row, strict=True))


def to_transition(r: Sequence[Any]) -> Transition:
    """A `transitions` row (id, bucket, key, workflow, from, to, at, reason, old, new)."""
    stored = orjson.loads(r[9])
    old: dict[str, Any] | None
    if isinstance(stored, list):  # compact: values in field order, old image as a diff
        stored += [None] * (_WIDTH - len(stored))
        new = dict(zip(RECORD_FIELDS, stored, strict=False))
        old = {**new, **orjson.loads(r[8])} if r[8] is not None else None
    else:
        new = stored
        old = orjson.loads(r[8]) if r[8] else None
    return Transition(
        id=r[0],
        bucket=r[1],
        key=r[2],
        workflow=r[3],
        old_status=_STATUS[r[4]] if r[4] else None,
        new_status=_STATUS[r[5]],
        at=r[6],
        reason=r[7],
        old=old,
        new=new,
    )


def _differs(a: Any, b: Any) -> bool:
    # 5 == 5.0, but the images must keep the type each side had.
    return a != b or type(a) is not type(b)


class ChangeWriter:
    """The status changes of one write transaction, written in bulk by `flush`: one
    executemany per statement shape, only the columns that changed (an index whose columns do
    not change is not touched), per-(workflow, status) counters, and one transition per status
    change with consecutive ids. The caller holds the transaction."""

    def __init__(self, db: sqlite3.Connection, now: float) -> None:
        self._db, self._now = db, now
        self._inserts: list[Row] = []
        self._updates: dict[tuple[tuple[int, ...], bool], list[list[Any]]] = {}
        self._changes: list[tuple[Row | None, Row, str, tuple[int, ...]]] = []
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._checked: set[tuple[str | None, str]] = set()

    def _count(self, row: Row, sign: int) -> None:
        delta = self._counts.get((row[WORKFLOW], row[STATUS]))
        if delta is None:
            delta = self._counts[(row[WORKFLOW], row[STATUS])] = [0, 0]
        delta[0] += sign
        delta[1] += sign * row[SIZE]

    def _check(self, old: str | None, new: str) -> None:
        if (old, new) not in self._checked:
            check_transition(_STATUS[old] if old else None, _STATUS[new])
            self._checked.add((old, new))

    def insert(self, new: Row, reason: str) -> None:
        """A new record (its status change from nothing)."""
        self._check(None, new[STATUS])
        self._inserts.append((*new, 0.0))
        self._count(new, 1)
        self._changes.append((None, new, reason, ()))

    def update(
        self,
        row_id: int,
        old: Row,
        new: Row,
        reason: str | None,
        available_at: float | None = None,
    ) -> None:
        """Write `new` over `old` (row `row_id`); `reason` None: an in-place update that is not
        a status change (no transition). `available_at` also sets that ledger-only column."""
        changed = tuple(i for i in range(2, _WIDTH) if _differs(old[i], new[i]))
        if reason is not None:
            self._check(old[STATUS], new[STATUS])
            self._changes.append((old, new, reason, changed))
        if not changed and available_at is None:
            return
        values = [new[i] for i in changed]
        if available_at is not None:
            values.append(available_at)
        values.append(row_id)
        self._updates.setdefault((changed, available_at is not None), []).append(values)
        if {WORKFLOW, SIZE, STATUS} & set(changed):
            self._count(old, -1)
            self._count(new, 1)

    def flush(self, returning: bool = True) -> list[Transition]:
        """Write everything; the transitions written (none built when not `returning`)."""
        db = self._db
        if self._inserts:
            db.executemany(_INSERT, self._inserts)
        for (changed, with_available), values in self._updates.items():
            sets = [f"{RECORD_FIELDS[i]} = ?" for i in changed]
            if with_available:
                sets.append("available_at = ?")
            db.executemany(f"UPDATE workflow_status SET {', '.join(sets)} WHERE id = ?", values)
        db.executemany(
            "INSERT INTO status_counts (workflow, status, files, bytes) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (workflow, status) DO UPDATE SET files = files + excluded.files,"
            " bytes = bytes + excluded.bytes",
            [(w, s, n, b) for (w, s), (n, b) in self._counts.items() if n or b],
        )
        if not self._changes:
            return []
        seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'transitions'").fetchone()
        first_id = (seq[0] if seq else 0) + 1
        now, dumps = self._now, orjson.dumps
        db.executemany(
            _INSERT_TRANSITION,
            [
                (
                    new[BUCKET],
                    new[KEY],
                    new[WORKFLOW],
                    old[STATUS] if old else None,
                    new[STATUS],
                    now,
                    reason,
                    dumps({RECORD_FIELDS[i]: old[i] for i in changed}).decode() if old else None,
                    dumps(new).decode(),
                )
                for old, new, reason, changed in self._changes
            ],
        )
        if not returning:
            return []
        return [
            Transition(
                id=first_id + i,
                bucket=new[BUCKET],
                key=new[KEY],
                workflow=new[WORKFLOW],
                old_status=_STATUS[old[STATUS]] if old else None,
                new_status=_STATUS[new[STATUS]],
                at=now,
                reason=reason,
                old=image(old) if old else None,
                new=image(new),
            )
            for i, (old, new, reason, _) in enumerate(self._changes)
        ]
