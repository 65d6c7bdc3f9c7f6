"""The items of the DynamoDB ledger (dynamodb.py) and their conversions, in DynamoDB's
AttributeValue form ({"S": ...}, {"N": ...}). Pure: no boto3, so the change-stream Lambda
(`forward_metrics`) and the unit tests use it without AWS.

A file item (table `<prefix>-files`, key `pk` = "<bucket>/<key>") holds the FileRecord fields
under their own names (a field that is None is absent) and these ledger-only attributes:

- `rev` N: optimistic lock; every write is conditioned on the revision it read.
- `available_at` N: a TODO file is claimable from then on (retry backoff).
- `changed_at` N, `reason` S: the time and reason of the last status change, so a stream
  record alone gives a full Transition.
- `tid` N: the ledger's id of that change (the `transitions` item written with it).
- `q_pk` S, `q_sk` S (TODO and PROCESSING only: the sparse queue index) or `o_pk` S, `o_sk` S
  (DONE and FAILED: the outcome index): `<STATUS>#<workflow>#<shard>`,
  `<upload_time>\\x1f<key>\\x1f<bucket>`.

Sort keys use `sortable(t)`: 16 hex digits that sort as the float does (exactly; text of a
rounded time would tie files a microsecond apart and misorder them by key). The separator
\\x1f cannot occur in a key (keys.validate_key refuses control characters) and sorts before
every printable character, so "a" sorts before "a/b" as in Python.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from typing import Any

from ingestflow.adapters.state.dynamodb_tables import OUTCOME_INDEX, QUEUE_INDEX
from ingestflow.domain.records import RECORD_FIELDS, FileRecord, Transition
from ingestflow.domain.status import Status

Item = dict[str, Any]
"""One DynamoDB item in AttributeValue form."""

SEP = "\x1f"
SHARDS = 1  # status-index partitions per (status, workflow); research aws.md §1.2
_NUMBERS = frozenset({"size", "upload_time", "attempts", "lease_until", "start_time", "end_time"})
_INTEGERS = frozenset({"size", "attempts"})
_STATUS = {s.value: s for s in Status}
# Ledger-only attributes of a file item (everything else is a FileRecord field).
LEDGER_ATTRIBUTES = (
    "pk", "rev", "available_at", "changed_at", "reason", "tid", "q_pk", "q_sk", "o_pk", "o_sk",
)  # fmt: skip


def av(value: Any) -> dict[str, Any]:
    """A Python value (str, int, float, bool) as an AttributeValue."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": repr(value)}  # the shortest text that reads back as the same float
    raise TypeError(f"cannot store {type(value).__name__}")


def plain(value: Mapping[str, Any]) -> Any:
    """An AttributeValue as a Python value (numbers: int when integral text, else float)."""
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        text = str(value["N"])
        return int(text) if text.lstrip("-").isdigit() else float(text)
    if "BOOL" in value:
        return bool(value["BOOL"])
    if "NULL" in value:
        return None
    raise TypeError(f"unexpected attribute value {sorted(value)}")


def sortable(t: float) -> str:
    """`t` as 16 hex digits whose text order is the number order (IEEE 754 bits, the sign bit
    flipped for positives and every bit for negatives)."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", float(t) + 0.0))  # -0.0 sorts as 0.0
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | 1 << 63
    return f"{bits:016x}"


def shard(key: str) -> int:
    return zlib.crc32(key.encode()) % SHARDS


def file_pk(bucket: str, key: str) -> str:
    return f"{bucket}/{key}"


ACTIVE = frozenset({Status.TODO, Status.PROCESSING})


def index_of(status: Status | str) -> tuple[str, str, str]:
    """(index name, partition attribute, sort attribute) holding files of `status`: the
    sparse queue index for active files, the outcome index for ended ones."""
    if Status(status) in ACTIVE:
        return QUEUE_INDEX, "q_pk", "q_sk"
    return OUTCOME_INDEX, "o_pk", "o_sk"


def status_partition(status: Status | str, workflow: str, part: int = 0) -> str:
    return f"{Status(status).value}#{workflow}#{part}"


def status_sort(upload_time: float, key: str, bucket: str) -> str:
    return f"{sortable(upload_time)}{SEP}{key}{SEP}{bucket}"


def file_item(
    record: FileRecord,
    *,
    rev: int,
    available_at: float = 0.0,
    changed_at: float | None = None,
    reason: str | None = None,
    tid: int | None = None,
) -> Item:
    """The item of `record` at revision `rev`; `changed_at`/`reason`/`tid` describe its last
    status change (kept on the item so the stream record of a change is complete)."""
    item: Item = {
        "pk": {"S": file_pk(record.bucket, record.key)},
        "rev": av(rev),
        "available_at": av(float(available_at)),
    }
    _, hash_key, range_key = index_of(record.status)
    item[hash_key] = {"S": status_partition(record.status, record.workflow, shard(record.key))}
    item[range_key] = {"S": status_sort(record.upload_time, record.key, record.bucket)}
    for name, value in zip(RECORD_FIELDS, _values(record), strict=True):
        if value is not None:
            item[name] = av(_number(name, value))
    for name, extra in (("changed_at", changed_at), ("reason", reason), ("tid", tid)):
        if extra is not None:
            item[name] = av(extra)
    return item


def _values(record: FileRecord) -> tuple[Any, ...]:
    return tuple(
        record.status.value if n == "status" else getattr(record, n) for n in RECORD_FIELDS
    )


def _number(name: str, value: Any) -> Any:
    if name in _INTEGERS:
        return int(value)
    if name in _NUMBERS:
        return float(value)
    return value


def image_from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """The record fields of a file item as the plain dict transitions carry (missing: None)."""
    image: dict[str, Any] = {}
    for name in RECORD_FIELDS:
        value = item.get(name)
        value = None if value is None else plain(value)
        if value is not None and name in _NUMBERS:
            value = int(value) if name in _INTEGERS else float(value)
        image[name] = value
    return image


def record_from_image(image: Mapping[str, Any]) -> FileRecord:
    values = dict(image)
    values["status"] = _STATUS[str(values["status"])]
    return FileRecord(**values)


def record_from_item(item: Mapping[str, Any]) -> FileRecord:
    """The FileRecord a file item holds."""
    return record_from_image(image_from_item(item))


def transition_from_stream_record(record: Mapping[str, Any]) -> Transition | None:
    """The Transition one DynamoDB Streams record of the files table carries (a Lambda event's
    record or GetRecords'), or None when it is not a status change: an in-place update (a
    re-upload of a TODO file, a lease renewal), a removal, or an item that is not a file.

    `id` is the ledger's transition id (`tid`) when the item has one, else the stream's
    SequenceNumber. `at` and `reason` are the change's own (`changed_at`, `reason`)."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    change = record.get("dynamodb") or {}
    new_item = change.get("NewImage") or {}
    old_item = change.get("OldImage") or None
    if "status" not in new_item or "bucket" not in new_item:
        return None
    new = image_from_item(new_item)
    old = image_from_item(old_item) if old_item and "status" in old_item else None
    if old is not None and old["status"] == new["status"]:
        return None
    tid = new_item.get("tid")
    ident = int(plain(tid)) if tid is not None else int(change.get("SequenceNumber") or 0)
    at = new_item.get("changed_at")
    reason = new_item.get("reason")
    return Transition(
        ident,
        new["bucket"],
        new["key"],
        new["workflow"],
        None if old is None else _STATUS[old["status"]],
        _STATUS[new["status"]],
        float(plain(at)) if at is not None else 0.0,
        str(plain(reason)) if reason is not None else "",
        old,
        new,
    )
