"""A window's ended files summed up per (workflow, folder, file_type) and overall: the numbers
`ingestflow metrics` shows and a user checks Datadog against (pure).

Everything is read from `FileMetrics` (domain.metrics), so groups use the same normalised tag
values Datadog, DogStatsD and Prometheus see. As in `distribution_points`, only DONE files give
durations and bytes; a FAILED file adds to `files_failed` and to its `error_kind`'s failures.

Percentiles are exact, by the **nearest-rank** method: the q-th percentile of n ascending values
is the value at 1-based rank ceil(q * n / 100), so it is always a value that was observed. Datadog
answers `p50:`/`p95:` from DDSketch, an approximation with a relative-error guarantee (its value
is within about 1-2 % of the true one), so those may differ from ours by that much; `count:`,
`sum:` and `avg:` of a distribution are exact on both sides.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ingestflow.domain.metrics import FileMetrics, Tags

PERCENTILE_METHOD = "nearest-rank"
GroupKey = tuple[str, str, str]
"""(workflow, folder, file_type), as tag values."""


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The nearest-rank q-th percentile (0 <= q <= 100) of ascending `ordered`; None when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q!r}")
    if not ordered:
        return None
    # q * n / 100 rather than q / 100 * n: exact for whole q, so 95 % of 20 is rank 19, not 20.
    rank = max(1, math.ceil(q * len(ordered) / 100))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Durations:
    """Average, median and 95th percentile of some seconds; None when there is no value."""

    avg: float | None = None
    p50: float | None = None
    p95: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> Durations:
        ordered = sorted(values)
        if not ordered:
            return cls()
        avg = math.fsum(ordered) / len(ordered)
        return cls(avg, percentile(ordered, 50), percentile(ordered, 95))


@dataclass(frozen=True, slots=True)
class Summary:
    """What a set of ended files amounts to. `bytes` is the sum of the DONE files' sizes."""

    files_done: int = 0
    files_failed: int = 0
    bytes: int = 0
    processing_time: Durations = Durations()
    queue_wait_time: Durations = Durations()
    end_to_end_latency: Durations = Durations()


@dataclass(frozen=True, slots=True)
class GroupSummary:
    workflow: str
    folder: str
    file_type: str
    summary: Summary


@dataclass(frozen=True, slots=True)
class FailureCount:
    workflow: str
    error_kind: str
    files: int


@dataclass(frozen=True, slots=True)
class WindowSummary:
    """Totals, groups sorted by (workflow, folder, file_type), failures by (workflow, kind)."""

    totals: Summary
    groups: tuple[GroupSummary, ...]
    failures: tuple[FailureCount, ...]


@dataclass(slots=True)
class _Values:
    """One group's running values; durations in `array('d')`: 8 bytes each, not a float object."""

    done: int = 0
    failed: int = 0
    bytes: int = 0
    processing: array[float] = field(default_factory=lambda: array("d"))
    queue_wait: array[float] = field(default_factory=lambda: array("d"))
    latency: array[float] = field(default_factory=lambda: array("d"))


def _tag(tags: Tags, name: str) -> str:
    return next((v for k, v in tags if k == name), "none")


class SummaryBuilder:
    """Adds ended files (a window read page by page), then gives the `WindowSummary`."""

    def __init__(self) -> None:
        self._groups: dict[GroupKey, _Values] = {}
        self._failures: dict[tuple[str, str], int] = {}

    def add(self, f: FileMetrics) -> None:
        key = (_tag(f.tags, "workflow"), _tag(f.tags, "folder"), _tag(f.tags, "file_type"))
        values = self._groups.get(key)
        if values is None:
            values = self._groups[key] = _Values()
        if f.failed:
            values.failed += 1
            kind = (key[0], _tag(f.tags, "error_kind"))
            self._failures[kind] = self._failures.get(kind, 0) + 1
            return
        values.done += 1
        values.bytes += f.size
        for target, value in (
            (values.processing, f.processing_time),
            (values.queue_wait, f.queue_wait_time),
            (values.latency, f.end_to_end_latency),
        ):
            if value is not None:  # 0.0 (a clamped negative span) is a value
                target.append(value)

    def add_all(self, files: Iterable[FileMetrics]) -> None:
        for f in files:
            self.add(f)

    def result(self) -> WindowSummary:
        groups = tuple(
            GroupSummary(*key, _summary([values])) for key, values in sorted(self._groups.items())
        )
        failures = tuple(FailureCount(w, k, n) for (w, k), n in sorted(self._failures.items()))
        return WindowSummary(_summary(list(self._groups.values())), groups, failures)


def _summary(parts: Sequence[_Values]) -> Summary:
    def joined(name: str) -> Iterable[float]:
        for part in parts:
            yield from getattr(part, name)

    return Summary(
        sum(p.done for p in parts),
        sum(p.failed for p in parts),
        sum(p.bytes for p in parts),
        Durations.of(joined("processing")),
        Durations.of(joined("queue_wait")),
        Durations.of(joined("latency")),
    )


def summarise(files: Iterable[FileMetrics]) -> WindowSummary:
    """The summary of `files` (FileMetrics of -> DONE / -> FAILED transitions)."""
    builder = SummaryBuilder()
    builder.add_all(files)
    return builder.result()
