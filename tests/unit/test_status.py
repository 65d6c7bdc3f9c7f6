"""The status state machine: exactly the documented transitions, case-insensitive parsing."""

from __future__ import annotations

import pytest

from ingestflow.domain.errors import InvalidTransitionError
from ingestflow.domain.status import ALLOWED, Status, check_transition, parse_status

# Written out from the README / module docstring, independently of ALLOWED.
DOCUMENTED = {
    (None, Status.TODO),  # register
    (Status.TODO, Status.PROCESSING),  # claim
    (Status.PROCESSING, Status.DONE),
    (Status.PROCESSING, Status.FAILED),
    (Status.PROCESSING, Status.TODO),  # lease expired / retryable failure
    (Status.FAILED, Status.TODO),  # explicit retry / re-upload
    (Status.DONE, Status.TODO),  # re-upload
}
EVERY_PAIR = [(old, new) for old in (None, *Status) for new in Status]
FORBIDDEN = [pair for pair in EVERY_PAIR if pair not in DOCUMENTED]


def _id(pair: tuple[Status | None, Status]) -> str:
    old, new = pair
    return f"{old or 'new'}->{new}"


@pytest.mark.parametrize("pair", sorted(DOCUMENTED, key=_id), ids=_id)
def test_each_documented_transition_is_allowed(pair: tuple[Status | None, Status]) -> None:
    assert check_transition(*pair) is None


@pytest.mark.parametrize("pair", FORBIDDEN, ids=_id)
def test_every_other_transition_is_refused(pair: tuple[Status | None, Status]) -> None:
    with pytest.raises(InvalidTransitionError):
        check_transition(*pair)


def test_the_allowed_set_is_exactly_the_documented_lifecycle() -> None:
    assert set(ALLOWED) == DOCUMENTED
    assert len(FORBIDDEN) == 20 - 7


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_no_status_transitions_to_itself(status: Status) -> None:
    with pytest.raises(InvalidTransitionError):
        check_transition(status, status)


@pytest.mark.parametrize("status", [Status.PROCESSING, Status.DONE, Status.FAILED], ids=str)
def test_a_new_file_can_only_enter_as_todo(status: Status) -> None:
    with pytest.raises(InvalidTransitionError):
        check_transition(None, status)


def test_a_refused_transition_names_both_statuses() -> None:
    with pytest.raises(InvalidTransitionError, match="DONE -> PROCESSING"):
        check_transition(Status.DONE, Status.PROCESSING)


def test_status_values_are_their_upper_case_names_in_lifecycle_order() -> None:
    assert [s.value for s in Status] == ["TODO", "PROCESSING", "DONE", "FAILED"]
    assert Status.DONE == "DONE"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("TODO", Status.TODO),
        ("todo", Status.TODO),
        ("Todo", Status.TODO),
        ("processing", Status.PROCESSING),
        ("PrOcEsSiNg", Status.PROCESSING),
        ("Done", Status.DONE),
        (" done ", Status.DONE),
        ("failed\n", Status.FAILED),
    ],
)
def test_parse_status_is_case_insensitive_and_ignores_surrounding_space(
    text: str, status: Status
) -> None:
    assert parse_status(text) is status


@pytest.mark.parametrize("text", ["finished", "", "   ", "DONE!", "TO DO", "pending"])
def test_an_unknown_status_is_refused_with_the_accepted_names(text: str) -> None:
    with pytest.raises(ValueError, match="expected one of TODO, PROCESSING, DONE, FAILED"):
        parse_status(text)
