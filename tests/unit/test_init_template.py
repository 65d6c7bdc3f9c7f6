"""The config `ingestflow init` writes must load as it is, and so must its commented examples."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from unit_support import WriteConfig

from ingestflow.config import load_settings
from ingestflow.domain.workflow import route
from ingestflow.entrypoints.cli.init_template import TEMPLATE

# A commented-out TOML line: "# [table]", "# [[array]]" or "# key = value".
COMMENTED_TOML = re.compile(r"^# (\[.*\]|[A-Za-z_][A-Za-z0-9_]* = .*)$", re.MULTILINE)


def test_the_template_loads_with_one_ohlcv_workflow_on_the_ohlcv_folder(
    write_config: WriteConfig, config_dir: Path
) -> None:
    settings = load_settings(write_config(TEMPLATE), environ={})
    assert [(w.name, w.prefix, w.transform) for w in settings.workflows] == [
        ("ohlcv", "ohlcv/", "ohlcv")
    ]
    wf = settings.workflows[0]
    assert (wf.batch_size, wf.max_wait, wf.max_attempts, wf.lease) == (10, 30.0, 3, 300.0)
    assert wf.include == ("*.csv", "*.csv.gz")
    assert route("ohlcv/2024/a.csv", settings.workflows) == (wf, "")


def test_the_template_keeps_everything_next_to_the_config_file(
    write_config: WriteConfig, config_dir: Path
) -> None:
    settings = load_settings(write_config(TEMPLATE), environ={})
    assert settings.landing_path == config_dir / "landing"
    assert settings.output_path == config_dir / "output"
    assert settings.ledger_path == config_dir / ".ingestflow" / "ledger.db"
    assert (settings.output_compression, settings.engine) == ("snappy", "duckdb")


@pytest.mark.parametrize("env", sorted(tomllib.loads(TEMPLATE)["env"]))
def test_every_overlay_in_the_template_loads(write_config: WriteConfig, env: str) -> None:
    settings = load_settings(write_config(TEMPLATE), env=env, environ={})
    assert settings.env == env
    assert [w.name for w in settings.workflows] == ["ohlcv"]


def test_the_template_defines_dev_and_prod_overlays() -> None:
    assert set(tomllib.loads(TEMPLATE)["env"]) == {"dev", "prod"}


def test_the_override_the_template_mentions_works(write_config: WriteConfig) -> None:
    assert "INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE=5" in TEMPLATE
    environ = {"INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE": "5"}
    settings = load_settings(write_config(TEMPLATE), environ=environ)
    assert settings.workflows[0].batch_size == 5


def test_the_commented_examples_load_once_uncommented(write_config: WriteConfig) -> None:
    uncommented, count = COMMENTED_TOML.subn(r"\1", TEMPLATE)
    assert count >= 15  # the options table and the whole [[transforms]] example
    settings = load_settings(write_config(uncommented), environ={})
    trades = settings.transforms["trades"]
    assert [(c.source, c.target, c.type) for c in trades.columns] == [
        ("Price", "price", "double"),
        ("When", "traded_at", "timestamp"),
    ]
    assert trades.drop == ("comment",)
    assert [d.name for d in trades.derived] == ["notional"]
    spec = settings.spec_for(settings.workflows[0])
    date_rule = next(c for c in spec.columns if c.source == "Date")
    assert date_rule.parse_formats() == ("%d/%m/%Y %H:%M",)


def test_the_template_mentions_the_marker_symlink_and_reconcile_keys(
    write_config: WriteConfig,
) -> None:
    for line in (
        "# follow_symlinks = false",
        '# reconcile_interval = "1m"',
        '# ready_marker = "_SUCCESS"',
        "# marker_required = false",
    ):
        assert line in TEMPLATE.splitlines()
    settings = load_settings(write_config(COMMENTED_TOML.sub(r"\1", TEMPLATE)), environ={})
    assert (settings.follow_symlinks, settings.reconcile_interval) == (False, 60.0)
    wf = settings.workflows[0]
    assert (wf.ready_marker, wf.marker_required) == ("_SUCCESS", False)
    assert "ready_marker" not in wf.options
