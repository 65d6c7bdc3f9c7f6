"""--config and --env work before the command name as well as after it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "ingestflow"]


def test_config_and_env_before_the_command_select_the_same_settings(tmp_path: Path) -> None:
    subprocess.run([*CLI, "init", str(tmp_path)], check=True, capture_output=True)
    config = str(tmp_path / "ingestflow.toml")
    before = subprocess.run(
        [*CLI, "--config", config, "--env", "prod", "workflows", "--json"],
        check=True, capture_output=True, text=True, cwd=tmp_path.parent,
    )  # fmt: skip
    after = subprocess.run(
        [*CLI, "workflows", "--json", "--config", config, "--env", "prod"],
        check=True, capture_output=True, text=True, cwd=tmp_path.parent,
    )  # fmt: skip
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert json.loads(before.stdout)[0]["name"] == "ohlcv"
    missing = subprocess.run(
        [*CLI, "--env", "nowhere", "status", "--config", config],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "env.nowhere" in missing.stderr
