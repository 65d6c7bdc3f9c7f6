"""The embedded pipeline loop: discovery, scheduling, execution, reaping."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ingestflow.domain.batching import age_deadline
from ingestflow.domain.records import Batch, FileOutcome
from ingestflow.domain.transform import TransformSpec
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import Engine, EventSource, StatusStore, Wakeup
from ingestflow.services.discovery import Discovery
from ingestflow.services.execution import BatchResult, Clock, execute_batch
from ingestflow.services.reaper import OwnerIsDead, never_dead, reap
from ingestflow.services.waiting import waiting_lines

log = logging.getLogger(__name__)
# The longest the loop sleeps before looking at the stop flag again.
_STOP_CHECK = 0.5


@dataclass
class RunSummary:
    registered: int = 0
    batches: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    unrouted: int = 0
    # Why nothing ran, one line per workflow with waiting files ("2 files wait: batch_size
    # 10, or by max_wait at 20:32:17"); filled by run_once when it ran no batch.
    waiting: list[str] = field(default_factory=list)
    # True when a stop was requested (SIGINT/SIGTERM) before the run finished its work.
    interrupted: bool = False

    def add(self, result: BatchResult) -> None:
        self.batches += 1
        self.done += result.finished.done
        self.failed += result.finished.failed
        self.retried += result.finished.retried


ROLES = ("all", "discover", "work")
"""What one `ingestflow run` does: everything, only discovery (list and register), or only
work (reap, claim, run batches). Several processes on one ledger may split the roles."""


class Pipeline:
    """Wires the ports together. Built by `ingestflow.bootstrap`; holds no adapter knowledge."""

    def __init__(
        self,
        store: StatusStore,
        discovery: Discovery,
        engine: Engine,
        workflows: Sequence[Workflow],
        specs: Mapping[str, TransformSpec],
        owner: str,
        schedule_interval: float = 1.0,
        events: EventSource | None = None,
        clock: Clock = time.time,
        owner_is_dead: OwnerIsDead = never_dead,
        reconcile_interval: float = 60.0,
        role: str = "all",
        wakeup: Wakeup | None = None,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}: {role!r}")
        self.role = role
        self.discovers = role in ("all", "discover")  # lists and registers the landing area
        self.works = role in ("all", "work")  # claims and runs batches, reaps leases
        self.store = store
        self.discovery = discovery
        self.engine = engine
        self.workflows = tuple(workflows)
        self.specs = dict(specs)
        self.owner = owner
        self.schedule_interval = schedule_interval
        self.events = events
        self.clock = clock
        self.owner_is_dead = owner_is_dead
        self.reconcile_interval = reconcile_interval
        self.stop_event = threading.Event()
        # Work announced by other processes (PostgreSQL: LISTEN/NOTIFY): with it, a worker
        # claims when woken, at every tick and at the next max_wait deadline, instead of
        # trying to claim every half second.
        self.wakeup = wakeup

    def close(self) -> None:
        if self.wakeup is not None:
            self.wakeup.close()
        self.engine.close()
        self.store.close()

    # -- steps ----------------------------------------------------------------------------

    def claim_next(self) -> Batch | None:
        """Claim one ready batch, taking workflows in turn so none starves."""
        for workflow in self.workflows:
            batch = self.store.claim(workflow, self.clock(), self.owner)
            if batch is not None:
                # Rotate so the next claim starts with the following workflow.
                i = self.workflows.index(workflow)
                self.workflows = self.workflows[i + 1 :] + self.workflows[: i + 1]
                return batch
        return None

    def run_ready_batches(
        self, summary: RunSummary, on_file: Callable[[FileOutcome], None] | None = None
    ) -> None:
        while not self.stop_event.is_set():
            batch = self.claim_next()
            if batch is None:
                return
            workflow = next(w for w in self.workflows if w.name == batch.workflow)
            started = time.perf_counter()
            result = execute_batch(
                self.store,
                self.engine,
                workflow,
                self.specs[workflow.name],
                batch,
                self.clock,
                self.stop_event,
                on_file,
            )
            summary.add(result)
            log.info(
                "batch %s %s: %d file(s), %d done, %d failed, %d released in %.2fs",
                batch.batch_id[:12],
                workflow.name,
                len(batch.files),
                result.finished.done,
                result.finished.failed,
                result.released,
                time.perf_counter() - started,
            )

    def next_deadline(self) -> float | None:
        """When the earliest partial batch becomes ready by age (max_wait), if one will.
        Deadlines already past are left to the regular tick: those files could not be claimed
        just now (e.g. retries in backoff), so waking at once would spin."""
        now = self.clock()
        deadlines = []
        for w in self.workflows:
            deadline = age_deadline(w, self.store.backlog(w.name, now))
            if deadline is not None and deadline > now:
                deadlines.append(deadline)
        return min(deadlines) if deadlines else None

    # -- modes ----------------------------------------------------------------------------

    def run_once(
        self,
        on_file: Callable[[FileOutcome], None] | None = None,
        settle_wait: bool = True,
    ) -> RunSummary:
        """Register what is in the landing area, run every batch that is ready, return (with
        `role`: only the first half, or only the second)."""
        summary = RunSummary()
        if self.works:
            reap(self.store, self.workflows, self.clock(), self.owner_is_dead)
        if self.discovers:
            self._register_listing(summary, settle_wait)
        if self.works:
            self.run_ready_batches(summary, on_file)
        summary.interrupted = self.stop_event.is_set()
        if summary.batches == 0 and self.works:
            summary.waiting = waiting_lines(self.store, self.workflows, self.clock())
        return summary

    def _register_listing(self, summary: RunSummary, settle_wait: bool) -> None:
        listing = self.discovery.reconcile(self.clock())
        summary.registered += listing.registered
        # Files modified moments ago may still be being written: wait until they settle.
        rounds = 0
        while settle_wait and listing.unsettled and rounds < 20 and not self.stop_event.is_set():
            self.stop_event.wait(min(max(self.discovery.settle, 0.05), 1.0))
            listing = self.discovery.reconcile(self.clock())
            summary.registered += listing.registered
            rounds += 1
        summary.unrouted = len(listing.unrouted)

    def run_forever(self, on_file: Callable[[FileOutcome], None] | None = None) -> RunSummary:
        """Run until `stop_event` is set (SIGINT/SIGTERM); reacts to it within half a second
        whatever `schedule_interval` is. The reaper and readiness checks run every tick; the
        full listing runs every tick without events, every `reconcile_interval` with them."""
        summary = RunSummary()
        events = self.events if self.discovers else None
        if events is not None:
            events.start()
        listing_every = self.schedule_interval if events is None else self.reconcile_interval
        wakeup = self.wakeup if self.works and events is None else None
        try:
            next_tick = next_listing = 0.0
            claim_due, deadline = True, None
            while not self.stop_event.is_set():
                now = self.clock()
                if now >= next_tick:
                    if self.works:
                        reap(self.store, self.workflows, now, self.owner_is_dead)
                    next_tick = now + self.schedule_interval
                    claim_due = True
                if deadline is not None and now >= deadline:
                    claim_due = True
                if self.discovers and now >= next_listing:
                    listing = self.discovery.reconcile(now)
                    summary.registered += listing.registered
                    summary.unrouted = len(listing.unrouted)
                    # Unsettled files are looked at again once they may have settled.
                    recheck = max(self.discovery.settle, 0.05)
                    next_listing = now + (
                        min(listing_every, recheck) if listing.unsettled else listing_every
                    )
                if self.works and (claim_due or wakeup is None):
                    self.run_ready_batches(summary, on_file)
                    claim_due = False
                    deadline = self.next_deadline()
                wake = min(next_tick, next_listing) if self.discovers else next_tick
                wake = wake if deadline is None else min(wake, deadline)
                timeout = max(0.0, min(wake - self.clock(), _STOP_CHECK))
                if events is not None:
                    announced = events.drain(timeout)
                    if announced:
                        found = self.discovery.register_keys(announced, self.clock())
                        summary.registered += found.registered
                        events.ack()  # only once they are in the ledger
                elif wakeup is not None:
                    claim_due = wakeup.wait(timeout) or claim_due
                else:
                    self.stop_event.wait(timeout)
        finally:
            if events is not None:
                events.stop()
        summary.interrupted = True
        return summary
