"""`ingestflow run --once` forwarding metrics, and the `metrics` commands, through the real CLI
(JSON-lines sink: a file the test reads)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    Project,
    drop_ohlcv_files,
    parse_iso,
    workflow,
    write_config,
    write_file,
)

KEYS = [f"ohlcv/2024/01/{d:02d}/EURUSD.csv" for d in range(1, 6)]
BAD = "ohlcv/2024/02/01/broken.csv"
JSONL = """
[metrics]
env = "e2e"
[metrics.jsonl]
path = "points.jsonl"
"""


def project(tmp_path: Path, extra: str = JSONL) -> Project:
    return write_config(tmp_path, [workflow("ohlcv", "ohlcv/", batch_size=6)], extra=extra)


def points(p: Project) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (p.root / "points.jsonl").read_text().splitlines()]


def landed(p: Project) -> dict[str, int]:
    sizes = {k: len(v) for k, v in drop_ohlcv_files(p.landing, KEYS, seed=8).items()}
    write_file(p.landing / BAD, b"Date,Open,High,Low,Close,Volume\nnot a date,1,2,3,4,5\n")
    return sizes


def test_run_once_delivers_a_point_set_per_ended_file_that_agrees_with_the_ledger(
    tmp_path: Path,
) -> None:
    p = project(tmp_path)
    sizes = landed(p)

    p.run_once(expect=1)  # one file failed

    got = points(p)
    sizes_seen = sorted(x["value"] for x in got if x["metric"] == "ingestion.file.size")
    assert sizes_seen == sorted(float(s) for s in sizes.values())
    processed = [x for x in got if x["metric"] == "ingestion.files.processed"]
    assert sum(x["value"] for x in processed) == len(KEYS)
    (failed,) = [x for x in got if x["metric"] == "ingestion.files.failed"]
    assert failed["tags"]["error_kind"] == "bad_value"
    assert {x["tags"]["env"] for x in got} == {"e2e"}
    assert {x["tags"]["folder"] for x in processed} == {"ohlcv/2024"}
    ledger = {r["key"]: r for r in p.files()}
    latency = sorted(x["value"] for x in got if x["metric"] == "ingestion.file.end_to_end_latency")
    from_ledger = sorted(
        parse_iso(r["end_time"]) - parse_iso(r["upload_time"])
        for r in ledger.values()
        if r["status"] == "DONE"
    )
    assert latency == pytest.approx(from_ledger, abs=2e-3)  # ISO times: milliseconds


def test_metrics_json_gives_the_catalogue_values_from_the_ledger(tmp_path: Path) -> None:
    p = project(tmp_path)
    sizes = landed(p)
    p.run_once(expect=1)

    data = p.json("metrics", "--since", "1h")

    assert data["totals"]["files_done"] == len(KEYS)
    assert data["totals"]["files_failed"] == 1
    assert data["totals"]["bytes"] == sum(sizes.values())
    assert data["totals"]["end_to_end_latency"]["p95"] is not None
    assert data["failures"] == [{"workflow": "ohlcv", "error_kind": "bad_value", "files": 1}]
    assert [b["workflow"] for b in data["backlog"]] == ["ohlcv"]


def test_metrics_status_json_lists_each_sink_with_its_checkpoint(tmp_path: Path) -> None:
    p = project(tmp_path)
    landed(p)
    p.run_once(expect=1)

    status = p.json("metrics", "status")

    (sink,) = status["sinks"]
    assert set(sink) >= {"name", "checkpoint", "pending", "last_error"}
    assert (sink["name"], sink["pending"], sink["last_error"]) == ("jsonl", 0, None)
    assert sink["checkpoint"] == status["stream_end"] > 0


def test_metrics_push_delivers_what_a_run_without_sinks_left_pending(tmp_path: Path) -> None:
    p = project(tmp_path, extra="")
    landed(p)
    p.run_once(expect=1)
    p.config.write_text(p.config.read_text() + JSONL, encoding="utf-8")

    assert p.json("metrics", "status")["sinks"][0]["pending"] > 0
    result = p.cli("metrics", "push")

    assert "jsonl: checkpoint" in result.stdout and "up to date" in result.stdout
    assert sum(x["value"] for x in points(p) if x["metric"] == "ingestion.files.processed") == 5
    assert p.json("metrics", "status")["sinks"][0]["pending"] == 0
    p.cli("metrics", "push")  # nothing pending: nothing sent twice
    assert sum(x["value"] for x in points(p) if x["metric"] == "ingestion.files.processed") == 5


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("[metrics]\nfolder_depth = -1\n", "metrics.folder_depth"),
        ("[metrics]\nunknown = 1\n", "metrics.unknown"),
        ("[metrics.datadog]\nsite = 'not a site'\n", "metrics.datadog.site"),
        ("[metrics.datadog]\ntags = ['no-colon']\n", "metrics.datadog.tags"),
        ("[metrics.dogstatsd]\nport = 70000\n", "metrics.dogstatsd.port"),
        ("[server]\nhost = '0.0.0.0'\n", "server.host"),
    ],
)
def test_a_bad_metrics_setting_exits_2_naming_the_key(tmp_path: Path, extra: str, key: str) -> None:
    p = project(tmp_path, extra=extra)

    result = p.cli("status", expect=2)

    assert f"'{key}'" in result.stderr
