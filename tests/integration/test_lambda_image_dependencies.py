"""The Lambda image is small: it installs the ingestflow wheel with --no-deps and only
deploy/lambda/requirements.txt (Dockerfile). These tests show that this is enough and does
not drift:

- the five handlers run on the moto server, in a fresh interpreter where every distribution
  of the project's virtualenv that the requirements do not bring (duckdb, pyarrow, polars,
  pyspark, psycopg, starlette, uvicorn, jinja2, typer, rich, ...) refuses to be imported: one
  file registered, its batch started, finished DONE, its metrics forwarded to a Datadog
  stand-in (the API key read from SSM), an alerts pass;
- every requirement is a dependency of the package (pyproject.toml), with the same lower
  bound, and the `lambda` extra's are all there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from datadog_capture import DatadogCapture  # type: ignore[import-not-found,unused-ignore]
from moto_server import MotoServer  # type: ignore[import-not-found,unused-ignore]
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ingestflow.bootstrap_lambda import DEPLOYMENT_VARIABLES, PACKAGED_CONFIG

pytestmark = [pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "deploy" / "lambda" / "requirements.txt"
EVENTS = ROOT / "tests" / "fixtures" / "aws-events"
DEFINITION = ROOT / "deploy" / "stepfunctions" / "batch.asl.json"
LANDING, PREFIX, OUTPUT = "fn-landing", "incoming/", "fn-output"
DD_KEY, DD_PARAMETER = "dd-image-test-key", "/ingestflow-test/datadog-api-key"
HEAVY = ("duckdb", "pyarrow", "polars", "pyspark", "psycopg", "starlette", "uvicorn", "jinja2",
         "typer", "rich", "prometheus_client", "datadog_api_client")  # fmt: skip

# Run in a fresh interpreter: argv[1] is a JSON file {"refuse": [...], "events": dir, ...}.
HANDLERS_SCRIPT = r'''
import importlib, importlib.abc, json, sys, time

args = json.load(open(sys.argv[1], encoding="utf-8"))
REFUSE = frozenset(args["refuse"])
refused = []

class Refuse(importlib.abc.MetaPathFinder):
    """Every module of a distribution the image does not install: ModuleNotFoundError."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in REFUSE:
            refused.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (not in the image)", name=name)
        return None

sys.meta_path.insert(0, Refuse())
before = set(sys.modules)

import boto3
from ingestflow.adapters.engines.batch_manifest import results_json, write_json
from ingestflow.bootstrap_lambda import runtime
from ingestflow.domain.records import FileOutcome
from ingestflow.entrypoints.aws_lambda import alerts, finish, forward_metrics, register, schedule

def fixture(name):
    with open(f"{args['events']}/{name}", encoding="utf-8") as handle:
        return json.load(handle)

rt = runtime()
for part in ("store", "discovery", "starter", "s3", "forwarder", "alerting"):
    getattr(rt, part)
answers = {}
s3 = boto3.client("s3")
key = "ohlcv/2024/a.csv"
s3.put_object(Bucket=args["landing"], Key=args["prefix"] + key,
              Body=b"Date,Open,High,Low,Close,Volume\n2024-01-01,1.0,2.0,0.5,1.5,100\n")
head = s3.head_object(Bucket=args["landing"], Key=args["prefix"] + key)
record = fixture("s3SqsEvent.json")["Records"][0]
body = json.loads(record["body"])
body["Records"][0]["s3"]["bucket"].update(name=args["landing"],
                                          arn=f"arn:aws:s3:::{args['landing']}")
body["Records"][0]["s3"]["object"].update(key=args["prefix"] + key, size=head["ContentLength"],
                                          eTag=head["ETag"].strip('"'))
record["body"] = json.dumps(body)
answers["register"] = register.handler({"Records": [record]}, None)
answers["schedule"] = schedule.handler(fixture("scheduler_event.json"), None)
[started] = answers["schedule"]["started"]
sfn = boto3.client("stepfunctions")
payload = json.loads(sfn.describe_execution(executionArn=started["run"])["input"])
done = rt.store.get(args["landing"], key)
output = f"{rt.settings.output_url}ohlcv/{key}.parquet"
outcome = FileOutcome(done.key, done.etag, True, None, False, output, 1)
write_json(rt.s3, payload["results"], results_json(done.batch_id or "", [outcome]))
answers["finish"] = finish.handler(payload, None)
table = rt.settings.ledger_url.removeprefix("dynamodb://").split("?")[0] + "-files"
stream_arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
streams = boto3.client("dynamodbstreams")
records = []
for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    found = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    for r in found:
        r["eventSourceARN"] = stream_arn
        r["dynamodb"]["ApproximateCreationDateTime"] = time.time()
    records += found
answers["forward_metrics"] = forward_metrics.handler({"Records": records}, None)
answers["alerts"] = alerts.handler({}, None)
# Not from a distribution: the standard library, multiprocessing's alias of __main__, and
# the interpreter's build-time sysconfig data.
loaded = sorted({m.partition(".")[0] for m in set(sys.modules) - before}
                - set(sys.stdlib_module_names) - {"__mp_main__"}
                - {m for m in sys.modules if m.startswith("_sysconfigdata_")})
print(json.dumps({"answers": answers, "refused": sorted(set(refused)), "loaded": loaded},
                 default=str))
'''


def requirements() -> list[Requirement]:
    lines = REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]


def closure(names: set[str]) -> set[str]:
    """The distributions `names` install with their dependencies (no extras), canonical."""
    seen: set[str] = set()
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen


def top_level_modules(dist: metadata.Distribution) -> set[str]:
    """The importable top-level names a distribution installs."""
    listed = dist.read_text("top_level.txt")
    if listed:
        return set(listed.split())
    names: set[str] = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".egg-info", ".pth")) or first in ("..", "__pycache__"):
            continue
        if len(file.parts) > 1:
            names.add(first)
        elif first.endswith((".py", ".so", ".pyd")):
            names.add(first.split(".")[0])
    return {n for n in names if n.isidentifier()}


def refused_and_allowed_modules() -> tuple[set[str], set[str]]:
    """(modules of every distribution the image leaves out, modules of those it installs)."""
    installed = closure({r.name for r in requirements()})
    refused: set[str] = set()
    allowed: set[str] = {"ingestflow"}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"] or "")
        if name == "ingestflow":
            continue
        (allowed if name in installed else refused).update(top_level_modules(dist))
    return refused - allowed - set(sys.stdlib_module_names) - {"ingestflow"}, allowed


@pytest.fixture
def datadog() -> Iterator[DatadogCapture]:
    with DatadogCapture(api_key=DD_KEY) as capture:
        yield capture


def test_the_handlers_run_on_moto_with_only_the_image_requirements_importable(
    aws_env: MotoServer, datadog: DatadogCapture, tmp_path: Path
) -> None:
    refuse, allowed = refused_and_allowed_modules()
    assert set(HEAVY) <= refuse, set(HEAVY) - refuse  # the venv has them: they are refused
    s3, sns = aws_env.client("s3"), aws_env.client("sns")
    s3.create_bucket(Bucket=LANDING)
    s3.create_bucket(Bucket=OUTPUT)
    definition = DEFINITION.read_text(encoding="utf-8")
    definition = definition.replace("${glue_job_name}", "ingestflow-test-batch").replace(
        "${finish_function_arn}", "arn:aws:lambda:us-east-1:123456789012:function:finish"
    )
    machine = aws_env.client("stepfunctions").create_state_machine(
        name="ingestflow-test-batch",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/ingestflow-test-state-machine",
    )["stateMachineArn"]
    topic = sns.create_topic(Name="ingestflow-test-alerts")["TopicArn"]
    aws_env.client("ssm").put_parameter(Name=DD_PARAMETER, Value=DD_KEY, Type="SecureString")
    # The packaged config as the image holds it, but a batch of one file.
    packaged = (ROOT / PACKAGED_CONFIG).read_text(encoding="utf-8")
    config = tmp_path / "ingestflow.toml"
    config.write_text(re.sub(r"(?m)^batch_size = \d+", "batch_size = 1", packaged), "utf-8")
    deployment = {
        "INGESTFLOW_CONFIG": str(config),
        "INGESTFLOW_LANDING__URL": f"s3://{LANDING}/{PREFIX}",
        "INGESTFLOW_OUTPUT__URL": f"s3://{OUTPUT}/parquet/",
        "INGESTFLOW_LEDGER__URL": "dynamodb://ingestflow-test?region=us-east-1",
        "INGESTFLOW_ENGINE__STATE_MACHINE_ARN": machine,
        "INGESTFLOW_METRICS__ENV": "dev",
        "INGESTFLOW_METRICS__DATADOG__API_KEY_SSM": DD_PARAMETER,
        "INGESTFLOW_ALERTS__NOTIFIERS__OPS__TOPIC_ARN": topic,
    }
    assert sorted(deployment) == sorted(DEPLOYMENT_VARIABLES)  # what Terraform sets
    script = tmp_path / "handlers.py"
    script.write_text(HANDLERS_SCRIPT, encoding="utf-8")
    arguments = tmp_path / "arguments.json"
    options = {"refuse": sorted(refuse), "events": str(EVENTS), "landing": LANDING}
    arguments.write_text(json.dumps({**options, "prefix": PREFIX}), encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INGESTFLOW_"))}
    environ.update(aws_env.environment())
    environ.update(deployment)
    environ.update(
        INGESTFLOW_METRICS__DATADOG__URL=datadog.url,
        AWS_LAMBDA_FUNCTION_NAME="ingestflow-test",
        PYTHONPATH=str(ROOT / "src"),
    )

    result = subprocess.run(
        [sys.executable, str(script), str(arguments)],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    answers = report["answers"]
    shown = json.dumps(answers) + "\n" + result.stderr[-3000:]
    assert answers["register"] == {"batchItemFailures": []}, shown
    assert len(answers["schedule"]["started"]) == 1 and answers["schedule"]["failed"] == [], shown
    assert (answers["finish"]["done"], answers["finish"]["released"]) == (1, 0), shown
    assert answers["forward_metrics"] == {"batchItemFailures": []}, shown
    assert answers["alerts"]["failed"] == {}, shown
    processed = datadog.count_total("ingestion.files.processed", workflow="ohlcv")
    assert processed == 1, shown
    # Only the package and what the requirements install was imported.
    assert set(report["loaded"]) <= allowed, set(report["loaded"]) - allowed
    assert {"boto3", "aws_lambda_powertools", "ingestflow"} <= set(report["loaded"])


def test_every_image_requirement_is_a_dependency_of_the_package_with_its_lower_bound() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    declared = {
        canonicalize_name(r.name): r
        for r in map(Requirement, [*project["dependencies"], *extras["aws"], *extras["lambda"]])
        if canonicalize_name(r.name) != "ingestflow"
    }
    found = requirements()
    assert found, f"{REQUIREMENTS} lists nothing"
    for requirement in found:
        name = canonicalize_name(requirement.name)
        assert name in declared, f"{requirement} is not a dependency in pyproject.toml"
        assert not requirement.extras and requirement.marker is None, requirement
        assert str(requirement.specifier) == str(declared[name].specifier), requirement
        assert str(requirement.specifier).startswith(">="), f"{requirement}: a lower bound"
    # The `lambda` extra (with the `aws` one it names) is what the handlers import: all in.
    names = [canonicalize_name(r.name) for r in found]
    assert len(set(names)) == len(names), "a requirement listed twice"
    for spec in [*extras["aws"], *extras["lambda"]]:
        name = canonicalize_name(Requirement(spec).name)
        assert name == "ingestflow" or name in names, f"the image lacks {spec}"
