"""Domain rules: state machine, keys, routing, durations, batching, transforms, staleness."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestflow.domain import keys
from ingestflow.domain.batching import Backlog, readiness, take_within_limits
from ingestflow.domain.errors import InvalidKeyError, InvalidTransitionError
from ingestflow.domain.records import FileRecord
from ingestflow.domain.stale import is_stale
from ingestflow.domain.status import Status, check_transition, parse_status
from ingestflow.domain.transform import OHLCV
from ingestflow.domain.workflow import Workflow, parse_duration, parse_size, route

SEGMENT = st.text(alphabet="abcXYZ019_-. ", min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (None, Status.TODO),
        (Status.TODO, Status.PROCESSING),
        (Status.PROCESSING, Status.DONE),
        (Status.PROCESSING, Status.FAILED),
        (Status.PROCESSING, Status.TODO),
        (Status.FAILED, Status.TODO),
        (Status.DONE, Status.TODO),
    ],
)
def test_the_lifecycle_transitions_are_allowed(old: Status | None, new: Status) -> None:
    check_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (None, Status.PROCESSING),
        (Status.TODO, Status.DONE),
        (Status.TODO, Status.FAILED),
        (Status.DONE, Status.PROCESSING),
        (Status.FAILED, Status.DONE),
        (Status.DONE, Status.FAILED),
    ],
)
def test_shortcuts_through_the_lifecycle_are_refused(old: Status | None, new: Status) -> None:
    with pytest.raises(InvalidTransitionError):
        check_transition(old, new)


def test_status_names_are_parsed_case_insensitively_and_stored_upper_case() -> None:
    assert parse_status(" done ") is Status.DONE
    with pytest.raises(ValueError, match="expected one of"):
        parse_status("finished")


@pytest.mark.parametrize(
    "key",
    ["/abs/a.csv", "a/../b.csv", "a/./b.csv", "a//b.csv", "a/b\n.csv", "a\\b.csv", "", "C:x.csv"],
)
def test_unsafe_keys_are_rejected(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        keys.validate_key(key)


@given(st.lists(SEGMENT, min_size=1, max_size=5))
def test_any_key_of_safe_segments_is_accepted(segments: list[str]) -> None:
    key = "/".join(segments)
    assert keys.validate_key(key) == key


@given(st.lists(SEGMENT, min_size=1, max_size=4), st.integers(0, 31))
def test_any_key_with_a_control_character_is_rejected(segments: list[str], code: int) -> None:
    with pytest.raises(InvalidKeyError):
        keys.validate_key("/".join(segments) + chr(code))


def test_key_parts_are_derived_from_the_whole_key() -> None:
    key = "ohlcv/2024/eurusd.csv.gz"
    assert keys.parent_prefix(key) == "ohlcv/2024/"
    assert keys.folder(key) == "ohlcv"
    assert keys.file_type(key) == "csv.gz"
    assert keys.file_type("ohlcv/a.csv") == "csv"
    assert keys.parent_prefix("a.csv") == ""


@pytest.mark.parametrize(
    ("key", "temporary"),
    [
        ("ohlcv/a.csv.tmp", True),
        ("ohlcv/a.csv.part", True),
        ("ohlcv/.a.csv", True),
        ("ohlcv/.staging/a.csv", True),
        ("ohlcv/a.csv~", True),
        ("ohlcv/a.csv", False),
    ],
)
def test_temporary_and_hidden_names_are_recognised(key: str, temporary: bool) -> None:
    assert keys.is_temporary(key) is temporary


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("10m", 600.0), ("1.5h", 5400.0), ("250ms", 0.25), ("2d", 172800.0), (7, 7.0)],
)
def test_durations_are_parsed(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "10 parsecs", "-5s", True])
def test_bad_durations_are_refused(text: str | bool) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_sizes_use_powers_of_1024() -> None:
    assert parse_size("2GB") == 2 * 1024**3
    assert parse_size("512MiB") == 512 * 1024**2
    assert parse_size(10) == 10
    with pytest.raises(ValueError):
        parse_size("lots")


def test_the_longest_matching_prefix_takes_the_file() -> None:
    broad = Workflow("broad", "data/")
    narrow = Workflow("narrow", "data/fx/")
    assert route("data/fx/a.csv", [broad, narrow])[0] is narrow
    assert route("data/eq/a.csv", [broad, narrow])[0] is broad


def test_files_no_workflow_takes_are_unrouted_with_a_reason() -> None:
    wf = Workflow("ohlcv", "ohlcv/")
    assert route("other/a.csv", [wf]) == (None, "no workflow prefix matches")
    workflow, reason = route("ohlcv/notes.txt", [wf])
    assert workflow is None
    assert "include pattern" in reason


def test_include_patterns_match_the_file_name() -> None:
    wf = Workflow("w", "w/", include=("*.txt",))
    assert route("w/deep/a.txt", [wf])[0] is wf
    assert route("w/deep/a.csv", [wf])[0] is None


def test_a_backlog_is_ready_by_count_by_age_or_by_bytes() -> None:
    wf = Workflow("w", "w/", batch_size=10, max_wait=60, max_batch_bytes=1000)
    assert readiness(wf, Backlog(10, 10, 100.0), now=101.0) == "count"
    assert readiness(wf, Backlog(3, 10, 100.0), now=159.0) is None
    assert readiness(wf, Backlog(3, 10, 100.0), now=160.0) == "max_wait"
    assert readiness(wf, Backlog(3, 1000, 100.0), now=101.0) == "bytes"
    assert readiness(wf, Backlog(0, 0, None), now=1e9) is None


@given(
    st.lists(st.integers(1, 500), max_size=40),
    st.integers(1, 20),
    st.integers(1, 2000),
)
def test_a_batch_respects_its_caps_but_always_takes_one_file(
    sizes: list[int], max_files: int, max_bytes: int
) -> None:
    chosen = take_within_limits(list(enumerate(sizes)), max_files, max_bytes)
    assert chosen == list(range(len(chosen)))  # oldest first, no gaps
    assert len(chosen) <= max_files
    if sizes:
        assert chosen, "a non-empty backlog always yields a file"
    if len(chosen) > 1:
        assert sum(sizes[i] for i in chosen) <= max_bytes


def test_timestamp_format_option_replaces_the_parse_formats() -> None:
    spec = OHLCV.with_options({"timestamp_format": "%d/%m/%Y %H:%M", "delimiter": ";"})
    date_rule = next(c for c in spec.columns if c.source == "Date")
    assert date_rule.parse_formats() == ("%d/%m/%Y %H:%M",)
    assert spec.delimiter == ";"
    untouched = next(c for c in OHLCV.columns if c.source == "Date")
    assert untouched.parse_formats() == ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def test_ohlcv_output_keeps_input_order_drops_date_and_adds_price_change() -> None:
    header = ("Symbol", "Date", "Open", "High", "Low", "Close", "Volume")
    assert OHLCV.output_columns(header) == [
        "Symbol", "timestamp", "open_price", "high_price", "low_price", "close_price", "volume",
        "price_change",
    ]  # fmt: skip
    assert OHLCV.missing_columns(("Date", "Open")) == ["High", "Low", "Close", "Volume"]


def test_columns_match_case_insensitively_when_there_is_no_exact_match() -> None:
    header = ("date", "OPEN", "High", "low", "close", "Volume")
    bound = OHLCV.bound_to(header)
    assert bound.missing_columns(header) == []
    assert {c.source for c in bound.columns} == set(header)


def _record(status: Status, upload: float, lease: float | None = None) -> FileRecord:
    return FileRecord("b", "w/a.csv", "w", "w/", 1, "e", upload, status, lease_until=lease)


def test_stale_files_are_old_todo_files_and_expired_claims() -> None:
    assert is_stale(_record(Status.TODO, 0.0), stale_after=100, now=100.0)
    assert not is_stale(_record(Status.TODO, 0.0), stale_after=100, now=99.0)
    assert is_stale(_record(Status.PROCESSING, 0.0, lease=50.0), stale_after=100, now=51.0)
    assert not is_stale(_record(Status.DONE, 0.0), stale_after=100, now=1e9)
