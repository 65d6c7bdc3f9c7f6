"""deploy/terraform, read with python-hcl2 (no terraform binary, no network).

The tree must hold together (every reference resolves, every module call matches its module)
and agree with the code it deploys: the handlers and the deployment variables of
ingestflow.bootstrap_lambda, the ledger's tables (dynamodb_tables.TABLES), the state machine's
placeholders, the packaged config, the ohlcv preset's columns. Expected values always come
from the Python constants or the deployed files, never from a copy in this test.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import terraform_tree as tf

import ingestflow.entrypoints.aws_lambda as lambda_package
from ingestflow.adapters.state.dynamodb_items import transition_from_stream_record
from ingestflow.adapters.state.dynamodb_tables import TABLES, table_names
from ingestflow.bootstrap_lambda import DEPLOYMENT_VARIABLES, PACKAGED_CONFIG
from ingestflow.config.loader import load_settings
from ingestflow.domain.cron import CronSchedule
from ingestflow.domain.status import ALLOWED, Status
from ingestflow.domain.transform import OHLCV

pytestmark = [pytest.mark.timeout(300)]

MODULES = tf.modules()
MODULE_IDS = [tf.load(m).name for m in MODULES]
ENVS = ("dev", "staging", "prod")
ASL = tf.REPO / "deploy" / "stepfunctions" / "batch.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Actions that accept no resource but "*" (IAM service authorization reference); a statement
# on "*" may hold only these.
STAR_ONLY_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "cloudwatch:PutMetricData",
        "ecr:GetAuthorizationToken",
        "kms:ListAliases",
        "ssm:DescribeParameters",
        "glue:CreateSecurityConfiguration",
        "glue:DeleteSecurityConfiguration",
        "glue:GetSecurityConfiguration",
        # Resource "*" but scoped by a condition (lambda:FunctionArn, aws:RequestTag/...).
        "lambda:CreateEventSourceMapping",
        "kms:CreateKey",
        "kms:TagResource",
    }
)
HIVE_TYPES = {"double": "double", "float": "float", "bigint": "bigint", "integer": "int",
              "varchar": "string", "boolean": "boolean", "date": "date",
              "timestamp": "timestamp"}  # fmt: skip


def tfvars(env: str) -> dict[str, Any]:
    return tf.parse(tf.TERRAFORM / "envs" / env / "terraform.tfvars")


def default(module: tf.Module, variable: str) -> Any:
    return module.variables[variable]["default"]


def local_of(module: tf.Module, expression: str) -> Any:
    """The value of a `${local.NAME}` expression (the local's parsed value)."""
    found = re.fullmatch(r"\$\{local\.([A-Za-z_][A-Za-z0-9_]*)\}", expression)
    assert found, f"{module.name}: expected ${{local.NAME}}, got {expression!r}"
    return module.locals[found.group(1)]


def for_each_keys(module: tf.Module, body: Mapping[str, Any]) -> list[str]:
    """The keys of a `for_each = var.create ? toset(local.X) : toset([])` over a local list."""
    used = tf.references(body["for_each"])["local"]
    assert len(used) == 1, f"for_each must iterate one local list: {body['for_each']}"
    keys = module.locals[used.pop()]
    assert isinstance(keys, list) and all(isinstance(k, str) for k in keys)
    return keys


def lambda_functions() -> dict[str, dict[str, Any]]:
    """Function key -> the body of the aws_lambda_function that creates it."""
    module = tf.module_named("modules/functions")
    found: dict[str, dict[str, Any]] = {}
    for body in module.resources_of("aws_lambda_function").values():
        for key in for_each_keys(module, body):
            assert key not in found, f"function {key} is created twice"
            found[key] = body
    return found


def handler_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(lambda_package.__path__))


def policy(module: tf.Module, name: str) -> list[dict[str, Any]]:
    return tf.policy_statements(module.data[("aws_iam_policy_document", name)])


def parsed_text(module: tf.Module) -> str:
    """The module's parsed blocks as one string (comments left out)."""
    return json.dumps(list(module.files.values()))


def statement(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    matches = [s for s in statements if s.get("sid") == sid]
    assert len(matches) == 1, f"one statement {sid} expected, got {len(matches)}"
    return matches[0]


# -- the tree holds together ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", tf.tf_files(), ids=lambda p: p.relative_to(tf.TERRAFORM).as_posix()
)
def test_every_terraform_file_parses(path: Path) -> None:
    parsed = tf.parse(path)
    assert parsed, f"{path} is empty"


def test_every_tfvars_file_parses_and_sets_only_declared_variables() -> None:
    for env in ENVS:
        declared = tf.module_named(f"envs/{env}").variables
        assert set(tfvars(env)) <= set(declared), env


@pytest.mark.parametrize("module_dir", MODULES, ids=MODULE_IDS)
def test_every_variable_and_local_a_module_uses_is_declared_in_it(module_dir: Path) -> None:
    module = tf.load(module_dir)
    used_vars: set[str] = set()
    used_locals: set[str] = set()
    for expression in module.expressions():
        refs = tf.references(expression)
        used_vars |= refs["var"]
        used_locals |= refs["local"]
    assert used_vars - set(module.variables) == set(), "undeclared variables"
    assert used_locals - set(module.locals) == set(), "undeclared locals"


@pytest.mark.parametrize("module_dir", MODULES, ids=MODULE_IDS)
def test_every_declared_variable_is_used(module_dir: Path) -> None:
    module = tf.load(module_dir)
    used: set[str] = set()
    for expression in module.expressions():
        used |= tf.references(expression)["var"]
    assert set(module.variables) - used == set(), "declared but never used"


@pytest.mark.parametrize("module_dir", MODULES, ids=MODULE_IDS)
def test_module_outputs_used_are_declared_by_the_called_module(module_dir: Path) -> None:
    module = tf.load(module_dir)
    for expression in module.expressions():
        for call, output in tf.references(expression)["module"]:
            assert call in module.calls, f"module.{call} is not a module block of {module.name}"
            called = module.called(call)
            assert output in called.outputs, f"{called.name} has no output {output}"


@pytest.mark.parametrize("module_dir", MODULES, ids=MODULE_IDS)
def test_module_calls_pass_declared_variables_and_every_required_one(module_dir: Path) -> None:
    module = tf.load(module_dir)
    for call, body in module.calls.items():
        called = module.called(call)
        assert called.files, f"module {call}: no .tf files at {body['source']}"
        given = set(body) - tf.META_ARGUMENTS
        assert given - set(called.variables) == set(), f"module {call}: unknown arguments"
        required = {n for n, v in called.variables.items() if "default" not in v}
        assert required - given == set(), f"module {call}: required variables missing"


@pytest.mark.parametrize("module_dir", MODULES, ids=MODULE_IDS)
def test_resource_and_data_references_name_blocks_of_the_module(module_dir: Path) -> None:
    module = tf.load(module_dir)
    for expression in module.expressions():
        refs = tf.references(expression)
        for kind, name in refs["data"]:
            assert (kind, name) in module.data, f"data.{kind}.{name} in {expression}"
        for kind, name in refs["resource"]:
            assert (kind, name) in module.resources, f"{kind}.{name} in {expression}"


@pytest.mark.parametrize("module_dir", MODULES, ids=MODULE_IDS)
def test_every_module_has_the_standard_files_and_pins_its_versions(module_dir: Path) -> None:
    module = tf.load(module_dir)
    names = {p.name for p in module.files}
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= names
    [settings] = [t for t in module.terraform if "required_version" in t]
    assert settings["required_version"] == ">= 1.10"
    providers: dict[str, Any] = {}
    for block in settings.get("required_providers", []):
        providers.update(block)
    kinds = {kind for kind, _ in module.resources} | {kind for kind, _ in module.data}
    for call in module.calls:
        called = module.called(call)
        kinds |= {kind for kind, _ in called.resources} | {k for k, _ in called.data}
    used = {kind.split("_", 1)[0] for kind in kinds}
    assert used <= set(providers), f"providers used but not required: {used - set(providers)}"
    expected = {"aws": ("hashicorp/aws", ">= 5.100"), "datadog": ("DataDog/datadog", ">= 3.40")}
    for name, spec in providers.items():
        assert (spec["source"], spec["version"]) == expected[name]


def depends_on_create(
    module: tf.Module, expression: Any, seen: frozenset[str] = frozenset()
) -> bool:
    """Whether an expression reads var.create, itself or through the locals it uses."""
    refs = tf.references(json.dumps(expression))
    if "create" in refs["var"]:
        return True
    return any(
        depends_on_create(module, module.locals[name], seen | {name})
        for name in refs["local"] - seen
        if name in module.locals
    )


def test_modules_have_a_create_toggle_that_every_resource_honours() -> None:
    for path in sorted((tf.TERRAFORM / "modules").iterdir()):
        module = tf.load(path)
        if module.name == "modules/stack":
            continue  # a composition of the modules below: no resource of its own
        assert "create" in module.variables, module.name
        assert default(module, "create") is (module.name != "modules/datadog"), module.name
        for (kind, name), body in module.resources.items():
            repeat = body.get("count", body.get("for_each"))
            assert repeat is not None and depends_on_create(module, repeat), (
                f"{module.name}: {kind}.{name} is created whatever var.create says"
            )
    example = tf.module_named("examples/minimal")
    assert example.calls, "examples/minimal calls no module"


@pytest.mark.parametrize("env", ENVS)
def test_each_environment_keeps_its_own_state_with_s3_native_locking(env: str) -> None:
    root = tf.module_named(f"envs/{env}")
    [backend] = [b for t in root.terraform for b in t.get("backend", [])]
    assert backend == {
        "s3": {"key": f"ingestflow/{env}/terraform.tfstate", "encrypt": True, "use_lockfile": True}
    }
    example = (root.path / "backend.hcl.example").read_text(encoding="utf-8")
    assert re.search(r"^bucket\s*=", example, re.M) and re.search(r"^region\s*=", example, re.M)
    provider = root.files[root.path / "providers.tf"]["provider"]
    aws = next(p["aws"] for p in provider if "aws" in p)
    assert aws["region"] == "${var.region}"


def test_no_account_id_or_region_is_hard_coded() -> None:
    offenders = []
    for path in [*tf.tf_files(), *tf.TERRAFORM.rglob("*.tfvars")]:
        text = path.read_text(encoding="utf-8")
        for pattern in (r"\b\d{12}\b", r"\b[a-z]{2}-(?:gov-)?[a-z]+-\d\b"):
            offenders += [f"{path.name}: {m}" for m in re.findall(pattern, text)]
    assert offenders == []


def test_the_inline_checkov_skips_are_the_skips_file_and_the_readme_lists_them() -> None:
    assert tf.checkov_skips() == tf.skips_file()
    readme = (tf.TERRAFORM / "README.md").read_text(encoding="utf-8")
    for check, _ in tf.skips_file():
        assert f"`{check}`" in readme, f"README.md does not list {check}"


# -- the code agrees with Terraform -------------------------------------------------------------


def test_the_five_functions_run_the_handlers_of_the_package() -> None:
    functions = lambda_functions()
    assert sorted(functions) == handler_names()
    for name, body in functions.items():
        [config] = tf.blocks(body, "image_config")
        commands = [c.replace("${each.key}", name) for c in config["command"]]
        assert commands == [f"ingestflow.entrypoints.aws_lambda.{name}.handler"]
        module = importlib.import_module(f"ingestflow.entrypoints.aws_lambda.{name}")
        assert callable(module.handler)
        assert body["package_type"] == "Image" and body["image_uri"] == "${var.image_uri}"


def test_every_function_gets_exactly_the_deployment_variables() -> None:
    module = tf.module_named("modules/functions")
    for name, body in lambda_functions().items():
        [environment] = tf.blocks(body, "environment")
        variables = local_of(module, environment["variables"])
        assert sorted(variables) == sorted(DEPLOYMENT_VARIABLES), name


def sample_environment() -> dict[str, str]:
    """The functions' variables as Terraform computes them from sample inputs."""
    module = tf.module_named("modules/functions")
    stack = tf.module_named("modules/stack")
    renderer = tf.Renderer(
        module,
        {
            "config_path": default(module, "config_path"),
            "landing_bucket_name": "ingestflow-dev-123456789012-landing",
            "landing_prefix": default(stack, "landing_prefix"),
            "output_bucket_name": "ingestflow-dev-123456789012-output",
            "output_prefix": default(stack, "output_prefix"),
            "table_prefix": "ingestflow-dev",
            "state_machine_name": "ingestflow-dev-batch",
            "environment": "dev",
            "datadog_api_key_parameter_name": "/ingestflow-dev/datadog-api-key",
            "alerts_topic_arn": "arn:aws:sns:eu-west-1:123456789012:ingestflow-dev-alerts",
        },
    )
    rendered: dict[str, str] = renderer.value(module.locals["environment"])
    return rendered


def test_the_packaged_config_loads_with_the_variables_terraform_sets() -> None:
    module = tf.module_named("modules/functions")
    assert default(module, "config_path") == "/var/task/" + Path(PACKAGED_CONFIG).name
    env = sample_environment()
    settings = load_settings(tf.REPO / PACKAGED_CONFIG, environ=env)
    assert settings.warnings == ()
    assert settings.landing_url == env["INGESTFLOW_LANDING__URL"]
    assert settings.output_url == env["INGESTFLOW_OUTPUT__URL"]
    assert settings.ledger_url == env["INGESTFLOW_LEDGER__URL"]
    assert settings.engine == "stepfunctions"
    assert settings.state_machine_arn == env["INGESTFLOW_ENGINE__STATE_MACHINE_ARN"]
    assert settings.metrics.env == env["INGESTFLOW_METRICS__ENV"]
    assert settings.metrics.datadog is not None
    assert settings.metrics.datadog.api_key_ssm == env["INGESTFLOW_METRICS__DATADOG__API_KEY_SSM"]
    ops = settings.alerts.notifier("ops")
    assert ops is not None
    assert ops.options["topic_arn"] == env["INGESTFLOW_ALERTS__NOTIFIERS__OPS__TOPIC_ARN"]


def test_the_function_policies_name_the_locations_the_code_uses() -> None:
    module = tf.module_named("modules/functions")
    env = sample_environment()
    settings = load_settings(tf.REPO / PACKAGED_CONFIG, environ=env)
    renderer = tf.Renderer(
        module,
        {
            "landing_bucket_name": "ingestflow-dev-123456789012-landing",
            "landing_prefix": tf.module_named("modules/stack").variables["landing_prefix"][
                "default"
            ],
            "output_bucket_name": "ingestflow-dev-123456789012-output",
            "output_prefix": default(tf.module_named("modules/stack"), "output_prefix"),
            "state_machine_name": "ingestflow-dev-batch",
        },
    )

    def s3_arn(url: str) -> str:
        return "arn:aws:s3:::" + url.removeprefix("s3://") + "*"

    assert settings.manifest_url is not None and settings.landing_url is not None
    for fn, sid in (("schedule", "BatchManifests"), ("finish", "BatchManifests")):
        resources = renderer.value(statement(policy(module, fn), sid)["resources"])
        assert resources == [s3_arn(settings.manifest_url)], fn
    landing = renderer.value(statement(policy(module, "register"), "ReadLandingFiles")["resources"])
    assert landing == [s3_arn(settings.landing_url)]
    start = statement(policy(module, "schedule"), "StartBatchExecutions")
    assert renderer.value(start["resources"]) == [settings.state_machine_arn]


def test_the_functions_use_the_ledger_tables_and_never_create_them() -> None:
    module = tf.module_named("modules/functions")
    ledger = statement(policy(module, "common"), "Ledger")
    assert set(ledger["actions"]) == {
        f"dynamodb:{a}"
        for a in (
            "GetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "Query",
            "BatchGetItem",
            "BatchWriteItem",
            "ConditionCheckItem",
            "DescribeTable",
        )
    }
    assert ledger["resources"] == "${local.ledger_resources}"
    assert "/index/*" in module.locals["ledger_resources"]
    assert "CreateTable" not in parsed_text(module)


def test_the_ledger_module_creates_exactly_the_tables_of_the_code() -> None:
    module = tf.module_named("modules/ledger")
    tables = module.resources_of("aws_dynamodb_table")
    prefix = "ingestflow-dev"
    renderer = tf.Renderer(module, {"table_prefix": prefix})
    names = {short: renderer.value(body["name"]) for short, body in tables.items()}
    assert names == table_names(prefix)
    for short, spec in TABLES.items():
        body = tables[short]
        assert body["billing_mode"] == spec["BillingMode"]
        keys = {k["KeyType"]: k["AttributeName"] for k in spec["KeySchema"]}
        assert body["hash_key"] == keys["HASH"] and body.get("range_key") == keys.get("RANGE")
        attributes = {a["name"]: a["type"] for a in tf.blocks(body, "attribute")}
        expected = {a["AttributeName"]: a["AttributeType"] for a in spec["AttributeDefinitions"]}
        assert attributes == expected, short
        indexes = {
            i["name"]: (i["hash_key"], i.get("range_key"), i["projection_type"])
            for i in tf.blocks(body, "global_secondary_index")
        }
        expected_indexes = {}
        for index in spec.get("GlobalSecondaryIndexes", []):
            index_keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
            expected_indexes[index["IndexName"]] = (
                index_keys["HASH"], index_keys.get("RANGE"), index["Projection"]["ProjectionType"],
            )  # fmt: skip
        assert indexes == expected_indexes, short
        stream = spec.get("StreamSpecification", {"StreamEnabled": False})
        assert body.get("stream_enabled", False) == stream["StreamEnabled"], short
        assert body.get("stream_view_type") == stream.get("StreamViewType"), short
        [recovery] = tf.blocks(body, "point_in_time_recovery")
        assert recovery["enabled"] == "${var.point_in_time_recovery_enabled}"
        [encryption] = tf.blocks(body, "server_side_encryption")
        assert encryption == {"enabled": True, "kms_key_arn": "${var.kms_key_arn}"}
        assert body["deletion_protection_enabled"] == "${var.deletion_protection_enabled}"
    assert default(module, "deletion_protection_enabled") is True
    assert default(module, "ttl_attributes") == {}


def test_the_state_machine_fills_exactly_the_placeholders_of_its_definition() -> None:
    module = tf.module_named("modules/orchestration")
    definition = module.resources_of("aws_sfn_state_machine")["this"]["definition"]
    call = re.fullmatch(r"\$\{templatefile\((local\.\w+),\s*\{(.*)\}\)\}", definition, re.S)
    assert call, definition
    template = tf.Renderer(module, {}, **{"path.module": str(module.path)}).value(
        "${" + call.group(1) + "}"
    )
    assert Path(template).resolve() == ASL.resolve()
    given = set(re.findall(r"(\w+)\s*=", call.group(2)))
    text = ASL.read_text(encoding="utf-8")
    assert given == set(PLACEHOLDER.findall(text))
    assert "%{" not in text and "$${" not in text  # no template directives or escapes
    json.loads(text)  # valid JSON with the placeholders in place


def filter_matches(rule: Any, event: Any) -> bool:
    """Lambda event filtering (EventBridge syntax): nested keys, value lists, and the
    `{"anything-but": [...]}` matcher; a key the event lacks never matches."""
    if isinstance(rule, list):
        return any(
            event not in r["anything-but"] if isinstance(r, dict) else event == r for r in rule
        )
    return isinstance(event, dict) and all(
        k in event and filter_matches(v, event[k]) for k, v in rule.items()
    )


def stream_record(old: Status | None, new: Status | None) -> dict[str, Any]:
    """A files-table stream record: INSERT (old None), MODIFY, or REMOVE (new None)."""

    def item(status: Status) -> dict[str, Any]:
        return {"pk": {"S": "f#b#k"}, "bucket": {"S": "b"}, "key": {"S": "k"},
                "workflow": {"S": "ohlcv"}, "status": {"S": status.value}}  # fmt: skip

    change: dict[str, Any] = {"SequenceNumber": "1"}
    if old is not None:
        change["OldImage"] = item(old)
    if new is not None:
        change["NewImage"] = item(new)
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    return {"eventName": name, "dynamodb": change}


def test_the_stream_filter_lets_only_files_that_ended_through() -> None:
    module = tf.module_named("modules/functions")
    mapping = module.resources_of("aws_lambda_event_source_mapping")["forward_metrics"]
    [criteria] = tf.blocks(mapping, "filter_criteria")
    [dynamic] = tf.blocks(criteria, "dynamic")
    assert dynamic["filter"]["for_each"] == "${local.stream_filters}"
    assert dynamic["filter"]["content"] == [{"pattern": "${jsonencode(filter.value)}"}]
    filters = module.locals["stream_filters"]
    assert 1 <= len(filters) <= 5  # Lambda's default quota of filters per mapping
    ended = {new for old, new in ALLOWED if old is Status.PROCESSING and new is not Status.TODO}
    assert ended == {Status.DONE, Status.FAILED}
    for old in [None, *Status]:
        for new in [None, *Status]:
            if old is None and new is None:
                continue
            record = stream_record(old, new)
            passed = any(filter_matches(f, record) for f in filters)
            transition = transition_from_stream_record(record)
            # Exactly the status changes that end a file: not a MODIFY that keeps DONE or
            # FAILED (the handler would skip it), not a removal, not TODO or PROCESSING.
            wanted = transition is not None and transition.new_status in ended
            assert passed == wanted, (old, new)
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["bisect_batch_on_function_error"] is True
    assert tf.blocks(tf.blocks(mapping, "destination_config")[0], "on_failure")
    register = module.resources_of("aws_lambda_event_source_mapping")["register"]
    assert register["function_response_types"] == ["ReportBatchItemFailures"]
    assert tf.blocks(register, "scaling_config")


def test_the_glue_job_ends_before_the_state_machine_gives_up_and_the_lease_after() -> None:
    definition = json.loads(ASL.read_text(encoding="utf-8"))
    glue_seconds = definition["States"]["RunGlue"]["TimeoutSeconds"]
    finish_seconds = definition["States"]["Finish"]["TimeoutSeconds"]
    for name in ("modules/orchestration", "modules/stack"):
        assert default(tf.module_named(name), "glue_timeout_minutes") * 60 < glue_seconds
    settings = load_settings(tf.REPO / PACKAGED_CONFIG, environ={})
    assert all(w.lease > glue_seconds for w in settings.workflows)
    job = tf.module_named("modules/orchestration").resources_of("aws_glue_job")["batch"]
    assert job["glue_version"] == "5.0" and job["max_retries"] == 0
    [command] = tf.blocks(job, "command")
    assert command["name"] == "glueetl" and command["python_version"] == "3"
    assert command["script_location"].endswith("/${local.glue_script_key}")
    script = tf.module_named("modules/orchestration").locals["glue_script_path"]
    assert (
        "../../../glue/batch_job.py" in script and (tf.REPO / "deploy/glue/batch_job.py").is_file()
    )
    defaults = [
        default(tf.module_named(m), "functions") for m in ("modules/functions", "modules/stack")
    ]
    for functions in [*defaults, *(tfvars(env)["functions"] for env in ENVS)]:
        assert functions["finish"]["timeout"] < finish_seconds


def test_the_queue_hides_a_message_for_six_register_timeouts_and_redrives_after_five() -> None:
    queue = tf.module_named("modules/queue")
    body = queue.resources_of("aws_sqs_queue")["this"]
    assert body["visibility_timeout_seconds"] == "${6 * var.consumer_timeout_seconds}"
    assert "maxReceiveCount = var.max_receive_count" in body["redrive_policy"]
    assert default(queue, "max_receive_count") == 5
    stack = tf.module_named("modules/stack")
    assert (
        stack.calls["queue"]["consumer_timeout_seconds"] == '${var.functions["register"].timeout}'
    )
    functions = stack.calls["functions"]
    assert functions["functions"] == "${var.functions}"
    for env in ENVS:
        values = tfvars(env)
        register = values["functions"]["register"]
        assert 2 <= values["sqs_maximum_concurrency"] <= register["reserved_concurrency"], env


def test_the_analytics_table_has_the_columns_of_the_ohlcv_preset() -> None:
    module = tf.module_named("modules/analytics")
    columns = [(c["name"], c["type"]) for c in default(module, "columns")]
    expected = [(rule.target, HIVE_TYPES[rule.type]) for rule in OHLCV.columns]
    expected += [(d.name, HIVE_TYPES[d.type or "varchar"]) for d in OHLCV.derived]
    assert columns == expected
    settings = load_settings(tf.REPO / PACKAGED_CONFIG, environ={})
    workflow = settings.workflow(default(module, "workflow"))
    assert workflow is not None and workflow.transform == OHLCV.name
    table = module.resources_of("aws_glue_catalog_table")["workflow"]
    [storage] = tf.blocks(table, "storage_descriptor")
    assert (
        storage["location"] == "s3://${var.output_bucket_name}/${var.output_prefix}${var.workflow}/"
    )
    [serde] = tf.blocks(storage, "ser_de_info")
    assert serde["serialization_library"].endswith("ParquetHiveSerDe")


def test_the_datadog_module_reads_the_packaged_dashboard_and_monitors() -> None:
    module = tf.module_named("modules/datadog")
    folder = module.locals["resources_dir"]
    assert "/src/ingestflow/resources/datadog" in folder
    resources = tf.REPO / "src" / "ingestflow" / "resources" / "datadog"
    monitors = sorted((resources / "monitors").glob("*.json"))
    assert monitors
    for path in monitors:
        text = path.read_text(encoding="utf-8")
        assert set(PLACEHOLDER.findall(text)) <= {"env"} and "%{" not in text, path.name
    dashboard = (resources / "dashboard.json").read_text(encoding="utf-8")
    assert "${" not in dashboard and "%{" not in dashboard
    assert default(module, "create") is False


def test_prod_protects_the_ledger_and_keeps_logs_a_year_and_dev_leaves_datadog_alone() -> None:
    prod, dev = tfvars("prod"), tfvars("dev")
    assert prod["deletion_protection_enabled"] is True
    assert prod["log_retention_days"] >= 365  # the reason CKV_AWS_338 may be skipped
    assert prod.get("force_destroy", False) is False
    assert dev["datadog_enabled"] is False
    assert dev["log_retention_days"] < prod["log_retention_days"]


# -- least privilege ------------------------------------------------------------------------------


def identity_policies() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for module_dir in MODULES:
        module = tf.load(module_dir)
        for (kind, name), body in module.data.items():
            if kind == "aws_iam_policy_document":
                for s in tf.policy_statements(body):
                    found.append((f"{module.name}: {name}/{s.get('sid')}", s))
                for dynamic in tf.blocks(body, "dynamic"):
                    for s in tf.blocks(dynamic.get("statement", {}), "content"):
                        found.append((f"{module.name}: {name}/{s.get('sid')}", s))
    return found


def test_no_policy_grants_a_whole_service_and_star_resources_are_star_only_actions() -> None:
    for where, s in identity_policies():
        assert s.get("effect", "Allow") == "Allow", where
        actions = s["actions"]
        assert all(a != "*" and not a.endswith(":*") for a in actions), where
        resources = s.get("resources", [])
        if resources == ["*"]:
            assert set(actions) <= STAR_ONLY_ACTIONS, where
    # Resource policies (jsonencode): a service-wide action only in a Deny statement.
    for path in tf.tf_files():
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r'Action\s*=\s*"(\*|[a-z0-9-]+:\*)"', text):
            effect = re.findall(r'Effect\s*=\s*"(\w+)"', text[: match.start()])
            assert effect and effect[-1] == "Deny", f"{path}: {match.group(0)}"
    key_policy = tf.module_named("modules/kms").locals["key_policy"]
    for s in key_policy["Statement"]:
        assert "kms:*" not in s["Action"] and s["Effect"] == "Allow"


def test_each_function_role_reaches_only_what_its_handler_calls() -> None:
    module = tf.module_named("modules/functions")
    actions = {
        name: {a for s in policy(module, name) for a in s["actions"]} for name in handler_names()
    }
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "s3:GetObject", "s3:ListBucket"} <= actions[
        "register"
    ]
    assert {"states:StartExecution", "states:DescribeExecution", "s3:PutObject",
            "ssm:GetParameter"} <= actions["schedule"]  # fmt: skip
    assert actions["finish"] == {"s3:GetObject", "sqs:SendMessage"}
    assert actions["alerts"] == {"sns:Publish", "sqs:SendMessage"}
    assert actions["forward_metrics"] == {
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:DescribeStream",
        "dynamodb:ListStreams",
        "sqs:SendMessage",
        "ssm:GetParameter",
    }
    for name in handler_names():
        sources = module.data[("aws_iam_policy_document", name)]["source_policy_documents"]
        assert sources == [f'${{data.aws_iam_policy_document.common["{name}"].json}}']
    assert not re.search(r"arn:aws:iam::aws:policy", module.text()), "no AWS-managed policies"


def test_deploy_roles_trust_one_github_environment_exactly() -> None:
    module = tf.module_named("modules/ci_oidc")
    [trust] = policy(module, "trust")
    assert trust["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    conditions = {c["variable"]: (c["test"], c["values"]) for c in tf.blocks(trust, "condition")}
    assert conditions == {
        "${local.oidc_host}:aud": ("StringEquals", ["sts.amazonaws.com"]),
        "${local.oidc_host}:sub": ("StringEquals", ["${local.subjects[each.key]}"]),
    }
    assert module.locals["oidc_host"] == "token.actions.githubusercontent.com"
    subjects = module.locals["subjects"]
    assert "repo:${var.github_repository}:environment:${env}" in subjects
    assert "ForAllValues" not in parsed_text(module) and "StringLike" not in json.dumps(trust)
    bootstrap = tf.module_named("bootstrap")
    prefix = default(module, "role_name_prefix")
    for env, stack in default(bootstrap, "environments").items():
        assert not f"{prefix}-{env}".startswith(stack["stack_name"] + "-"), (
            "a role could edit itself"
        )


# -- schedules ------------------------------------------------------------------------------------


def schedule_pattern(module: tf.Module, variable: str) -> re.Pattern[str]:
    """The regex a schedule variable's validation applies (HCL escapes undone)."""
    [validation] = module.variables[variable]["validation"]
    found = re.fullmatch(r'\$\{can\(regex\("(.*)", var\.(\w+)\)\)\}', validation["condition"])
    assert found and found.group(2) == variable, validation["condition"]
    return re.compile(found.group(1).replace("\\\\", "\\"))


def test_the_schedules_are_real_eventbridge_expressions_and_schedule_runs_every_minute() -> None:
    orchestration = tf.module_named("modules/orchestration")
    patterns = {v: schedule_pattern(orchestration, v)
                for v in ("schedule_expression", "alerts_schedule_expression")}  # fmt: skip
    for pattern in patterns.values():
        for good in ("rate(1 minute)", "rate(5 minutes)", "rate(1 hour)",
                     "cron(0 7 * * ? *)", "cron(0/15 * ? * MON-FRI *)"):  # fmt: skip
            assert pattern.fullmatch(good), good
        # The placeholder crons of the system we replace, and rates EventBridge refuses.
        for bad in ("rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "0 7 * * *",
                    "cron(0 7 * * *)", "cron(0 7 * * * *)", "cron(0 0 1 1 ? 2020 x)"):  # fmt: skip
            assert not pattern.fullmatch(bad), bad
    stack = tf.module_named("modules/stack")
    assert default(orchestration, "schedule_expression") == "rate(1 minute)"
    assert default(stack, "schedule_expression") == "rate(1 minute)"
    assert stack.calls["orchestration"]["schedule_expression"] == "${var.schedule_expression}"
    values = [default(m, "alerts_schedule_expression") for m in (orchestration, stack)]
    for env in ENVS:
        assert "schedule_expression" not in tfvars(env), env  # every minute everywhere
        values.append(tfvars(env)["alerts_schedule_expression"])
    for value in values:
        assert patterns["alerts_schedule_expression"].fullmatch(value), value
    # The alerts function runs the rules on that schedule; the daily report follows the
    # packaged config's report_cron (sent by the first pass at or after its deadline).
    settings = load_settings(tf.REPO / PACKAGED_CONFIG, environ={})
    assert settings.alerts.report_cron is not None
    CronSchedule.parse(settings.alerts.report_cron)


def test_the_executions_alarm_counts_every_status_the_backstop_rule_finishes() -> None:
    module = tf.module_named("modules/orchestration")
    rule = module.resources_of("aws_cloudwatch_event_rule")["execution_ended"]
    pattern = re.search(r"status\s*=\s*\[([^\]]*)\]", rule["event_pattern"])
    assert pattern, rule["event_pattern"]
    statuses = set(re.findall(r'"(\w+)"', pattern.group(1)))
    assert statuses == {"FAILED", "TIMED_OUT", "ABORTED"}
    alarm = module.resources_of("aws_cloudwatch_metric_alarm")["executions_failed"]
    [dynamic] = tf.blocks(alarm, "dynamic")
    metrics = set(dynamic["metric_query"]["for_each"].values())
    # AWS/States names: ExecutionsFailed, ExecutionsTimedOut, ExecutionsAborted.
    names = {s: "Executions" + s.title().replace("_", "") for s in statuses}
    assert metrics == set(names.values())
    [total] = [q for q in tf.blocks(alarm, "metric_query") if q.get("return_data")]
    for query_id in dynamic["metric_query"]["for_each"]:
        assert query_id in total["expression"], total["expression"]


def test_deploy_roles_may_set_up_the_log_delivery_of_the_state_machine_they_create() -> None:
    deploy = policy(tf.module_named("modules/ci_oidc"), "deploy")
    granted = {a for s in deploy for a in s["actions"]}
    assert "states:CreateStateMachine" in granted and "states:UpdateStateMachine" in granted
    delivery = statement(policy(tf.module_named("modules/orchestration"), "state_machine"),
                         "LogDelivery")  # fmt: skip
    # What a vended-logs destination needs from the identity configuring it (CloudWatch Logs
    # "Logging that requires additional permissions [V1]").
    assert set(delivery["actions"]) <= granted, set(delivery["actions"]) - granted


def test_no_module_reads_an_attribute_the_aws_provider_6_deprecates() -> None:
    # hashicorp/aws 6.0 deprecates data.aws_region's `name` (and `id`) for `region`, which
    # exists from 5.100: every module requires that version (see the versions test).
    for module_dir in MODULES:
        module = tf.load(module_dir)
        for expression in module.expressions():
            found = re.findall(r"data\.aws_region\.\w+\.(\w+)", expression)
            assert set(found) <= {"region"}, f"{module.name}: {expression}"
