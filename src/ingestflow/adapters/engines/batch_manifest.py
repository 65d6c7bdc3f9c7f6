"""The two files a batch on AWS leaves in S3: the batch manifest (what to do) and the results
manifest (what happened, one entry per file). The Step Functions engine writes the first, the
Glue job reads it and writes the second, and whoever records the outcomes (the engine's `run`
for a self-hosted worker, the `finish` Lambda on AWS) reads that with `read_outcomes`.

Layout under the engine's `manifest_url` (e.g. `s3://bucket/prefix/_ingestflow/batches/`):
`<batch_id>/manifest.json` and `<batch_id>/results.json`.

Batch manifest (format 1)::

    {"format": 1, "batch_id": "...", "workflow": "...",
     "landing_url": "s3://landing/in/", "output_url": "s3://lake/out/",
     "compression": "snappy",
     "files": [{"bucket": "landing", "key": "a/b.csv", "etag": "...", "size": 123}],
     "spec": {... domain.transform_json ...}}

Results manifest (format 1)::

    {"format": 1, "batch_id": "...",
     "files": [{"key": "...", "etag": "...", "ok": true, "error": null, "retryable": false,
                "output": "s3://lake/out/wf/a/b.csv.parquet", "rows": 10}]}

Both are data from another process: parsing checks every field and raises BatchManifestError
(one line) for anything else. A file of the batch without an entry in the results becomes a
failed, retryable outcome (the job died half-way, or a newer job overwrote the results), so the
batch's files all get an outcome whatever the results hold; entries for files outside the batch
are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ingestflow.adapters.storage.s3 import parse_url, problem
from ingestflow.domain.errors import IngestflowError
from ingestflow.domain.records import FileOutcome
from ingestflow.domain.transform import TransformSpec
from ingestflow.domain.transform_json import spec_from_json, spec_to_json

FORMAT = 1
MANIFEST_NAME = "manifest.json"
RESULTS_NAME = "results.json"


class BatchManifestError(IngestflowError):
    """A batch or results manifest is missing, unreadable or not in the expected format."""


class BatchFile(Protocol):
    """What outcomes need of a file: its key and the version that was processed (a
    FileRecord or a ManifestFile)."""

    @property
    def key(self) -> str: ...

    @property
    def etag(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ManifestFile:
    bucket: str
    key: str
    etag: str
    size: int


@dataclass(frozen=True, slots=True)
class BatchManifest:
    """Everything the Glue job needs to convert a batch, without the configuration."""

    batch_id: str
    workflow: str
    landing_url: str
    output_url: str
    files: tuple[ManifestFile, ...]
    spec: TransformSpec
    compression: str = "snappy"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "batch_id": self.batch_id,
            "workflow": self.workflow,
            "landing_url": self.landing_url,
            "output_url": self.output_url,
            "compression": self.compression,
            "files": [
                {"bucket": f.bucket, "key": f.key, "etag": f.etag, "size": f.size}
                for f in self.files
            ],
            "spec": spec_to_json(self.spec),
        }


def batch_url(manifest_url: str, batch_id: str, name: str) -> str:
    """`<manifest_url>/<batch_id>/<name>` (manifest_url with or without its final '/')."""
    return f"{manifest_url.rstrip('/')}/{batch_id}/{name}"


def dumps(document: Mapping[str, Any]) -> bytes:
    """Deterministic bytes: a retried start writes the very same manifest."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def parse_manifest(document: Any) -> BatchManifest:
    """The BatchManifest in a decoded manifest.json; BatchManifestError otherwise."""
    try:
        _check_format(document)
        files = tuple(
            ManifestFile(
                bucket=_field(f, "bucket", str),
                key=_field(f, "key", str),
                etag=_field(f, "etag", str),
                size=_field(f, "size", int),
            )
            for f in _field(document, "files", list)
        )
        return BatchManifest(
            batch_id=_field(document, "batch_id", str),
            workflow=_field(document, "workflow", str),
            landing_url=_field(document, "landing_url", str),
            output_url=_field(document, "output_url", str),
            files=files,
            spec=spec_from_json(_field(document, "spec", dict)),
            compression=_field(document, "compression", str),
        )
    except ValueError as exc:
        raise BatchManifestError(f"not a batch manifest: {exc}") from None


def results_json(batch_id: str, outcomes: Sequence[FileOutcome]) -> dict[str, Any]:
    """The results manifest of `outcomes`."""
    return {
        "format": FORMAT,
        "batch_id": batch_id,
        "files": [
            {
                "key": o.key,
                "etag": o.etag,
                "ok": o.ok,
                "error": o.error,
                "retryable": o.retryable,
                "output": o.output,
                "rows": o.rows,
            }
            for o in outcomes
        ],
    }


def parse_results(document: Any, files: Sequence[BatchFile]) -> list[FileOutcome]:
    """One outcome per file of `files`, in their order, from a decoded results.json: the
    entry with the file's key and etag, else a failed retryable outcome saying none was
    found. BatchManifestError when the document is not a results manifest."""
    try:
        _check_format(document)
        found: dict[tuple[str, str], FileOutcome] = {}
        for entry in _field(document, "files", list):
            outcome = FileOutcome(
                key=_field(entry, "key", str),
                etag=_field(entry, "etag", str),
                ok=_field(entry, "ok", bool),
                error=_optional(entry, "error", str),
                retryable=_field(entry, "retryable", bool),
                output=_optional(entry, "output", str),
                rows=_optional(entry, "rows", int),
            )
            found[(outcome.key, outcome.etag)] = outcome
    except ValueError as exc:
        raise BatchManifestError(f"not a results manifest: {exc}") from None
    missing = "the Glue job wrote no result for this file"
    return [
        found.get((f.key, f.etag)) or FileOutcome.failed(f.key, f.etag, missing, retryable=True)
        for f in files
    ]


def failure_outcomes(files: Sequence[BatchFile], error: str) -> list[FileOutcome]:
    """Every file failed for the batch's reason (a failed, timed-out or aborted execution):
    retryable, since the files themselves were not found at fault."""
    return [FileOutcome.failed(f.key, f.etag, error, retryable=True) for f in files]


def read_outcomes(
    s3_client: Any, results_url: str, files: Sequence[BatchFile]
) -> list[FileOutcome]:
    """`parse_results` of the results manifest at `results_url` (an s3:// URL), read with
    `s3_client` (a boto3 S3 client). BatchManifestError when it is missing or unreadable:
    the caller decides (the engine fails the batch with `failure_outcomes`)."""
    return parse_results(read_json(s3_client, results_url), files)


def execution_outcomes(s3_client: Any, payload: Mapping[str, Any]) -> list[FileOutcome]:
    """The outcomes the state machine's Finish task reports (`payload`: its input,
    deploy/stepfunctions/README.md), for the `finish` Lambda: with `error` (the Glue run
    failed) every file of the manifest fails retryably with that error; otherwise the results
    manifest's outcomes, or every file failed when it cannot be read. BatchManifestError when
    the payload or the batch manifest itself is unusable (no files to give outcomes to)."""
    try:
        batch_id = _field(payload, "batch_id", str)
        manifest_url = _field(payload, "manifest", str)
        results_url = _field(payload, "results", str)
    except ValueError as exc:
        raise BatchManifestError(f"not a batch execution's payload: {exc}") from None
    files = parse_manifest(read_json(s3_client, manifest_url)).files
    error = payload.get("error")
    if error is not None:
        return failure_outcomes(files, f"the Glue run of batch {batch_id} failed: {_cause(error)}")
    try:
        return read_outcomes(s3_client, results_url, files)
    except BatchManifestError as exc:
        return failure_outcomes(files, f"batch {batch_id} succeeded but {exc}")


def _cause(error: Any) -> str:
    """One line of a caught Step Functions error ({"Error", "Cause"}), at most 1,000 chars."""
    parts = [
        str(error.get(k)) for k in ("Error", "Cause") if isinstance(error, Mapping) and error.get(k)
    ]
    line = " ".join(": ".join(parts or [str(error)]).split())
    return line if len(line) <= 1000 else line[:999] + "…"


def read_json(s3_client: Any, url: str) -> Any:
    """The JSON document at the s3:// `url`; BatchManifestError (one line) otherwise."""
    bucket, key = split_object_url(url)
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except _aws_errors() as exc:
        raise BatchManifestError(f"cannot read {url}: {problem(exc)[1]}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise BatchManifestError(f"{url}: not JSON") from None


def write_json(s3_client: Any, url: str, document: Mapping[str, Any]) -> None:
    """Write `document` to the s3:// `url` (one PUT); BatchManifestError (one line) otherwise."""
    bucket, key = split_object_url(url)
    try:
        s3_client.put_object(
            Bucket=bucket, Key=key, Body=dumps(document), ContentType="application/json"
        )
    except _aws_errors() as exc:
        raise BatchManifestError(f"cannot write {url}: {problem(exc)[1]}") from None


def _aws_errors() -> tuple[type[Exception], ...]:
    """What the SDK raises (imported on use: this module loads without the aws extra)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def split_object_url(url: str) -> tuple[str, str]:
    """(bucket, key) of an s3://bucket/key URL; BatchManifestError when it names no object."""
    bucket, prefix = parse_url(url)
    key = prefix.removesuffix("/")  # parse_url reads a prefix; here it is an object's key
    if not key:
        raise BatchManifestError(f"{url}: not an S3 object URL (s3://bucket/key)")
    return bucket, key


def _check_format(document: Any) -> None:
    if not isinstance(document, Mapping):
        raise ValueError("expected a JSON object")
    if document.get("format") != FORMAT:
        raise ValueError(f"format {document.get('format')!r}, expected {FORMAT}")


def _field(data: Any, name: str, kind: type) -> Any:
    if not isinstance(data, Mapping) or name not in data:
        raise ValueError(f"missing field {name!r}")
    value = data[name]
    # bool is an int in Python; a size or row count of `true` is still wrong.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"field {name!r}: expected {kind.__name__}")
    return value


def _optional(data: Any, name: str, kind: type) -> Any:
    if isinstance(data, Mapping) and data.get(name) is None:
        return None
    return _field(data, name, kind)
