"""The handlers' contract: `ingestflow.entrypoints.aws_lambda.<name>.handler` for the five
functions, each a plain function of (event, context), importable without AWS access."""

from __future__ import annotations

import importlib
import inspect

import pytest

NAMES = ("register", "schedule", "finish", "alerts", "forward_metrics")


@pytest.mark.parametrize("name", NAMES)
def test_each_function_has_its_handler(name: str) -> None:
    module = importlib.import_module(f"ingestflow.entrypoints.aws_lambda.{name}")
    handler = module.handler
    assert callable(handler)
    assert list(inspect.signature(handler).parameters) == ["event", "context"]


def test_a_lease_shorter_than_an_execution_is_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ingestflow.domain.workflow import Workflow
    from ingestflow.entrypoints.aws_lambda import schedule

    short = Workflow("short_lease", "short/", lease=600)
    long = Workflow("long_lease", "long/", lease=3 * 3600)
    with caplog.at_level("WARNING"):
        schedule._warn_short_leases([short, long])
        schedule._warn_short_leases([short, long])
    warned = [r.getMessage() for r in caplog.records if "lease" in r.getMessage()]
    assert len(warned) == 1 and "short_lease" in warned[0]
