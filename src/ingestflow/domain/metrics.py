"""Business metrics derived from the change stream (pure; shared by every sink and, later, by
the AWS stream handler).

A `-> DONE` transition gives, per file, one value of each distribution (processing time,
queue wait, end-to-end latency, the file's size) and adds one file and its bytes to the counts;
a `-> FAILED` transition adds one failed file (tagged with its `error_kind`). Backlog gauges
come from the ledger's TODO counts, not from transitions.

Tags are bounded and the same for every sink: `env`, `workflow`, `bucket`, `prefix` (the
workflow's configured prefix), `folder` (the key's parent folder cut to `folder_depth`
segments), `file_type`, and `error_kind` on failures. Never a key, batch id or time: "by hour"
is a query-time rollup. Tag values are normalised once here (see `tag_value`), so Datadog,
DogStatsD, Prometheus and JSON lines see the same values.

Counts are kept per closed time bucket (`bucket_start`, COUNT_INTERVAL seconds of the
transitions' `at`): a count point carries the bucket's whole total, recomputed from the ledger,
so sending it again (after a crash, or from a second forwarder) rewrites the same value under
Datadog's last-write-wins rule instead of adding to it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ingestflow.domain import keys
from ingestflow.domain.records import Transition
from ingestflow.domain.status import Status

# Metric names (Datadog style; Prometheus names are derived in its adapter).
PROCESSING_TIME = "ingestion.file.processing_time"
QUEUE_WAIT_TIME = "ingestion.file.queue_wait_time"
END_TO_END_LATENCY = "ingestion.file.end_to_end_latency"
FILE_SIZE = "ingestion.file.size"
FILES_PROCESSED = "ingestion.files.processed"
BYTES_PROCESSED = "ingestion.bytes.processed"
FILES_FAILED = "ingestion.files.failed"
BACKLOG_FILES = "ingestion.backlog.files"
BACKLOG_OLDEST_AGE = "ingestion.backlog.oldest_age"

DISTRIBUTIONS = (PROCESSING_TIME, QUEUE_WAIT_TIME, END_TO_END_LATENCY, FILE_SIZE)
COUNTS = (FILES_PROCESSED, BYTES_PROCESSED, FILES_FAILED)
GAUGES = (BACKLOG_FILES, BACKLOG_OLDEST_AGE)
UNITS = {
    PROCESSING_TIME: "second",
    QUEUE_WAIT_TIME: "second",
    END_TO_END_LATENCY: "second",
    FILE_SIZE: "byte",
    FILES_PROCESSED: "file",
    BYTES_PROCESSED: "byte",
    FILES_FAILED: "file",
    BACKLOG_FILES: "file",
    BACKLOG_OLDEST_AGE: "second",
}

DISTRIBUTION, COUNT, GAUGE = "distribution", "count", "gauge"
COUNT_INTERVAL = 60  # seconds per count bucket (Datadog's `interval` of the count points)
DEFAULT_FOLDER_DEPTH = 2
MAX_FOLDER_DEPTH = 16
MAX_TAG_VALUE = 200  # Datadog's limit for a whole tag; values are cut well within it

# The failure classes (`error_kind`): a small fixed set, matched on the start of the error.
ERROR_KINDS = (
    "bad_value",
    "missing_column",
    "malformed",
    "refused",
    "gone",
    "io",
    "lease_expired",
    "engine",
    "other",
)
_ERROR_PATTERNS = (
    ("bad_value", re.compile(r"^column .*, row \d+")),
    ("missing_column", re.compile(r"^missing required column")),
    (
        "malformed",
        re.compile(
            r"^(malformed CSV|empty file|empty header|unreadable header|header has|header repeats"
            r"|binary content|no line break|corrupt)"
        ),
    ),
    ("refused", re.compile(r"^refused")),
    ("gone", re.compile(r"^input file is gone")),
    ("io", re.compile(r"^(I/O error|cannot read|cannot write|.* was replaced while)")),
    ("lease_expired", re.compile(r"^lease expired")),
    ("engine", re.compile(r"^engine error")),
)
_TAG_UNSAFE = re.compile(r"[^a-z0-9_\-./]+")


def error_kind(error: str | None) -> str:
    """The class of a failure from its recorded error text (one of ERROR_KINDS)."""
    text = (error or "").strip()
    for kind, pattern in _ERROR_PATTERNS:
        if pattern.match(text):
            return kind
    return "other"


def tag_value(value: str) -> str:
    """A tag value every sink accepts unchanged: lower case, letters, digits and `_ - . /`
    (anything else becomes `_`), at most 100 characters; empty becomes `none`."""
    cleaned = _TAG_UNSAFE.sub("_", value.lower()).strip("_")
    return cleaned[:100] or "none"


def folder_of(key: str, depth: int) -> str:
    """The key's parent folder, cut to `depth` segments ('/' for a file at the root)."""
    parts = key.split("/")[:-1][:depth]
    return "/".join(parts) if parts else "/"


Tags = tuple[tuple[str, str], ...]
"""Sorted (key, value) pairs."""


@dataclass(frozen=True, slots=True)
class Point:
    """One metric value: `kind` is DISTRIBUTION, COUNT or GAUGE; `timestamp` in seconds."""

    metric: str
    kind: str
    value: float
    timestamp: float
    tags: Tags

    def tag_list(self) -> list[str]:
        """Tags as Datadog writes them: `key:value`."""
        return [f"{k}:{v}" for k, v in self.tags]


@dataclass(frozen=True, slots=True)
class MetricsContext:
    """What tags need beyond the transition: the environment, each workflow's configured
    prefix and the folder depth."""

    env: str
    prefixes: Mapping[str, str]
    folder_depth: int = DEFAULT_FOLDER_DEPTH

    def file_tags(self, t: Transition, failed: bool = False) -> Tags:
        size_image = t.new
        pairs = {
            "env": self.env,
            "workflow": t.workflow,
            "bucket": t.bucket,
            "prefix": self.prefixes.get(t.workflow, str(size_image.get("prefix") or "")),
            "folder": folder_of(t.key, self.folder_depth),
            "file_type": keys.file_type(t.key) or "none",
        }
        if failed:
            pairs["error_kind"] = error_kind(size_image.get("error"))
        return tuple(sorted((k, tag_value(v)) for k, v in pairs.items()))

    def workflow_tags(self, workflow: str, bucket: str) -> Tags:
        pairs = {
            "env": self.env,
            "workflow": workflow,
            "bucket": bucket,
            "prefix": self.prefixes.get(workflow, ""),
        }
        return tuple(sorted((k, tag_value(v)) for k, v in pairs.items()))


def ended(t: Transition) -> bool:
    """Whether the transition counts: a file reaching DONE or FAILED."""
    return t.new_status in (Status.DONE, Status.FAILED)


def _number(image: Mapping[str, Any], name: str) -> float | None:
    value = image.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True, slots=True)
class FileMetrics:
    """What one ended file contributes: its tags, whether it failed, its size and times."""

    tags: Tags
    failed: bool
    size: int
    at: float
    processing_time: float | None
    queue_wait_time: float | None
    end_to_end_latency: float | None


def file_metrics(t: Transition, context: MetricsContext) -> FileMetrics | None:
    """The metrics of one `-> DONE` / `-> FAILED` transition (None for other transitions).
    Durations come from the record's own times; a negative one (clocks of different machines)
    counts as 0."""
    if not ended(t):
        return None
    failed = t.new_status is Status.FAILED
    image = t.new
    upload, start, end = (_number(image, n) for n in ("upload_time", "start_time", "end_time"))
    end = end if end is not None else t.at
    size = image.get("size")
    size = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0

    def span(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else max(0.0, b - a)

    return FileMetrics(
        context.file_tags(t, failed),
        failed,
        size,
        t.at,
        span(start, end),
        span(upload, start),
        span(upload, end),
    )


def distribution_points(files: Iterable[FileMetrics]) -> list[Point]:
    """One value per DONE file in each distribution, stamped at the file's end."""
    points = []
    for f in files:
        if f.failed:
            continue
        values = (
            (PROCESSING_TIME, f.processing_time),
            (QUEUE_WAIT_TIME, f.queue_wait_time),
            (END_TO_END_LATENCY, f.end_to_end_latency),
            (FILE_SIZE, float(f.size)),
        )
        points += [Point(m, DISTRIBUTION, v, f.at, f.tags) for m, v in values if v is not None]
    return points


def bucket_start(at: float) -> int:
    """The start of the count bucket holding time `at`."""
    return int(at // COUNT_INTERVAL) * COUNT_INTERVAL


def count_points(files: Iterable[FileMetrics]) -> list[Point]:
    """Totals per (count bucket, tags): files and bytes processed, files failed. Given every
    ended file of some buckets, these are those buckets' complete totals."""
    totals: dict[tuple[str, int, Tags], float] = {}
    for f in files:
        bucket = bucket_start(f.at)
        if f.failed:
            key = (FILES_FAILED, bucket, f.tags)
            totals[key] = totals.get(key, 0.0) + 1
            continue
        for metric, value in ((FILES_PROCESSED, 1.0), (BYTES_PROCESSED, float(f.size))):
            key = (metric, bucket, f.tags)
            totals[key] = totals.get(key, 0.0) + value
    return [
        Point(metric, COUNT, value, float(bucket), tags)
        for (metric, bucket, tags), value in sorted(totals.items())
    ]


@dataclass(frozen=True, slots=True)
class BacklogGauge:
    """The TODO backlog of one workflow: files waiting and the age of the oldest (s)."""

    workflow: str
    bucket: str
    files: int
    oldest_age: float


def gauge_points(
    backlogs: Sequence[BacklogGauge], context: MetricsContext, now: float
) -> list[Point]:
    points = []
    for b in backlogs:
        tags = context.workflow_tags(b.workflow, b.bucket)
        points.append(Point(BACKLOG_FILES, GAUGE, float(b.files), now, tags))
        points.append(Point(BACKLOG_OLDEST_AGE, GAUGE, max(0.0, b.oldest_age), now, tags))
    return points


def increment_points(files: Iterable[FileMetrics]) -> list[Point]:
    """The counts as one increment per ended file (for sinks that add: DogStatsD, JSON
    lines), stamped at the file's end."""
    points = []
    for f in files:
        if f.failed:
            points.append(Point(FILES_FAILED, COUNT, 1.0, f.at, f.tags))
        else:
            points.append(Point(FILES_PROCESSED, COUNT, 1.0, f.at, f.tags))
            points.append(Point(BYTES_PROCESSED, COUNT, float(f.size), f.at, f.tags))
    return points


@dataclass(frozen=True, slots=True)
class SinkState:
    """A metrics sink's durable checkpoint in the ledger.

    `position`: the last transition id delivered. `in_flight`: the last id of a delivery that
    was being sent when the forwarder stopped (it may or may not have arrived): additive points
    (distributions) of those transitions are not sent again. `owner`/`lease_until`: the
    forwarder that holds the sink (one at a time). `dropped`: points the sink refused or that
    were too old for it."""

    sink: str
    position: int
    in_flight: int | None = None
    owner: str | None = None
    lease_until: float | None = None
    last_error: str | None = None
    last_success: float | None = None
    dropped: int = 0
    updated_at: float = 0.0
