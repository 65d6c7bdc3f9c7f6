"""DatadogSink against a real local server with Datadog's intake rules (datadog_capture):
what arrives, last-write-wins counts vs additive distributions, payload splitting, how failures
map to SinkError kinds, and that the API key stays in its header."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator

import pytest
from datadog_capture import DISTRIBUTIONS, SERIES, DatadogCapture

from ingestflow.adapters.metrics.datadog import DatadogSink
from ingestflow.config.secrets import Secret
from ingestflow.domain.errors import SinkError
from ingestflow.domain.metrics import (
    BACKLOG_FILES,
    BYTES_PROCESSED,
    COUNT,
    DISTRIBUTION,
    FILES_PROCESSED,
    GAUGE,
    PROCESSING_TIME,
    Point,
    Tags,
    bucket_start,
)

KEY = "dd-test-key-0123456789abcdef"
TAGS: Tags = (("env", "test"), ("folder", "in/2024"), ("workflow", "ohlcv"))
NOW = time.time()
BUCKET = float(bucket_start(NOW - 120))


def count(metric: str, value: float, ts: float = BUCKET, tags: Tags = TAGS) -> Point:
    return Point(metric, COUNT, value, ts, tags)


def dist(value: float, ts: float = NOW - 30, tags: Tags = TAGS) -> Point:
    return Point(PROCESSING_TIME, DISTRIBUTION, value, ts, tags)


def gauge(value: float, ts: float = NOW - 5) -> Point:
    return Point(BACKLOG_FILES, GAUGE, value, ts, TAGS[:1] + TAGS[2:])


@pytest.fixture
def capture() -> Iterator[DatadogCapture]:
    # The capture judges a point's age (Datadog drops old points) on a clock that starts at
    # NOW: the points are built relative to NOW, which is taken at import, and a long suite may
    # run this module many minutes after that.
    started = time.monotonic()
    with DatadogCapture(api_key=KEY, clock=lambda: NOW + time.monotonic() - started) as dd:
        yield dd


@pytest.fixture
def sink(capture: DatadogCapture) -> Iterator[DatadogSink]:
    sink = DatadogSink(Secret(KEY), capture.url + "/", tags=("team:data",), timeout=2.0)
    yield sink
    sink.close()


def kind_of(sink: DatadogSink, points: list[Point]) -> tuple[str, str]:
    with pytest.raises(SinkError) as caught:
        sink.send(points)
    return caught.value.kind, str(caught.value)


# -- what arrives ---------------------------------------------------------------------------


def test_counts_gauges_and_distributions_arrive_with_their_names_types_tags_and_values(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    sink.send([count(FILES_PROCESSED, 3), count(BYTES_PROCESSED, 3000), gauge(7)])
    sink.send([dist(1.5), dist(2.5), dist(4.0, ts=NOW - 90)])

    assert capture.metric_type(FILES_PROCESSED) == 1
    assert capture.metric_type(BACKLOG_FILES) == 3
    assert capture.metric_type(PROCESSING_TIME) == "distribution"
    assert capture.count_total(FILES_PROCESSED, workflow="ohlcv", folder="in/2024") == 3
    assert capture.count_total(BYTES_PROCESSED, env="test") == 3000
    assert capture.gauge_last(BACKLOG_FILES, workflow="ohlcv") == 7
    assert sorted(capture.distribution_values(PROCESSING_TIME, workflow="ohlcv")) == [
        1.5,
        2.5,
        4.0,
    ]
    expected = ("env:test", "folder:in/2024", "team:data", "workflow:ohlcv")
    assert capture.tag_sets(FILES_PROCESSED) == {expected}
    assert capture.tag_sets(PROCESSING_TIME) == {expected}
    series = json.loads(capture.requests[0].body or b"")["series"]
    files = next(s for s in series if s["metric"] == FILES_PROCESSED)
    assert files["interval"] == 60
    assert files["points"] == [{"timestamp": int(BUCKET), "value": 3.0}]


def test_distribution_values_of_one_second_travel_as_one_point(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    sink.send([dist(1.0, ts=NOW - 10.2), dist(2.0, ts=NOW - 10.2), dist(3.0, ts=NOW - 10.2)])

    (series,) = json.loads(capture.requests[0].body or b"")["series"]
    assert series["type"] == "distribution"
    assert series["points"] == [[int(NOW - 10.2), [1.0, 2.0, 3.0]]]


def test_no_points_make_no_request(capture: DatadogCapture, sink: DatadogSink) -> None:
    sink.send([])

    assert capture.requests == []


def test_the_sink_declares_bucket_totals_and_datadogs_age_limit(sink: DatadogSink) -> None:
    assert (sink.name, sink.counts) == ("datadog", "totals")
    assert sink.max_age is not None and 0 < sink.max_age < 3600


# -- Datadog's semantics --------------------------------------------------------------------


def test_a_count_bucket_sent_again_is_counted_once_while_distributions_add(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    sink.send([count(FILES_PROCESSED, 2), dist(1.0)])
    sink.send([count(FILES_PROCESSED, 2), dist(1.0)])  # a resend after a crash
    sink.send([count(FILES_PROCESSED, 5)])  # the bucket's total grew

    assert capture.count_total(FILES_PROCESSED) == 5
    assert capture.distribution_values(PROCESSING_TIME) == [1.0, 1.0]


def test_points_outside_datadogs_time_window_are_dropped_by_the_capture_server(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    old = float(bucket_start(NOW - 4000))
    sink.send([count(FILES_PROCESSED, 1, ts=old), dist(9.0, ts=NOW + 3600), dist(1.0)])

    assert capture.count_total(FILES_PROCESSED) == 0
    assert capture.distribution_values(PROCESSING_TIME) == [1.0]
    assert sorted(m for m, _ in capture.dropped) == [PROCESSING_TIME, FILES_PROCESSED]


# -- payload limits -------------------------------------------------------------------------


def test_thirty_thousand_points_are_split_into_requests_of_at_most_500_kb(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    folders = [
        (("env", "test"), ("folder", f"in/{i:03}"), ("workflow", "ohlcv")) for i in range(400)
    ]
    counts = [
        count(FILES_PROCESSED, float(i + m), ts=BUCKET - 60 * m, tags=tags)
        for i, tags in enumerate(folders)
        for m in range(50)
    ]
    dists = [dist(i / 7, ts=NOW - i % 10, tags=folders[i % 100]) for i in range(10_000)]

    sink.send(counts + dists)

    sizes = [len(r.body or b"") for r in capture.requests]
    assert len(counts) + len(dists) == 30_000
    assert len(sizes) >= 3 and max(sizes) <= 512_000
    assert all(r.status == 202 for r in capture.requests)
    assert capture.count_total(FILES_PROCESSED) == sum(p.value for p in counts)
    assert capture.count_total(FILES_PROCESSED, folder="in/007") == sum(7 + m for m in range(50))
    assert sorted(capture.distribution_values(PROCESSING_TIME)) == sorted(p.value for p in dists)


def test_one_second_with_more_values_than_a_request_holds_is_split_without_losing_one(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    values = [i + 0.123456789 for i in range(60_000)]

    sink.send([dist(v, ts=NOW - 3) for v in values])

    assert len(capture.requests) >= 2
    assert all(len(r.body or b"") <= 512_000 for r in capture.requests)
    assert sorted(capture.distribution_values(PROCESSING_TIME)) == values


def test_count_and_gauge_requests_are_sent_before_distribution_requests(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    sink.send([dist(1.0), count(FILES_PROCESSED, 1), dist(2.0), gauge(3)])

    assert [r.path for r in capture.requests] == [SERIES, DISTRIBUTIONS]


# -- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (503, SinkError.RETRY),
        (500, SinkError.RETRY),
        (429, SinkError.RETRY),
        (408, SinkError.RETRY),
        (401, SinkError.AUTH),
        (403, SinkError.AUTH),
        (400, SinkError.REJECTED),
        (404, SinkError.REJECTED),
        (413, SinkError.REJECTED),
        (422, SinkError.REJECTED),
    ],
)
def test_an_http_error_becomes_the_sink_error_kind_the_forwarder_acts_on(
    capture: DatadogCapture, sink: DatadogSink, status: int, kind: str
) -> None:
    capture.fail_next(1, status, body=b'{"errors": ["said no <b>here</b>"]}')

    got, message = kind_of(sink, [count(FILES_PROCESSED, 1), dist(1.0)])

    assert got == kind
    assert f"HTTP {status}" in message and "said no <b>here</b>" in message
    assert len(capture.requests) == 1  # no retry inside send


def test_a_wrong_api_key_is_an_auth_error(capture: DatadogCapture) -> None:
    sink = DatadogSink(Secret("not-the-key"), capture.url)

    got, message = kind_of(sink, [count(FILES_PROCESSED, 1)])

    assert got == SinkError.AUTH and "HTTP 403" in message
    assert capture.count_total(FILES_PROCESSED) == 0


def test_a_server_that_is_down_is_a_quick_retry_and_nothing_is_lost_when_it_returns(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    capture.down()
    started = time.monotonic()
    got, message = kind_of(sink, [count(FILES_PROCESSED, 4), dist(1.0)])
    assert got == SinkError.RETRY and "cannot reach" in message
    assert time.monotonic() - started < 1.0

    capture.up()
    sink.send([count(FILES_PROCESSED, 4), dist(1.0)])
    assert capture.count_total(FILES_PROCESSED) == 4
    assert capture.distribution_values(PROCESSING_TIME) == [1.0]


def test_a_server_that_never_answers_is_a_retry_after_the_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        sink = DatadogSink(Secret(KEY), f"http://127.0.0.1:{port}", timeout=0.3)
        started = time.monotonic()
        got, message = kind_of(sink, [count(FILES_PROCESSED, 1), gauge(2)])
    assert got == SinkError.RETRY and "timed out" in message
    assert 0.25 < time.monotonic() - started < 3.0


def test_a_distribution_request_that_timed_out_is_not_sent_again(capture: DatadogCapture) -> None:
    sink = DatadogSink(Secret(KEY), capture.url, timeout=0.3)
    capture.delay(2.0)  # the server stores the payload, then answers too late

    got, message = kind_of(sink, [dist(1.0)])

    assert got == SinkError.REJECTED and "not sent again" in message
    assert capture.distribution_values(PROCESSING_TIME) == [1.0]  # it did arrive, once


def test_a_failure_after_some_distributions_were_delivered_is_not_retried(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    values = [i + 0.123456789 for i in range(60_000)]  # two distribution requests
    capture.fail_next(1, 503, path=DISTRIBUTIONS, skip=1)

    got, message = kind_of(sink, [count(FILES_PROCESSED, 2), *(dist(v) for v in values)])

    assert got == SinkError.REJECTED and "HTTP 503" in message
    assert capture.count_total(FILES_PROCESSED) == 2  # the series went first
    assert 0 < len(capture.distribution_values(PROCESSING_TIME)) < len(values)


def test_a_failed_first_distribution_request_is_retried_and_the_resend_counts_once(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    points = [count(FILES_PROCESSED, 2), dist(1.0), dist(2.0)]
    capture.fail_next(1, 503, path=DISTRIBUTIONS)

    assert kind_of(sink, points)[0] == SinkError.RETRY
    sink.send(points)  # what the forwarder does after its backoff

    assert capture.count_total(FILES_PROCESSED) == 2
    assert sorted(capture.distribution_values(PROCESSING_TIME)) == [1.0, 2.0]


# -- the key and the wire format ------------------------------------------------------------


def test_the_api_key_is_sent_in_its_header_and_shown_nowhere(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    sink.send([count(FILES_PROCESSED, 1)])
    capture.fail_next(1, 403, body=json.dumps({"errors": [f"bad key {KEY}"]}).encode())
    _, message = kind_of(sink, [count(FILES_PROCESSED, 1)])
    capture.down()
    _, unreachable = kind_of(sink, [count(FILES_PROCESSED, 1)])

    assert capture.requests[0].headers["dd-api-key"] == KEY
    assert "bad key ********" in message
    for text in (message, unreachable, repr(sink), str(sink)):
        assert KEY not in text


def test_bodies_are_deflate_compressed_json(capture: DatadogCapture, sink: DatadogSink) -> None:
    sink.send([count(FILES_PROCESSED, 1), dist(1.0)])

    for request in capture.requests:
        assert request.method == "POST"
        assert request.headers["content-encoding"] == "deflate"
        assert request.headers["content-type"] == "application/json"
        assert zlib.decompress(request.raw) == request.body
        assert len(request.raw) < len(request.body or b"")


def test_the_payloads_are_valid_datadog_api_client_models(
    capture: DatadogCapture, sink: DatadogSink
) -> None:
    client = pytest.importorskip("datadog_api_client")
    from datadog_api_client.v1.model.distribution_points_payload import (
        DistributionPointsPayload,
    )
    from datadog_api_client.v2.model.metric_payload import MetricPayload

    sink.send([count(FILES_PROCESSED, 1), count(BYTES_PROCESSED, 10), gauge(3), dist(1.0)])

    models = {SERIES: MetricPayload, DISTRIBUTIONS: DistributionPointsPayload}
    with client.ApiClient(client.Configuration()) as api:
        for request in capture.requests:
            payload = api.deserialize(request.body, (models[request.path],), True)
            assert not payload._unparsed
            for series in payload.series:
                assert not series._unparsed
                assert not getattr(series.type, "_unparsed", False)


# -- the capture server itself --------------------------------------------------------------


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def test_the_capture_server_refuses_what_datadog_refuses(capture: DatadogCapture) -> None:
    json_key = {"Content-Type": "application/json", "DD-API-KEY": KEY}
    good = json.dumps(
        {"series": [{"metric": "m", "type": 3, "points": [{"timestamp": int(NOW), "value": 1}]}]}
    ).encode()
    no_interval = good.replace(b'"type": 3', b'"type": 1')
    huge = zlib.compress(b'{"series": [' + b" " * 520_000 + b"]}")

    assert post(capture.url + SERIES, good, {"Content-Type": "application/json"}) == 401
    assert post(capture.url + SERIES, no_interval, json_key) == 400
    assert post(capture.url + SERIES, b"{not json", json_key) == 400
    assert post(capture.url + SERIES, huge, {**json_key, "Content-Encoding": "deflate"}) == 413
    assert post(capture.url + "/api/v1/series", good, json_key) == 404
    assert post(capture.url + SERIES, good, json_key) == 202
    assert capture.gauge_last("m") == 1
