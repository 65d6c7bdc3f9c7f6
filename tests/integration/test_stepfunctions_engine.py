"""StepFunctionsEngine on the moto server: `start` writes the manifest and starts one execution
per batch, named after it, idempotently; `run` waits for the execution and yields the results
manifest's outcomes, or fails every file with the execution's error.

The state machine is the production definition made runnable on moto
(test_stepfunctions_state_machine.runnable_variant): its Glue task starts a moto Glue job that
succeeds at once without running anything, so the tests write the results manifest the Glue
job would have written.
"""

from __future__ import annotations

import json

import pytest
from moto_server import MotoServer
from test_stepfunctions_state_machine import Machine, executing

from ingestflow.adapters.engines.batch_manifest import (
    BatchManifestError,
    execution_outcomes,
    parse_manifest,
    parse_results,
    read_json,
    results_json,
    write_json,
)
from ingestflow.adapters.engines.stepfunctions import (
    MAX_INPUT_BYTES,
    ExecutionConflictError,
    ExecutionInputTooLargeError,
    StepFunctionsEngine,
    execution_name,
)
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV

__all__ = ["executing"]  # the fixture, shared with the state machine's tests

MANIFESTS = "s3://lake/_ingestflow/batches/"
BATCH = "wf-20260101T000000-0a1b2c3d"


def record(key: str, etag: str = "e1", batch_id: str | None = BATCH) -> FileRecord:
    return FileRecord("landing", key, "wf", "", 10, etag, 1.0, Status.PROCESSING, batch_id=batch_id)


def engine_for(server: MotoServer, machine: Machine) -> StepFunctionsEngine:
    return StepFunctionsEngine(
        machine.arn,
        MANIFESTS,
        landing_url="s3://landing/in/",
        output_url="s3://lake/out/",
        client=server.client("stepfunctions"),
        s3_client=server.client("s3"),
        poll_interval=0.05,
    )


def outcomes_of(engine: StepFunctionsEngine, files: list[FileRecord]) -> list[FileOutcome]:
    return [o for chunk in engine.run("wf", files, OHLCV) for o in chunk]


@pytest.fixture
def machine(executing: MotoServer) -> Machine:
    executing.client("s3").create_bucket(Bucket="lake")
    return Machine(executing, "batch-job", create_job=True)


def test_start_names_the_execution_after_the_batch_and_writes_its_manifest(
    executing: MotoServer, machine: Machine
) -> None:
    engine = engine_for(executing, machine)
    files = [record("a.csv"), record("b/c.csv", "e2")]

    arn = engine.start(BATCH, "wf", files, OHLCV)

    described = machine.sfn.describe_execution(executionArn=arn)
    assert described["name"] == BATCH
    assert json.loads(described["input"]) == {
        "batch_id": BATCH,
        "workflow": "wf",
        "keys": ["a.csv", "b/c.csv"],
        "manifest": f"{MANIFESTS}{BATCH}/manifest.json",
        "results": f"{MANIFESTS}{BATCH}/results.json",
    }
    manifest = parse_manifest(
        read_json(executing.client("s3"), f"{MANIFESTS}{BATCH}/manifest.json")
    )
    assert manifest.batch_id == BATCH and manifest.workflow == "wf"
    assert manifest.landing_url == "s3://landing/in/" and manifest.output_url == "s3://lake/out/"
    assert [(f.bucket, f.key, f.etag, f.size) for f in manifest.files] == [
        ("landing", "a.csv", "e1", 10),
        ("landing", "b/c.csv", "e2", 10),
    ]
    assert manifest.spec == OHLCV and manifest.compression == "snappy"


def test_a_retried_start_finds_the_batch_execution_instead_of_starting_another(
    executing: MotoServer, machine: Machine
) -> None:
    engine = engine_for(executing, machine)
    files = [record("a.csv")]

    first = engine.start(BATCH, "wf", files, OHLCV)
    again = engine.start(BATCH, "wf", files, OHLCV)

    assert again == first
    assert len(machine.sfn.list_executions(stateMachineArn=machine.arn)["executions"]) == 1


def test_a_start_that_races_another_is_told_the_execution_exists_and_returns_it(
    executing: MotoServer, machine: Machine
) -> None:
    engine = engine_for(executing, machine)
    files = [record("a.csv")]
    document = engine.execution_input(BATCH, "wf", ["a.csv"])
    # Another scheduler started the batch between this one's DescribeExecution and its start:
    # the same name and input, as StepFunctionsEngine writes them.
    raced = machine.sfn.start_execution(
        stateMachineArn=machine.arn,
        name=BATCH,
        input=json.dumps(document, sort_keys=True, separators=(",", ":")),
    )["executionArn"]

    assert engine.start(BATCH, "wf", files, OHLCV) == raced


def test_a_batch_id_reused_for_other_files_is_an_error_naming_the_batch(
    executing: MotoServer, machine: Machine
) -> None:
    engine = engine_for(executing, machine)
    engine.start(BATCH, "wf", [record("a.csv")], OHLCV)
    manifest_before = read_json(executing.client("s3"), f"{MANIFESTS}{BATCH}/manifest.json")

    with pytest.raises(ExecutionConflictError, match=f"batch {BATCH}: .* another input"):
        engine.start(BATCH, "wf", [record("other.csv")], OHLCV)
    # The running batch's manifest was not replaced by the other files'.
    assert read_json(executing.client("s3"), f"{MANIFESTS}{BATCH}/manifest.json") == manifest_before


def test_an_illegal_batch_id_becomes_a_legal_deterministic_execution_name(
    executing: MotoServer, machine: Machine
) -> None:
    odd = "wf: 2026/01/01 [retry] #" + "x" * 100
    name = execution_name(odd)
    assert name == execution_name(odd) != execution_name(odd + "y")
    assert len(name) <= 80 and set(name) <= set(
        "0123456789abcdefghijklmnopqrstuvwxyz_-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    )
    assert execution_name("wf-20260101T000000-0a1b2c3d") == "wf-20260101T000000-0a1b2c3d"

    arn = engine_for(executing, machine).start(odd, "wf", [record("a.csv", batch_id=odd)], OHLCV)

    assert machine.sfn.describe_execution(executionArn=arn)["name"] == name


def test_run_yields_the_outcomes_of_the_results_manifest(
    executing: MotoServer, machine: Machine
) -> None:
    engine = engine_for(executing, machine)
    files = [record("a.csv"), record("bad.csv", "e2"), record("lost.csv", "e3")]
    results = [
        FileOutcome.done("a.csv", "e1", "s3://lake/out/wf/a.csv.parquet", 3),
        FileOutcome.failed("bad.csv", "e2", "row 2: 'x' is not a double", retryable=False),
        FileOutcome.done("other.csv", "e9", "s3://lake/out/wf/other.csv.parquet", 1),
    ]
    write_json(
        executing.client("s3"), f"{MANIFESTS}{BATCH}/results.json", results_json(BATCH, results)
    )

    outcomes = outcomes_of(engine, files)

    assert outcomes == [
        results[0],
        results[1],
        FileOutcome.failed(
            "lost.csv", "e3", "the Glue job wrote no result for this file", retryable=True
        ),
    ]
    # What the finish Lambda receives gives it the same outcomes.
    (payload,) = machine.finish_payloads()
    assert payload["keys"] == ["a.csv", "bad.csv", "lost.csv"]
    assert execution_outcomes(executing.client("s3"), payload) == outcomes


def test_a_failed_execution_fails_every_file_retryably_with_its_error(
    executing: MotoServer,
) -> None:
    executing.client("s3").create_bucket(Bucket="lake")
    machine = Machine(executing, "no-such-job", create_job=False)
    files = [record("a.csv"), record("b.csv", "e2")]

    outcomes = outcomes_of(engine_for(executing, machine), files)

    assert [(o.key, o.etag, o.ok, o.retryable) for o in outcomes] == [
        ("a.csv", "e1", False, True),
        ("b.csv", "e2", False, True),
    ]
    for outcome in outcomes:
        assert outcome.error is not None
        assert outcome.error.startswith(f"Step Functions execution of batch {BATCH} FAILED: ")
        assert "BatchFailed" in outcome.error and "Job no-such-job not found" in outcome.error
    (payload,) = machine.finish_payloads()
    reason = (
        f"the Glue run of batch {BATCH} failed: "
        "Glue.EntityNotFoundException: Job no-such-job not found."
    )
    assert execution_outcomes(executing.client("s3"), payload) == [
        FileOutcome.failed("a.csv", "e1", reason, retryable=True),
        FileOutcome.failed("b.csv", "e2", reason, retryable=True),
    ]


def test_a_succeeded_execution_without_results_fails_every_file_retryably(
    executing: MotoServer, machine: Machine
) -> None:
    outcomes = outcomes_of(engine_for(executing, machine), [record("a.csv")])

    (outcome,) = outcomes
    assert not outcome.ok and outcome.retryable
    assert outcome.error == (
        f"batch {BATCH} succeeded but cannot read {MANIFESTS}{BATCH}/results.json: "
        "no such object (NoSuchKey)"
    )
    (payload,) = machine.finish_payloads()
    assert execution_outcomes(executing.client("s3"), payload) == outcomes


def test_a_finish_payload_without_its_batch_manifest_is_an_error(executing: MotoServer) -> None:
    executing.client("s3").create_bucket(Bucket="lake")
    payload = {"batch_id": BATCH, "manifest": f"{MANIFESTS}{BATCH}/manifest.json", "results": "x"}

    missing = r"cannot read s3://\S+/manifest\.json: no such object"
    with pytest.raises(BatchManifestError, match=missing):
        execution_outcomes(executing.client("s3"), payload)
    with pytest.raises(BatchManifestError, match="not a batch execution's payload"):
        execution_outcomes(executing.client("s3"), {"batch_id": BATCH})


def test_a_batch_too_large_for_an_execution_input_is_refused_and_run_fails_it(
    executing: MotoServer, machine: Machine
) -> None:
    engine = engine_for(executing, machine)
    keys = [f"{'k' * 900}/{i}.csv" for i in range(MAX_INPUT_BYTES // 900 + 1)]

    with pytest.raises(ExecutionInputTooLargeError, match="lower the workflow's max_batch_files"):
        engine.execution_input(BATCH, "wf", keys)
    outcomes = outcomes_of(engine, [record(k) for k in keys])

    assert len(outcomes) == len(keys) and not any(o.ok for o in outcomes)
    assert machine.sfn.list_executions(stateMachineArn=machine.arn)["executions"] == []


def test_an_unknown_state_machine_fails_the_batch_with_a_one_line_reason(
    executing: MotoServer,
) -> None:
    executing.client("s3").create_bucket(Bucket="lake")
    engine = StepFunctionsEngine(
        "arn:aws:states:us-east-1:123456789012:stateMachine:missing",
        MANIFESTS,
        landing_url="s3://landing/in/",
        output_url="s3://lake/out/",
        poll_interval=0.05,
    )

    (outcome,) = outcomes_of(engine, [record("a.csv")])

    assert not outcome.ok and outcome.retryable
    assert (
        outcome.error
        == f"batch {BATCH}: cannot start: no such state machine (StateMachineDoesNotExist)"
    )


def test_a_results_manifest_in_another_format_is_refused() -> None:
    with pytest.raises(BatchManifestError, match="not a results manifest: format 2"):
        parse_results({"format": 2, "files": []}, [record("a.csv")])
