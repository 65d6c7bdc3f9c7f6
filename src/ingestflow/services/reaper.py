"""Crash recovery: expired leases, and batches whose owning process is gone."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

from ingestflow.domain.records import Transition
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore


def owner_id() -> str:
    """Identifies this process as a batch owner: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _is_dead_local_owner(owner: str) -> bool:
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine's owner: only its lease can tell
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def reap(store: StatusStore, workflows: Sequence[Workflow], now: float) -> list[Transition]:
    """Return expired or orphaned PROCESSING files to TODO (or FAILED when out of attempts).

    A batch owned by a dead process on this machine is recovered at once instead of waiting for
    its lease, so `kill -9` followed by a restart resumes immediately."""
    dead = [b for b, owner, _ in store.active_batches() if _is_dead_local_owner(owner)]
    return store.reap(workflows, now, dead)
