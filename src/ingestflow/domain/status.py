"""The status state machine: one enum and the transitions it allows.

    (new) ──register──▶ TODO ──claim──▶ PROCESSING ──▶ DONE
                          ▲                 │    └────▶ FAILED
                          └─lease expired / retryable failure / re-upload
    FAILED ──explicit retry / re-upload──▶ TODO;  DONE ──re-upload──▶ TODO
A re-upload of a file that is still TODO updates it in place (no status change, no transition).
"""

from __future__ import annotations

from enum import StrEnum

from ingestflow.domain.errors import InvalidTransitionError


class Status(StrEnum):
    TODO = "TODO"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    FAILED = "FAILED"


ALLOWED: frozenset[tuple[Status | None, Status]] = frozenset(
    {
        (None, Status.TODO),
        (Status.TODO, Status.PROCESSING),
        (Status.PROCESSING, Status.DONE),
        (Status.PROCESSING, Status.FAILED),
        (Status.PROCESSING, Status.TODO),
        (Status.FAILED, Status.TODO),
        (Status.DONE, Status.TODO),
    }
)


def check_transition(old: Status | None, new: Status) -> None:
    """Raise InvalidTransitionError unless old -> new is allowed."""
    if (old, new) not in ALLOWED:
        raise InvalidTransitionError(f"status change {old} -> {new} is not allowed")


def parse_status(value: str) -> Status:
    """Parse a status name case-insensitively (the seed mixed cases; we never store them)."""
    try:
        return Status(value.strip().upper())
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise ValueError(f"unknown status {value!r}; expected one of {names}") from None
