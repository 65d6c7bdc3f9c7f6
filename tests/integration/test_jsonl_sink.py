"""JsonLinesSink on real files in tmp_path and on the process's standard output."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from ingestflow.adapters.metrics.jsonl import JsonLinesSink
from ingestflow.domain.errors import SinkError
from ingestflow.domain.metrics import (
    BACKLOG_OLDEST_AGE,
    BYTES_PROCESSED,
    COUNT,
    DISTRIBUTION,
    GAUGE,
    PROCESSING_TIME,
    Point,
    Tags,
)
from ingestflow.ports import MetricsSink

TAGS: Tags = (("env", "prod"), ("file_type", "csv"), ("folder", "ohlcv/2024"), ("workflow", "w"))
POINTS = [
    Point(PROCESSING_TIME, DISTRIBUTION, 1.25, 1_700_000_000.5, TAGS),
    Point(BYTES_PROCESSED, COUNT, 2048.0, 1_700_000_000.5, TAGS),
    Point(BACKLOG_OLDEST_AGE, GAUGE, 0.0, 1_700_000_060.0, TAGS[:1]),
]


def as_json(p: Point) -> dict[str, object]:
    return {
        "metric": p.metric,
        "type": p.kind,
        "value": p.value,
        "timestamp": p.timestamp,
        "tags": dict(p.tags),
    }


def test_the_sink_is_a_metrics_sink_that_writes_increments_of_any_age(tmp_path: Path) -> None:
    s: MetricsSink = JsonLinesSink(str(tmp_path / "m.jsonl"))
    assert (s.name, s.counts, s.max_age) == ("jsonl", "increments", None)
    assert JsonLinesSink("-", name="stdout-metrics").name == "stdout-metrics"


def test_each_point_becomes_one_json_object_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    JsonLinesSink(str(path)).send(POINTS)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines = text.splitlines()
    assert [json.loads(line) for line in lines] == [as_json(p) for p in POINTS]
    assert lines[0] == (
        '{"metric":"ingestion.file.processing_time","type":"distribution","value":1.25,'
        '"timestamp":1700000000.5,"tags":{"env":"prod","file_type":"csv",'
        '"folder":"ohlcv/2024","workflow":"w"}}'
    )
    assert list(json.loads(lines[1])) == ["metric", "type", "value", "timestamp", "tags"]


def test_two_sends_append_to_the_same_file_creating_its_folders(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "metrics.jsonl"
    sink = JsonLinesSink(str(path))
    sink.send(POINTS[:1])
    sink.close()
    JsonLinesSink(str(path)).send(POINTS[1:])
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == [as_json(p) for p in POINTS]


def test_existing_content_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"earlier":true}\n')
    JsonLinesSink(str(path)).send(POINTS[:1])
    assert path.read_text().splitlines()[0] == '{"earlier":true}'
    assert len(path.read_text().splitlines()) == 2


def test_nothing_to_send_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    JsonLinesSink(str(path)).send([])
    assert not path.exists()


def test_a_dash_writes_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    print("before")
    JsonLinesSink("-").send(POINTS)
    print("after")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "before" and out[-1] == "after"
    assert [json.loads(line) for line in out[1:-1]] == [as_json(p) for p in POINTS]


def test_a_dash_writes_to_file_descriptor_one(capfd: pytest.CaptureFixture[str]) -> None:
    JsonLinesSink("-").send(POINTS[:1])
    out = capfd.readouterr().out
    assert [json.loads(line) for line in out.splitlines()] == [as_json(POINTS[0])]


def test_a_path_under_a_regular_file_gives_a_retry_error_naming_the_path(
    tmp_path: Path,
) -> None:
    # A file cannot hold a folder, so this fails even for root.
    (tmp_path / "plain-file").write_text("x")
    path = tmp_path / "plain-file" / "metrics.jsonl"
    with pytest.raises(SinkError) as caught:
        JsonLinesSink(str(path)).send(POINTS)
    assert caught.value.kind == SinkError.RETRY
    message = str(caught.value)
    assert str(path) in message and "\n" not in message


def test_a_path_that_is_a_folder_gives_a_retry_error(tmp_path: Path) -> None:
    with pytest.raises(SinkError) as caught:
        JsonLinesSink(str(tmp_path)).send(POINTS)
    assert caught.value.kind == SinkError.RETRY
    assert str(tmp_path) in str(caught.value)


def test_a_control_character_in_the_path_stays_escaped_in_the_one_line_message(
    tmp_path: Path,
) -> None:
    (tmp_path / "plain-file").write_text("x")
    path = str(tmp_path / "plain-file" / "bad\nname.jsonl")
    with pytest.raises(SinkError) as caught:
        JsonLinesSink(path).send(POINTS)
    assert "\n" not in str(caught.value) and "bad\\nname" in str(caught.value)


def test_control_characters_in_text_are_escaped_never_written_raw(tmp_path: Path) -> None:
    weird = "a\x00b\nc\x1b[31md\x7fe\x85f\u2028g\u2029h\ttab"
    path = tmp_path / "metrics.jsonl"
    JsonLinesSink(str(path)).send([Point(PROCESSING_TIME, GAUGE, 1.0, 0.0, (("env", weird),))])
    data = path.read_bytes()
    assert data.count(b"\n") == 1 and data.endswith(b"\n")
    body = data[:-1].decode("utf-8")
    controls = [c for c in body if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F]
    assert controls == []
    assert "\u2028" not in body and "\u2029" not in body
    assert len(data.decode().splitlines()) == 1  # no Unicode line break inside the value
    assert json.loads(body)["tags"]["env"] == weird


def test_a_point_that_cannot_be_encoded_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "metrics.jsonl"
    bad = Point(PROCESSING_TIME, GAUGE, 1.0, 0.0, (("env", "\ud800"),))  # a lone surrogate
    with pytest.raises(SinkError) as caught:
        JsonLinesSink(str(path)).send([POINTS[0], bad])
    assert caught.value.kind == SinkError.REJECTED
    assert not path.exists()


def test_a_value_that_is_not_finite_is_written_as_null(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    JsonLinesSink(str(path)).send([Point(PROCESSING_TIME, GAUGE, float("inf"), 0.0, ())])
    assert json.loads(path.read_text())["value"] is None
