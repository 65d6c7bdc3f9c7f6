"""Discovery on AWS parts: a `run --role discover` pipeline lists an S3 landing prefix, then
registers what the S3 notification queue announces, and deletes each message only once its
keys are in the ledger. On the moto server over HTTP (S3 -> SQS delivery is moto's)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from moto_server import MotoServer

from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.adapters.events.sqs import SQSEventSource
from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.adapters.storage.s3 import S3ObjectStore
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.services.discovery import Discovery
from ingestflow.services.pipeline import Pipeline

BUCKET = "landing"
FLOW = Workflow(name="ohlcv", prefix="ohlcv/", batch_size=100, max_wait=3600.0)
CSV = b"Date,Open,High,Low,Close,Volume\n2024-01-02 09:30,1,2,0.5,1.5,100\n"


def queue_messages(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(found[n]) for n in names)


def wait_for(check: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_discover_pipeline_registers_announced_s3_objects_and_then_deletes_their_messages(
    aws_env: MotoServer, tmp_path: Path
) -> None:
    s3, sqs = aws_env.client("s3"), aws_env.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="in/ohlcv/listed.csv", Body=CSV)  # before the start
    url = sqs.create_queue(QueueName="landing-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn["QueueArn"], "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    store = SqliteStatusStore(tmp_path / "ledger.db")
    store.sync_workflows([FLOW])
    objects = S3ObjectStore(f"s3://{BUCKET}/in")
    events = SQSEventSource(url, BUCKET, "in/", wait_time=1)
    pipeline = Pipeline(
        store=store,
        discovery=Discovery(store, objects, [FLOW], settle=0.0),
        engine=DuckDBEngine(tmp_path / "unused-landing", tmp_path / "out"),
        workflows=[FLOW],
        specs={},
        owner="test:1",
        schedule_interval=0.2,
        events=events,
        reconcile_interval=3600.0,  # one listing at start: later files come by events only
        role="discover",
    )
    runner = threading.Thread(target=pipeline.run_forever, daemon=True)
    runner.start()
    try:
        wait_for(lambda: store.get(BUCKET, "ohlcv/listed.csv") is not None)
        keys = ["ohlcv/2024/a b.csv", "ohlcv/2024/c+d.csv", "ohlcv/2024/é.csv"]
        for key in keys:
            s3.put_object(Bucket=BUCKET, Key=f"in/{key}", Body=CSV)
        wait_for(lambda: all(store.get(BUCKET, k) is not None for k in keys))
        assert all(store.get(BUCKET, k).status is Status.TODO for k in keys)  # type: ignore[union-attr]
        wait_for(lambda: queue_messages(sqs, url) == 0)  # acknowledged after the ledger write
    finally:
        pipeline.stop_event.set()
        runner.join(timeout=10)
        pipeline.close()
    assert not runner.is_alive()
    assert sorted(r.key for r in store_records(tmp_path)) == sorted(["ohlcv/listed.csv", *keys])


def store_records(tmp_path: Path) -> list[Any]:
    reopened = SqliteStatusStore(tmp_path / "ledger.db")
    try:
        return reopened.files()
    finally:
        reopened.close()
