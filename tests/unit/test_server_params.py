"""The query parameters the JSON API and the dashboard share (`moment`, cursors, `limit`,
`status`, the same-origin check), and `file_page`'s upload-time range as part of its keyset,
on a real SQLite ledger."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.requests import Request

from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.domain.records import ObjectInfo
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.entrypoints.server.params import (
    DEFAULT_LIMIT,
    ApiError,
    decode_cursor,
    encode_cursor,
    limit_param,
    moment,
    same_origin,
    status_param,
)
from ingestflow.services.file_search import file_page

NOW = 1_800_000_000.0
HOST = "127.0.0.1:8080"


def request(headers: dict[str, str] | None = None, /, **params: str) -> Request:
    """A GET to http://HOST/ with `params` as its query string."""
    sent = {"host": HOST, **(headers or {})}
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("127.0.0.1", 8080),
            "path": "/",
            "query_string": urlencode(params).encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
        }
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp()


# -- moment -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-02T14:05:00Z", utc(2026, 12, 2, 14, 5)),
        ("2026-12-02T14:05:00z", utc(2026, 12, 2, 14, 5)),
        ("2026-12-02T14:05:00.250Z", utc(2026, 12, 2, 14, 5) + 0.25),
        ("2026-12-02T14:05+01:00", utc(2026, 12, 2, 13, 5)),
        ("2026-12-02T14:05:00-05:30", utc(2026, 12, 2, 19, 35)),
        ("2026-12-02T14:05", utc(2026, 12, 2, 14, 5)),  # no offset: UTC
        ("2026-12-02 14:05:00", utc(2026, 12, 2, 14, 5)),
        ("2026-12-02", utc(2026, 12, 2)),
    ],
)
def test_an_iso_time_is_read_with_its_offset_or_as_utc(text: str, expected: float) -> None:
    assert moment(request(since=text), "since", NOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1764684300", 1764684300.0), ("1764684300.5", 1764684300.5), ("0", 0.0)],
)
def test_a_number_is_epoch_seconds(text: str, expected: float) -> None:
    assert moment(request(until=text), "until", NOW) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86400.0), ("30m", 1800.0), ("7d", 7 * 86400.0), ("90s", 90.0), ("1.5h", 5400.0)],
)
def test_a_duration_is_that_long_before_now(text: str, seconds: float) -> None:
    assert moment(request(since=text), "since", NOW) == NOW - seconds


def test_an_absent_or_empty_moment_is_none() -> None:
    assert moment(request(), "since", NOW) is None
    assert moment(request(since=""), "since", NOW) is None
    assert moment(request(until="24h"), "since", NOW) is None  # another parameter


@pytest.mark.parametrize(
    "text",
    ["yesterday-ish", "soon", "-1h", "0s", "400d", "24 hours", "nan", "inf", "-inf",
     "2026-13-01", "2026-12-02T25:00", "<b>x</b>"],
)  # fmt: skip
@pytest.mark.parametrize("name", ["since", "until"])
def test_anything_else_is_a_400_naming_the_parameter(name: str, text: str) -> None:
    with pytest.raises(ApiError) as raised:
        moment(request(**{name: text}), name, NOW)
    assert raised.value.status == 400
    assert raised.value.message.startswith(f"{name}: not a time")
    assert raised.value.message.endswith(f": {text}")


# -- cursors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "position", [(0.0, "a"), (1764684300.25, "ohlcv/ä b#c%/1.csv"), (-5.0, "k/😀"), (1e12, "")]
)
def test_a_cursor_gives_back_its_position(position: tuple[float, str]) -> None:
    text = encode_cursor(position)
    assert decode_cursor(text) == position
    assert text.replace("-", "").replace("_", "").isalnum()  # url-safe, no padding


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "not a cursor!",
        "@@@",
        _b64("[1, 2, 3]"),
        _b64('["a", "b"]'),
        _b64('[true, "k"]'),
        _b64('[NaN, "k"]'),
        _b64('[1e999, "k"]'),
        _b64('{"t": 1, "k": "a"}'),
        _b64('[1, "k"'),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_this_api_did_not_make_is_a_400(text: str) -> None:
    with pytest.raises(ApiError) as raised:
        decode_cursor(text)
    assert (raised.value.status, raised.value.message) == (400, "invalid cursor")


# -- limit and status ---------------------------------------------------------------------------


def test_limit_defaults_and_takes_whole_numbers_from_1_to_1000() -> None:
    assert limit_param(request()) == DEFAULT_LIMIT == 100
    assert limit_param(request(limit="")) == DEFAULT_LIMIT
    assert [limit_param(request(limit=n)) for n in ("1", "50", "1000")] == [1, 50, 1000]


@pytest.mark.parametrize("text", ["0", "1001", "ten", "-5", "1.5", " 5", "٣", "1e2"])
def test_a_limit_outside_1_to_1000_is_a_400(text: str) -> None:
    with pytest.raises(ApiError) as raised:
        limit_param(request(limit=text))
    assert raised.value.status == 400
    assert raised.value.message == f"limit must be a whole number from 1 to 1000: {text}"


def test_status_is_read_case_insensitively_and_empty_means_any() -> None:
    assert status_param(request(status="failed")) is Status.FAILED
    assert status_param(request(status=" Done ")) is Status.DONE
    assert status_param(request(status="")) is None
    assert status_param(request()) is None


def test_an_unknown_status_is_a_400_listing_the_statuses() -> None:
    with pytest.raises(ApiError) as raised:
        status_param(request(status="NOPE"))
    assert raised.value.status == 400
    assert raised.value.message == (
        "unknown status 'NOPE'; expected one of TODO, PROCESSING, DONE, FAILED"
    )


# -- same origin --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, True),  # curl, scripts
        ({"Origin": f"http://{HOST}"}, True),
        ({"Origin": f"HTTP://{HOST.upper()}"}, True),
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Origin": "http://evil.example"}, False),
        ({"Origin": f"https://{HOST}"}, False),
        ({"Origin": "http://127.0.0.1:9090"}, False),
        ({"Origin": "null"}, False),
        ({"Origin": f"http://{HOST}", "Sec-Fetch-Site": "cross-site"}, False),
        ({"Sec-Fetch-Site": "Cross-Site"}, False),
    ],
)
def test_only_a_cross_site_browser_request_is_refused(
    headers: dict[str, str], allowed: bool
) -> None:
    assert same_origin(request(headers)) is allowed


# -- file_page: the upload-time range -----------------------------------------------------------

WORKFLOW = Workflow("ohlcv", "ohlcv/")
UPLOADS = {  # key: upload time; ledger order is (upload time, key)
    "ohlcv/k0.csv": 100.0,
    "ohlcv/a-x.csv": 200.0,
    "ohlcv/b.csv": 200.0,
    "ohlcv/c-x.csv": 300.0,
    "ohlcv/d-x.csv": 400.0,
    "ohlcv/e.csv": 500.0,
}
KEYS = list(UPLOADS)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStatusStore]:
    store = SqliteStatusStore(tmp_path / "ledger.db")
    try:
        store.sync_workflows([WORKFLOW])
        infos = [(ObjectInfo(k, 1, "v1", t), "ohlcv") for k, t in UPLOADS.items()]
        store.register("landing", infos, NOW)
        yield store
    finally:
        store.close()


def keys(store: SqliteStatusStore, limit: int = 100, **kwargs: object) -> list[str]:
    return [r.key for r in file_page(store, limit, **kwargs).files]  # type: ignore[arg-type]


@pytest.mark.parametrize("query", [None, ".csv"])
@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (None, None, KEYS),
        (200.0, None, KEYS[1:]),  # since is inclusive: both files at 200
        (200.5, None, KEYS[3:]),
        (None, 300.0, KEYS[:3]),  # until is exclusive
        (None, 300.5, KEYS[:4]),
        (200.0, 400.0, KEYS[1:4]),
        (200.0, 200.0, []),
        (400.0, 200.0, []),
        (600.0, None, []),
        (None, 100.0, []),
    ],
)
def test_the_time_range_keeps_since_and_drops_until(
    store: SqliteStatusStore,
    query: str | None,
    since: float | None,
    until: float | None,
    expected: list[str],
) -> None:
    page = file_page(store, 100, query=query, since=since, until=until)
    assert [r.key for r in page.files] == expected
    assert page.next_after is None


def test_a_key_substring_and_the_time_range_select_together(store: SqliteStatusStore) -> None:
    assert keys(store, query="-X", since=200.0, until=400.0) == ["ohlcv/a-x.csv", "ohlcv/c-x.csv"]
    assert keys(store, query="-x", since=300.0) == ["ohlcv/c-x.csv", "ohlcv/d-x.csv"]
    assert keys(store, query="-x", until=200.0) == []


def pages(store: SqliteStatusStore, limit: int, **kwargs: object) -> list[list[str]]:
    """Every page from the first, following `next_after`."""
    found = []
    after = None
    while True:
        page = file_page(store, limit, after=after, **kwargs)  # type: ignore[arg-type]
        found.append([r.key for r in page.files])
        if page.next_after is None:
            return found
        after = page.next_after


@pytest.mark.parametrize("query", [None, "csv"])
def test_pages_through_a_time_range_cover_it_once_without_an_empty_last_page(
    store: SqliteStatusStore, query: str | None
) -> None:
    assert pages(store, 1, query=query, since=200.0, until=400.0) == [
        ["ohlcv/a-x.csv"],
        ["ohlcv/b.csv"],
        ["ohlcv/c-x.csv"],
    ]
    assert pages(store, 2, query=query, since=200.0, until=400.0) == [
        ["ohlcv/a-x.csv", "ohlcv/b.csv"],
        ["ohlcv/c-x.csv"],
    ]
    assert pages(store, 3, query=query, since=200.0, until=400.0) == [KEYS[1:4]]


def test_pages_of_a_substring_in_a_time_range_cover_it_once(store: SqliteStatusStore) -> None:
    assert pages(store, 1, query="-x", since=200.0, until=500.0) == [
        ["ohlcv/a-x.csv"],
        ["ohlcv/c-x.csv"],
        ["ohlcv/d-x.csv"],
    ]


@pytest.mark.parametrize("query", [None, "csv"])
def test_a_cursor_before_since_starts_at_since_and_one_after_it_wins(
    store: SqliteStatusStore, query: str | None
) -> None:
    before = (100.0, "ohlcv/k0.csv")
    assert keys(store, query=query, after=before, since=300.0) == KEYS[3:]
    assert keys(store, query=query, after=(0.0, ""), since=200.0, until=300.0) == KEYS[1:3]
    inside = (200.0, "ohlcv/a-x.csv")  # the last key of a previous page
    assert keys(store, query=query, after=inside, since=200.0) == KEYS[2:]
    assert keys(store, query=query, after=inside, since=200.0, until=400.0) == KEYS[2:4]


@pytest.mark.parametrize("query", [None, "csv"])
def test_a_cursor_at_or_past_until_gives_an_empty_last_page(
    store: SqliteStatusStore, query: str | None
) -> None:
    for after in ((300.0, "ohlcv/c-x.csv"), (450.0, "")):
        page = file_page(store, 10, query=query, after=after, until=300.0)
        assert (page.files, page.next_after) == ([], None)


def test_the_range_and_the_other_filters_select_together(store: SqliteStatusStore) -> None:
    assert keys(store, prefix="ohlcv/c", since=200.0) == ["ohlcv/c-x.csv"]
    assert keys(store, status=Status.TODO, workflow="ohlcv", since=400.0) == KEYS[4:]
    assert keys(store, status=Status.DONE, since=0.0) == []
