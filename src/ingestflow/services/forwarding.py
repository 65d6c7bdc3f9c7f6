"""Forwarding the change stream to metrics sinks, from a durable checkpoint per sink.

Each round, for each sink: take the sink's lease in the ledger (one forwarder per sink at a
time; a holder known to be dead is taken over), read the transitions after its checkpoint,
derive points (domain.metrics), note the delivery as in flight, send, then advance the
checkpoint. What makes every DONE file count once:

- count points are whole bucket totals recomputed from the ledger (sinks whose receiver keeps
  the last value: Datadog's API), so a resend — after a crash between send and checkpoint, or
  from another forwarder — rewrites the same total;
- additive points (distributions; increments for DogStatsD and JSON lines) of transitions up to
  a crashed delivery's `in_flight` mark are not sent again: they may have arrived;
- a sink that fails keeps its checkpoint: nothing is lost while it is down. It is retried with
  exponential backoff; refused points are dropped and counted; wrong credentials stop the sink
  until the process restarts (its backlog kept).

Backlog gauges are sent at most every `gauge_interval` by the lease holder (one writer).
A FoldingSink (Prometheus) is not sent to: its points are folded into running totals stored
with the checkpoint in one ledger transaction, so they count once by construction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ingestflow.domain.errors import SinkError
from ingestflow.domain.metrics import (
    COUNT,
    COUNT_INTERVAL,
    BacklogGauge,
    FileMetrics,
    MetricsContext,
    Point,
    SinkState,
    bucket_start,
    count_points,
    distribution_points,
    file_metrics,
    gauge_points,
    increment_points,
)
from ingestflow.domain.records import Transition
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import FoldingSink, MetricsSink, StatusStore

log = logging.getLogger(__name__)
Clock = Callable[[], float]


@dataclass(frozen=True)
class SinkReport:
    """One sink's lag, as `ingestflow metrics status` shows it."""

    name: str
    checkpoint: int
    pending: int
    last_error: str | None
    lag_seconds: float | None
    dropped: int
    owner: str | None
    stopped: bool = False


def _never_dead(owner: str) -> bool:
    return False


class Forwarder:
    """Delivers pending transitions to `sinks`. Thread-compatible: one thread calls it."""

    def __init__(
        self,
        store: StatusStore,
        sinks: Sequence[MetricsSink],
        context: MetricsContext,
        workflows: Sequence[Workflow],
        bucket: str,
        owner: str,
        clock: Clock = time.time,
        batch: int = 1000,
        lease: float = 30.0,
        gauge_interval: float = 15.0,
        backoff: tuple[float, float] = (1.0, 300.0),
        owner_is_dead: Callable[[str], bool] = _never_dead,
    ) -> None:
        self.store, self.sinks, self.context = store, list(sinks), context
        self.workflows, self.bucket, self.owner = list(workflows), bucket, owner
        self.clock, self.batch, self.lease = clock, batch, lease
        self.gauge_interval, self.backoff = gauge_interval, backoff
        self.owner_is_dead = owner_is_dead
        self._retry_at: dict[str, float] = {}
        self._delay: dict[str, float] = {}
        self._gauged_at: dict[str, float] = {}
        self._stopped: dict[str, str] = {}  # sink -> why (wrong credentials)
        self._deadline: float | None = None  # monotonic; set while flushing

    # -- rounds ---------------------------------------------------------------------------

    def forward(self, max_batches: int = 20) -> bool:
        """Deliver what is pending, at most `max_batches` deliveries per sink. True when every
        running sink is caught up (a sink in backoff or held by another forwarder is not)."""
        caught_up = True
        for sink in self.sinks:
            if sink.name in self._stopped:
                continue
            for _ in range(max_batches):
                if self._deadline is not None and time.monotonic() >= self._deadline:
                    return False
                result = self._deliver(sink)
                if result == "sent":
                    continue
                caught_up &= result == "done"
                break
            else:
                caught_up = False
        return caught_up

    def flush(self, timeout: float) -> bool:
        """Deliver everything pending now, waiting at most `timeout` seconds (backoff
        included). True when every sink caught up (False at once when a sink was stopped for
        wrong credentials: waiting cannot help it)."""
        deadline = time.monotonic() + timeout
        if self._deadline is not None:
            deadline = min(deadline, self._deadline)
        self._retry_at.clear()  # a sink in backoff gets a chance now (it may be back)
        self._deadline = deadline
        try:
            while True:
                if self.forward():
                    return not self._stopped  # a sink stopped for its credentials: no use
                waits = [t - self.clock() for t in self._retry_at.values()]
                pause = min([0.2, *[w for w in waits if w > 0]])
                if time.monotonic() + pause >= deadline:
                    return False
                time.sleep(max(0.05, pause))
        finally:
            self._deadline = None

    def limit(self, deadline: float) -> None:
        """Stop delivering at `deadline` (time.monotonic()): a round in progress ends at its
        next delivery (called from another thread by ForwarderThread.stop)."""
        self._deadline = deadline

    def close(self) -> None:
        for sink in self.sinks:
            try:
                self.store.release_sink(sink.name, self.owner)
            except Exception:  # closing: the lease expires by itself
                log.debug("could not release metrics sink %s", sink.name, exc_info=True)
            try:
                sink.close()
            except Exception as exc:
                log.warning("metrics sink %s: %s", sink.name, exc)

    # -- one delivery ---------------------------------------------------------------------

    def _lease(self, sink: MetricsSink, now: float) -> SinkState | None:
        state = self.store.lease_sink(sink.name, self.owner, now, self.lease)
        if state is not None:
            return state
        holder = next((s.owner for s in self.store.sink_states() if s.sink == sink.name), None)
        if holder and holder != self.owner and self.owner_is_dead(holder):
            return self.store.lease_sink(sink.name, self.owner, now, self.lease, holder)
        return None

    def _deliver(self, sink: MetricsSink) -> str:
        """'sent' (more may be pending), 'done' (caught up), 'waiting' (backoff, or another
        forwarder holds the sink)."""
        now = self.clock()
        if now < self._retry_at.get(sink.name, 0.0):
            return "waiting"
        state = self._lease(sink, now)
        if state is None:
            return "waiting"
        batch = self.store.transitions_after(state.position, limit=self.batch)
        gauges = [] if isinstance(sink, FoldingSink) else self._gauges(sink, now)
        if not batch and not gauges:
            return "done"
        upto = batch[-1].id if batch else state.position
        points, dropped = self._points(sink, state, batch, now)
        points += gauges
        if not points:
            self.store.advance_sink(sink.name, self.owner, upto, now, dropped)
            return "sent" if batch else "done"
        if isinstance(sink, FoldingSink):  # totals kept in the ledger: one transaction
            totals = sink.fold(points)
            if not self.store.advance_sink(sink.name, self.owner, upto, now, dropped, totals):
                return "waiting"
            return "sent" if batch else "done"
        if not self.store.mark_in_flight(sink.name, self.owner, upto):
            return "waiting"  # the lease was lost meanwhile
        left = None if self._deadline is None else max(0.1, self._deadline - time.monotonic())
        try:
            sink.send(points, left)
        except SinkError as exc:
            return self._failed(sink, exc, upto, len(points), now)
        except Exception as exc:  # a sink bug must not stop the pipeline either
            return self._failed(sink, SinkError(f"{type(exc).__name__}: {exc}"), upto, 0, now)
        self.store.advance_sink(sink.name, self.owner, upto, now, dropped)
        if gauges:
            self._gauged_at[sink.name] = now
        self._delay.pop(sink.name, None)
        self._retry_at.pop(sink.name, None)
        return "sent" if batch else "done"

    def _failed(self, sink: MetricsSink, exc: SinkError, upto: int, count: int, now: float) -> str:
        message = " ".join(str(exc).split())
        if exc.kind == SinkError.REJECTED:
            log.warning("metrics sink %s refused %d points: %s", sink.name, count, message)
            self.store.advance_sink(sink.name, self.owner, upto, now, count)
            return "sent"
        self.store.sink_failed(sink.name, self.owner, message, now)
        if exc.kind == SinkError.AUTH:
            log.error("metrics sink %s stopped: %s", sink.name, message)
            self._stopped[sink.name] = message
            return "waiting"
        low, high = self.backoff
        delay = min(high, self._delay.get(sink.name, low / 2) * 2)
        self._delay[sink.name] = delay
        self._retry_at[sink.name] = now + delay
        log.warning("metrics sink %s: %s (retry in %.0f s)", sink.name, message, delay)
        return "waiting"

    def _points(
        self, sink: MetricsSink, state: SinkState, batch: Sequence[Transition], now: float
    ) -> tuple[list[Point], int]:
        """The points of `batch` for `sink`, and how many were too old to send."""
        maybe_sent = state.in_flight or state.position
        files = [(t.id, m) for t in batch if (m := file_metrics(t, self.context)) is not None]
        fresh = [m for id_, m in files if id_ > maybe_sent]
        points = distribution_points(fresh)
        if sink.counts == "totals":
            points += self._bucket_totals({bucket_start(m.at) for _, m in files})
        else:
            points += increment_points(fresh)
        if sink.max_age is None:
            return points, 0
        oldest = now - sink.max_age
        kept = [p for p in points if p.timestamp >= oldest]
        return kept, len(points) - len(kept)

    def _bucket_totals(self, buckets: Iterable[int]) -> list[Point]:
        """Every count bucket's whole total from the ledger (see the module docstring)."""
        points: list[Point] = []
        for start in sorted(buckets):
            files: list[FileMetrics] = []
            after = None
            while page := self.store.ended_between(start, start + COUNT_INTERVAL, after):
                files += [m for t in page if (m := file_metrics(t, self.context)) is not None]
                after = (page[-1].at, page[-1].id)
            points += [p for p in count_points(files) if p.kind == COUNT]
        return points

    def _gauges(self, sink: MetricsSink, now: float) -> list[Point]:
        if now - self._gauged_at.get(sink.name, float("-inf")) < self.gauge_interval:
            return []
        backlogs = []
        for w in self.workflows:
            backlog = self.store.backlog(w.name, now)
            age = backlog.oldest_age(now)
            backlogs.append(BacklogGauge(w.name, self.bucket, backlog.count, age))
        return gauge_points(backlogs, self.context, now)

    # -- status ---------------------------------------------------------------------------

    def reports(self) -> list[SinkReport]:
        return sink_reports(self.store, [s.name for s in self.sinks], self.clock(), self._stopped)


def sink_reports(
    store: StatusStore,
    names: Sequence[str],
    now: float,
    stopped: dict[str, str] | None = None,
) -> list[SinkReport]:
    """Each configured sink's checkpoint and lag (a sink never run shows checkpoint 0)."""
    last = store.last_transition_id()
    states = {s.sink: s for s in store.sink_states()}
    reports = []
    for name in names:
        state = states.get(name, SinkState(name, 0))
        pending = max(0, last - state.position)
        lag = None
        if pending:
            oldest = store.transitions_after(state.position, limit=1)
            lag = max(0.0, now - oldest[0].at) if oldest else None
        error = (stopped or {}).get(name) or state.last_error
        reports.append(
            SinkReport(
                name,
                state.position,
                pending,
                error,
                lag,
                state.dropped,
                state.owner,
                name in (stopped or {}),
            )
        )
    return reports
