"""Alerts to Amazon SNS through the real CLI, on a moto server over HTTP: `ingestflow alerts
test` publishes to the configured topic and the message reaches an SQS subscription; a secret
named in SSM that does not exist exits 2 naming the key."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_support import workflow, write_config
from moto_server import MotoServer


def test_alerts_test_publishes_to_the_sns_topic(aws_env: MotoServer, tmp_path: Path) -> None:
    sns, sqs = aws_env.client("sns"), aws_env.client("sqs")
    arn = sns.create_topic(Name="alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue["Attributes"]["QueueArn"])
    extra = f'[[alerts.notifiers]]\nname = "aws"\ntype = "sns"\ntopic_arn = "{arn}"\n'
    p = write_config(tmp_path, [workflow("ohlcv", "ohlcv/")], extra=extra)

    result = p.cli("alerts", "test", "--notifier", "aws")

    assert "aws: sent" in result.stdout
    answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
    (message,) = answer["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Subject"].startswith("[ingestflow ")
    assert "test message" in envelope["Message"]


def test_a_missing_ssm_parameter_exits_2_naming_the_key(
    aws_env: MotoServer, tmp_path: Path
) -> None:
    extra = '[metrics.datadog]\napi_key_ssm = "/ingestflow/missing"\n'
    p = write_config(tmp_path, [workflow("ohlcv", "ohlcv/")], extra=extra)

    result = p.cli("metrics", "push", expect=2)

    assert "'metrics.datadog.api_key_ssm'" in result.stderr
    assert "'/ingestflow/missing': not found (ParameterNotFound)" in result.stderr
    assert "Traceback" not in result.stderr
