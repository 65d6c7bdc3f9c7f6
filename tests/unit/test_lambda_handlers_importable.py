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
