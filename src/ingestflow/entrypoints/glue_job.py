"""The Glue job: convert one batch described by a batch manifest, write its results manifest.

    main(["--manifest", "s3://.../<batch_id>/manifest.json",
          "--results", "s3://.../<batch_id>/results.json"])

Arguments come the Glue way (`awsglue.utils.getResolvedOptions`) when awsglue is importable,
else from argparse (tests, spark-submit, a laptop); unknown arguments (Glue's own `--JOB_NAME`,
`--job-bookmark-option`, ...) are ignored. No GlueContext and no job bookmarks: the ledger is
the bookmark and the manifest names the files.

The conversion is the SparkEngine's, unchanged, so outputs equal the local engines' (same
values, same relative paths: domain.outputs). It reads local folders, so the job stages:

1. each input is downloaded (`S3ObjectStore.open_read(key, etag)`: only the listed version)
   into a temporary landing folder on the **driver**; a file that cannot be downloaded fails
   alone with its reason;
2. SparkEngine converts the staged files into a temporary output folder;
3. each output is uploaded (`S3ObjectStore.write_output`) to the same relative path under the
   manifest's `output_url`; a failed upload fails that file alone.

Because the staged files exist only on the driver's disk, Spark runs in local mode on the
driver (`--master`, default `local[*]`): executors on other nodes could not read them. Size the
Glue job's driver (worker type) for a batch; reading s3:// directly on the executors is the
way to scale further.

A bad file never fails the job: it is a failed entry in the results. The job fails (raises,
so Step Functions' Catch runs `finish` with the error) only when the batch manifest cannot be
read or the results cannot be written.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingestflow.adapters.engines.batch_manifest import (
    BatchManifest,
    parse_manifest,
    read_json,
    results_json,
    write_json,
)
from ingestflow.adapters.engines.spark import SparkEngine
from ingestflow.adapters.storage.s3 import S3ObjectStore
from ingestflow.domain.errors import (
    FileProcessingError,
    InvalidKeyError,
    MissingExtraError,
    TerminalError,
    TransientError,
)
from ingestflow.domain.keys import validate_key
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.status import Status

log = logging.getLogger(__name__)
DEFAULT_MASTER = "local[*]"


def parse_args(argv: Sequence[str]) -> dict[str, str]:
    """{"manifest", "results", "master"} from the job's arguments (without the program)."""
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:
        parser = argparse.ArgumentParser(prog="glue_job")
        parser.add_argument("--manifest", required=True)
        parser.add_argument("--results", required=True)
        parser.add_argument("--master", default=DEFAULT_MASTER)
        known, _ = parser.parse_known_args(list(argv))
        return {"manifest": known.manifest, "results": known.results, "master": known.master}
    names = ["manifest", "results", *(["master"] if "--master" in argv else [])]
    resolved = getResolvedOptions(["glue_job", *argv], names)
    return {"master": DEFAULT_MASTER, **{n: str(resolved[n]) for n in names}}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the batch; 0 when its results manifest is written (whatever the files' fates)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    s3 = _s3_client()
    manifest = parse_manifest(read_json(s3, args["manifest"]))
    outcomes = run_batch(manifest, s3, master=args["master"])
    write_json(s3, args["results"], results_json(manifest.batch_id, outcomes))
    failed = sum(not o.ok for o in outcomes)
    log.info("batch %s: %d files, %d failed", manifest.batch_id, len(outcomes), failed)
    return 0


def run_batch(manifest: BatchManifest, s3_client: Any, master: str) -> list[FileOutcome]:
    """One outcome per file of the manifest, in the manifest's order."""
    landing_store = S3ObjectStore(manifest.landing_url, client=s3_client)
    output_store = S3ObjectStore(manifest.output_url, client=s3_client)
    by_key: dict[str, FileOutcome] = {}
    with tempfile.TemporaryDirectory(prefix="ingestflow-glue-") as tmp:
        landing, output = Path(tmp, "landing"), Path(tmp, "output")
        staged: list[FileRecord] = []
        for file in manifest.files:
            try:
                size = _download(landing_store, file.key, file.etag, landing)
            except FileProcessingError as exc:
                by_key[file.key] = _failed(file.key, file.etag, exc)
                continue
            staged.append(
                FileRecord(
                    bucket=file.bucket,
                    key=file.key,
                    workflow=manifest.workflow,
                    prefix="",
                    size=size,
                    etag=file.etag,
                    upload_time=0.0,
                    status=Status.PROCESSING,
                    batch_id=manifest.batch_id,
                )
            )
        engine = SparkEngine(landing, output, master=master, compression=manifest.compression)
        try:
            for chunk in engine.run(manifest.workflow, staged, manifest.spec):
                for outcome in chunk:
                    by_key[outcome.key] = _upload(output_store, output, outcome)
        finally:
            engine.close()
    missing = "the engine gave no outcome for this file"
    return [
        by_key.get(f.key) or FileOutcome.failed(f.key, f.etag, missing, retryable=True)
        for f in manifest.files
    ]


def _download(store: S3ObjectStore, key: str, etag: str, landing: Path) -> int:
    """Copy the object's listed version to `landing/<key>`; its size. FileProcessingError."""
    try:
        target = landing / validate_key(key)
    except InvalidKeyError as exc:
        raise TerminalError(f"refused: {exc}") from None
    try:
        with store.open_read(key, etag) as stream:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
        return target.stat().st_size
    except OSError as exc:
        # A read broken mid-way, or a key that is also another key's folder ("a" and "a/b"):
        # another batch without its neighbour can still take it.
        raise TransientError(f"cannot stage {store.url_for(key)}: {exc.strerror or exc}") from None


def _upload(store: S3ObjectStore, output_root: Path, outcome: FileOutcome) -> FileOutcome:
    """The outcome with its output uploaded (its s3:// URL as `output`), or failed."""
    if not outcome.ok or outcome.output is None:
        return outcome
    relative = Path(outcome.output).relative_to(output_root).as_posix()
    try:
        url = store.write_output(relative, outcome.output)
    except FileProcessingError as exc:
        return _failed(outcome.key, outcome.etag, exc)
    return replace(outcome, output=url)


def _failed(key: str, etag: str, exc: FileProcessingError) -> FileOutcome:
    return FileOutcome.failed(key, etag, str(exc), retryable=exc.retryable)


def _s3_client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MissingExtraError("aws", "the Glue job") from None
    return boto3.session.Session().client("s3", config=Config(user_agent_extra="ingestflow"))
