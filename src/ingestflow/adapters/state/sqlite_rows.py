"""Rows and transition images of the SQLite ledger, and `ChangeWriter`, which writes the
status changes of one transaction in bulk.

Write paths work on plain row tuples (`Row`: the 15 record columns in RECORD_FIELDS order) rather
than FileRecord objects: building dataclasses and dicts per row was most of the cost of
register, claim and finish at a million rows.

Transition images are stored compactly (schema version 2): `new_image` is a JSON array of the
record's values in RECORD_FIELDS order without the four the transition row already holds
(bucket, key, workflow and status = to_status), and `old_image` is a JSON object of only the
fields the change may have altered (their old values; the rest equals the new image).
Version-1 rows store both images as complete JSON objects; `to_transition` reads both formats
and returns the same complete `old` / `new` dicts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from itertools import count
from operator import itemgetter
from typing import Any

import orjson

from ingestflow.adapters.state.sqlite_schema import RECORD_COLUMNS
from ingestflow.domain.records import RECORD_FIELDS, FileRecord, Transition
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
# Fresh rows bind only the values they have: the other columns take their defaults.
_INSERT = (
    "INSERT INTO workflow_status (bucket, key, workflow, prefix, size, etag, upload_time, status)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 'TODO')"
)
# The transitions of the rows inserted after row id `?`, in id order, their compact images
# built by SQLite from the rows themselves (no per-row work in Python). Doubles are printed
# with 17 significant digits, so the image reads back as exactly the stored value.
_INSERT_REGISTERED = (
    "INSERT INTO transitions (bucket, key, workflow, to_status, at, reason, new_image)"
    " SELECT bucket, key, workflow, 'TODO', ?, ?, '[' || json_quote(prefix) || ',' || size"
    " || ',' || json_quote(etag) || ',' || printf('%!.17g', upload_time)"
    " || ',0,null,null,null,null,null,null]' FROM workflow_status WHERE id > ? ORDER BY id"
)
_INSERT_TRANSITION = (
    "INSERT INTO transitions (bucket, key, workflow, from_status, to_status, at, reason,"
    " old_image, new_image) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def to_record(row: Row) -> FileRecord:
    values = list(row)
    values[STATUS] = _STATUS[values[STATUS]]
    return FileRecord(*values)


Fresh = tuple[str, str, str, str, int, str, float]
"""A new file: (bucket, key, workflow, prefix, size, etag, upload_time); it starts as TODO."""

# The rest of a fresh record: status TODO, attempts 0, nothing else set (the column defaults).
FRESH_TAIL: Row = ("TODO", 0, None, None, None, None, None, None)


def image(row: Row) -> dict[str, Any]:
    """A row as the plain dict transitions carry (status as its string)."""
    return dict(zip(RECORD_FIELDS, row, strict=False))


def _old_image(positions: tuple[int, ...]) -> Callable[[Row], dict[str, Any]]:
    """What an update stores of the old record: its values at `positions`, by field name."""
    names = tuple(RECORD_FIELDS[i] for i in positions)
    if len(positions) == 1:
        (only,) = positions
        return lambda row: {names[0]: row[only]}
    values = itemgetter(*positions)
    return lambda row: dict(zip(names, values(row), strict=True))


def to_transition(r: Sequence[Any]) -> Transition:
    """A `transitions` row (id, bucket, key, workflow, from, to, at, reason, old, new)."""
    stored = orjson.loads(r[9])
    old: dict[str, Any] | None
    if isinstance(stored, list):  # compact: see the module docstring
        stored += [None] * (_WIDTH - 4 - len(stored))
        new = dict(
            zip(RECORD_FIELDS, [r[1], r[2], r[3], *stored[:4], r[5], *stored[4:]], strict=False)
        )
        old = {**new, **orjson.loads(r[8])} if r[8] is not None else None
    else:
        new = stored
        old = orjson.loads(r[8]) if r[8] else None
    old_status = _STATUS[r[4]] if r[4] else None
    return Transition(r[0], r[1], r[2], r[3], old_status, _STATUS[r[5]], r[6], r[7], old, new)


def changed_columns(old: Row, new: Row) -> tuple[int, ...]:
    """Positions whose value differs (5 == 5.0, but the images keep the type each side had)."""
    return tuple(
        [i for i in range(2, _WIDTH) if old[i] != new[i] or type(old[i]) is not type(new[i])]
    )


class ChangeWriter:
    """The status changes of one write transaction, written in bulk by `flush`: one
    executemany per statement shape, only the columns that change (an index whose columns do
    not change is not touched), per-(workflow, status) counters, and one transition per status
    change with consecutive ids. The caller holds the transaction."""

    def __init__(self, db: sqlite3.Connection, now: float) -> None:
        self._db, self._now = db, now
        self._fresh: list[Sequence[Fresh]] = []  # new records, all with the same reason
        self._fresh_reason = "registered"
        self._updates: dict[tuple[tuple[int, ...], bool], list[Sequence[Any]]] = {}
        self._changes: list[tuple[Row, Row, str, tuple[int, ...]]] = []
        self._bulk = 0  # status changes written by record_bulk (not returned by flush)
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._checked: set[tuple[str | None, str]] = set()

    @property
    def changes(self) -> int:
        """How many status changes (transitions) `flush` writes."""
        fresh = sum(len(rows) for rows in self._fresh)
        return len(self._changes) + fresh + self._bulk

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

    def insert(self, fresh: Sequence[Fresh], reason: str) -> None:
        """New records (TODO, attempts 0): each a status change from nothing. One reason per
        writer (their transitions are written by one statement)."""
        self._check(None, "TODO")
        if self._fresh and reason != self._fresh_reason:
            raise ValueError(f"new records of one write share a reason: {reason!r}")
        self._fresh.append(fresh)
        self._fresh_reason = reason

    def update(
        self,
        row_id: int,
        old: Row,
        new: Row,
        reason: str | None,
        available_at: float | None = None,
        changed: tuple[int, ...] | None = None,
    ) -> None:
        """Write `new` over `old` (row `row_id`); `reason` None: an in-place update that is not
        a status change (no transition). `available_at` also sets that ledger-only column.
        `changed`: the positions the caller may change (a superset is fine), else compared."""
        if changed is None:
            changed = changed_columns(old, new)
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
        if old[STATUS] != new[STATUS] or old[WORKFLOW] != new[WORKFLOW] or old[SIZE] != new[SIZE]:
            self._count(old, -1)
            self._count(new, 1)

    def record_bulk(
        self,
        items: Sequence[tuple[int, Row, Row]],
        reason: str,
        statement: str,
        params: dict[str, Any],
    ) -> None:
        """Status changes of many rows (row id, old, new) that the caller writes itself with
        one UPDATE (a claim, a batch's successful files: the hot paths). Their transitions are
        written now by `statement` (sqlite_bulk.transitions_sql, given `params`), which reads
        the rows before that UPDATE and numbers them in the order of `items`; the counters
        are updated at `flush`. The moves keep each file's size."""
        moves: dict[tuple[str, str, str, str], list[int]] = {}  # counted per kind of move
        for _, old, new in items:
            move = (old[WORKFLOW], old[STATUS], new[WORKFLOW], new[STATUS])
            delta = moves.get(move)
            if delta is None:
                delta = moves[move] = [0, 0]
            delta[0] += 1
            delta[1] += old[SIZE]
        for (workflow, status, new_workflow, new_status), (files, size) in moves.items():
            self._check(status, new_status)
            for key, sign in (((workflow, status), -1), ((new_workflow, new_status), 1)):
                counted = self._counts.setdefault(key, [0, 0])
                counted[0] += sign * files
                counted[1] += sign * size
        if not items:
            return
        cursor = self._db.execute(statement, {**params, "at": self._now, "reason": reason})
        if cursor.rowcount != len(items):
            raise RuntimeError(f"wrote {cursor.rowcount} transitions for {len(items)} changes")
        self._bulk += len(items)

    def flush(self, returning: bool = True) -> list[Transition]:
        """Write everything; the transitions written, in id order (new records first; none
        are built when not `returning`; those of record_bulk never are)."""
        db, now, counts = self._db, self._now, self._counts
        if self._fresh:  # rows are numbered after the last one: see _INSERT_REGISTERED
            last_row = db.execute("SELECT coalesce(max(id), 0) FROM workflow_status").fetchone()
        for fresh in self._fresh:
            for _, _, workflow, _, size, _, _ in fresh:
                delta = counts.get((workflow, "TODO"))
                if delta is None:
                    delta = counts[(workflow, "TODO")] = [0, 0]
                delta[0] += 1
                delta[1] += size
            db.executemany(_INSERT, fresh)
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
        if not self._changes and not self._fresh:
            return []
        seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'transitions'").fetchone()
        first_id = (seq[0] if seq else 0) + 1
        dumps, names = orjson.dumps, RECORD_FIELDS
        old_images = {changed: _old_image(changed) for *_, changed in self._changes}
        if self._fresh:
            db.execute(_INSERT_REGISTERED, (now, self._fresh_reason, last_row[0]))
        db.executemany(
            _INSERT_TRANSITION,
            [
                (
                    new[BUCKET],
                    new[KEY],
                    new[WORKFLOW],
                    old[STATUS],
                    new[STATUS],
                    now,
                    reason,
                    dumps(old_images[changed](old)).decode(),
                    dumps(new[PREFIX:STATUS] + new[ATTEMPTS:]).decode(),
                )
                for old, new, reason, changed in self._changes
            ],
        )
        if not returning:
            return []
        status, todo, ids = _STATUS, Status.TODO, count(first_id)
        out = [
            Transition(
                next(ids),
                *r[:3],
                None,
                todo,
                now,
                self._fresh_reason,
                None,
                dict(zip(names, r + FRESH_TAIL, strict=False)),
            )
            for fresh in self._fresh
            for r in fresh
        ]
        out += [
            Transition(
                next(ids),
                new[BUCKET],
                new[KEY],
                new[WORKFLOW],
                status[old[STATUS]],
                status[new[STATUS]],
                now,
                reason,
                dict(zip(names, old, strict=False)),
                dict(zip(names, new, strict=False)),
            )
            for old, new, reason, _ in self._changes
        ]
        return out
