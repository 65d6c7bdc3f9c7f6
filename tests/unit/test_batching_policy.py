"""Batch readiness (count, age, bytes) with an explicit `now`, and batch caps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingestflow.domain.batching import Backlog, readiness, take_within_limits
from ingestflow.domain.workflow import Workflow

WF = Workflow("w", "w/", batch_size=10, max_wait=60.0, max_batch_bytes=1000)
T0 = 1_700_000_000.0


def test_the_oldest_age_is_measured_against_the_given_now() -> None:
    backlog = Backlog(count=2, total_bytes=10, oldest_upload_time=T0)
    assert backlog.oldest_age(T0 + 42.5) == 42.5
    assert backlog.oldest_age(T0) == 0.0


def test_a_file_from_the_future_has_age_zero_not_a_negative_age() -> None:
    assert Backlog(1, 10, T0 + 100).oldest_age(T0) == 0.0


def test_an_empty_backlog_has_age_zero() -> None:
    assert Backlog(0, 0, None).oldest_age(T0) == 0.0


def test_an_empty_backlog_is_never_ready() -> None:
    assert readiness(WF, Backlog(0, 0, None), now=T0) is None
    assert readiness(Workflow("w", "w/", max_wait=0.0), Backlog(0, 0, None), now=T0) is None


def test_a_backlog_is_ready_by_count_once_batch_size_files_wait() -> None:
    assert readiness(WF, Backlog(10, 10, T0), now=T0) == "count"
    assert readiness(WF, Backlog(25, 10, T0), now=T0) == "count"
    assert readiness(WF, Backlog(9, 10, T0), now=T0) is None


def test_a_partial_backlog_is_ready_once_its_oldest_file_waited_max_wait() -> None:
    backlog = Backlog(3, 10, T0)
    assert readiness(WF, backlog, now=T0 + 59.999) is None
    assert readiness(WF, backlog, now=T0 + 60.0) == "max_wait"
    assert readiness(WF, backlog, now=T0 + 3600) == "max_wait"


def test_a_partial_backlog_is_ready_once_it_reaches_max_batch_bytes() -> None:
    assert readiness(WF, Backlog(3, 999, T0), now=T0) is None
    assert readiness(WF, Backlog(3, 1000, T0), now=T0) == "bytes"
    assert readiness(WF, Backlog(1, 5000, T0), now=T0) == "bytes"


def test_a_zero_max_wait_makes_any_waiting_file_ready_at_once() -> None:
    wf = Workflow("w", "w/", batch_size=10, max_wait=0.0)
    assert readiness(wf, Backlog(1, 1, T0), now=T0) == "max_wait"


def test_count_is_the_reason_reported_when_the_batch_is_full() -> None:
    assert readiness(WF, Backlog(10, 5000, T0), now=T0 + 3600) == "count"


@given(
    count=st.integers(0, 30),
    total_bytes=st.integers(0, 3000),
    age=st.floats(-100, 200, allow_nan=False),
    batch_size=st.integers(1, 20),
    max_wait=st.floats(0, 120, allow_nan=False),
)
def test_readiness_is_none_exactly_when_no_trigger_holds(
    count: int, total_bytes: int, age: float, batch_size: int, max_wait: float
) -> None:
    wf = Workflow("w", "w/", batch_size=batch_size, max_wait=max_wait, max_batch_bytes=1000)
    backlog = Backlog(count, total_bytes, T0 if count else None)
    now = T0 + age
    reason = readiness(wf, backlog, now)
    triggers = {
        "count": count >= batch_size,
        "bytes": total_bytes >= 1000,
        "max_wait": max(0.0, now - T0) >= max_wait,
    }
    if count == 0 or not any(triggers.values()):
        assert reason is None
    else:
        assert reason is not None
        assert triggers[reason]


# --- take_within_limits ---------------------------------------------------------------------


def test_a_batch_is_capped_by_max_files_oldest_first() -> None:
    candidates = [(f"f{i}", 1) for i in range(5)]
    assert take_within_limits(candidates, max_files=3, max_bytes=1000) == ["f0", "f1", "f2"]


def test_a_batch_is_capped_by_max_bytes() -> None:
    candidates = [("a", 40), ("b", 40), ("c", 40)]
    assert take_within_limits(candidates, max_files=10, max_bytes=100) == ["a", "b"]


def test_files_that_exactly_fill_max_bytes_all_fit() -> None:
    assert take_within_limits([("a", 50), ("b", 50)], max_files=10, max_bytes=100) == ["a", "b"]


def test_a_single_file_larger_than_max_bytes_runs_alone() -> None:
    assert take_within_limits([("big", 500), ("small", 1)], max_files=10, max_bytes=100) == ["big"]


def test_a_batch_stops_at_the_first_file_that_does_not_fit_and_never_skips_ahead() -> None:
    candidates = [("a", 60), ("b", 60), ("c", 10)]
    assert take_within_limits(candidates, max_files=10, max_bytes=100) == ["a"]


def test_no_candidates_give_an_empty_batch() -> None:
    assert take_within_limits([], max_files=10, max_bytes=100) == []


def test_candidates_may_be_any_iterable() -> None:
    candidates = ((f"f{i}", 10) for i in range(100))
    assert take_within_limits(candidates, max_files=4, max_bytes=1000) == ["f0", "f1", "f2", "f3"]


@given(
    sizes=st.lists(st.integers(0, 500), max_size=40),
    max_files=st.integers(1, 20),
    max_bytes=st.integers(1, 2000),
)
def test_take_within_limits_respects_the_caps_and_always_takes_one(
    sizes: list[int], max_files: int, max_bytes: int
) -> None:
    chosen = take_within_limits(list(enumerate(sizes)), max_files, max_bytes)
    # oldest first, no gaps: always a prefix of the candidates
    assert chosen == list(range(len(chosen)))
    assert len(chosen) <= max_files
    if sizes:
        assert len(chosen) >= 1
    if len(chosen) > 1:
        assert sum(sizes[i] for i in chosen) <= max_bytes
    # it stops only for a reason: out of candidates, the file cap, or the next file not fitting
    if len(chosen) < len(sizes) and len(chosen) < max_files:
        assert sum(sizes[: len(chosen) + 1]) > max_bytes
