"""The batch state machine (deploy/stepfunctions/batch.asl.json), run on the moto server.

moto cannot wait for a Glue run (`glue:startJobRun.sync`) nor invoke a Lambda function (no
Docker), so `runnable_variant` swaps exactly those two resources: RunGlue starts the job without
waiting (moto's Glue runs succeed at once; a job that does not exist fails the task), and Finish
sends its payload to an SQS queue, where the test reads exactly what `finish` would receive.
Everything else (parameters, retries, the catcher, the choice, the end states) is the production
definition, placeholders substituted as Terraform does.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto_server import MotoServer

from ingestflow.adapters.engines.stepfunctions import StepFunctionsEngine

DEFINITION = Path(__file__).resolve().parents[2] / "deploy" / "stepfunctions" / "batch.asl.json"
ROLE = "arn:aws:iam::123456789012:role/ingestflow-batch"
GLUE_ROLE = "arn:aws:iam::123456789012:role/ingestflow-glue"
PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
}


def production() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEFINITION.read_text(encoding="utf-8"))
    return loaded


def substitute(definition: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The definition with its `${name}` placeholders replaced (what Terraform's templatefile
    does); every placeholder must have a value."""
    text = json.dumps(definition)
    missing = set(PLACEHOLDER.findall(text)) - set(values)
    assert not missing, f"no value for {missing}"
    replaced: dict[str, Any] = json.loads(PLACEHOLDER.sub(lambda m: values[m.group(1)], text))
    return replaced


def runnable_variant(glue_job_name: str, finish_queue_url: str) -> dict[str, Any]:
    """The production definition with the two tasks moto cannot run replaced (see the module
    docstring); nothing else changes."""
    variant = substitute(
        production(),
        {"glue_job_name": glue_job_name, "finish_function_arn": "unused-in-the-variant"},
    )
    glue = variant["States"]["RunGlue"]
    assert glue["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    glue["Resource"] = "arn:aws:states:::glue:startJobRun"
    finish = variant["States"]["Finish"]
    assert finish["Resource"] == "arn:aws:states:::lambda:invoke"
    finish["Resource"] = "arn:aws:states:::sqs:sendMessage"
    finish["Parameters"] = {
        "QueueUrl": finish_queue_url,
        "MessageBody.$": finish["Parameters"]["Payload.$"],
    }
    return variant


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_leaves(item, f"{path}/{key}"))
        return out
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(_leaves(item, f"{path}/{index}"))
        return out
    return {path: value}


def _execute_state_machines(server: MotoServer, on: bool) -> None:
    body = json.dumps({"stepfunctions": {"execute_state_machine": on}}).encode()
    request = urllib.request.Request(
        f"{server.endpoint_url}/moto-api/config",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


@pytest.fixture
def executing(aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """The moto server with state machine execution on (moto's executor calls the services
    back at localhost:MOTO_PORT), and off again afterwards (moto's config outlives resets)."""
    monkeypatch.setenv("MOTO_PORT", str(aws_env.port))
    _execute_state_machines(aws_env, True)
    try:
        yield aws_env
    finally:
        _execute_state_machines(aws_env, False)


class Machine:
    """A variant of the batch state machine on the moto server, its Finish queue and Glue job."""

    def __init__(self, server: MotoServer, glue_job: str, create_job: bool) -> None:
        self.sfn = server.client("stepfunctions")
        self.sqs = server.client("sqs")
        self.glue = server.client("glue")
        self.glue_job = glue_job
        if create_job:
            self.glue.create_job(
                Name=glue_job,
                Role=GLUE_ROLE,
                Command={"Name": "glueetl", "ScriptLocation": "s3://code/batch_job.py"},
            )
        self.queue = self.sqs.create_queue(QueueName=f"finish-{glue_job}")["QueueUrl"]
        self.definition = runnable_variant(glue_job, self.queue)
        self.arn = self.sfn.create_state_machine(
            name=f"batch-{glue_job}", definition=json.dumps(self.definition), roleArn=ROLE
        )["stateMachineArn"]
        self.engine = StepFunctionsEngine(
            self.arn,
            "s3://lake/_ingestflow/batches/",
            landing_url="s3://landing/in/",
            output_url="s3://lake/out/",
            client=self.sfn,
            s3_client=server.client("s3"),
        )

    def execute(self, document: dict[str, Any]) -> dict[str, Any]:
        arn = self.sfn.start_execution(
            stateMachineArn=self.arn, name=document["batch_id"], input=json.dumps(document)
        )["executionArn"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.1)
        raise AssertionError("the execution did not end within a minute")

    def finish_payloads(self) -> list[Any]:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


def test_a_succeeding_glue_run_reaches_finish_with_the_batch_input_and_succeeds(
    executing: MotoServer,
) -> None:
    machine = Machine(executing, "batch-job", create_job=True)
    document = machine.engine.execution_input(
        "wf-20260101T000000-0a1b2c3d", "wf", ["a.csv", "b/c.csv"]
    )

    described = machine.execute(document)

    assert described["status"] == "SUCCEEDED"
    assert machine.finish_payloads() == [document]
    (run,) = machine.glue.get_job_runs(JobName="batch-job")["JobRuns"]
    assert run["Arguments"] == {
        "--manifest": document["manifest"],
        "--results": document["results"],
    }


def test_a_failing_glue_run_goes_through_the_catcher_to_finish_with_the_error_and_fails(
    executing: MotoServer,
) -> None:
    machine = Machine(executing, "no-such-job", create_job=False)
    document = machine.engine.execution_input("wf-20260101T000000-deadbeef", "wf", ["a.csv"])

    described = machine.execute(document)

    assert described["status"] == "FAILED"
    assert described["error"] == "BatchFailed"
    (payload,) = machine.finish_payloads()
    error = payload.pop("error")
    assert payload == document
    assert error["Error"] == "Glue.EntityNotFoundException"
    assert "no-such-job" in error["Cause"]
    assert described["cause"] == error["Cause"]


def test_the_variant_differs_from_production_only_in_the_two_replaced_tasks() -> None:
    before = hashlib.sha256(DEFINITION.read_bytes()).hexdigest()
    variant = runnable_variant("job", "http://queue")
    assert hashlib.sha256(DEFINITION.read_bytes()).hexdigest() == before

    prod = _leaves(substitute(production(), {"glue_job_name": "job", "finish_function_arn": "fn"}))
    test = _leaves(variant)
    changed = {
        p for p in prod.keys() | test.keys() if prod.get(p, KeyError) != test.get(p, KeyError)
    }
    assert changed == {
        "/States/RunGlue/Resource",
        "/States/Finish/Resource",
        "/States/Finish/Parameters/FunctionName",
        "/States/Finish/Parameters/Payload.$",
        "/States/Finish/Parameters/QueueUrl",
        "/States/Finish/Parameters/MessageBody.$",
    }


def test_the_production_definition_retries_glue_and_lambda_errors_and_catches_everything() -> None:
    definition = production()
    states = definition["States"]
    assert set(PLACEHOLDER.findall(DEFINITION.read_text())) == {
        "glue_job_name",
        "finish_function_arn",
    }

    glue = states["RunGlue"]
    assert definition["StartAt"] == "RunGlue"
    assert glue["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    assert glue["Parameters"]["JobName"] == "${glue_job_name}"
    assert glue["Parameters"]["Arguments"] == {
        "--manifest.$": "$.manifest",
        "--results.$": "$.results",
    }
    retried = {e: r for r in glue["Retry"] for e in r["ErrorEquals"]}
    assert {
        "Glue.ConcurrentRunsExceededException",
        "Glue.ThrottlingException",
        "Glue.InternalServiceException",
    } <= set(retried)
    assert not {"States.ALL", "States.TaskFailed"} & set(retried)  # a failed job fails again
    for retrier in glue["Retry"] + states["Finish"]["Retry"]:
        assert 1 <= retrier["MaxAttempts"] <= 10 and retrier["BackoffRate"] > 1
    assert glue["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Finish"}
    ]
    assert glue["Next"] == "Finish" and glue["ResultPath"] is None and glue["TimeoutSeconds"] > 0

    finish = states["Finish"]
    assert finish["Resource"] == "arn:aws:states:::lambda:invoke"
    assert finish["Parameters"] == {"FunctionName": "${finish_function_arn}", "Payload.$": "$"}
    assert finish["ResultPath"] is None  # Outcome still sees $.error
    assert {e for r in finish["Retry"] for e in r["ErrorEquals"]} == LAMBDA_ERRORS
    assert "Catch" not in finish

    assert finish["Next"] == "Outcome"
    (choice,) = states["Outcome"]["Choices"]
    assert choice == {"Variable": "$.error", "IsPresent": True, "Next": "BatchFailed"}
    assert states["Outcome"]["Default"] == "BatchSucceeded"
    assert states["BatchFailed"]["Type"] == "Fail"
    assert states["BatchSucceeded"]["Type"] == "Succeed"

    targets = {s.get("Next") for s in states.values()} | {c["Next"] for c in glue["Catch"]}
    targets |= {choice["Next"], states["Outcome"]["Default"]}
    assert targets - {None} <= set(states)
    assert set(states) - targets == {"RunGlue"}  # every other state is reachable
