"""The Glue job script on local PySpark (awsglue absent: argparse) over a moto S3 bucket: the
outputs it uploads equal the DuckDB engine's on the same input, at the same relative paths, and
a bad file fails alone with its reason in results.json while its batch-mates succeed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from moto_server import MotoServer

from ingestflow.adapters.engines.batch_manifest import (
    BatchManifest,
    BatchManifestError,
    ManifestFile,
    read_json,
    write_json,
)
from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV
from ingestflow.entrypoints import glue_job
from ingestflow.sampledata import write_ohlcv_files

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

BATCH = "wf-20260101T000000-0a1b2c3d"
MANIFEST = f"s3://lake/_ingestflow/batches/{BATCH}/manifest.json"
RESULTS = f"s3://lake/_ingestflow/batches/{BATCH}/results.json"
BAD = "Date,Open,High,Low,Close,Volume\n2024-01-01,1.0,2.0,0.5,1.5,100\n2024-01-02,abc,2,1,1,5\n"


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    """One local[1] session for the module; the job reuses it (and leaves it running)."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from ingestflow.adapters.engines.spark_session import start_session

    started, _ = start_session("local[1]", {}, "snappy")
    yield started
    started.stop()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """Two OHLCV files (one gzipped) and a CSV with a value that is not a number."""
    root = tmp_path / "landing"
    write_ohlcv_files(root, 2, 50, gzip_every=2)
    (root / "bad.csv").write_text(BAD, encoding="utf-8")
    return root


def upload(aws_env: MotoServer, landing: Path) -> list[ManifestFile]:
    s3 = aws_env.client("s3")
    for bucket in ("landing", "lake"):
        s3.create_bucket(Bucket=bucket)
    files = []
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        key = path.relative_to(landing).as_posix()
        s3.put_object(Bucket="landing", Key=f"in/{key}", Body=path.read_bytes())
        head = s3.head_object(Bucket="landing", Key=f"in/{key}")
        files.append(ManifestFile("landing", key, head["ETag"].strip('"'), head["ContentLength"]))
    return files


def write_manifest(aws_env: MotoServer, files: list[ManifestFile]) -> None:
    manifest = BatchManifest(
        batch_id=BATCH,
        workflow="wf",
        landing_url="s3://landing/in/",
        output_url="s3://lake/out/",
        files=tuple(files),
        spec=OHLCV,
    )
    write_json(aws_env.client("s3"), MANIFEST, manifest.to_json())


def run_job(aws_env: MotoServer) -> dict[str, dict[str, Any]]:
    """Run the job as Glue would (its own arguments mixed in); the results by key."""
    argv = ["--JOB_NAME", "ingestflow-batch", "--manifest", MANIFEST, "--results", RESULTS]
    assert glue_job.main([*argv, "--master", "local[1]"]) == 0
    document = read_json(aws_env.client("s3"), RESULTS)
    assert document["format"] == 1 and document["batch_id"] == BATCH
    return {entry["key"]: entry for entry in document["files"]}


def download(aws_env: MotoServer, url: str, target: Path) -> Path:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    aws_env.client("s3").download_file(bucket, key, str(target))
    return target


def duckdb_outputs(landing: Path, out: Path, files: list[ManifestFile]) -> dict[str, Path]:
    engine = DuckDBEngine(landing, out)
    records = [
        FileRecord("landing", f.key, "wf", "", f.size, f.etag, 1.0, Status.PROCESSING)
        for f in files
    ]
    try:
        outcomes = [o for chunk in engine.run("wf", records, OHLCV) for o in chunk]
    finally:
        engine.close()
    return {o.key: Path(o.output) for o in outcomes if o.ok and o.output}


def test_the_job_uploads_the_duckdb_engines_outputs_at_the_same_paths(
    session: Any, aws_env: MotoServer, landing: Path, tmp_path: Path
) -> None:
    files = upload(aws_env, landing)
    write_manifest(aws_env, files)

    results = run_job(aws_env)

    expected = duckdb_outputs(landing, tmp_path / "duckdb", files)
    assert sorted(expected) == sorted(k for k, e in results.items() if e["ok"])
    assert len(expected) == 2
    for key, local in expected.items():
        entry = results[key]
        relative = local.relative_to(tmp_path / "duckdb").as_posix()
        assert entry["output"] == f"s3://lake/out/{relative}"
        assert entry["error"] is None and entry["etag"] == next(
            f.etag for f in files if f.key == key
        )
        uploaded = pq.read_table(download(aws_env, entry["output"], tmp_path / "s3" / relative))
        wanted = pq.read_table(local)
        assert uploaded.schema.equals(wanted.schema)
        assert uploaded.to_pylist() == wanted.to_pylist()
        assert entry["rows"] == wanted.num_rows == 50


def test_a_corrupt_csv_fails_alone_with_its_reason_while_its_batch_mates_succeed(
    session: Any, aws_env: MotoServer, landing: Path
) -> None:
    write_manifest(aws_env, upload(aws_env, landing))

    results = run_job(aws_env)

    bad = results.pop("bad.csv")
    assert bad["ok"] is False and bad["retryable"] is False and bad["output"] is None
    assert "abc" in bad["error"] and "Open" in bad["error"]
    assert len(results) == 2 and all(e["ok"] for e in results.values())
    listed = aws_env.client("s3").list_objects_v2(Bucket="lake", Prefix="out/")
    assert len(listed["Contents"]) == 2  # no output for the bad file


def test_a_file_that_changed_since_the_claim_fails_alone_without_being_converted(
    session: Any, aws_env: MotoServer, landing: Path
) -> None:
    (landing / "bad.csv").unlink()
    files = upload(aws_env, landing)
    stale = ManifestFile("landing", files[0].key, "0" * 32, files[0].size)
    write_manifest(aws_env, [stale, *files[1:]])

    results = run_job(aws_env)

    entry = results[stale.key]
    assert entry["ok"] is False and entry["retryable"] is True
    assert entry["etag"] == stale.etag
    assert entry["error"] == (
        f"cannot read s3://landing/in/{stale.key}: the object changed since it was listed "
        "(PreconditionFailed)"
    )
    assert results[files[1].key]["ok"] is True


def test_an_unreadable_manifest_fails_the_job_with_a_one_line_error(aws_env: MotoServer) -> None:
    aws_env.client("s3").create_bucket(Bucket="lake")

    with pytest.raises(BatchManifestError) as caught:
        glue_job.main(["--manifest", MANIFEST, "--results", RESULTS])

    assert str(caught.value) == f"cannot read {MANIFEST}: no such object (NoSuchKey)"


def test_the_glue_script_runs_the_job_entrypoint() -> None:
    script = Path(__file__).resolve().parents[2] / "deploy" / "glue" / "batch_job.py"
    source = script.read_text(encoding="utf-8")
    assert "from ingestflow.entrypoints.glue_job import main" in source
    assert "main(sys.argv[1:])" in source
