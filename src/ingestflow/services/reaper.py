"""Crash recovery: expired leases, and batches whose owning process is gone."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ingestflow.domain.records import Transition
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore

OwnerIsDead = Callable[[str], bool]


def never_dead(owner: str) -> bool:
    """Without a liveness check, only leases recover batches."""
    return False


def reap(
    store: StatusStore,
    workflows: Sequence[Workflow],
    now: float,
    owner_is_dead: OwnerIsDead = never_dead,
) -> list[Transition]:
    """Return expired or orphaned PROCESSING files to TODO (or FAILED when out of attempts).

    A batch whose owner is known to be dead (e.g. a process on this machine that was killed) is
    recovered at once instead of waiting for its lease, so `kill -9` and a restart resume
    immediately."""
    dead = [batch for batch, owner, _ in store.active_batches() if owner_is_dead(owner)]
    return store.reap(workflows, now, dead)
