"""The README's demo command, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import clean_env

CLI = [sys.executable, "-m", "ingestflow"]
SCRIPT = Path(sys.executable).parent / "ingestflow"


def test_demo_ingests_generated_files_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "demo", "--dir", str(tmp_path), "--files", "12", "--rows", "50"],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "demo summary" in result.stdout
    status = subprocess.run(
        [*CLI, "status", "--json", "--config", str(tmp_path / "ingestflow.toml")],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
    )
    data = json.loads(status.stdout)
    assert data["counts"] == {"TODO": 0, "PROCESSING": 0, "DONE": 12, "FAILED": 1}
    assert data["unrouted"] == 1
    outputs = sorted((tmp_path / "output" / "ohlcv").rglob("*.parquet"))
    assert len(outputs) == 12


@pytest.mark.parametrize("runner", ["console script", "python -m"])
def test_the_commands_the_demo_prints_work_as_printed_from_any_folder(
    tmp_path: Path, runner: str
) -> None:
    if runner == "console script" and not SCRIPT.exists():
        pytest.skip("no console script next to this interpreter")
    cli = [str(SCRIPT)] if runner == "console script" else CLI
    # A relative --dir with a space and brackets: printed commands must quote and not lose it.
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    result = subprocess.run(
        [*cli, "demo", "--dir", "demo [1] run", "--files", "3", "--rows", "20"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"ingestflow demo in {work / 'demo [1] run'}" in result.stdout
    lines = result.stdout.splitlines()
    start = lines.index("try (from any folder):")
    commands = [line.strip() for line in lines[start + 1 :] if line.startswith("  ")]
    assert len(commands) == 5, result.stdout
    assert "the dashboard (until Ctrl-C): " in result.stdout
    assert " serve --config " in result.stdout
    # Not on PATH: the venv's bin folder is not there, as on a fresh shell.
    env = clean_env({"PATH": os.defpath, "COLUMNS": "300"})
    outputs = []
    for command in commands:
        assert command.startswith(cli[0]), command
        ran = subprocess.run(
            command, shell=True, cwd=elsewhere, capture_output=True, text=True, env=env
        )
        assert ran.returncode == 0, (command, ran.stderr)
        outputs.append(ran.stdout)
    status, failed, query, metrics, alerts = outputs
    assert "DONE" in status and "FAILED" in status
    assert "ohlcv/BROKEN/2024-01-01.csv" in failed
    assert "candles" in query and "avg_change" in query
    assert "bad_value" in metrics  # the failed file, by error kind
    assert "firing" in alerts and "failed" in alerts
