"""The benchmark harness at `--size smoke`, as CI runs it: every case and contender, outputs
checked against each other and against the expected values."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES = {"large", "small", "ledger", "latency"}
FILE_CASES = ("large", "small")
CONTENDERS = ["ingestflow", "duckdb_per_file", "duckdb_multi_file", "polars", "pyspark"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smoke_benchmark_runs_every_case_and_contender(tmp_path: Path) -> None:
    contenders = list(CONTENDERS)
    if importlib.util.find_spec("pyspark") is None:
        contenders.remove("pyspark")  # installed in CI through the `bench` extra
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--size",
            "smoke",
            "--out",
            str(tmp_path),
            "--contenders",
            ",".join(contenders),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    data = json.loads((tmp_path / "latest.json").read_text())
    markdown = (tmp_path / "latest.md").read_text()
    assert "error" not in data
    assert set(data["cases"]) == CASES
    for case in FILE_CASES:
        found = data["cases"][case]["contenders"]
        assert list(found) == contenders
        expected_rows = data["cases"][case]["dataset"]["rows"]
        sums = set()
        for name, info in found.items():
            assert len(info["runs"]) == 1
            for run in info["runs"]:
                assert run["check_ok"], (case, name)
                assert run["check"]["rows"] == run["expected"]["rows"] == expected_rows
                assert run["wall_s"] > 0 and run["cpu_s"] > 0 and run["peak_rss_mib"] > 0
                sums.add(round(run["check"]["sum_price_change"], 6))
            assert f"| {name} |" in markdown
        assert len(sums) == 1, (case, sums)  # every contender's output agrees
    ledger = data["cases"]["ledger"]
    assert ledger["rows_at_measure"] == 50_000
    assert ledger["claim_ms"]["n"] >= 1 and ledger["register_files_per_s"]["median"] > 0
    latency = data["cases"]["latency"]
    assert latency["ledger_s"]["n"] >= 1 and latency["ledger_s"]["p50"] > 0
    assert {t["id"] for t in data["targets"]} >= {
        "large_vs_fastest_bare",
        "small_vs_duckdb_multi",
        "ledger_register",
        "ledger_claim",
        "ledger_backlog",
        "ledger_stale",
        "latency_p50",
        "large_ingestflow_rss",
    }
    for heading in ("## Targets", "## Case 1", "## Case 2", "## Case 3", "## Case 4"):
        assert heading in markdown
