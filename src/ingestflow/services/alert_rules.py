"""Evaluating the alert rules against the ledger (read only: a rule never changes a file; a
stuck file is reported, reaping stays the scheduler's job)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ingestflow.domain.alerts import FAILED, MAX_ITEMS, MISSING, STALE, STUCK, AlertItem, Problem
from ingestflow.domain.cron import CronSchedule
from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore

# Files read per rule and workflow: enough to count most problems exactly ("1000+" beyond).
_READ = 1000


def human(seconds: float) -> str:
    """'6h 12m', '45m', '30s', '2d 3h'."""
    seconds = int(max(0.0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")] if seconds >= 60 else [(secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0s"


def _count(found: int) -> str:
    return f"{found}+" if found >= _READ else str(found)


def _item(r: FileRecord, since: float, reason: str) -> AlertItem:
    return AlertItem(r.workflow, r.prefix, r.bucket, r.key, r.status.value, since, reason)


def _stuck_item(r: FileRecord, now: float) -> AlertItem:
    ended = r.lease_until or now
    return _item(r, ended, f"lease ended {human(now - ended)} ago (batch {r.batch_id})")


@dataclass(frozen=True)
class Evaluation:
    """The problems found now, and the (rule, workflow) pairs that were checked (an open alert
    of a checked pair that is not found any more resolves)."""

    problems: tuple[Problem, ...]
    evaluated: tuple[tuple[str, str], ...]


def evaluate(store: StatusStore, workflows: Sequence[Workflow], now: float) -> Evaluation:
    problems: list[Problem] = []
    evaluated: list[tuple[str, str]] = []
    stale = store.stale(workflows, now, limit=_READ * max(1, len(workflows)))
    running = store.files(status=Status.PROCESSING)
    for w in workflows:
        evaluated += [(STALE, w.name), (STUCK, w.name), (FAILED, w.name)]
        mine = [r for r in stale if r.workflow == w.name]
        if mine:
            items = tuple(
                _item(r, r.upload_time, f"TODO for {human(now - r.upload_time)}")
                for r in mine[:MAX_ITEMS]
            )
            summary = f"{_count(len(mine))} file(s) in TODO longer than {human(w.stale_after)}"
            problems.append(Problem(STALE, w.name, "", summary, items, len(mine)))
        stuck = [r for r in running if r.workflow == w.name and (r.lease_until or now) < now]
        if stuck:
            items = tuple(_stuck_item(r, now) for r in stuck[:MAX_ITEMS])
            summary = f"{len(stuck)} file(s) in PROCESSING past their lease (a worker died?)"
            problems.append(Problem(STUCK, w.name, "", summary, items, len(stuck)))
        failed = store.files(status=Status.FAILED, workflow=w.name, limit=_READ)
        if failed:
            items = tuple(
                _item(r, r.end_time or r.upload_time, r.error or "failed")
                for r in failed[:MAX_ITEMS]
            )
            summary = f"{_count(len(failed))} file(s) FAILED"
            problems.append(Problem(FAILED, w.name, "", summary, items, len(failed)))
        if w.expect_cron is not None:
            evaluated.append((MISSING, w.name))
            problem = missing(store, w, now)
            if problem is not None:
                problems.append(problem)
    return Evaluation(tuple(problems), tuple(evaluated))


def missing(store: StatusStore, w: Workflow, now: float) -> Problem | None:
    """The `missing` rule of `w` at the latest deadline (None when it is satisfied): fewer than
    `expect_min_files` arrived in the window before the deadline, and none has arrived since
    (a late file resolves the alert)."""
    assert w.expect_cron is not None
    zone = ZoneInfo(w.timezone)
    deadline = CronSchedule.parse(w.expect_cron).latest_at_or_before(now, zone)
    if deadline is None:
        return None
    start = deadline - w.expect_window
    arrived = store.arrivals(w.name, start, deadline)
    if arrived >= w.expect_min_files or store.arrivals(w.name, deadline, now + 1e-6) > 0:
        return None
    local = dt.datetime.fromtimestamp(deadline, zone).strftime("%Y-%m-%d %H:%M %Z")
    summary = (
        f"{arrived} of {w.expect_min_files} expected file(s) arrived in the"
        f" {human(w.expect_window)} before {local}"
    )
    return Problem(MISSING, w.name, "", summary, (), arrived)


def deadline_window(w: Workflow, now: float) -> tuple[float, float] | None:
    """The latest deadline's window [start, deadline) of `w`'s missing rule (None if none)."""
    if w.expect_cron is None:
        return None
    deadline = CronSchedule.parse(w.expect_cron).latest_at_or_before(now, ZoneInfo(w.timezone))
    return None if deadline is None else (deadline - w.expect_window, deadline)


def next_deadline(w: Workflow, now: float) -> float | None:
    if w.expect_cron is None:
        return None
    return CronSchedule.parse(w.expect_cron).next_after(now, ZoneInfo(w.timezone))
