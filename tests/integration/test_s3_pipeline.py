"""The local engines on S3 locations (StagedEngine, wired by bootstrap), on the moto server:
inputs downloaded at their listed version, outputs uploaded under the output prefix, one
file's problem failing that file alone, nothing left behind."""

from __future__ import annotations

import datetime as dt
import io
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from moto_server import MotoServer

from ingestflow import bootstrap
from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.adapters.engines.staged import StagedEngine
from ingestflow.adapters.storage.s3 import S3ObjectStore
from ingestflow.config import load_settings
from ingestflow.config.settings import Settings
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV
from ingestflow.sampledata import ohlcv_text

LANDING = "s3://landing-bkt/in/"
OUTPUT = "s3://output-bkt/out/"


def csv(seed: int, rows: int = 30) -> bytes:
    return ohlcv_text(rows, random.Random(seed), "EURUSD", dt.datetime(2024, 1, 1)).encode()


@pytest.fixture
def s3(aws_env: MotoServer) -> Any:
    client = aws_env.client("s3")
    client.create_bucket(Bucket="landing-bkt")
    client.create_bucket(Bucket="output-bkt")
    return client


def records(store: S3ObjectStore) -> list[FileRecord]:
    return [
        FileRecord(
            bucket=store.bucket,
            key=info.key,
            workflow="wf",
            prefix="",
            size=info.size,
            etag=info.etag,
            upload_time=info.mtime,
            status=Status.PROCESSING,
        )
        for info in store.list()
    ]


def by_key(engine: StagedEngine, files: list[FileRecord]) -> dict[str, FileOutcome]:
    return {o.key: o for chunk in engine.run("wf", files, OHLCV) for o in chunk}


@pytest.fixture
def staged(s3: Any, tmp_path: Path) -> Iterator[StagedEngine]:
    engine = StagedEngine(
        lambda landing, output: DuckDBEngine(landing, output, threads=1),
        S3ObjectStore(LANDING),
        S3ObjectStore(OUTPUT),
        workdir=tmp_path,
    )
    yield engine
    engine.close()


def test_outputs_land_under_the_output_prefix_with_their_s3_url(
    s3: Any, staged: StagedEngine
) -> None:
    s3.put_object(Bucket="landing-bkt", Key="in/a/one.csv", Body=csv(1))
    s3.put_object(Bucket="landing-bkt", Key="in/two.csv", Body=csv(2, 5))
    outcomes = by_key(staged, records(S3ObjectStore(LANDING)))
    assert outcomes["a/one.csv"].ok and outcomes["two.csv"].ok
    assert outcomes["a/one.csv"].output == f"{OUTPUT}wf/a/one.csv.parquet"
    assert (outcomes["a/one.csv"].rows, outcomes["two.csv"].rows) == (30, 5)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="output-bkt")["Contents"])
    assert keys == ["out/wf/a/one.csv.parquet", "out/wf/two.csv.parquet"]
    body = s3.get_object(Bucket="output-bkt", Key="out/wf/two.csv.parquet")["Body"].read()
    assert pq.read_table(io.BytesIO(body)).num_rows == 5


def test_an_object_changed_or_gone_since_listing_fails_alone(s3: Any, staged: StagedEngine) -> None:
    for name in ("kept", "changed", "gone"):
        s3.put_object(Bucket="landing-bkt", Key=f"in/{name}.csv", Body=csv(3))
    files = records(S3ObjectStore(LANDING))
    s3.put_object(Bucket="landing-bkt", Key="in/changed.csv", Body=csv(4))
    s3.delete_object(Bucket="landing-bkt", Key="in/gone.csv")

    outcomes = by_key(staged, files)

    assert outcomes["kept.csv"].ok
    changed, gone = outcomes["changed.csv"], outcomes["gone.csv"]
    assert not changed.ok and changed.retryable
    assert "changed since it was listed" in str(changed.error)
    assert not gone.ok and not gone.retryable
    assert f"{LANDING}gone.csv" in str(gone.error)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="output-bkt")["Contents"]]
    assert keys == ["out/wf/kept.csv.parquet"]


def test_a_key_climbing_out_of_the_landing_is_refused_before_any_read(
    s3: Any, staged: StagedEngine, tmp_path: Path
) -> None:
    s3.put_object(Bucket="landing-bkt", Key="secret.csv", Body=csv(5))
    (record,) = records(S3ObjectStore("s3://landing-bkt/"))
    sneaky = FileRecord(**{**record.as_dict(), "key": "../secret.csv", "status": record.status})
    (outcome,) = by_key(staged, [sneaky]).values()
    assert not outcome.ok and not outcome.retryable
    assert "refused" in str(outcome.error)
    assert not list(tmp_path.rglob("secret.csv"))


def test_an_upload_that_fails_fails_that_file_and_leaves_no_local_output(
    s3: Any, tmp_path: Path
) -> None:
    s3.put_object(Bucket="landing-bkt", Key="in/x.csv", Body=csv(6))
    engine = StagedEngine(
        lambda landing, output: DuckDBEngine(landing, output, threads=1),
        S3ObjectStore(LANDING),
        S3ObjectStore("s3://no-such-output-bucket/out/"),
        workdir=tmp_path,
    )
    try:
        (outcome,) = by_key(engine, records(S3ObjectStore(LANDING))).values()
        assert not outcome.ok and outcome.retryable
        assert "no such bucket" in str(outcome.error)
        assert not list(tmp_path.rglob("*.parquet")) and not list(tmp_path.rglob("x.csv"))
    finally:
        engine.close()
    assert list(tmp_path.iterdir()) == []  # the staging folder is gone


def test_staged_inputs_are_removed_after_each_batch(
    s3: Any, staged: StagedEngine, tmp_path: Path
) -> None:
    s3.put_object(Bucket="landing-bkt", Key="in/y.csv", Body=csv(7))
    assert by_key(staged, records(S3ObjectStore(LANDING)))["y.csv"].ok
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def settings_for(tmp_path: Path, landing: str, output: str) -> Settings:
    config = tmp_path / "ingestflow.toml"
    config.write_text(
        f"[landing]\n{landing}\n[output]\n{output}\n"
        '[[workflows]]\nname = "wf"\nprefix = ""\ntransform = "ohlcv"\n',
        encoding="utf-8",
    )
    return load_settings(config, environ={})


def test_bootstrap_stages_a_local_engine_and_limits_output_keys_to_s3s(
    s3: Any, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, f'url = "{LANDING}"', f'url = "{OUTPUT}"')
    pipeline = bootstrap.build_pipeline(settings)
    try:
        assert isinstance(pipeline.engine, StagedEngine)
        assert pipeline.discovery.max_output_path == 1024 - len("out/")
        assert isinstance(pipeline.discovery.objects, S3ObjectStore)
        assert pipeline.discovery.objects.url == LANDING
    finally:
        pipeline.engine.close()
        pipeline.store.close()
    assert not (tmp_path / "landing").exists() and not (tmp_path / "output").exists()


def test_a_local_landing_with_an_s3_output_reads_the_folder_directly(
    s3: Any, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, 'path = "landing"', f'url = "{OUTPUT}"')
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "z.csv").write_bytes(csv(8, 3))
    engine = bootstrap.build_engine(settings)
    try:
        record = FileRecord(
            bucket="landing",
            key="z.csv",
            workflow="wf",
            prefix="",
            size=(tmp_path / "landing" / "z.csv").stat().st_size,
            etag="local",
            upload_time=0.0,
            status=Status.PROCESSING,
        )
        (outcome,) = [o for chunk in engine.run("wf", [record], OHLCV) for o in chunk]
        assert outcome.ok and outcome.output == f"{OUTPUT}wf/z.csv.parquet"
    finally:
        engine.close()
    assert (tmp_path / "landing" / "z.csv").exists()  # the landing file is untouched


def test_bootstrap_builds_the_stepfunctions_engine_from_its_settings(
    s3: Any, tmp_path: Path
) -> None:
    from ingestflow.adapters.engines.stepfunctions import StepFunctionsEngine

    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:batch"
    settings = settings_for(
        tmp_path,
        f'url = "{LANDING}"',
        f'url = "{OUTPUT}"\n[engine]\nname = "stepfunctions"\nstate_machine_arn = "{arn}"',
    )
    engine = bootstrap.build_engine(settings)
    try:
        assert isinstance(engine, StepFunctionsEngine)
    finally:
        engine.close()


def test_a_watching_worker_on_an_s3_landing_listens_to_its_queue_or_lists(
    s3: Any, aws_env: MotoServer, tmp_path: Path
) -> None:
    from ingestflow.adapters.events.sqs import SQSEventSource

    queue = aws_env.client("sqs").create_queue(QueueName="landing-events")["QueueUrl"]
    with_queue = settings_for(tmp_path, f'url = "{LANDING}"\nqueue_url = "{queue}"', 'path = "o"')
    without = settings_for(tmp_path, f'url = "{LANDING}"', 'path = "o"')
    for settings, kind in ((with_queue, SQSEventSource), (without, type(None))):
        pipeline = bootstrap.build_pipeline(settings, watch=True)
        try:
            assert isinstance(pipeline.events, kind)
        finally:
            pipeline.engine.close()
            pipeline.store.close()
