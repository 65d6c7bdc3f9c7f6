"""Durations, sizes and routing of landing keys to workflows."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestflow.domain.workflow import DEFAULT_INCLUDE, Workflow, parse_duration, parse_size, route

# --- parse_duration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30.0),
        ("10m", 600.0),
        ("1.5h", 5400.0),
        ("2h", 7200.0),
        ("250ms", 0.25),
        ("2d", 172800.0),
        ("45", 45.0),  # no unit: seconds
        ("0s", 0.0),
        (" 5 s ", 5.0),
        ("1.25m", 75.0),
        (7, 7.0),
        (2.5, 2.5),
        (0, 0.0),
    ],
)
def test_durations_are_parsed_to_seconds(value: str | int | float, seconds: float) -> None:
    parsed = parse_duration(value)
    assert parsed == seconds
    assert isinstance(parsed, float)


@pytest.mark.parametrize(
    "value",
    ["soon", "", "   ", "10 parsecs", "5 sec", "1.5.2s", "s", "ms", "1e3s", "-5s", "+5s", "5s5"],
)
def test_unparseable_duration_text_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", [-1, -0.5, -86400])
def test_negative_durations_are_refused(value: int | float) -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_duration(value)


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_durations(value: bool) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)


def test_a_nan_duration_is_refused() -> None:
    # TOML has `nan`, so `max_wait = nan` reaches parse_duration as a float.
    with pytest.raises(ValueError):
        parse_duration(math.nan)


# --- parse_size -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("512MB", 512 * 1024**2),
        ("2GB", 2 * 1024**3),
        ("2gb", 2 * 1024**3),
        ("1GiB", 1024**3),
        ("512MiB", 512 * 1024**2),
        ("10k", 10 * 1024),
        ("10K", 10 * 1024),
        ("1.5KB", 1536),
        ("1TB", 1024**4),
        (" 2 GB ", 2 * 1024**3),
        ("100", 100),
        ("100b", 100),
        ("100B", 100),
        (10, 10),
    ],
)
def test_sizes_are_parsed_in_powers_of_1024(value: str | int, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["lots", "", "5 megabytes", "1PB", "-5MB", "MB", "1.5.2MB"])
def test_unparseable_size_text_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(value)


@pytest.mark.parametrize("value", ["0", "0MB", "0.1b", 0, -1])
def test_sizes_must_be_positive(value: str | int) -> None:
    with pytest.raises(ValueError, match="positive"):
        parse_size(value)


def test_a_boolean_is_not_a_size() -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(True)


# --- routing --------------------------------------------------------------------------------


def test_workflow_defaults_take_csv_and_gzipped_csv_with_the_ohlcv_transform() -> None:
    wf = Workflow("w", "w/")
    assert wf.include == DEFAULT_INCLUDE == ("*.csv", "*.csv.gz")
    assert wf.transform == "ohlcv"
    assert dict(wf.options) == {}


@pytest.mark.parametrize("order", ["broad_first", "narrow_first"])
def test_longest_prefix_wins_when_workflows_nest(order: str) -> None:
    broad = Workflow("broad", "data/")
    narrow = Workflow("narrow", "data/fx/")
    workflows = [broad, narrow] if order == "broad_first" else [narrow, broad]
    assert route("data/fx/eurusd.csv", workflows) == (narrow, "")
    assert route("data/fx/2024/01/eurusd.csv", workflows) == (narrow, "")
    assert route("data/eq/aapl.csv", workflows) == (broad, "")
    assert route("data/a.csv", workflows) == (broad, "")


def test_a_root_workflow_takes_what_no_narrower_workflow_takes() -> None:
    root = Workflow("root", "")
    ohlcv = Workflow("ohlcv", "ohlcv/")
    assert route("ohlcv/a.csv", [root, ohlcv])[0] is ohlcv
    assert route("a.csv", [root, ohlcv])[0] is root
    assert route("other/deep/a.csv", [root, ohlcv])[0] is root


def test_a_shorter_prefix_takes_the_file_when_the_longer_ones_include_refuses_it() -> None:
    broad = Workflow("broad", "data/", include=("*.json",))
    narrow = Workflow("narrow", "data/fx/", include=("*.csv",))
    assert route("data/fx/a.csv", [broad, narrow])[0] is narrow
    assert route("data/fx/a.json", [broad, narrow])[0] is broad


def test_a_folder_prefix_does_not_capture_a_sibling_folder() -> None:
    ohlcv = Workflow("ohlcv", "ohlcv/")
    assert route("ohlcv2/a.csv", [ohlcv]) == (None, "no workflow prefix matches")
    assert route("ohlcv.csv", [ohlcv]) == (None, "no workflow prefix matches")


def test_include_patterns_match_the_file_name_not_the_path() -> None:
    wf = Workflow("w", "w/", include=("2024*",))
    assert route("w/2024/a.csv", [wf])[0] is None  # the folder is 2024, the name is not
    assert route("w/any/2024-01.csv", [wf])[0] is wf


def test_include_patterns_are_case_sensitive() -> None:
    wf = Workflow("w", "w/")
    assert route("w/a.csv", [wf])[0] is wf
    assert route("w/a.csv.gz", [wf])[0] is wf
    assert route("w/a.CSV", [wf])[0] is None


def test_a_key_under_no_prefix_is_unrouted_with_that_reason() -> None:
    assert route("other/a.csv", [Workflow("ohlcv", "ohlcv/")]) == (
        None,
        "no workflow prefix matches",
    )
    assert route("a.csv", []) == (None, "no workflow prefix matches")


def test_a_key_no_include_pattern_takes_is_unrouted_naming_the_candidate_workflows() -> None:
    broad = Workflow("broad", "data/")
    narrow = Workflow("narrow", "data/fx/")
    other = Workflow("other", "other/", include=("*.txt",))
    workflow, reason = route("data/fx/notes.txt", [broad, narrow, other])
    assert workflow is None
    assert reason == "matches no include pattern of workflow narrow, broad"


def test_takes_agrees_with_prefix_and_include() -> None:
    wf = Workflow("w", "w/", include=("*.csv",))
    assert wf.takes("w/x/a.csv")
    assert not wf.takes("w/x/a.txt")
    assert not wf.takes("v/a.csv")


PREFIXES = ["", "a/", "a/b/", "a/b/c/", "b/", "ab/"]
INCLUDES = [("*.csv",), ("*.txt",), ("*",), ("x*",)]
KEYS = ["a.csv", "x.txt", "a/x.csv", "a/b/x.txt", "a/b/c/d/x.csv", "ab/x.csv", "b/c/y.txt"]


@given(
    st.lists(
        st.tuples(st.sampled_from(PREFIXES), st.sampled_from(INCLUDES)), min_size=0, max_size=6
    ),
    st.sampled_from(KEYS),
)
def test_route_picks_a_workflow_with_the_longest_prefix_among_those_that_take_the_key(
    specs: list[tuple[str, tuple[str, ...]]], key: str
) -> None:
    workflows = [Workflow(f"w{i}", prefix, include=inc) for i, (prefix, inc) in enumerate(specs)]
    chosen, reason = route(key, workflows)
    takers = [w for w in workflows if w.takes(key)]
    if not takers:
        assert chosen is None
        assert reason
    else:
        assert chosen in takers
        assert reason == ""
        assert len(chosen.prefix) == max(len(w.prefix) for w in takers)
