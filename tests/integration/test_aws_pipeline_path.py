"""The whole AWS path on the moto server, through the five Lambda handlers (see
tests/support/aws_pipeline.py for what stands in for Lambda and Glue): objects put into S3 -> their
notifications in SQS -> `register` -> TODO -> `schedule` claims and starts an execution ->
the Glue job script on local PySpark over the S3 objects -> `finish` -> DONE, outputs in the
output bucket equal to the local engine's; the stream records through `forward_metrics` to a
local Datadog intake, counted once; `alerts` publishes to SNS, read from an SQS subscription.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from aws_pipeline import (
    DD_KEY_ENV,
    LANDING_BUCKET,
    OUTPUT_BUCKET,
    OUTPUT_PREFIX,
    Pipeline,
    build_pipeline,
    fixture_event,
)
from datadog_capture import DatadogCapture
from moto_server import MotoServer

from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.adapters.engines.stepfunctions import execution_name
from ingestflow.adapters.state.dynamodb import DynamoDBStatusStore
from ingestflow.bootstrap_lambda import reset_runtime
from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV
from ingestflow.entrypoints import glue_job
from ingestflow.entrypoints.aws_lambda import alerts, finish, forward_metrics, register, schedule
from ingestflow.sampledata import write_ohlcv_files

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CORRUPT = "ohlcv/2024/corrupt.csv"
BAD = b"Date,Open,High,Low,Close,Volume\n2024-01-01,1.0,2.0,0.5,1.5,100\n2024-01-02,abc,2,1,1,5\n"


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local[1] session for the module; the Glue job script reuses it."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from ingestflow.adapters.engines.spark_session import start_session

    started, _ = start_session("local[1]", {}, "snappy")
    yield started
    started.stop()


@pytest.fixture
def datadog() -> Iterator[DatadogCapture]:
    with DatadogCapture(api_key="dd-test-key") as capture:
        yield capture


@pytest.fixture
def pipeline(
    aws_env: MotoServer,
    tmp_path: Path,
    datadog: DatadogCapture,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pipeline]:
    built = build_pipeline(aws_env, tmp_path / "function", datadog.url)
    monkeypatch.setenv("INGESTFLOW_CONFIG", str(built.config))
    monkeypatch.setenv(DD_KEY_ENV, "dd-test-key")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ingestflow-test")
    reset_runtime()
    try:
        yield built
    finally:
        reset_runtime()


def ledger() -> DynamoDBStatusStore:
    return DynamoDBStatusStore("dynamodb://pipe?region=us-east-1")


def inputs(root: Path) -> dict[str, bytes]:
    """Two real OHLCV files (one gzipped) and one with a value that is not a number."""
    a, b = write_ohlcv_files(root, 2, 60, gzip_every=2)
    return {
        "ohlcv/2024/a.csv": a.read_bytes(),
        "ohlcv/2024/b b.csv.gz": b.read_bytes(),  # a space: '+' in the notification
        CORRUPT: BAD,
    }


def run_glue(payload: dict[str, Any]) -> None:
    """What RunGlue's job does with the execution's arguments."""
    argv = ["--JOB_NAME", "ingestflow-batch", "--manifest", payload["manifest"]]
    assert glue_job.main([*argv, "--results", payload["results"], "--master", "local[1]"]) == 0


def started_payload(pipeline: Pipeline, batch_id: str) -> dict[str, Any]:
    """The input of the batch's execution: what the state machine hands to Glue and Finish."""
    sfn = pipeline.server.client("stepfunctions")
    arn = pipeline.state_machine_arn.replace(":stateMachine:", ":execution:")
    described = sfn.describe_execution(executionArn=f"{arn}:{execution_name(batch_id)}")
    payload: dict[str, Any] = json.loads(described["input"])
    return payload


def local_outputs(files: dict[str, bytes], root: Path) -> dict[str, Path]:
    landing = root / "landing"
    for key, data in files.items():
        (landing / key).parent.mkdir(parents=True, exist_ok=True)
        (landing / key).write_bytes(data)
    engine = DuckDBEngine(landing, root / "out")
    records = [
        FileRecord("b", k, "ohlcv", "", len(d), "e", 1.0, Status.PROCESSING)
        for k, d in files.items()
    ]
    try:
        outcomes = [o for chunk in engine.run("ohlcv", records, OHLCV) for o in chunk]
    finally:
        engine.close()
    return {o.key: Path(o.output) for o in outcomes if o.ok and o.output}


def test_files_put_into_s3_flow_through_every_handler_to_parquet_metrics_and_alerts(
    pipeline: Pipeline, datadog: DatadogCapture, spark: Any, tmp_path: Path
) -> None:
    files = inputs(tmp_path / "samples")
    for key, data in files.items():
        pipeline.put(key, data)
    pipeline.put("ohlcv/2024/a.csv", files["ohlcv/2024/a.csv"])  # the same object again

    # register: S3's test event, 4 notifications (one a duplicate) and a poison message.
    event = pipeline.sqs_event(want=5)
    poison = dict(event["Records"][0], messageId="poison-1", body="not an S3 notification")
    event["Records"].append(poison)
    answer = register.handler(event, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    store = ledger()
    try:
        assert store.counts() == {Status.TODO: 3, Status.PROCESSING: 0, Status.DONE: 0,
                                  Status.FAILED: 0}  # fmt: skip
        assert len(store.history(LANDING_BUCKET, "ohlcv/2024/a.csv")) == 1

        # schedule: one ready batch of three, started as one execution named after it.
        started = schedule.handler(fixture_event("scheduler_event.json"), None)
        assert [s["files"] for s in started["started"]] == [3] and started["failed"] == []
        batch_id = started["started"][0]["batch_id"]
        payload = started_payload(pipeline, batch_id)
        assert (payload["batch_id"], payload["workflow"]) == (batch_id, "ohlcv")
        assert sorted(payload["keys"]) == sorted(files)
        assert store.counts()[Status.PROCESSING] == 3
        assert schedule.handler(fixture_event("cloudwatch_event.json"), None)["started"] == []

        # Glue, then finish with the success payload.
        run_glue(payload)
        finished = finish.handler(payload, None)
        assert (finished["done"], finished["failed"], finished["released"]) == (2, 1, 0)
        assert store.counts() == {Status.TODO: 0, Status.PROCESSING: 0, Status.DONE: 2,
                                  Status.FAILED: 1}  # fmt: skip
        corrupt = store.get(LANDING_BUCKET, CORRUPT)
        assert corrupt is not None and "abc" in str(corrupt.error), corrupt
        again = finish.handler(payload, None)  # the backstop after a Finish that worked
        assert (again["done"], again["failed"], again["ignored"]) == (0, 0, 3)
    finally:
        store.close()

    # Outputs: one per good input, equal to the local engine's.
    s3 = pipeline.s3()
    outputs = f"{OUTPUT_PREFIX}ohlcv/"  # the batch manifests are under _ingestflow/
    listed = s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix=outputs).get("Contents", [])
    good = sorted(k for k in files if k != CORRUPT)
    assert sorted(o["Key"] for o in listed) == [f"{outputs}{k}.parquet" for k in good]
    expected = local_outputs(files, tmp_path / "local")
    for key in good:
        body = s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"{OUTPUT_PREFIX}ohlcv/{key}.parquet")
        assert pq.read_table(io.BytesIO(body["Body"].read())).equals(pq.read_table(expected[key]))

    # forward_metrics: the stream's records; a second delivery counts nothing again.
    stream = pipeline.stream_event()
    assert len(stream["Records"]) >= 9  # 3 registered, 3 claimed, 3 ended
    assert forward_metrics.handler(stream, None) == {"batchItemFailures": []}
    assert datadog.count_total("ingestion.files.processed", workflow="ohlcv") == 2
    assert datadog.count_total("ingestion.files.failed", workflow="ohlcv") == 1
    assert forward_metrics.handler(stream, None) == {"batchItemFailures": []}
    assert datadog.count_total("ingestion.files.processed", workflow="ohlcv") == 2
    assert datadog.count_total("ingestion.files.failed", workflow="ohlcv") == 1

    # alerts: the failed file is a problem; SNS delivers it to the subscribed queue.
    passed = alerts.handler(fixture_event("cloudwatch_event.json"), None)
    assert passed["firing"] >= 1 and passed["sent"].get("ops", 0) >= 1, passed
    messages = pipeline.alert_messages()
    assert messages, "no alert reached the SNS subscription"
    assert any(CORRUPT in m.get("Message", "") for m in messages), messages
