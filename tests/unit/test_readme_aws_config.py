"""The functions' config file shown in README "Deploy on AWS" is a valid configuration, and
the environment overrides it names reach the settings the handlers use."""

from __future__ import annotations

import re
from pathlib import Path

from ingestflow.config.loader import load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def aws_example(tmp_path: Path) -> Path:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Deploy on AWS") :]
    found = re.search(r"A minimal file:\n\n```toml\n(.*?)```", section, re.S)
    assert found, "README: the functions' example config is missing"
    path = tmp_path / "ingestflow.toml"
    path.write_text(found.group(1), encoding="utf-8")
    return path


def test_the_readme_aws_example_loads_as_the_functions_would_load_it(tmp_path: Path) -> None:
    config = aws_example(tmp_path)
    settings = load_settings(environ={"INGESTFLOW_CONFIG": str(config)})

    assert settings.ledger_kind == "dynamodb"
    assert settings.engine == "stepfunctions"
    assert settings.landing_url == "s3://acme-landing/incoming/"
    assert settings.manifest_url == "s3://acme-curated/parquet/_ingestflow/batches/"
    (workflow,) = settings.workflows
    assert (workflow.batch_size, workflow.lease) == (100, 3 * 3600)


def test_environment_variables_override_the_packaged_file(tmp_path: Path) -> None:
    config = aws_example(tmp_path)
    environ = {
        "INGESTFLOW_CONFIG": str(config),
        "INGESTFLOW_LEDGER__URL": "dynamodb://ingestflow-dev?region=eu-west-1",
        "INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE": "10",
    }
    settings = load_settings(environ=environ)

    assert settings.ledger_url == "dynamodb://ingestflow-dev?region=eu-west-1"
    assert settings.workflows[0].batch_size == 10
