"""Values the pipeline passes around: landing objects, ledger records, transitions, outcomes."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ingestflow.domain.status import Status


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One object in the landing store. `etag` identifies its content version. `refused` is
    set (with the reason) for an entry the store will not read, e.g. a symbolic link."""

    key: str
    size: int
    etag: str
    mtime: float
    refused: str | None = None


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One row of the ledger (`workflow_status`). Times are epoch seconds."""

    bucket: str
    key: str
    workflow: str
    prefix: str
    size: int
    etag: str
    upload_time: float
    status: Status
    attempts: int = 0
    batch_id: str | None = None
    lease_until: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    error: str | None = None
    output: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain values (status as its string); the image stored with transitions."""
        data = {name: getattr(self, name) for name in RECORD_FIELDS}
        data["status"] = self.status.value
        return data


RECORD_FIELDS = tuple(f.name for f in fields(FileRecord))


@dataclass(slots=True)
class Transition:
    """One status change with the record before and after (the change stream). Not frozen:
    its images are dicts (mutable either way), and ledgers build thousands per call — a frozen
    dataclass's __init__ was most of that cost."""

    id: int
    bucket: str
    key: str
    workflow: str
    old_status: Status | None
    new_status: Status
    at: float
    reason: str
    old: dict[str, Any] | None
    new: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Batch:
    """Files one workflow run processes together, claimed under one lease."""

    batch_id: str
    workflow: str
    files: tuple[FileRecord, ...]
    lease_until: float


@dataclass(frozen=True, slots=True)
class Finished:
    """What recording a batch's outcomes did to its files: ended DONE or FAILED, back to TODO
    to be retried after a retryable failure, back to TODO because the file changed while it
    was processed (`requeued`), or nothing because the batch no longer holds the file (its
    lease was lost: `ignored`). The changes themselves are in the change stream."""

    done: int = 0
    failed: int = 0
    retried: int = 0
    requeued: int = 0
    ignored: int = 0

    def __add__(self, other: Finished) -> Finished:
        return Finished(
            self.done + other.done,
            self.failed + other.failed,
            self.retried + other.retried,
            self.requeued + other.requeued,
            self.ignored + other.ignored,
        )


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one file of a batch. `etag` is the version that was processed."""

    key: str
    etag: str
    ok: bool
    error: str | None = None
    retryable: bool = False
    output: str | None = None
    rows: int | None = None

    @classmethod
    def done(cls, key: str, etag: str, output: str, rows: int) -> FileOutcome:
        return cls(key=key, etag=etag, ok=True, output=output, rows=rows)

    @classmethod
    def failed(cls, key: str, etag: str, error: str, *, retryable: bool) -> FileOutcome:
        return cls(key=key, etag=etag, ok=False, error=error, retryable=retryable)


@dataclass(frozen=True, slots=True)
class UnroutedFile:
    """A landing file no workflow takes; listed and counted, never dropped silently."""

    key: str
    size: int
    seen_at: float
    reason: str
