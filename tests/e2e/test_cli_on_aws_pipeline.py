"""An operator's CLI on the cloud pipeline (issue 12): the Lambda handlers run the moto-hosted
pipeline (tests/support/aws_pipeline.py), and `ingestflow status`, `files`, `history`,
`stale`, `retry` and `alerts` read and repair it from a laptop with the functions' own config
file, reached only through the standard AWS configuration (AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_pipeline import DD_KEY_ENV, Pipeline, build_pipeline, fixture_event
from datadog_capture import DatadogCapture
from e2e_support import Project, ohlcv_csv
from moto_server import MotoServer

from ingestflow.adapters.engines.stepfunctions import execution_name
from ingestflow.bootstrap_lambda import reset_runtime
from ingestflow.entrypoints.aws_lambda import finish, register, schedule

pytestmark = [pytest.mark.timeout(300)]

KEYS = ("ohlcv/2024/a.csv", "ohlcv/2024/b.csv")


@pytest.fixture
def pipeline(
    aws_env: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pipeline]:
    with DatadogCapture(api_key="k") as datadog:
        built = build_pipeline(aws_env, tmp_path / "ops", datadog.url, max_attempts=1, batch_size=2)
        monkeypatch.setenv("INGESTFLOW_CONFIG", str(built.config))
        monkeypatch.setenv(DD_KEY_ENV, "k")
        reset_runtime()
        try:
            yield built
        finally:
            reset_runtime()


def failed_batch(pipeline: Pipeline) -> dict[str, Any]:
    """Two files registered by `register`, started by `schedule`, and failed by `finish`
    with the payload of a Glue run that failed (one attempt allowed: both end FAILED)."""
    import random

    rng = random.Random(3)
    for key in KEYS:
        pipeline.put(key, ohlcv_csv(rng, 20))
    assert register.handler(pipeline.sqs_event(want=3), None) == {"batchItemFailures": []}
    started = schedule.handler(fixture_event("scheduler_event.json"), None)
    (batch,) = started["started"]
    sfn = pipeline.server.client("stepfunctions")
    arn = pipeline.state_machine_arn.replace(":stateMachine:", ":execution:")
    described = sfn.describe_execution(executionArn=f"{arn}:{execution_name(batch['batch_id'])}")
    payload: dict[str, Any] = json.loads(described["input"])
    payload["error"] = {"Error": "Glue.JobRunFailed", "Cause": "worker lost [node 3]"}
    answer: dict[str, Any] = finish.handler(payload, None)
    return answer


def test_status_files_history_and_retry_work_on_the_cloud_pipeline_from_the_cli(
    pipeline: Pipeline,
) -> None:
    assert failed_batch(pipeline)["failed"] == 2
    ops = Project(pipeline.config.parent)

    assert ops.counts() == {"TODO": 0, "PROCESSING": 0, "DONE": 0, "FAILED": 2}
    files = ops.by_key()
    assert sorted(files) == sorted(KEYS)
    for record in files.values():
        assert record["status"] == "FAILED"
        assert "worker lost [node 3]" in record["error"]  # brackets kept: text is data
    table = ops.cli("files", "--status", "FAILED", env={"COLUMNS": "250"}).stdout
    assert "ohlcv/2024/a.csv" in table and "ohlcv/2024/b.csv" in table
    moves = [(h["from"], h["to"]) for h in ops.history(KEYS[0])]
    assert moves == [(None, "TODO"), ("TODO", "PROCESSING"), ("PROCESSING", "FAILED")]

    ops.cli("retry", KEYS[0])
    assert ops.counts() == {"TODO": 1, "PROCESSING": 0, "DONE": 0, "FAILED": 1}
    assert ops.by_key()[KEYS[0]]["status"] == "TODO"
    assert [h["to"] for h in ops.history(KEYS[0])][-1] == "TODO"

    # Retried files are claimed again by the next schedule (a batch is two files).
    assert schedule.handler(fixture_event("cloudwatch_event.json"), None)["started"] == []
    ops.cli("retry", KEYS[1])
    again = schedule.handler(fixture_event("cloudwatch_event.json"), None)
    assert [s["files"] for s in again["started"]] == [2]
    assert ops.counts()["PROCESSING"] == 2


def test_stale_and_alerts_read_the_cloud_ledger_from_the_cli(pipeline: Pipeline) -> None:
    failed_batch(pipeline)
    ops = Project(pipeline.config.parent)

    report = ops.cli("stale", env={"COLUMNS": "250"}).stdout
    assert "ohlcv/2024/a.csv" in report and "FAILED" in report.upper(), report
    ops.cli("alerts", "check")  # one evaluation, recorded in the cloud ledger
    shown = ops.cli("alerts", env={"COLUMNS": "250"}).stdout  # the open problems
    assert "ohlcv" in shown, shown
