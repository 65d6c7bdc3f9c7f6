"""The README's demo command, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "ingestflow"]


def test_demo_ingests_generated_files_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "demo", "--dir", str(tmp_path), "--files", "12", "--rows", "50"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "demo summary" in result.stdout
    status = subprocess.run(
        [*CLI, "status", "--json", "--config", str(tmp_path / "ingestflow.toml")],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(status.stdout)
    assert data["counts"] == {"TODO": 0, "PROCESSING": 0, "DONE": 12, "FAILED": 1}
    assert data["unrouted"] == 1
    outputs = sorted((tmp_path / "output" / "ohlcv").rglob("*.parquet"))
    assert len(outputs) == 12
