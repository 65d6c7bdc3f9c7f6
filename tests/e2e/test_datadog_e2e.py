"""Datadog end to end through the real CLI against capture servers that apply Datadog's rules
(counts and gauges: last value per metric, tags and timestamp; distributions: added)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from datadog_api_capture import API_KEY, APP_KEY, DatadogApiCapture
from datadog_capture import DatadogCapture
from e2e_support import CLI, Project, clean_env, drop_ohlcv_files, workflow, write_config

KEY = "e2e-datadog-key"
KEYS = [f"ohlcv/2024/0{m}/EURUSD_{d}.csv" for m in (1, 2) for d in range(4)]


@pytest.fixture
def datadog() -> Iterator[DatadogCapture]:
    with DatadogCapture(api_key=KEY) as capture:
        yield capture


def project(tmp_path: Path, url: str, flush_timeout: str = "10s", batch_size: int = 4) -> Project:
    key_file = tmp_path / "dd-api-key"
    key_file.write_text(KEY + "\n")
    extra = f"""
[metrics]
env = "e2e"
flush_timeout = "{flush_timeout}"
[metrics.datadog]
url = "{url}"
api_key_file = "{key_file}"
tags = ["team:data"]
"""
    wf = workflow("ohlcv", "ohlcv/", batch_size=batch_size, max_wait="0s")
    return write_config(tmp_path / "project", [wf], extra=extra)


def done_sizes(p: Project) -> list[int]:
    return sorted(r["size"] for r in p.files() if r["status"] == "DONE")


def assert_counted_once(datadog: DatadogCapture, p: Project) -> None:
    sizes = done_sizes(p)
    assert datadog.count_total("ingestion.files.processed", env="e2e") == len(sizes)
    assert datadog.count_total("ingestion.bytes.processed") == sum(sizes)
    sent = datadog.distribution_values("ingestion.file.size")
    assert len(sent) <= len(sizes) and set(sent) <= {float(s) for s in sizes}  # never twice


def test_run_once_delivers_series_whose_values_equal_the_ledger(
    tmp_path: Path, datadog: DatadogCapture
) -> None:
    p = project(tmp_path, datadog.url)
    drop_ohlcv_files(p.landing, KEYS, seed=3)

    p.run_once()

    sizes = done_sizes(p)
    assert len(sizes) == len(KEYS)
    assert_counted_once(datadog, p)
    assert sorted(datadog.distribution_values("ingestion.file.size")) == [float(s) for s in sizes]
    for name in ("processing_time", "queue_wait_time", "end_to_end_latency"):
        values = datadog.distribution_values(f"ingestion.file.{name}", workflow="ohlcv")
        assert len(values) == len(KEYS) and min(values) >= 0
    assert datadog.metric_type("ingestion.files.processed") == 1  # count
    assert datadog.metric_type("ingestion.backlog.files") == 3  # gauge
    assert datadog.gauge_last("ingestion.backlog.files", workflow="ohlcv") == 0
    (tags,) = datadog.tag_sets("ingestion.files.processed")
    assert dict(t.split(":", 1) for t in tags) == {
        "env": "e2e",
        "workflow": "ohlcv",
        "bucket": "landing",
        "prefix": "ohlcv/",
        "folder": "ohlcv/2024",
        "file_type": "csv",
        "team": "data",
    }
    assert all(r.headers.get("dd-api-key") == KEY for r in datadog.requests)


def test_nothing_is_lost_while_datadog_is_down_and_push_delivers_it_later(
    tmp_path: Path, datadog: DatadogCapture
) -> None:
    p = project(tmp_path, datadog.url, flush_timeout="1s")
    drop_ohlcv_files(p.landing, KEYS, seed=4)
    datadog.down()

    p.run_once()  # files are processed; metrics wait in the ledger

    (sink,) = p.json("metrics", "status")["sinks"]
    assert sink["pending"] > 0 and sink["last_error"]
    datadog.up()
    p.cli("metrics", "push")
    assert_counted_once(datadog, p)
    assert p.json("metrics", "status")["sinks"][0]["pending"] == 0


def test_a_run_killed_while_it_forwards_is_counted_once_after_a_restart(
    tmp_path: Path, datadog: DatadogCapture
) -> None:
    p = project(tmp_path, datadog.url, batch_size=2)
    drop_ohlcv_files(p.landing, KEYS, seed=5)
    datadog.delay(3.0)  # every answer is late: the run is killed while a send is in flight
    proc = subprocess.Popen(
        [*CLI, "run", "--config", str(p.config)],
        cwd=p.root,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert datadog.wait_for(lambda: len(datadog.requests) >= 1, timeout=60)
        time.sleep(0.3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    datadog.delay(0.0)

    p.run_once()  # takes the dead run's sink over, delivers the rest

    assert sorted(r["status"] for r in p.files()) == ["DONE"] * len(KEYS)
    assert_counted_once(datadog, p)


def test_datadog_push_creates_the_dashboard_and_monitors_once_then_changes_nothing(
    tmp_path: Path,
) -> None:
    with DatadogApiCapture() as api:
        p = project(tmp_path, api.url)
        (tmp_path / "dd-api-key").write_text(API_KEY)
        env = {"DD_APP_KEY": APP_KEY}

        first = p.cli("datadog", "push", env=env)
        writes = len(api.writes)
        second = p.cli("datadog", "push", env=env)
        dry = p.cli("datadog", "push", "--dry-run", env=env)

    assert "dashboard overview: created" in first.stdout
    assert first.stdout.count("monitor ") == len(api.monitors) >= 3
    assert len(api.dashboards) == 1
    assert "created" not in second.stdout and second.stdout.count(": unchanged") == 1 + len(
        api.monitors
    )
    assert len(api.writes) == writes  # the second push and the dry run wrote nothing
    assert "created" not in dry.stdout


def test_datadog_push_without_the_application_key_exits_2_naming_the_variable(
    tmp_path: Path,
) -> None:
    with DatadogApiCapture() as api:
        p = project(tmp_path, api.url)
        result = p.cli("datadog", "push", expect=2)

    assert "DD_APP_KEY" in result.stderr and API_KEY not in result.stderr


def test_run_once_waits_for_a_slow_datadog_no_longer_than_its_flush_timeout(
    tmp_path: Path, datadog: DatadogCapture
) -> None:
    p = project(tmp_path, datadog.url, flush_timeout="1s")
    drop_ohlcv_files(p.landing, KEYS[:2], seed=6)
    datadog.delay(30.0)  # answers far too late

    started = time.monotonic()
    p.run_once()
    elapsed = time.monotonic() - started
    datadog.delay(0.0)

    assert elapsed < 10.0  # processing, plus 1 s of flush and a short grace
    assert p.json("metrics", "status")["sinks"][0]["pending"] > 0


def test_exported_monitors_follow_each_workflows_stale_after_and_push_cleanly(
    tmp_path: Path,
) -> None:
    from datadog_api_capture import validation_errors
    from datadog_api_client.v1.model.monitor import Monitor

    with DatadogApiCapture() as api:
        p = project(tmp_path, api.url)
        (tmp_path / "dd-api-key").write_text(API_KEY)
        out = tmp_path / "exported"
        p.cli("alerts", "export", "datadog", "--folder", str(out))
        pushed = p.cli("datadog", "push", "--folder", str(out), env={"DD_APP_KEY": APP_KEY})

    stale = json.loads((out / "monitors" / "stale-ohlcv.json").read_text())
    assert stale["options"]["thresholds"]["critical"] == 18000  # the default stale_after, 5h
    assert "monitor stale-ohlcv: created" in pushed.stdout
    assert validation_errors(Monitor, stale) == []  # and the capture server accepted it
