"""The failure paths of the five Lambda handlers (ingestflow.entrypoints.aws_lambda), called
as the Lambda service calls them, on the moto server over HTTP (Lambda cannot run here).

The events are AWS's own recorded payloads (tests/fixtures/aws-events), edited as
JSON where they must name this test's bucket and keys; the execution inputs are those the
`schedule` handler really started on moto's Step Functions; the stream records are read from
moto's DynamoDB stream. No Glue job (Spark) runs: `finish` is given the payloads the state
machine sends when the run failed, timed out, was aborted or left no results.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from aws_pipeline import received_messages, stream_event
from datadog_capture import DatadogCapture  # type: ignore[import-not-found,unused-ignore]
from moto_server import MotoServer  # type: ignore[import-not-found,unused-ignore]

from ingestflow.adapters.engines.batch_manifest import results_json, write_json
from ingestflow.adapters.engines.stepfunctions import execution_name
from ingestflow.adapters.state.dynamodb import DynamoDBStatusStore
from ingestflow.bootstrap_lambda import reset_runtime
from ingestflow.domain.errors import ConfigError
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.status import Status
from ingestflow.entrypoints.aws_lambda import alerts, finish, forward_metrics, register, schedule
from ingestflow.entrypoints.aws_lambda.finish import NotABatchPayload

pytestmark = [pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "tests" / "fixtures" / "aws-events"
DEFINITION = REPO / "deploy" / "stepfunctions" / "batch.asl.json"
ROLE = "arn:aws:iam::123456789012:role/ingestflow-batch"
MISSING_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine"
LANDING, PREFIX = "raw-landing", "incoming/"
OUTPUT, OUTPUT_PREFIX = "curated-out", "parquet/"
LEDGER_URL = "dynamodb://pipe?region=us-east-1"
DD_KEY, DD_KEY_ENV = "dd-test-key", "TEST_DATADOG_API_KEY"
CSV = b"Date,Open,High,Low,Close,Volume\n2024-01-01,1.0,2.0,0.5,1.5,100\n"
ZERO = {Status.TODO: 0, Status.PROCESSING: 0, Status.DONE: 0, Status.FAILED: 0}


def fixture_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def counts(**found: int) -> dict[Status, int]:
    return {**ZERO, **{Status[k.upper()]: n for k, n in found.items()}}


class LambdaContext:
    """The part of Lambda's context the handlers read: the invocation's time left."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


@dataclass
class Env:
    """One function configuration on the moto server, with helpers to drive the handlers."""

    server: MotoServer
    config: Path
    machine: str
    topic: str
    alerts_queue: str
    ledger_url: str = LEDGER_URL
    _store: DynamoDBStatusStore | None = field(default=None, repr=False)

    @property
    def store(self) -> DynamoDBStatusStore:
        """The ledger, opened on first use (opening creates its tables)."""
        if self._store is None:
            self._store = DynamoDBStatusStore(self.ledger_url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def record(self, key: str) -> FileRecord:
        found = self.store.get(LANDING, key)
        assert found is not None, f"{key} is not in the ledger"
        return found

    def put(self, key: str, data: bytes = CSV) -> None:
        self.server.client("s3").put_object(Bucket=LANDING, Key=f"{PREFIX}{key}", Body=data)

    # -- register: SQS records made from the fixtures ---------------------------------------

    def sqs_record(self, body: str, message_id: str | None = None) -> dict[str, Any]:
        """The record of s3SqsEvent.json with another body (and message id)."""
        record: dict[str, Any] = copy.deepcopy(fixture_event("s3SqsEvent.json")["Records"][0])
        record["messageId"] = message_id or str(uuid.uuid4())
        record["body"] = body
        return record

    def created_body(self, *keys: str, encoded: str | None = None) -> str:
        """s3SqsEvent.json's S3 notification, one record per landed key (bucket, key as S3
        URL-encodes it, size and ETag of the object in moto S3); `encoded`: the key exactly
        as the notification should carry it (one key only)."""
        body = json.loads(fixture_event("s3SqsEvent.json")["Records"][0]["body"])
        template, records = body["Records"][0], []
        for key in keys:
            head = self.server.client("s3").head_object(Bucket=LANDING, Key=f"{PREFIX}{key}")
            record = copy.deepcopy(template)
            record["s3"]["bucket"].update(name=LANDING, arn=f"arn:aws:s3:::{LANDING}")
            record["s3"]["object"].update(
                key=encoded or quote_plus(f"{PREFIX}{key}", safe="/"),
                size=head["ContentLength"],
                eTag=head["ETag"].strip('"'),
            )
            records.append(record)
        body["Records"] = records
        return json.dumps(body)

    def land(self, *keys: str) -> dict[str, Any]:
        """Put the objects, then `register` their notification (one message)."""
        for key in keys:
            self.put(key)
        return register.handler({"Records": [self.sqs_record(self.created_body(*keys))]}, None)

    # -- schedule and finish -------------------------------------------------------------

    def schedule(self, context: Any = None) -> dict[str, Any]:
        return schedule.handler(fixture_event("scheduler_event.json"), context)

    def execution_arn(self, batch_id: str) -> str:
        arn = self.machine.replace(":stateMachine:", ":execution:")
        return f"{arn}:{execution_name(batch_id)}"

    def started_input(self, batch_id: str) -> str:
        """The input of the batch's execution as Step Functions holds it (a JSON string)."""
        sfn = self.server.client("stepfunctions")
        described = sfn.describe_execution(executionArn=self.execution_arn(batch_id))
        assert described["status"] == "RUNNING", described
        found: str = described["input"]
        return found

    def start(self, want: int) -> list[dict[str, Any]]:
        """Run `schedule`; the execution inputs of the `want` batches it started."""
        answer = self.schedule()
        assert answer["failed"] == [] and len(answer["started"]) == want, answer
        return [json.loads(self.started_input(s["batch_id"])) for s in answer["started"]]

    def status_change(
        self, payload: dict[str, Any], status: str, error: str | None, cause: str | None
    ) -> dict[str, Any]:
        """EventBridge's "Step Functions Execution Status Change" for the batch's execution."""
        arn = self.execution_arn(payload["batch_id"])
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": "123456789012",
            "time": "2024-05-07T17:58:34Z",
            "region": "us-east-1",
            "resources": [arn],
            "detail": {
                "executionArn": arn,
                "stateMachineArn": self.machine,
                "name": execution_name(payload["batch_id"]),
                "status": status,
                "startDate": 1715097514000,
                "stopDate": 1715104714000,
                "input": self.started_input(payload["batch_id"]),
                "inputDetails": {"included": True},
                "output": None,
                "outputDetails": None,
                "error": error,
                "cause": cause,
            },
        }

    # -- the stream and the alerts' subscription -----------------------------------------

    def stream_event(self) -> dict[str, Any]:
        return stream_event(self.server, self.ledger_url.removeprefix("dynamodb://").split("?")[0])

    def alert_messages(self, timeout: float) -> list[dict[str, Any]]:
        return received_messages(self.server, self.alerts_queue, timeout)


Setup = Callable[..., Env]


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    """Every test is a new execution environment (the runtime caches its settings)."""
    reset_runtime()
    try:
        yield
    finally:
        reset_runtime()


@pytest.fixture
def setup(aws_env: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    """`setup(machine=None, datadog_url=None, **workflow settings)`: the buckets, the batch
    state machine (the production definition), an SNS topic with an SQS subscription, and the
    config file the functions load (INGESTFLOW_CONFIG)."""
    made: list[Env] = []

    def build(machine: str | None = None, datadog_url: str | None = None, **workflow: Any) -> Env:
        s3, sqs, sns = aws_env.client("s3"), aws_env.client("sqs"), aws_env.client("sns")
        s3.create_bucket(Bucket=LANDING)
        s3.create_bucket(Bucket=OUTPUT)
        if machine is None:
            definition = DEFINITION.read_text(encoding="utf-8")
            definition = definition.replace("${glue_job_name}", "ingestflow-batch").replace(
                "${finish_function_arn}", "arn:aws:lambda:us-east-1:123456789012:function:finish"
            )
            machine = aws_env.client("stepfunctions").create_state_machine(
                name="ingestflow-batch", definition=definition, roleArn=ROLE
            )["stateMachineArn"]
        topic = sns.create_topic(Name="ingestflow-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        settings = {"batch_size": 2, "max_wait": "1h", "max_attempts": 2, **workflow}
        lines = [
            "[landing]",
            f'url = "s3://{LANDING}/{PREFIX}"',
            'settle = "0s"',
            "[output]",
            f'url = "s3://{OUTPUT}/{OUTPUT_PREFIX}"',
            "[ledger]",
            f'url = "{LEDGER_URL}"',
            "[engine]",
            'name = "stepfunctions"',
            f'state_machine_arn = "{machine}"',
            *(
                ["[metrics.datadog]", f'url = "{datadog_url}"', f'api_key_env = "{DD_KEY_ENV}"']
                if datadog_url
                else []
            ),
            "[[alerts.notifiers]]",
            'name = "ops"',
            'type = "sns"',
            f'topic_arn = "{topic}"',
            "[[workflows]]",
            'name = "ohlcv"',
            'prefix = "ohlcv/"',
            'transform = "ohlcv"',
            *(f"{k} = {json.dumps(v)}" for k, v in settings.items()),
        ]
        config = tmp_path / "function" / "ingestflow.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        monkeypatch.setenv("INGESTFLOW_CONFIG", str(config))
        monkeypatch.setenv(DD_KEY_ENV, DD_KEY)
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ingestflow-test")
        env = Env(aws_env, config, machine, topic, queue)
        made.append(env)
        return env

    try:
        yield build
    finally:
        for env in made:
            env.close()


@pytest.fixture
def datadog() -> Iterator[DatadogCapture]:
    with DatadogCapture(api_key=DD_KEY) as capture:
        yield capture


# -- register ---------------------------------------------------------------------------------


def test_sqs_messages_that_are_not_s3_notifications_all_come_back_in_batch_item_failures(
    setup: Setup,
) -> None:
    env = setup()
    event = fixture_event("sqsEvent.json")  # "Test message." and {"message": "foo1"}

    answer = register.handler(event, None)

    assert answer == {
        "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]
    }
    assert env.store.counts() == ZERO


def test_a_poison_sqs_record_comes_back_alone_in_batch_item_failures(setup: Setup) -> None:
    env = setup()
    env.put("ohlcv/2024/a.csv")
    poison = fixture_event("sqsEvent.json")["Records"][0]
    good = env.sqs_record(env.created_body("ohlcv/2024/a.csv"), "good-1")

    answer = register.handler({"Records": [good, poison]}, None)

    assert answer == {"batchItemFailures": [{"itemIdentifier": poison["messageId"]}]}
    assert env.store.counts() == counts(todo=1)


def test_an_s3_notification_of_a_landed_object_registers_it_as_todo(setup: Setup) -> None:
    env = setup()
    env.put("ohlcv/2024/a.csv")
    event = fixture_event("s3SqsEvent.json")
    body = json.loads(event["Records"][0]["body"])
    s3 = body["Records"][0]["s3"]
    s3["bucket"].update(name=LANDING, arn=f"arn:aws:s3:::{LANDING}")
    s3["object"]["key"] = f"{PREFIX}ohlcv/2024/a.csv"
    event["Records"][0]["body"] = json.dumps(body)

    answer = register.handler(event, None)

    assert answer == {"batchItemFailures": []}
    record = env.record("ohlcv/2024/a.csv")
    assert (record.status, record.workflow, record.size) == (Status.TODO, "ohlcv", len(CSV))
    head = env.server.client("s3").head_object(Bucket=LANDING, Key=f"{PREFIX}ohlcv/2024/a.csv")
    assert record.etag.strip('"') == head["ETag"].strip('"')
    assert env.store.counts() == counts(todo=1)


def test_a_test_event_and_a_removal_are_acknowledged_without_registering_anything(
    setup: Setup,
) -> None:
    env = setup()
    env.put("ohlcv/2024/a.csv")  # the removal names an object that is there: still no file
    test_ping = {  # the documented shape of S3's test event (README of the fixtures)
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2024-05-07T15:58:34.000Z",
        "Bucket": LANDING,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
    removal = fixture_event("s3EventDeleteObject.json")
    removal["Records"][0]["s3"]["bucket"].update(name=LANDING, arn=f"arn:aws:s3:::{LANDING}")
    removal["Records"][0]["s3"]["object"]["key"] = f"{PREFIX}ohlcv/2024/a.csv"
    event = {
        "Records": [
            env.sqs_record(json.dumps(test_ping), "ping-1"),
            env.sqs_record(json.dumps(removal), "removal-1"),
        ]
    }

    answer = register.handler(event, None)

    assert answer == {"batchItemFailures": []}
    assert env.store.get(LANDING, "ohlcv/2024/a.csv") is None
    assert env.store.counts() == ZERO


def test_a_url_encoded_key_is_registered_decoded(setup: Setup) -> None:
    env = setup()
    env.put("ohlcv/2024/b b.csv")
    encoded = "incoming%2Fohlcv%2F2024%2Fb+b.csv"  # '+' for the space, %2F for '/'
    body = env.created_body("ohlcv/2024/b b.csv", encoded=encoded)

    answer = register.handler({"Records": [env.sqs_record(body)]}, None)

    assert answer == {"batchItemFailures": []}
    assert env.record("ohlcv/2024/b b.csv").status is Status.TODO
    assert env.store.counts() == counts(todo=1)


def test_duplicate_notifications_of_one_object_leave_one_ledger_record(setup: Setup) -> None:
    env = setup()
    env.put("ohlcv/2024/a.csv")
    body = env.created_body("ohlcv/2024/a.csv")

    first = register.handler({"Records": [env.sqs_record(body), env.sqs_record(body)]}, None)
    reset_runtime()  # the third copy reaches another execution environment (no memory of it)
    again = register.handler({"Records": [env.sqs_record(body)]}, None)

    assert first == again == {"batchItemFailures": []}
    history = env.store.history(LANDING, "ohlcv/2024/a.csv")
    assert [(t.old_status, t.new_status) for t in history] == [(None, Status.TODO)]
    assert env.store.counts() == counts(todo=1)


# -- schedule ---------------------------------------------------------------------------------


def test_a_batch_whose_state_machine_does_not_exist_is_released_at_every_pass(
    setup: Setup,
) -> None:
    env = setup(machine=MISSING_MACHINE)
    keys = ("ohlcv/2024/a.csv", "ohlcv/2024/b.csv")
    assert env.land(*keys) == {"batchItemFailures": []}

    seen: list[str] = []
    for _ in range(2):  # the second pass finds the same files and the same problem
        answer = env.schedule()
        assert answer["reaped"] == 0 and answer["started"] == [], answer
        (failed,) = answer["failed"]
        assert failed["batch_id"] not in seen
        seen.append(failed["batch_id"])
        assert failed["batch_id"] in failed["error"], failed
        assert "StateMachineDoesNotExist" in failed["error"], failed
        assert env.store.counts() == counts(todo=2)
        for key in keys:
            record = env.record(key)
            assert (record.status, record.attempts, record.batch_id) == (Status.TODO, 0, None)
            last = env.store.history(LANDING, key)[-1]
            assert (last.old_status, last.new_status) == (Status.PROCESSING, Status.TODO)
            assert last.reason.startswith("not started: "), last.reason
    # A refused start leaves no batch manifest behind (each pass has a new batch id).
    batches = f"{OUTPUT_PREFIX}_ingestflow/batches/"
    listed = env.server.client("s3").list_objects_v2(Bucket=OUTPUT, Prefix=batches)
    assert listed.get("Contents", []) == []


# -- finish -----------------------------------------------------------------------------------

GLUE_ERROR = {
    "Error": "Glue.JobRunFailed",
    "Cause": '{"JobName": "ingestflow-batch", "ErrorMessage": "Executor lost: OOM"}',
}


def test_a_caught_glue_error_queues_the_files_again_with_the_error_as_reason(
    setup: Setup,
) -> None:
    env = setup(max_attempts=2)
    keys = ("ohlcv/2024/a.csv", "ohlcv/2024/b.csv")
    env.land(*keys)
    (payload,) = env.start(1)
    assert sorted(payload["keys"]) == sorted(keys)
    assert env.store.counts() == counts(processing=2)

    answer = finish.handler({**payload, "error": GLUE_ERROR}, None)

    assert answer == {
        "batch_id": payload["batch_id"],
        "workflow": "ohlcv",
        "released": 0,
        "done": 0,
        "failed": 0,
        "retried": 2,
        "requeued": 0,
        "ignored": 0,
    }
    assert env.store.counts() == counts(todo=2)
    for key in keys:
        record = env.record(key)
        assert (record.status, record.attempts, record.batch_id) == (Status.TODO, 1, None)
        assert record.error is not None
        assert record.error.startswith(f"the Glue run of batch {payload['batch_id']} failed: ")
        assert "Glue.JobRunFailed" in record.error and "Executor lost: OOM" in record.error


def test_a_caught_glue_error_on_the_last_attempt_fails_the_files(setup: Setup) -> None:
    env = setup(max_attempts=1)
    keys = ("ohlcv/2024/a.csv", "ohlcv/2024/b.csv")
    env.land(*keys)
    (payload,) = env.start(1)

    answer = finish.handler({**payload, "error": GLUE_ERROR}, None)

    assert (answer["failed"], answer["retried"], answer["released"]) == (2, 0, 0), answer
    assert env.store.counts() == counts(failed=2)
    for key in keys:
        record = env.record(key)
        assert record.status is Status.FAILED and record.end_time is not None
        assert record.error is not None and "Executor lost: OOM" in record.error


@pytest.mark.parametrize(
    ("status", "error", "cause", "reason"),
    [
        ("TIMED_OUT", "States.Timeout", None, "execution TIMED_OUT: States.Timeout"),
        ("FAILED", "Lambda.Unknown", "finish crashed", "execution FAILED: finish crashed"),
        ("ABORTED", None, None, "execution ABORTED: no cause given"),
    ],
)
def test_an_execution_that_ended_badly_leaves_no_file_processing(
    setup: Setup, status: str, error: str | None, cause: str | None, reason: str
) -> None:
    env = setup(max_attempts=2)
    keys = ("ohlcv/2024/a.csv", "ohlcv/2024/b.csv")
    env.land(*keys)
    (payload,) = env.start(1)
    event = env.status_change(payload, status, error, cause)

    answer = finish.handler(event, None)

    assert (answer["batch_id"], answer["retried"], answer["released"]) == (
        payload["batch_id"],
        2,
        0,
    ), answer
    assert env.store.counts() == counts(todo=2)
    for key in keys:
        record = env.record(key)
        assert record.status is Status.TODO and record.error is not None
        assert record.error.endswith(reason), record.error
    again = finish.handler(event, None)  # EventBridge delivers at least once
    assert (again["retried"], again["released"], again["ignored"]) == (0, 0, 2), again
    assert env.store.counts() == counts(todo=2)


def test_the_backstop_after_a_finish_that_worked_changes_nothing(setup: Setup) -> None:
    env = setup(max_attempts=1)
    env.land("ohlcv/2024/a.csv", "ohlcv/2024/b.csv")
    (payload,) = env.start(1)
    finish.handler({**payload, "error": GLUE_ERROR}, None)  # the Finish task worked...
    before = [env.record(k) for k in payload["keys"]]

    # ... and the execution then failed (BatchFailed): EventBridge calls finish again.
    answer = finish.handler(env.status_change(payload, "FAILED", "BatchFailed", "x"), None)

    assert (answer["failed"], answer["ignored"], answer["released"]) == (0, 2, 0), answer
    assert [env.record(k) for k in payload["keys"]] == before


def test_a_succeeded_run_without_a_results_manifest_fails_its_files_retryably(
    setup: Setup,
) -> None:
    env = setup(max_attempts=2)
    keys = ("ohlcv/2024/a.csv", "ohlcv/2024/b.csv")
    env.land(*keys)
    (payload,) = env.start(1)

    answer = finish.handler(payload, None)  # Glue "succeeded", wrote no results.json

    assert (answer["retried"], answer["done"], answer["released"]) == (2, 0, 0), answer
    assert env.store.counts() == counts(todo=2)
    for key in keys:
        error = env.record(key).error
        assert error is not None
        assert error.startswith(f"batch {payload['batch_id']} succeeded but cannot read "), error
        assert payload["results"] in error


def test_a_results_manifest_that_misses_a_file_retries_only_that_file(setup: Setup) -> None:
    env = setup(max_attempts=2)
    keys = ("ohlcv/2024/a.csv", "ohlcv/2024/b.csv")
    env.land(*keys)
    (payload,) = env.start(1)
    done = env.record(keys[0])
    output = f"s3://{OUTPUT}/{OUTPUT_PREFIX}ohlcv/{keys[0]}.parquet"
    outcome = FileOutcome(done.key, done.etag, True, None, False, output, 1)
    write_json(
        env.server.client("s3"), payload["results"], results_json(done.batch_id or "", [outcome])
    )

    answer = finish.handler(payload, None)

    assert (answer["done"], answer["retried"], answer["released"]) == (1, 1, 0), answer
    assert env.store.counts() == counts(todo=1, done=1)
    assert env.record(keys[0]).output == output
    assert env.record(keys[1]).error == "the Glue job wrote no result for this file"


def test_a_batch_whose_manifest_was_deleted_releases_its_files(setup: Setup) -> None:
    env = setup(max_attempts=2)
    keys = ("ohlcv/2024/a.csv", "ohlcv/2024/b.csv")
    env.land(*keys)
    (payload,) = env.start(1)
    manifest_key = payload["manifest"].removeprefix(f"s3://{OUTPUT}/")
    env.server.client("s3").delete_object(Bucket=OUTPUT, Key=manifest_key)

    answer = finish.handler({**payload, "error": GLUE_ERROR}, None)

    assert (answer["released"], answer["retried"], answer["failed"]) == (2, 0, 0), answer
    assert env.store.counts() == counts(todo=2)
    for key in keys:
        record = env.record(key)
        assert (record.status, record.attempts, record.batch_id) == (Status.TODO, 0, None)
        assert env.store.history(LANDING, key)[-1].reason == "no outcome reported for the file"


def test_events_that_are_not_a_batch_payload_raise_not_a_batch_payload(setup: Setup) -> None:
    env = setup()
    env.land("ohlcv/2024/a.csv", "ohlcv/2024/b.csv")
    (payload,) = env.start(1)
    no_id = {k: v for k, v in payload.items() if k != "batch_id"}
    not_json = env.status_change(payload, "FAILED", "States.TaskFailed", "x")
    not_json["detail"]["input"] = "{not json"

    with pytest.raises(NotABatchPayload, match="the payload has no batch_id"):
        finish.handler(no_id, None)
    with pytest.raises(NotABatchPayload, match="the payload has no batch_id"):
        finish.handler(fixture_event("cloudwatch_event.json"), None)
    with pytest.raises(NotABatchPayload, match="carries no JSON input"):
        finish.handler(not_json, None)
    assert env.store.counts() == counts(processing=2)  # nothing was changed


# -- forward_metrics --------------------------------------------------------------------------


def test_metrics_are_retried_while_datadog_is_down_and_counted_once_when_it_is_back(
    setup: Setup, datadog: DatadogCapture
) -> None:
    env = setup(datadog_url=datadog.url, max_attempts=1)
    env.land("ohlcv/2024/a.csv", "ohlcv/2024/b.csv")
    (payload,) = env.start(1)
    finish.handler({**payload, "error": GLUE_ERROR}, None)
    assert env.store.counts() == counts(failed=2)
    stream = env.stream_event()
    assert len(stream["Records"]) >= 6  # 2 registered, 2 claimed, 2 failed
    every = [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in stream["Records"]]

    datadog.down()
    down = forward_metrics.handler(stream, LambdaContext(13.0))  # flushes for 3 s at most
    assert sorted(down["batchItemFailures"], key=str) == sorted(every, key=str)
    assert datadog.count_total("ingestion.files.failed", workflow="ohlcv") == 0

    datadog.up()
    for _ in range(2):  # the stream's retry, then a duplicate delivery
        assert forward_metrics.handler(stream, LambdaContext(13.0)) == {"batchItemFailures": []}
        assert datadog.count_total("ingestion.files.failed", workflow="ohlcv") == 2
        assert datadog.count_total("ingestion.files.processed", workflow="ohlcv") == 0


@pytest.mark.parametrize("name", ["dynamoStreamEvent.json", "dynamo_event.json"])
def test_stream_records_of_other_tables_are_skipped_and_nothing_is_sent(
    setup: Setup, datadog: DatadogCapture, name: str
) -> None:
    setup(datadog_url=datadog.url)
    event = fixture_event(name)

    answer = forward_metrics.handler(event, LambdaContext(13.0))

    assert answer == {"batchItemFailures": []}
    assert datadog.requests == []


# -- alerts -----------------------------------------------------------------------------------


def test_alerts_with_nothing_wrong_fire_and_send_nothing(setup: Setup) -> None:
    env = setup()
    env.land("ohlcv/2024/a.csv")  # a fresh TODO file is no problem

    answer = alerts.handler(fixture_event("cloudwatch_event.json"), None)

    assert answer == {"firing": 0, "sent": {}, "failed": {}}
    assert env.alert_messages(timeout=1.0) == []


def test_failed_files_reach_the_sns_subscription_with_their_keys_verbatim(setup: Setup) -> None:
    env = setup(max_attempts=1)
    keys = ("ohlcv/2024/plain.csv", "ohlcv/[red]x<b>.csv")
    assert env.land(*keys) == {"batchItemFailures": []}
    (payload,) = env.start(1)
    finish.handler({**payload, "error": GLUE_ERROR}, None)
    assert env.store.counts() == counts(failed=2)

    answer = alerts.handler(fixture_event("cloudwatch_event.json"), None)

    assert answer == {"firing": 1, "sent": {"ops": 1}, "failed": {}}
    (message,) = env.alert_messages(timeout=10.0)
    assert message["TopicArn"] == env.topic
    assert "failed ohlcv" in message["Subject"], message["Subject"]
    for key in keys:
        assert key in message["Message"], message["Message"]


# -- configuration ----------------------------------------------------------------------------


def test_without_ingestflow_config_register_raises_a_config_error(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup()
    monkeypatch.delenv("INGESTFLOW_CONFIG")

    with pytest.raises(ConfigError, match="INGESTFLOW_CONFIG must name the config file") as e:
        register.handler(fixture_event("sqsEvent.json"), None)
    assert e.value.key == "config"

    reset_runtime()
    monkeypatch.setenv("INGESTFLOW_CONFIG", "/nonexistent/ingestflow.toml")
    with pytest.raises(ConfigError, match=r"no config file at /nonexistent/ingestflow\.toml"):
        register.handler(fixture_event("sqsEvent.json"), None)


def test_an_ingestflow_ledger_url_override_moves_the_ledger_to_other_tables(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = setup()
    monkeypatch.setenv("INGESTFLOW_LEDGER__URL", "dynamodb://other?region=us-east-1")

    assert env.land("ohlcv/2024/a.csv") == {"batchItemFailures": []}

    tables = env.server.client("dynamodb").list_tables()["TableNames"]
    assert tables and all(t.startswith("other-") for t in tables), tables
    other = Env(env.server, env.config, env.machine, env.topic, env.alerts_queue,
                ledger_url="dynamodb://other?region=us-east-1")  # fmt: skip
    try:
        assert other.record("ohlcv/2024/a.csv").status is Status.TODO
    finally:
        other.close()
