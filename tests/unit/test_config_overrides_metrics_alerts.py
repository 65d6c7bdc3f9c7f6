"""INGESTFLOW_METRICS__* and INGESTFLOW_ALERTS__* variables: how a deployment (Terraform)
fills in the ARNs and names of one packaged config file per environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestflow.config.loader import load_settings
from ingestflow.domain.errors import ConfigError

BASE = """
[[workflows]]
name = "ohlcv"
prefix = "ohlcv/"
transform = "ohlcv"

[[alerts.notifiers]]
name = "ops"
type = "sns"
topic_arn = "arn:aws:sns:us-east-1:111122223333:placeholder"
"""
TOPIC = "arn:aws:sns:eu-west-1:444455556666:ingestflow-prod-alerts"


def load(tmp_path: Path, **variables: str) -> object:
    config = tmp_path / "ingestflow.toml"
    config.write_text(BASE, encoding="utf-8")
    return load_settings(config, environ=variables)


def test_a_notifier_key_is_set_by_the_notifiers_name(tmp_path: Path) -> None:
    settings = load(tmp_path, INGESTFLOW_ALERTS__NOTIFIERS__OPS__TOPIC_ARN=TOPIC)
    (notifier,) = settings.alerts.notifiers  # type: ignore[attr-defined]
    assert notifier.options["topic_arn"] == TOPIC


def test_the_datadog_sink_is_configured_from_variables_alone(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        INGESTFLOW_METRICS__DATADOG__API_KEY_SSM="/ingestflow/prod/dd-api-key",
        INGESTFLOW_METRICS__DATADOG__SITE="datadoghq.eu",
        INGESTFLOW_METRICS__ENV="prod",
        INGESTFLOW_ALERTS__REPORT_CRON="0 7 * * *",
    )
    datadog = settings.metrics.datadog  # type: ignore[attr-defined]
    assert datadog is not None and datadog.site == "datadoghq.eu"
    assert datadog.api_key.name == "/ingestflow/prod/dd-api-key"
    assert settings.metrics.env == "prod"  # type: ignore[attr-defined]
    assert settings.alerts.report_cron == "0 7 * * *"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("INGESTFLOW_ALERTS__NOTIFIERS__PAGER__TOPIC_ARN", "no notifier named 'pager'"),
        ("INGESTFLOW_ALERTS__NOTIFIERS__OPS__HOST", "unknown key 'host'"),
        ("INGESTFLOW_METRICS__DATADOG__API_KEY", "unknown key 'api_key'"),
        ("INGESTFLOW_METRICS__GRAPHITE__HOST", "expected INGESTFLOW_METRICS__<KEY>"),
        ("INGESTFLOW_ALERTS__WHATEVER", "expected INGESTFLOW_ALERTS__<KEY>"),
    ],
)
def test_a_variable_with_a_typo_is_an_error_naming_it(
    tmp_path: Path, variable: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, **{variable: "x"})
    assert variable in str(raised.value) and message in str(raised.value)
