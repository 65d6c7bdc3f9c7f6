"""Batches run elsewhere (the batch state machine on AWS): claimed and started by one call
(the `schedule` Lambda), finished by another (the `finish` Lambda) once their outcomes are
known. Between the two the files are PROCESSING under the batch's lease; the lease must
outlast the run (the reaper would otherwise give the files to another batch meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ingestflow.domain.errors import IngestflowError
from ingestflow.domain.records import FileOutcome, Finished
from ingestflow.domain.transform import TransformSpec
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import BatchStarter, StatusStore
from ingestflow.services.reaper import OwnerIsDead, never_dead, reap

log = logging.getLogger(__name__)


@dataclass
class Started:
    """What one scheduling pass did."""

    reaped: int = 0
    started: list[tuple[str, str, int]] = field(default_factory=list)  # batch, run, files
    failed: list[tuple[str, str]] = field(default_factory=list)  # batch, why (released)

    def to_json(self) -> dict[str, object]:
        return {
            "reaped": self.reaped,
            "started": [{"batch_id": b, "run": r, "files": n} for b, r, n in self.started],
            "failed": [{"batch_id": b, "error": e} for b, e in self.failed],
        }


def start_ready_batches(
    store: StatusStore,
    starter: BatchStarter,
    workflows: Sequence[Workflow],
    specs: Mapping[str, TransformSpec],
    owner: str,
    clock: Callable[[], float],
    time_left: Callable[[], float] = lambda: float("inf"),
    owner_is_dead: OwnerIsDead = never_dead,
) -> Started:
    """Reap expired leases, then claim every ready batch of every workflow and start it, while
    `time_left()` (seconds) allows. A batch that cannot be started is released (its files TODO
    again, the attempt not counted) and its workflow is left until the next pass: the cause
    (a missing state machine, throttling) would refuse the next batch too."""
    result = Started(reaped=len(reap(store, workflows, clock(), owner_is_dead)))
    for workflow in workflows:
        while time_left() > 0:
            batch = store.claim(workflow, clock(), owner)
            if batch is None:
                break
            try:
                run = starter.start(
                    batch.batch_id, workflow.name, batch.files, specs[workflow.name]
                )
            except IngestflowError as exc:
                store.release_batch(batch.batch_id, clock(), f"not started: {exc}")
                log.error("batch %s of %s not started: %s", batch.batch_id, workflow.name, exc)
                result.failed.append((batch.batch_id, str(exc)))
                break
            log.info("batch %s of %s: %d file(s) started as %s",
                     batch.batch_id, workflow.name, len(batch.files), run)  # fmt: skip
            result.started.append((batch.batch_id, run, len(batch.files)))
    return result


def finish_remote_batch(
    store: StatusStore,
    workflow: Workflow,
    batch_id: str,
    outcomes: Sequence[FileOutcome],
    now: float,
) -> tuple[Finished, int]:
    """Record a batch's outcomes, then release any of its files still PROCESSING (no outcome
    for them: a results manifest that misses a file) so that none stays PROCESSING until its
    lease runs out. Idempotent: a repeated finish changes nothing (the files are no longer
    PROCESSING in the batch). Returns the summary and how many files were released."""
    finished = store.finish(workflow, batch_id, outcomes, now)
    released = store.release_batch(batch_id, now, "no outcome reported for the file")
    if released:
        log.warning("batch %s: %d file(s) had no outcome and were queued again",
                    batch_id, len(released))  # fmt: skip
    return finished, len(released)
