"""StepFunctionsEngine: a batch runs as one execution of the batch state machine
(deploy/stepfunctions/batch.asl.json: Glue converts the files, `finish` records the outcomes).

Two ways in:

- `start(batch_id, workflow, files, spec)` (the `schedule` Lambda): write the batch manifest to
  `<manifest_url>/<batch_id>/manifest.json`, start the execution and return its ARN without
  waiting; the state machine's Finish task records the outcomes.
- `run(workflow, files, spec)` (the Engine port, for a self-hosted worker): start, poll
  DescribeExecution every `poll_interval` seconds until the execution ends, then yield the
  outcomes of the results manifest (`<batch_id>/results.json`). A failed, timed-out or aborted
  execution, or a results manifest that cannot be read, gives every file a failed, retryable
  outcome with the reason; `run` never raises for the batch's problem.

Idempotency: the execution's name is the batch id (made legal for Step Functions:
`execution_name`), so a retried `start` of the same batch finds its execution instead of
running the batch twice. A batch whose execution exists with the same input is "already
started" (its ARN is returned, the manifest is not rewritten); with a different input it is an
ExecutionConflictError naming the batch. The manifest and input are deterministic bytes, so a
retry compares equal.

Input size: Step Functions refuses inputs over 256 KiB, and the Catch path adds the error's
Cause (up to 32 KiB) to the state. The input carries every key of the batch (the manifest holds
the rest), and a batch whose input would exceed MAX_INPUT_BYTES is refused up front with
ExecutionInputTooLargeError (by design, never truncated: `keys` is always the whole batch). The
batch caps (`max_batch_files`) keep batches far below it; the error says to lower them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from ingestflow.adapters.aws_errors import error_parts, transport_problem
from ingestflow.adapters.engines.batch_manifest import (
    MANIFEST_NAME,
    RESULTS_NAME,
    BatchManifest,
    BatchManifestError,
    ManifestFile,
    batch_url,
    failure_outcomes,
    read_outcomes,
    split_object_url,
    write_json,
)
from ingestflow.domain.errors import IngestflowError, MissingExtraError
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.transform import TransformSpec

MAX_INPUT_BYTES = 220 * 1024
NAME_MAX = 80
_LEGAL_NAME = re.compile(r"[0-9A-Za-z_-]{1,80}")
_ILLEGAL = re.compile(r"[^0-9A-Za-z_-]")
_HASH_CHARS = 12
_RUNNING = frozenset({"RUNNING", "PENDING_REDRIVE"})
# Consecutive DescribeExecution failures after which `run` gives the batch up.
MAX_POLL_ERRORS = 5
_REASON_MAX = 1000

_PROBLEMS = {
    "StateMachineDoesNotExist": "no such state machine",
    "InvalidArn": "not a valid ARN",
    "AccessDeniedException": "access denied",
    "ExecutionLimitExceeded": "too many running executions",
    "ThrottlingException": "throttled by Step Functions",
    "InvalidName": "not a valid execution name",
}


# Answers that say the execution was not started (a time-out or a lost connection do not).
_REFUSED = frozenset({*_PROBLEMS, "ValidationException", "InvalidExecutionInput"})


class StepFunctionsError(IngestflowError):
    """A Step Functions or manifest call failed. One line, naming the batch."""


class ExecutionConflictError(StepFunctionsError):
    """The batch's execution exists with another input: the batch id was reused."""


class ExecutionInputTooLargeError(StepFunctionsError):
    """The batch's execution input would exceed MAX_INPUT_BYTES."""


def execution_name(batch_id: str) -> str:
    """The batch id when Step Functions (and CloudWatch Logs) accept it as a name (only
    `0-9A-Za-z-_`, at most 80 characters); otherwise its legal characters (others become
    '_'), cut to fit, and 12 hex digits of its SHA-256, so distinct ids stay distinct."""
    if _LEGAL_NAME.fullmatch(batch_id):
        return batch_id
    digest = hashlib.sha256(batch_id.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    return f"{_ILLEGAL.sub('_', batch_id)[: NAME_MAX - _HASH_CHARS - 1]}-{digest}"


def _problem(exc: BaseException) -> tuple[str, str]:
    parts = error_parts(exc)
    if parts is not None:
        code = parts[0]
        text = _PROBLEMS.get(code) or parts[1] or "request failed"
        return code, " ".join((f"{text} ({code})" if code else text).split())
    return "", transport_problem(exc) or " ".join(str(exc).split()) or type(exc).__name__


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _REASON_MAX else line[: _REASON_MAX - 1] + "…"


class StepFunctionsEngine:
    """Runs batches on the state machine `state_machine_arn`. `manifest_url`: the s3:// folder
    of the batch manifests; `landing_url`/`output_url`: the s3:// landing store and output
    root the Glue job reads and writes; `compression`: the Parquet codec. `client`/`s3_client`:
    boto3 Step Functions and S3 clients (by default built from the standard AWS
    configuration)."""

    def __init__(
        self,
        state_machine_arn: str,
        manifest_url: str,
        *,
        landing_url: str,
        output_url: str,
        compression: str = "snappy",
        client: Any = None,
        s3_client: Any = None,
        poll_interval: float = 10.0,
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            raise MissingExtraError("aws", "the Step Functions engine") from None
        self._aws_errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
        self.state_machine_arn = state_machine_arn
        self.manifest_url = manifest_url
        self.landing_url = landing_url
        self.output_url = output_url
        self.compression = compression
        self.poll_interval = poll_interval
        if client is None or s3_client is None:
            # Endpoint, region, credentials and retries as configured (AWS_* variables, roles).
            session = boto3.session.Session()
            config = Config(user_agent_extra="ingestflow")
            client = client or session.client("stepfunctions", config=config)
            s3_client = s3_client or session.client("s3", config=config)
        self._sfn = client
        self._s3 = s3_client

    def __repr__(self) -> str:
        return f"StepFunctionsEngine({self.state_machine_arn!r})"

    # -- the schedule Lambda's entry -------------------------------------------------------

    def execution_arn(self, batch_id: str) -> str:
        """The ARN the batch's execution has (or will have)."""
        head, sep, machine = self.state_machine_arn.rpartition(":stateMachine:")
        if not sep:
            raise StepFunctionsError(f"{self.state_machine_arn}: not a state machine ARN")
        return f"{head}:execution:{machine}:{execution_name(batch_id)}"

    def start(
        self, batch_id: str, workflow: str, files: Sequence[FileRecord], spec: TransformSpec
    ) -> str:
        """Write the manifest and start the batch's execution (or find it started); its ARN.
        Raises StepFunctionsError (one line) when that cannot be done."""
        manifest = BatchManifest(
            batch_id=batch_id,
            workflow=workflow,
            landing_url=self.landing_url,
            output_url=self.output_url,
            files=tuple(ManifestFile(f.bucket, f.key, f.etag, f.size) for f in files),
            spec=spec,
            compression=self.compression,
        )
        document = self.execution_input(batch_id, workflow, [f.key for f in files])
        arn = self.execution_arn(batch_id)
        started = self._describe(arn, batch_id, missing_ok=True)
        if started is not None:
            return self._same_input(started, document, batch_id)
        try:
            write_json(self._s3, document["manifest"], manifest.to_json())
        except BatchManifestError as exc:
            raise StepFunctionsError(f"batch {batch_id}: {exc}") from None
        try:
            response = self._sfn.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=execution_name(batch_id),
                input=_dumps(document),
            )
        except self._aws_errors as exc:
            code, text = _problem(exc)
            if code != "ExecutionAlreadyExists":
                if code in _REFUSED:  # surely not started: its manifest would be an orphan
                    self._forget(document["manifest"])
                raise StepFunctionsError(f"batch {batch_id}: cannot start: {text}") from None
            started = self._describe(arn, batch_id)
            assert started is not None
            return self._same_input(started, document, batch_id)
        return str(response["executionArn"])

    def _forget(self, url: str) -> None:
        """Delete the manifest of a batch that was refused (best effort: a leftover is only
        an unused object)."""
        bucket, key = split_object_url(url)
        with contextlib.suppress(*self._aws_errors):
            self._s3.delete_object(Bucket=bucket, Key=key)

    def execution_input(self, batch_id: str, workflow: str, keys: Sequence[str]) -> dict[str, Any]:
        """The execution's input (what `finish` receives); ExecutionInputTooLargeError when
        it would exceed MAX_INPUT_BYTES."""
        document = {
            "batch_id": batch_id,
            "workflow": workflow,
            "keys": list(keys),
            "manifest": batch_url(self.manifest_url, batch_id, MANIFEST_NAME),
            "results": batch_url(self.manifest_url, batch_id, RESULTS_NAME),
        }
        size = len(_dumps(document).encode("utf-8"))
        if size > MAX_INPUT_BYTES:
            raise ExecutionInputTooLargeError(
                f"batch {batch_id}: the execution input of its {len(keys)} keys would be "
                f"{size} bytes, over the limit of {MAX_INPUT_BYTES}: lower the workflow's "
                "max_batch_files"
            )
        return document

    # -- the Engine port -------------------------------------------------------------------

    def run(
        self, workflow: str, files: Sequence[FileRecord], spec: TransformSpec
    ) -> Iterator[list[FileOutcome]]:
        """Start the batch (the files' batch id, or a new one), wait for it, yield its
        outcomes in one chunk."""
        if not files:
            return
        batch_id = files[0].batch_id or f"{workflow}-{uuid.uuid4().hex}"
        try:
            arn = self.start(batch_id, workflow, files, spec)
            status, reason = self._wait(arn, batch_id)
        except StepFunctionsError as exc:
            yield failure_outcomes(files, str(exc))
            return
        if status != "SUCCEEDED":
            yield failure_outcomes(files, reason)
            return
        results = batch_url(self.manifest_url, batch_id, RESULTS_NAME)
        try:
            yield read_outcomes(self._s3, results, files)
        except BatchManifestError as exc:
            yield failure_outcomes(files, f"batch {batch_id} succeeded but {exc}")

    def close(self) -> None:
        """Nothing to release: the clients hold no open resources worth closing."""

    # -- helpers ---------------------------------------------------------------------------

    def _wait(self, arn: str, batch_id: str) -> tuple[str, str]:
        """(final status, reason) of the execution, polling until it is no longer running."""
        errors = 0
        while True:
            try:
                described = self._describe(arn, batch_id)
                errors = 0
            except StepFunctionsError:
                errors += 1
                if errors >= MAX_POLL_ERRORS:
                    raise
                described = None
            if described is not None and described["status"] not in _RUNNING:
                status = str(described["status"])
                detail = ": ".join(
                    str(described[k]) for k in ("error", "cause") if described.get(k)
                )
                reason = f"Step Functions execution of batch {batch_id} {status}"
                return status, _one_line(f"{reason}: {detail}" if detail else reason)
            time.sleep(self.poll_interval)

    def _describe(self, arn: str, batch_id: str, missing_ok: bool = False) -> Any:
        try:
            return self._sfn.describe_execution(executionArn=arn)
        except self._aws_errors as exc:
            code, text = _problem(exc)
            if missing_ok and code == "ExecutionDoesNotExist":
                return None
            raise StepFunctionsError(f"batch {batch_id}: cannot describe {arn}: {text}") from None

    def _same_input(self, described: Any, document: dict[str, Any], batch_id: str) -> str:
        try:
            same = json.loads(described.get("input") or "null") == document
        except ValueError:
            same = False
        if not same:
            raise ExecutionConflictError(
                f"batch {batch_id}: its execution {described['executionArn']} exists with "
                "another input (a reused batch id)"
            )
        return str(described["executionArn"])


def _dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
