"""The CLI on a cloud pipeline (issue 12): an S3 landing and an S3 output, on the moto server
the tests provide, reached only through the standard AWS configuration (AWS_ENDPOINT_URL in
the environment the CLI inherits). A self-hosted `run --once` with the DuckDB engine ingests
CSV objects to Parquet objects with the same values as a local run."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from e2e_support import (
    Project,
    assert_output_matches,
    ohlcv_csv,
    workflow,
    write_config,
    write_file,
)
from moto_server import MotoServer

LANDING = "s3://raw-landing/incoming/"
OUTPUT = "s3://curated-out/parquet/"
CORRUPT = "ohlcv/bad/missing.csv"


def cloud_project(root: Path, ledger: str = "sqlite://.ingestflow/ledger.db") -> Project:
    """A project whose landing and output are the S3 URLs above."""
    project = write_config(root, [workflow("ohlcv", "ohlcv/", batch_size=3)])
    text = project.config.read_text(encoding="utf-8")
    text = text.replace('path = "landing"', f'url = "{LANDING}"')
    text = text.replace('path = "output"', f'url = "{OUTPUT}"')
    text = text.replace('url = "sqlite://.ingestflow/ledger.db"', f'url = "{ledger}"')
    project.config.write_text(text, encoding="utf-8")
    return project


def inputs() -> dict[str, bytes]:
    rng = random.Random(12)
    return {
        "ohlcv/2024/a.csv": ohlcv_csv(rng, 120),
        "ohlcv/2024/b.csv": ohlcv_csv(rng, 40, variant=2),
        CORRUPT: b"Date,Open,Close\n2024-01-01 00:00:00,1,2\n",
    }


def upload(s3: Any, files: dict[str, bytes]) -> None:
    s3.create_bucket(Bucket="raw-landing")
    s3.create_bucket(Bucket="curated-out")
    for key, data in files.items():
        s3.put_object(Bucket="raw-landing", Key=f"incoming/{key}", Body=data)
    # Outside the landing prefix: never listed, never read.
    s3.put_object(Bucket="raw-landing", Key="elsewhere/ohlcv/c.csv", Body=b"x")
    s3.put_object(Bucket="raw-landing", Key="incoming2/ohlcv/d.csv", Body=b"y")


def output_keys(s3: Any) -> list[str]:
    listed = s3.list_objects_v2(Bucket="curated-out").get("Contents", [])
    return sorted(obj["Key"] for obj in listed)


def read_output(s3: Any, key: str) -> Any:
    body = s3.get_object(Bucket="curated-out", Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


@pytest.mark.parametrize(
    "ledger",
    [
        "sqlite://.ingestflow/ledger.db",
        "dynamodb://e2e-cli?region=us-east-1",
    ],
)
def test_a_self_hosted_run_ingests_s3_objects_to_s3_parquet_like_a_local_run(
    tmp_path: Path, aws_env: MotoServer, ledger: str
) -> None:
    s3 = aws_env.client("s3")
    files = inputs()
    upload(s3, files)
    project = cloud_project(tmp_path / "cloud", ledger)
    assert "ledger ready:" in project.cli("setup").stdout

    project.run_once(expect=None)

    records = project.by_key()
    assert sorted(records) == sorted(files)  # nothing outside the landing prefix
    assert project.counts() == {"TODO": 0, "PROCESSING": 0, "DONE": 2, "FAILED": 1}
    assert records[CORRUPT]["status"] == "FAILED"
    assert "High" in str(records[CORRUPT]["error"]), records[CORRUPT]["error"]
    good = [key for key in files if key != CORRUPT]
    assert output_keys(s3) == sorted(f"parquet/ohlcv/{key}.parquet" for key in good)
    for key in good:
        assert records[key]["status"] == "DONE"
        assert records[key]["output"] == f"{OUTPUT}ohlcv/{key}.parquet"
        object_key = f"parquet/ohlcv/{key}.parquet"
        local_copy = tmp_path / "downloaded" / object_key
        local_copy.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file("curated-out", object_key, str(local_copy))
        assert_output_matches(local_copy, files[key])

    # The same files through a local run give the same tables.
    local = write_config(tmp_path / "local", [workflow("ohlcv", "ohlcv/", batch_size=3)])
    for key, data in files.items():
        write_file(local.landing / key, data)
    local.run_once(expect=None)
    for key in good:
        relative = f"ohlcv/{key}.parquet"
        assert read_output(s3, f"parquet/{relative}").equals(pq.read_table(local.output / relative))

    (row,) = project.json("query", "SELECT count(*) AS n FROM ohlcv")
    assert row == {"n": 160}
    history = project.json("history", good[0])
    assert [h["to"] for h in history][-1] == "DONE"


def test_setup_on_an_s3_project_is_idempotent(tmp_path: Path, aws_env: MotoServer) -> None:
    upload(aws_env.client("s3"), {})
    project = cloud_project(tmp_path / "p")
    project.cli("setup")
    assert project.json("setup")["workflows"] == ["ohlcv"]


def test_a_query_before_any_output_says_the_workflow_has_none(
    tmp_path: Path, aws_env: MotoServer
) -> None:
    upload(aws_env.client("s3"), {})
    project = cloud_project(tmp_path / "p")
    refused = project.cli("query", "SELECT * FROM ohlcv", expect=1)
    assert "has no outputs yet" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_missing_landing_bucket_is_one_readable_line(tmp_path: Path, aws_env: MotoServer) -> None:
    project = cloud_project(tmp_path / "p")
    result = project.run_once(expect=None)
    assert result.returncode != 0
    assert "raw-landing" in result.stderr and "Traceback" not in result.stderr
