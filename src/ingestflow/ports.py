"""Ports: the small interfaces services depend on. Adapters implement them.

Every StatusStore adapter passes tests/contract/test_status_store_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ingestflow.domain.alerts import AlertRecord, DeliveryRecord, Digest, Problem
from ingestflow.domain.batching import Backlog
from ingestflow.domain.metrics import Point, SinkState
from ingestflow.domain.records import (
    Batch,
    FileOutcome,
    FileRecord,
    Finished,
    ObjectInfo,
    Transition,
    UnroutedFile,
)
from ingestflow.domain.status import Status
from ingestflow.domain.transform import TransformSpec
from ingestflow.domain.workflow import Workflow


class StatusStore(Protocol):
    """The ledger. Every status change is one atomic, conditional update that also records its
    Transition in the same atomic step. Times are epoch seconds passed in by the caller."""

    def sync_workflows(self, workflows: Sequence[Workflow]) -> None:
        """Write the configured workflows into `workflow_metadata`."""

    def register(self, bucket: str, files: Sequence[tuple[ObjectInfo, str]], now: float) -> int:
        """Register (object, workflow name) pairs. Idempotent on (bucket, key, etag): a known
        etag changes nothing; a new etag on a DONE/FAILED file makes it TODO again; a new etag
        on a TODO file updates it in place; a new etag on a PROCESSING file is noted and the
        file returns to TODO when its batch finishes. Returns the number of status changes
        written (new files and re-uploads of finished files); the changes themselves are in
        the change stream (`transitions_after`, `history`) — not rebuilt here, since discovery
        registers whole landing listings and only counts them."""

    def claim(self, workflow: Workflow, now: float, owner: str) -> Batch | None:
        """If the workflow's eligible TODO backlog is ready (domain.batching.readiness), move
        the oldest files within the batch caps to PROCESSING under a new batch id and a lease
        of `workflow.lease` seconds, in one atomic step. Two claimers never get the same file.
        With `ready_marker`: the oldest marked folder's files (within the caps), else the
        oldest files once `max_wait` passes, unless `marker_required`."""

    def renew(self, batch_id: str, lease_until: float) -> bool:
        """Extend the lease of a running batch; False when the batch no longer owns files."""

    def finish(
        self, workflow: Workflow, batch_id: str, outcomes: Sequence[FileOutcome], now: float
    ) -> Finished:
        """Record per-file outcomes. Only files still PROCESSING in `batch_id` change. Success ->
        DONE; retryable failure with attempts left -> TODO after a backoff; otherwise FAILED;
        a file whose etag changed meanwhile -> TODO. Returns how many went each way (a batch's
        thousand transitions are in the change stream, not rebuilt as objects here)."""

    def release_batch(self, batch_id: str, now: float, reason: str) -> list[Transition]:
        """Return the batch's PROCESSING files to TODO without counting the attempt."""

    def reap(
        self, workflows: Sequence[Workflow], now: float, dead_batches: Sequence[str] = ()
    ) -> list[Transition]:
        """PROCESSING files whose lease expired (or whose batch is in `dead_batches`: its owner
        is known to be gone) go back to TODO, or FAILED when they have used `max_attempts`."""

    def retry(self, bucket: str, keys: Sequence[str] | None, now: float) -> list[Transition]:
        """FAILED files (the given keys, or all when None) go back to TODO with attempts reset."""

    def active_batches(self) -> list[tuple[str, str, float]]:
        """(batch_id, owner, lease_until) of batches that still hold PROCESSING files."""

    def backlog(self, workflow: str, now: float) -> Backlog:
        """Every TODO file of a workflow (including retries still in their backoff): count,
        bytes and the oldest upload time. Cheap at any ledger size."""

    def marked_backlog(self, workflow: str, now: float) -> Backlog:
        """The part of `backlog` lying in folders whose completeness marker is present
        (Workflow.ready_marker): count, bytes and oldest upload time. Cheap: one index range
        per marked folder."""

    def get(self, bucket: str, key: str) -> FileRecord | None: ...

    def files(
        self,
        status: Status | None = None,
        prefix: str | None = None,
        workflow: str | None = None,
        limit: int | None = None,
        after: tuple[float, str] | None = None,
    ) -> list[FileRecord]:
        """Records filtered by status / key prefix / workflow, ordered by (upload time, key).
        `after` is a keyset cursor: only records strictly after that (upload_time, key), so a
        caller pages through any number of rows with `limit` without an OFFSET scan."""

    def counts(self, workflow: str | None = None) -> dict[Status, int]:
        """Number of files per status (of one workflow when given); every status present.
        O(1) in the ledger's size (kept counters)."""

    def stale(
        self, workflows: Sequence[Workflow], now: float, limit: int = 1000
    ) -> list[FileRecord]:
        """At most `limit` TODO files older than their workflow's `stale_after`, oldest first."""

    def history(self, bucket: str, key: str) -> list[Transition]:
        """Transitions of one file, oldest first."""

    def transitions_after(self, checkpoint: int, limit: int = 1000) -> list[Transition]:
        """Transitions with id > checkpoint, in id order (the change stream)."""

    def last_transition_id(self) -> int:
        """The id of the newest transition (0 when there is none)."""

    def ended_between(
        self,
        start: float,
        end: float,
        after: tuple[float, int] | None = None,
        limit: int = 10_000,
    ) -> list[Transition]:
        """Transitions to DONE or FAILED with `start <= at < end`, in (at, id) order, after
        the position `after` (the (at, id) of the previous page's last one), at most `limit`:
        count buckets and windows. A page costs its own rows at any window size."""

    # -- metrics sinks' checkpoints (see domain.metrics.SinkState) --

    def sink_states(self) -> list[SinkState]:
        """Every sink's checkpoint, by name."""

    def lease_sink(
        self, sink: str, owner: str, now: float, lease: float, take_over: str | None = None
    ) -> SinkState | None:
        """Take (or renew) the sink for `owner` until `now + lease`, creating its checkpoint
        at position 0; None when another owner holds an unexpired lease (unless that owner is
        `take_over`: a holder known to be dead)."""

    def mark_in_flight(self, sink: str, owner: str, upto: int) -> bool:
        """Note that transitions up to `upto` are being sent (before sending); False when
        `owner` no longer holds the sink."""

    def advance_sink(
        self,
        sink: str,
        owner: str,
        position: int,
        now: float,
        dropped: int = 0,
        totals: Mapping[str, float] | None = None,
    ) -> bool:
        """Record a delivery up to `position` (clearing `in_flight` and the last error), add
        `dropped`, and add `totals` (series -> delta) to the sink's running totals, in one
        transaction. False (and nothing written) when `owner` no longer holds the sink."""

    def sink_failed(self, sink: str, owner: str, error: str, now: float) -> None:
        """Record a failed delivery (the checkpoint stays; `in_flight` is cleared: the sink
        said it did not take the points)."""

    def release_sink(self, sink: str, owner: str) -> None:
        """Give the sink up (end of the lease) so another forwarder may take it at once."""

    def metric_totals(self, sink: str) -> dict[str, float]:
        """The running totals a sink folded into the ledger (series -> value)."""

    # -- alerts (see domain.alerts) --

    def sync_alerts(
        self,
        problems: Sequence[Problem],
        evaluated: Sequence[tuple[str, str]],
        notifiers: Sequence[str],
        now: float,
        renotify: float,
        max_renotify: int,
    ) -> list[int]:
        """Record one evaluation in one transaction: a problem without an open alert opens one
        (a `firing` notification per notifier); an open alert still found is updated, and gets
        a `reminder` per notifier when `renotify` passed since the last one (at most
        `max_renotify` reminders); an open alert of an evaluated (rule, workflow) that is not
        found any more resolves (a `resolved` notification). Returns the notifications made."""

    def take_deliveries(
        self, notifier: str, owner: str, now: float, lease: float
    ) -> list[tuple[DeliveryRecord, AlertRecord]]:
        """The notifications due for `notifier` (pending, failed and due again, or taken by a
        sender whose lease expired), taken for `lease` seconds so no other sender sends them."""

    def deliveries_sent(self, ids: Sequence[int], now: float) -> None: ...

    def deliveries_failed(self, ids: Sequence[int], error: str, retry_at: float) -> None:
        """Record a failed send; the notifications are due again at `retry_at`."""

    def alerts(self, since: float) -> list[AlertRecord]:
        """Firing alerts and those resolved since `since`, with their notifications."""

    def arrivals(self, workflow: str, start: float, end: float) -> int:
        """Files of `workflow` that arrived (upload time) in [start, end), whatever their
        status now (a file that arrived and FAILED still arrived)."""

    def get_info(self, name: str) -> str | None:
        """A small named value kept in the ledger (e.g. the last report's time)."""

    def set_info(self, name: str, value: str) -> None: ...

    def swap_info(self, name: str, expected: str | None, value: str) -> bool:
        """Set `name` to `value` only if it is `expected` now (None: unset), atomically: of two
        processes claiming the same report, one wins."""

    def set_unrouted(self, files: Sequence[UnroutedFile]) -> None:
        """Replace the list of landing files that no workflow takes."""

    def unrouted(self, limit: int | None = None) -> list[UnroutedFile]:
        """Landing files no workflow takes, by key; at most `limit` of them."""

    def count_unrouted(self) -> int:
        """How many landing files no workflow takes."""

    def set_markers(self, bucket: str, markers: Sequence[tuple[str, str]]) -> None:
        """Replace the completeness markers seen in the landing store: (workflow, folder
        prefix) pairs, the folder with its trailing '/' (see Workflow.ready_marker)."""

    def add_markers(self, bucket: str, markers: Sequence[tuple[str, str]]) -> None:
        """Add markers announced by events (a later `set_markers` replaces the whole set)."""

    def markers(self, bucket: str) -> list[tuple[str, str]]:
        """The (workflow, folder prefix) pairs whose marker is present."""

    def close(self) -> None: ...


class ObjectStore(Protocol):
    """The landing store, read side."""

    bucket: str

    def list(self) -> Iterator[ObjectInfo]:
        """Every object under the landing root (keys relative, '/'-separated)."""

    def stat(self, key: str) -> ObjectInfo | None:
        """The object's current size/etag, or None when it is gone."""


class EventSource(Protocol):
    """Object-created notifications; a hint only, reconciliation listing is the safety net."""

    def start(self) -> None: ...

    def drain(self, timeout: float) -> list[str]:
        """Keys announced since the last call; waits up to `timeout` seconds for the first."""

    def ack(self) -> None:
        """The keys of the last `drain` are registered: their notifications may be deleted.
        Not called when registering failed (a queue then delivers them again)."""

    def stop(self) -> None: ...


class QueryRows(Protocol):
    """An executed query over the outputs: its column names, then its rows in batches (never
    all at once)."""

    columns: list[str]

    def batches(self, size: int = 10_000) -> Iterator[list[tuple[Any, ...]]]: ...


class Wakeup(Protocol):
    """Tells a sleeping worker that work may be waiting (files became TODO elsewhere, e.g. in
    another process sharing the ledger). A hint only: workers still poll."""

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True when woken before it passed."""

    def close(self) -> None: ...


class Engine(Protocol):
    """Runs files through a transform. Yields outcomes as they become known, in chunks of files
    that completed together (one file, or a group converted by one query); one outcome per file.
    Never raises for one file's problem: a bad file becomes a failed outcome."""

    def run(
        self, workflow: str, files: Sequence[FileRecord], spec: TransformSpec
    ) -> Iterator[list[FileOutcome]]: ...

    def close(self) -> None:
        """Release resources and remove this engine's temporary files."""


class BatchStarter(Protocol):
    """Starts a claimed batch somewhere else and returns at once (the batch state machine on
    AWS: StepFunctionsEngine); whatever runs it records the outcomes later (`finish`).
    Starting the same batch again must not run it twice."""

    def start(
        self, batch_id: str, workflow: str, files: Sequence[FileRecord], spec: TransformSpec
    ) -> str:
        """Start the batch (or find it started); an identifier of the run. Raises an
        IngestflowError (one line) when it cannot be started."""


class MetricsSink(Protocol):
    """Delivers metric points (domain.metrics) to one system: Datadog's API, DogStatsD, JSON
    lines. `counts`: "totals" when count points must be whole bucket totals (the receiver keeps
    the last value per timestamp and tags: Datadog's API), "increments" when one point per file
    (the receiver adds: DogStatsD, JSON lines). `max_age`: points older than this many seconds
    are not sent (the receiver refuses them), None for no limit."""

    name: str
    counts: str
    max_age: float | None

    def send(self, points: Sequence[Point], timeout: float | None = None) -> None:
        """Deliver `points` (any number: the sink splits them into requests within its
        limits), each request waiting at most `timeout` seconds (None: the sink's own limit;
        the forwarder passes what is left of a flush). Raises SinkError when they were not
        all taken."""

    def close(self) -> None:
        """Flush anything buffered and release the connection."""


@runtime_checkable
class FoldingSink(MetricsSink, Protocol):
    """A sink whose values live in the ledger (Prometheus counters, served at scrape time):
    the forwarder stores `fold(points)` (series -> delta) with the checkpoint in one
    transaction instead of calling `send`."""

    def fold(self, points: Sequence[Point]) -> dict[str, float]: ...


class Notifier(Protocol):
    """Delivers alert digests to people: e-mail, a chat webhook, standard output. `name` is the
    configured notifier's name (its deliveries are tracked per name)."""

    name: str

    def send(self, digest: Digest) -> None:
        """Deliver `digest` (one message). Raises NotifyError when it was not delivered."""
