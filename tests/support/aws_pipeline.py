"""The AWS pipeline of issue 12, set up on the moto server for the handler tests: the landing
bucket notifying an SQS queue, the output bucket, the DynamoDB ledger, the batch state
machine (the production definition, placeholders substituted), an SNS topic with an SQS
subscription, and the config file the Lambda functions load (INGESTFLOW_CONFIG).

Lambda cannot run on moto (no Docker), so the tests call the handlers as the Lambda service
would, with the events the moto server itself produced: the S3 notifications received from
SQS, the DynamoDB stream records read with GetRecords, the execution input of the started
execution. moto does not run `glue:startJobRun.sync` either, so the tests run the Glue job
script on local PySpark with that execution's arguments, then call `finish` with the payload
the state machine's Finish task would send.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto_server import MotoServer

REPO = Path(__file__).resolve().parents[2]
DEFINITION = REPO / "deploy" / "stepfunctions" / "batch.asl.json"
EVENTS = REPO / "tests" / "fixtures" / "aws-events"
ROLE = "arn:aws:iam::123456789012:role/ingestflow-batch"
LANDING_BUCKET, LANDING_PREFIX = "raw-landing", "incoming/"
OUTPUT_BUCKET, OUTPUT_PREFIX = "curated-out", "parquet/"
LEDGER = "pipe"
DD_KEY_ENV = "TEST_DATADOG_API_KEY"


def fixture_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


@dataclass
class Pipeline:
    server: MotoServer
    config: Path
    queue_url: str
    queue_arn: str
    state_machine_arn: str
    topic_arn: str
    alerts_queue_url: str

    def s3(self) -> Any:
        return self.server.client("s3")

    def put(self, key: str, data: bytes) -> None:
        self.s3().put_object(Bucket=LANDING_BUCKET, Key=f"{LANDING_PREFIX}{key}", Body=data)

    def sqs_event(self, want: int, timeout: float = 20.0) -> dict[str, Any]:
        """The next `want` messages of the notification queue (test events included), as
        the SQS event Lambda's event source mapping delivers them."""
        sqs = self.server.client("sqs")
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(messages) < want and time.monotonic() < deadline:
            answer = sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                AttributeNames=["All"],
            )
            messages += answer.get("Messages", [])
        assert len(messages) >= want, f"{len(messages)} of {want} notifications arrived"
        return {"Records": [self.sqs_record(m) for m in messages]}

    def sqs_record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": "us-east-1",
        }

    def stream_event(self) -> dict[str, Any]:
        return stream_event(self.server, LEDGER)

    def alert_messages(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        return received_messages(self.server, self.alerts_queue_url, timeout)


def stream_event(server: MotoServer, table_prefix: str) -> dict[str, Any]:
    """Every record of the ledger's files-table stream so far, as Lambda delivers them."""
    dynamodb = server.client("dynamodb")
    streams = server.client("dynamodbstreams")
    table = f"{table_prefix}-files"
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += answer["Records"]
            if not answer["Records"]:
                break
            iterator = answer.get("NextShardIterator")
    for record in records:
        record["eventSourceARN"] = arn
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        if created is not None and not isinstance(created, (int, float)):
            record["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
    return {"Records": records}


def received_messages(server: MotoServer, queue_url: str, timeout: float) -> list[dict[str, Any]]:
    """The SNS notifications an SQS queue subscribed to a topic received (envelopes, decoded),
    waiting up to `timeout` seconds for the first."""
    sqs = server.client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not found and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        found += [json.loads(m["Body"]) for m in answer.get("Messages", [])]
    return found


def build_pipeline(server: MotoServer, root: Path, datadog_url: str, **workflow: Any) -> Pipeline:
    s3, sqs, sns = server.client("s3"), server.client("sqs"), server.client("sns")
    s3.create_bucket(Bucket=LANDING_BUCKET)
    s3.create_bucket(Bucket=OUTPUT_BUCKET)
    queue_url = sqs.create_queue(QueueName="landing-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=LANDING_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": LANDING_PREFIX}]}
                    },
                }
            ]
        },
    )
    definition = DEFINITION.read_text(encoding="utf-8")
    definition = definition.replace("${glue_job_name}", "ingestflow-batch")
    definition = definition.replace(
        "${finish_function_arn}", "arn:aws:lambda:us-east-1:123456789012:function:finish"
    )
    machine = server.client("stepfunctions").create_state_machine(
        name="ingestflow-batch", definition=definition, roleArn=ROLE
    )["stateMachineArn"]
    topic = sns.create_topic(Name="ingestflow-alerts")["TopicArn"]
    alerts_queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=alerts_arn)

    settings = {"batch_size": 3, "max_wait": "1h", "max_attempts": 2, **workflow}
    lines = [
        "[landing]",
        f'url = "s3://{LANDING_BUCKET}/{LANDING_PREFIX}"',
        'settle = "0s"',
        "[output]",
        f'url = "s3://{OUTPUT_BUCKET}/{OUTPUT_PREFIX}"',
        "[ledger]",
        f'url = "dynamodb://{LEDGER}?region=us-east-1"',
        "[engine]",
        'name = "stepfunctions"',
        f'state_machine_arn = "{machine}"',
        "[metrics.datadog]",
        f'url = "{datadog_url}"',
        f'api_key_env = "{DD_KEY_ENV}"',
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
    root.mkdir(parents=True, exist_ok=True)
    config = root / "ingestflow.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Pipeline(server, config, queue_url, queue_arn, machine, topic, alerts_queue)
