"""The benchmark harness at `--size smoke`, as CI runs it: every case and contender, outputs
checked against each other and against the expected values; the PostgreSQL ledger beside
SQLite, the workers case on one PostgreSQL ledger and the Spark engine contender included."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES = {"large", "small", "ledger", "latency", "workers"}
FILE_CASES = ("large", "small")
CONTENDERS = [
    "ingestflow",
    "duckdb_per_file",
    "duckdb_multi_file",
    "polars",
    "pyspark",
    "ingestflow_spark",
]
SPARK = ("pyspark", "ingestflow_spark")
PER_FILE_OUTPUT = ("ingestflow", "duckdb_per_file", "polars", "ingestflow_spark")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smoke_benchmark_runs_every_case_and_contender(tmp_path: Path) -> None:
    spark = importlib.util.find_spec("pyspark") is not None
    # pyspark is installed in CI through the `bench` extra
    contenders = [c for c in CONTENDERS if spark or c not in SPARK]
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
                if name in PER_FILE_OUTPUT:
                    assert run["check"]["parquet_files"] == run["expected"]["files"], (case, name)
            assert f"| {name} |" in markdown
        assert len(sums) == 1, (case, sums)  # every contender's output agrees
    if spark:
        for case in FILE_CASES:
            found = data["cases"][case]["contenders"]
            assert found["ingestflow_spark"]["summary"]["startup_s"]["median"] > 0
            assert found["ingestflow_spark"]["files"] == data["cases"][case]["dataset"]["files"]
    ledger = data["cases"]["ledger"]
    assert ledger["rows_at_measure"] == 50_000
    assert ledger["claim_ms"]["n"] >= 1 and ledger["register_files_per_s"]["median"] > 0
    postgres = ledger["postgres"]  # PostgresStatusStore, the same profile as SQLite
    assert postgres["rows_at_measure"] == 50_000 and postgres["register_files"] == 5_000
    assert postgres["claim_ms"]["n"] == 3 and postgres["register_files_per_s"]["median"] > 0
    assert postgres["reregister_files_per_s"]["median"] > 0
    assert postgres["finish_batch_ms"]["p50"] > 0
    assert "| operation | SQLite | PostgreSQL | goal | unit |" in markdown
    workers = data["cases"]["workers"]
    small_files = data["cases"]["small"]["dataset"]["files"]
    assert list(workers["counts"]) == ["1", "2", "4"] and workers["cpus"] >= 1
    for count, info in workers["counts"].items():
        assert info["check_ok"] and info["files"] == small_files, count
        assert info["files_per_s"] > 0 and info["speedup"] > 0, count
        assert len(info["batches_per_worker"]) == int(count)
        for run in info["runs"]:
            assert run["check"]["rows"] == run["expected"]["rows"]
            assert run["check"]["parquet_files"] == small_files
            assert run["batches"] >= 1
            assert [p["exit_code"] for p in run["processes"]] == [0] * (int(count) + 1)
            assert sum(p["done"] for p in run["processes"]) == small_files  # shared, once each
    assert workers["counts"]["1"]["speedup"] == 1.0
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
        "ledger_pg_register",
        "ledger_pg_claim",
        "workers_speedup_2",
        "workers_speedup_4",
    }
    targets = {t["id"]: t for t in data["targets"]}
    assert targets["ledger_pg_claim"]["status"] in ("pass", "miss")
    assert targets["workers_speedup_4"]["status"] == "info"
    for case in FILE_CASES:
        ratio = targets[f"{case}_spark_engine_vs_pyspark"]
        assert ratio["status"] == ("info" if spark else "n/a"), ratio
    headings = ("## Targets", "## Case 1", "## Case 2", "## Case 3", "## Case 4", "## Case 5")
    for heading in headings:
        assert heading in markdown
