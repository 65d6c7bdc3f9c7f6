"""Alert rules exported for Prometheus and Datadog agree with the built-in rules' settings."""

from __future__ import annotations

import json

from ingestflow.domain.workflow import Workflow
from ingestflow.services.alert_exports import datadog_stale_monitors, prometheus_rules

WORKFLOWS = [
    Workflow("ohlcv", "ohlcv/", stale_after=2 * 3600.0),
    Workflow("Trades", "trades/", stale_after=90.0),
]


def _values(text: str, field: str) -> list[str]:
    prefix = f"{field}: "
    return [
        json.loads(line.strip().removeprefix("- ")[len(prefix) :])
        for line in text.splitlines()
        if line.strip().removeprefix("- ").startswith(prefix)
    ]


def test_each_workflows_stale_rule_uses_its_own_stale_after() -> None:
    text = prometheus_rules(WORKFLOWS, "Prod EU")

    exprs = _values(text, "expr")
    assert (
        'max(ingestion_backlog_oldest_age_seconds{env="prod_eu",workflow="ohlcv"}) > 7200' in exprs
    )
    assert 'max(ingestion_backlog_oldest_age_seconds{env="prod_eu",workflow="trades"}) > 90' in (
        exprs
    )
    assert _values(text, "alert") == [
        "IngestflowStale_ohlcv",
        "IngestflowFailed_ohlcv",
        "IngestflowStale_Trades",
        "IngestflowFailed_Trades",
        "IngestflowNoData",
    ]
    assert text.startswith("groups:\n  - name: ingestflow\n    rules:\n")


def test_each_workflow_gets_a_datadog_stale_monitor_on_its_threshold() -> None:
    monitors = datadog_stale_monitors(WORKFLOWS)

    assert set(monitors) == {"stale-ohlcv", "stale-trades"}
    trades = monitors["stale-trades"]
    assert trades["query"].endswith("workflow:trades} > 90")
    assert trades["options"]["thresholds"] == {"critical": 90.0}
    assert "ingestflow-key:stale-trades" in trades["tags"]
