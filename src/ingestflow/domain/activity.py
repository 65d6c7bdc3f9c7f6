"""What the dashboard's overview charts: the ended files of a sliding window, per hour, per
folder and per file type, the last failures and the last batches of each workflow (pure).

Files are added as they end (`Activity.add`, with the FileMetrics of their `-> DONE` /
`-> FAILED` transition) and `snapshot(now)` sums up the hours inside the window, dropping
older ones, so a long-running server keeps at most `window_hours` hours of values. Durations
are kept in `array('d')` (8 bytes per value). Percentiles are nearest-rank, as in
domain.metric_summary. Workflow, folder and file type are the metrics' tag values.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from dataclasses import dataclass, field

from ingestflow.domain.metric_summary import Durations
from ingestflow.domain.metrics import FileMetrics, Tags
from ingestflow.domain.records import Transition

HOUR = 3600.0


def _tag(tags: Tags, name: str) -> str:
    return next((v for k, v in tags if k == name), "none")


def hour_of(ts: float) -> float:
    """The start of the UTC hour that holds `ts`."""
    return math.floor(ts / HOUR) * HOUR


@dataclass(frozen=True, slots=True)
class HourPoint:
    """One hour of the window: files that ended in it and their end-to-end latency."""

    start: float
    done: int
    failed: int
    bytes: int
    latency: Durations


@dataclass(frozen=True, slots=True)
class FolderTimes:
    """Processing time of the DONE files of one (workflow, folder) in the window."""

    workflow: str
    folder: str
    files: int
    processing: Durations


@dataclass(frozen=True, slots=True)
class RecentFailure:
    key: str
    workflow: str
    at: float
    error: str


@dataclass(slots=True)
class BatchRun:
    """The files of one batch that ended (in the window): when its first file started and
    its last one ended, and how many ended DONE and FAILED."""

    batch_id: str
    workflow: str
    start: float | None
    end: float
    done: int = 0
    failed: int = 0

    @property
    def duration(self) -> float | None:
        return None if self.start is None else max(0.0, self.end - self.start)


@dataclass(frozen=True, slots=True)
class ActivitySnapshot:
    """The window at `now`: `hours` oldest first, one per hour (empty hours included).
    `loading`: the window is still being read (what is here is part of it)."""

    now: float
    window_hours: int
    hours: tuple[HourPoint, ...]
    folders: tuple[FolderTimes, ...]
    bytes_by_type: tuple[tuple[str, int], ...]
    failures: tuple[RecentFailure, ...]
    batches: dict[str, tuple[BatchRun, ...]]
    loading: bool = False

    @property
    def files_ended(self) -> int:
        return sum(h.done + h.failed for h in self.hours)


@dataclass(slots=True)
class _Hour:
    done: int = 0
    failed: int = 0
    bytes: int = 0
    latency: array[float] = field(default_factory=lambda: array("d"))
    processing: dict[tuple[str, str], array[float]] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)


class Activity:
    """The running aggregate behind `ActivitySnapshot`."""

    def __init__(self, window_hours: int = 24, failures: int = 10, batches: int = 10) -> None:
        if window_hours < 1 or failures < 1 or batches < 1:
            raise ValueError("window_hours, failures and batches must be at least 1")
        self.window_hours = window_hours
        self._hours: dict[float, _Hour] = {}
        self._failures: deque[RecentFailure] = deque(maxlen=failures)
        self._keep_batches = batches
        self._batches: dict[str, dict[str, BatchRun]] = {}

    def add(self, t: Transition, metrics: FileMetrics) -> None:
        """One ended file: `t` its `-> DONE`/`-> FAILED` transition, `metrics` its FileMetrics."""
        hour = self._hours.setdefault(hour_of(metrics.at), _Hour())
        workflow = _tag(metrics.tags, "workflow")
        if metrics.failed:
            hour.failed += 1
            error = t.new.get("error")
            self._failures.append(
                RecentFailure(t.key, t.workflow, t.at, error if isinstance(error, str) else "")
            )
        else:
            hour.done += 1
            hour.bytes += metrics.size
            file_type = _tag(metrics.tags, "file_type")
            hour.by_type[file_type] = hour.by_type.get(file_type, 0) + metrics.size
            if metrics.end_to_end_latency is not None:
                hour.latency.append(metrics.end_to_end_latency)
            if metrics.processing_time is not None:
                folder = (workflow, _tag(metrics.tags, "folder"))
                hour.processing.setdefault(folder, array("d")).append(metrics.processing_time)
        self._add_to_batch(t, metrics)

    def _add_to_batch(self, t: Transition, metrics: FileMetrics) -> None:
        batch_id = t.new.get("batch_id")
        if not isinstance(batch_id, str) or not batch_id:
            return
        runs = self._batches.setdefault(t.workflow, {})
        run = runs.get(batch_id)
        start = t.new.get("start_time")
        start = float(start) if isinstance(start, int | float) else None
        if run is None:
            run = runs[batch_id] = BatchRun(batch_id, t.workflow, start, metrics.at)
        else:
            run.end = max(run.end, metrics.at)
            if start is not None:
                run.start = start if run.start is None else min(run.start, start)
        if metrics.failed:
            run.failed += 1
        else:
            run.done += 1
        if len(runs) > 2 * self._keep_batches:
            kept = sorted(runs.values(), key=lambda r: r.end, reverse=True)
            self._batches[t.workflow] = {r.batch_id: r for r in kept[: self._keep_batches]}

    def snapshot(self, now: float) -> ActivitySnapshot:
        first = hour_of(now) - (self.window_hours - 1) * HOUR
        for start in [s for s in self._hours if s < first]:
            del self._hours[start]
        hours = []
        processing: dict[tuple[str, str], list[array[float]]] = {}
        by_type: dict[str, int] = {}
        for k in range(self.window_hours):
            start = first + k * HOUR
            hour = self._hours.get(start)
            if hour is None:
                hours.append(HourPoint(start, 0, 0, 0, Durations()))
                continue
            hours.append(
                HourPoint(start, hour.done, hour.failed, hour.bytes, Durations.of(hour.latency))
            )
            for folder, values in hour.processing.items():
                processing.setdefault(folder, []).append(values)
            for file_type, size in hour.by_type.items():
                by_type[file_type] = by_type.get(file_type, 0) + size
        folders = [
            FolderTimes(w, f, sum(len(p) for p in parts), Durations.of(v for p in parts for v in p))
            for (w, f), parts in sorted(processing.items())
        ]
        batches = {
            workflow: tuple(
                sorted(
                    (r for r in runs.values() if r.end >= first),
                    key=lambda r: r.end,
                    reverse=True,
                )[: self._keep_batches]
            )
            for workflow, runs in self._batches.items()
        }
        failures = tuple(f for f in reversed(self._failures) if f.at >= first)
        return ActivitySnapshot(
            now,
            self.window_hours,
            tuple(hours),
            tuple(folders),
            tuple(sorted(by_type.items(), key=lambda item: (-item[1], item[0]))),
            failures,
            batches,
        )
