"""Running one claimed batch: engine outcomes recorded per file, lease renewed while it runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ingestflow.domain.records import Batch, FileOutcome, Finished
from ingestflow.domain.transform import TransformSpec
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import Engine, StatusStore

Clock = Callable[[], float]


@dataclass
class BatchResult:
    batch_id: str
    finished: Finished = field(default_factory=Finished)
    outcomes: list[FileOutcome] = field(default_factory=list)
    released: int = 0  # files given back unstarted (a stop during the batch)


class _LeaseKeeper(threading.Thread):
    """Renews the batch lease every third of its length until stopped."""

    def __init__(self, store: StatusStore, batch: Batch, lease: float, clock: Clock) -> None:
        super().__init__(name=f"lease-{batch.batch_id[:8]}", daemon=True)
        self._store, self._batch, self._lease, self._clock = store, batch, lease, clock
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self._lease / 3):
            if not self._store.renew(self._batch.batch_id, self._clock() + self._lease):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def execute_batch(
    store: StatusStore,
    engine: Engine,
    workflow: Workflow,
    spec: TransformSpec,
    batch: Batch,
    clock: Clock,
    stop: threading.Event | None = None,
    on_file: Callable[[FileOutcome], None] | None = None,
) -> BatchResult:
    """Run `batch` and record each file's outcome as soon as it is known.

    When `stop` is set, the file in flight is finished and the batch's unstarted files are
    released back to TODO (their attempt not counted)."""
    result = BatchResult(batch.batch_id)
    keeper = _LeaseKeeper(store, batch, workflow.lease, clock)
    keeper.start()
    try:
        for outcomes in engine.run(workflow.name, batch.files, spec):
            result.outcomes += outcomes
            result.finished += store.finish(workflow, batch.batch_id, outcomes, clock())
            if on_file is not None:
                for outcome in outcomes:
                    on_file(outcome)
            if stop is not None and stop.is_set():
                break
    finally:
        keeper.stop()
        if len(result.outcomes) < len(batch.files):
            released = store.release_batch(batch.batch_id, clock(), "released at shutdown")
            result.released = len(released)
    return result
