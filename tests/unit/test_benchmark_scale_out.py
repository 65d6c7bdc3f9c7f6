"""The benchmark's scale-out pieces: the PostgreSQL ledger beside SQLite, the workers case and the
Spark engine contender (benchmarks.report, benchmarks.workers, benchmarks.pg, the configs)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ingestflow.config import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # the harness is run from the repo, not installed

from benchmarks import pg, report  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402
from benchmarks.contender import (  # noqa: E402
    spark_engine_conf,
    spark_engine_config,
    write_ingestflow_config,
)
from benchmarks.postgres_ledger import measure  # noqa: E402
from benchmarks.runner import BenchmarkError  # noqa: E402
from benchmarks.workers import (  # noqa: E402
    CLEAN_STEPS,
    check_steps,
    parse_summary,
    proc_info,
    write_config,
)

META = {
    "size": "full",
    "command": "python -m benchmarks",
    "started": "2026-12-02T00:00:00+00:00",
    "runs": 1,
    "seed": 42,
    "machine": {"cpus": 2, "memory_gib": 8.0, "platform": "Linux", "python": "3.11"},
    "versions": {"ingestflow": "0.1.0"},
}
SPREAD = {"median": 1.0, "min": 1.0, "max": 1.0}
STATS = {"p50": 1.0, "p95": 2.0, "max": 3.0, "n": 3}


def _workers_run(n: int, wall: float, span: float) -> dict[str, Any]:
    processes = [
        {"role": "work", "wall_s": wall, "cpu_s": 1.0, "peak_rss_mib": 140.0, "batches": 40 // n}
        for _ in range(n)
    ]
    processes.append(
        {"role": "discover", "wall_s": wall, "cpu_s": 0.5, "peak_rss_mib": 120.0, "batches": 0}
    )
    return {
        "workers": n,
        "files": 2000,
        "wall_s": wall,
        "span_s": span,
        "ready_s": 5.0,
        "cpu_s": 1.0 * n + 0.5,
        "peak_rss_mib": 140.0,
        "batches": 40,
        "processes": processes,
        "check": {"parquet_files": 2000, "rows": 10, "sum_price_change": 1.5},
        "expected": {"rows": 10, "sum_price_change": 1.5},
        "check_ok": True,
    }


def _workers() -> dict[str, Any]:
    runs = {
        1: [_workers_run(1, 5.0, 4.0), _workers_run(1, 6.0, 5.0), _workers_run(1, 4.0, 3.0)],
        2: [_workers_run(2, 3.0, 2.0)],
        4: [_workers_run(4, 4.0, 2.5)],
    }
    return report.workers_summary(runs, {"files": 2000, "bytes": 10**8, "rows": 10}, 50, 2)


def _pg_run(register: float, claims: list[float]) -> dict[str, Any]:
    return {
        "rows_at_measure": 1_000_000,
        "register": {"files": 100_000, "files_per_s": register},
        "reregister": {"files": 100_000, "files_per_s": 2 * register},
        "claim_ms": claims,
        "finish_batch_ms": 40.0,
        "server_start_s": 2.0,
        "load_s": 30.0,
        "settings": {"shared_buffers": "2GB"},
        "wall_s": 60.0,
        "cpu_s": 20.0,
        "peak_rss_mib": 150.0,
    }


def _ledger(postgres: dict[str, Any] | None) -> dict[str, Any]:
    ledger: dict[str, Any] = {
        "runs": 1,
        "register_files": 100_000,
        "rows_at_measure": 1_000_000,
        "stale_found": 1000,
        "register_files_per_s": {"median": 53_000.0, "min": 53_000.0, "max": 53_000.0},
        "reregister_files_per_s": {"median": 120_000.0, "min": 1.0, "max": 1.0},
        "summary": {m: SPREAD for m in ("wall_s", "cpu_s", "peak_rss_mib")},
        **{k: STATS for k in ("claim_ms", "backlog_ms", "stale_ms", "finish_per_file_ms")},
        "counts_ms": STATS,
        "finish_batch_ms": {"p50": 27.0, "p95": 27.0, "max": 27.0, "n": 1},
    }
    if postgres is not None:
        ledger["postgres"] = postgres
    return ledger


def _by_id(targets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in targets}


def _contender(job_mb_per_s: float, wall_mb_per_s: float) -> dict[str, Any]:
    return {
        "throughput": {
            "job_mb_per_s": job_mb_per_s,
            "wall_mb_per_s": wall_mb_per_s,
            "job_s_per_file": 1.0 / job_mb_per_s,
        }
    }


def test_workers_case_reports_files_per_second_and_speed_up_for_each_worker_count() -> None:
    workers = _workers()

    one, two, four = (workers["counts"][k] for k in ("1", "2", "4"))
    assert one["wall_s"] == {"median": 5.0, "min": 4.0, "max": 6.0}
    assert one["files_per_s"] == pytest.approx(400.0)  # files / median wall
    assert two["files_per_s"] == pytest.approx(2000 / 3.0)
    assert two["speedup"] == pytest.approx((2000 / 3.0) / 400.0)
    assert four["speedup"] == pytest.approx(500.0 / 400.0)
    assert four["span_speedup"] == pytest.approx((2000 / 2.5) / (2000 / 4.0))
    assert four["batches_per_worker"] == [10, 10, 10, 10]  # the discoverer is not a worker
    assert workers["cpus"] == 2 and workers["batch_files"] == 50


def test_the_workers_report_says_how_many_cpus_the_machine_has_and_checks_every_count() -> None:
    text = report.markdown({"meta": META, "cases": {"workers": _workers()}, "targets": []})

    assert "## Case 5 — workers on one PostgreSQL ledger" in text
    assert "This machine has 2 CPU(s)" in text and "4 workers cannot be 4×" in text
    assert "| 1 | 5.00 (4.00–6.00) | 400.0 | 1.00 |" in text
    assert "| 2 | 3.00 (3.00–3.00) | 666.7 | 1.67 |" in text
    assert "| 4 | 4.00 (4.00–4.00) | 500.0 | 1.25 |" in text
    assert "40 (10, 10, 10, 10)" in text
    assert text.count("| ok |") == 3


def test_workers_speed_ups_are_informational_targets_without_a_goal() -> None:
    found = _by_id(report.targets({"workers": _workers()}, "full"))

    assert found["workers_speedup_2"]["status"] == "info"
    assert found["workers_speedup_2"]["target"] is None
    assert found["workers_speedup_4"]["value"] == pytest.approx(1.25)
    assert "2 CPUs: at most 2 ×" in found["workers_speedup_4"]["note"]
    assert _by_id(report.targets({}, "full"))["workers_speedup_2"]["status"] == "n/a"


def test_the_transitions_check_accepts_only_todo_processing_done_once_per_file() -> None:
    keys = ["ohlcv/a.csv", "ohlcv/b.csv"]
    clean = {k: list(CLEAN_STEPS) for k in keys}
    assert check_steps(clean, keys) == []

    twice = {**clean, "ohlcv/b.csv": [*CLEAN_STEPS[:2], ("PROCESSING", "TODO"), *CLEAN_STEPS[1:]]}
    [problem] = check_steps(twice, keys)
    assert "1 file(s) not TODO -> PROCESSING -> DONE exactly once" in problem
    assert "'ohlcv/b.csv'" in problem and "PROCESSING -> TODO" in problem

    missing = check_steps({"ohlcv/a.csv": list(CLEAN_STEPS), "x.csv": list(CLEAN_STEPS)}, keys)
    assert len(missing) == 2
    assert "never in the ledger" in missing[0] and "unexpected" in missing[1]


def test_the_closing_line_of_ingestflow_run_gives_each_workers_batches() -> None:
    out = "registered 0, batches 3, done 9, failed 0, retrying 0, unrouted 0\n"

    assert parse_summary(out) == {"registered": 0, "batches": 3, "done": 9, "failed": 0}
    assert parse_summary("") is None


def test_a_process_is_seen_as_up_once_it_catches_sigterm_and_sleeps() -> None:
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        time.sleep(0.1)
        found = proc_info(child.pid)
        assert found is not None
        state, ticks, sigterm = found
        assert (state, sigterm) == ("S", True) and ticks >= 0
        mine = proc_info(os.getpid())
        assert mine is not None and mine[2] is False  # this process leaves SIGTERM alone
    finally:
        child.terminate()
        assert child.wait(timeout=10) == 0  # its handler ran
        child.stdout.close()
    assert proc_info(child.pid) is None


def test_the_workers_config_is_one_shared_postgresql_ledger_with_one_duckdb_thread_each(
    tmp_path: Path,
) -> None:
    (tmp_path / "landing").mkdir()
    (tmp_path / "output").mkdir()
    url = "postgresql://postgres@127.0.0.1:5999/ledgers?options=-csearch_path%3Dledger_1"
    config = tmp_path / "ingestflow.toml"
    write_config(config, tmp_path / "landing", tmp_path / "output", url, 50)

    settings = load_settings(config, environ={})
    assert settings.ledger_kind == "postgresql" and settings.ledger_url == url
    assert settings.engine == "duckdb" and settings.engine_threads == 1
    [workflow] = settings.workflows
    assert (workflow.batch_size, workflow.max_batch_files, workflow.max_wait) == (50, 50, 0.0)


def test_the_spark_contender_runs_ingestflow_on_the_spark_engine_with_a_local_master(
    tmp_path: Path,
) -> None:
    (tmp_path / "landing").mkdir()
    config = tmp_path / "ingestflow.toml"
    conf = spark_engine_conf(tmp_path / "work")
    write_ingestflow_config(
        config,
        tmp_path / "landing",
        tmp_path / "out",
        tmp_path / "ledger.db",
        12,
        1000,
        spark_engine_config(conf),
    )

    settings = load_settings(config, environ={})
    assert settings.engine == "spark" and settings.engine_master == "local[2]"
    assert settings.engine_conf == conf
    assert settings.workflows[0].batch_size == 12  # every file in one batch


def test_the_spark_engine_is_compared_with_the_reference_pyspark_job_for_information() -> None:
    case = {
        "dataset": {"files": 12, "bytes": 600_000, "rows": 9000},
        "contenders": {
            "ingestflow_spark": _contender(6.0, 3.0),
            "pyspark": _contender(2.0, 1.5),
        },
    }
    found = _by_id(report.targets({"large": case, "small": case}, "full"))

    for tid in ("large_spark_engine_vs_pyspark", "small_spark_engine_vs_pyspark"):
        assert found[tid]["status"] == "info" and found[tid]["value"] == pytest.approx(3.0)
        assert "wall incl. session start 2.00 ×" in found[tid]["note"]
    text = report.markdown({"meta": META, "cases": {}, "targets": list(found.values())})
    assert "| 3.00 × | no goal | info |" in text


def test_postgres_ledger_runs_pool_into_one_summary_with_claims_from_every_run() -> None:
    pgl = report.postgres_ledger_summary(
        [_pg_run(40_000.0, [20.0, 22.0]), _pg_run(60_000.0, [24.0, 80.0])]
    )

    assert pgl["register_files_per_s"] == {"median": 50_000.0, "min": 40_000.0, "max": 60_000.0}
    assert pgl["claim_ms"]["n"] == 4 and pgl["claim_ms"]["p50"] == 23.0
    assert pgl["finish_batch_ms"]["p50"] == 40.0 and pgl["rows_at_measure"] == 1_000_000


def test_postgres_gets_the_same_ledger_targets_as_sqlite_and_a_miss_is_reported() -> None:
    fast = report.postgres_ledger_summary([_pg_run(55_000.0, [25.0])])
    slow = report.postgres_ledger_summary([_pg_run(30_000.0, [45.0])])

    ok = _by_id(report.targets({"ledger": _ledger(fast)}, "full"))
    missed = _by_id(report.targets({"ledger": _ledger(slow)}, "full"))
    assert ok["ledger_pg_register"]["status"] == ok["ledger_pg_claim"]["status"] == "pass"
    assert missed["ledger_pg_register"]["status"] == missed["ledger_pg_claim"]["status"] == "miss"
    assert ok["ledger_pg_register"]["target"] == ok["ledger_register"]["target"] == 50_000.0
    assert ok["ledger_pg_claim"]["target"] == ok["ledger_claim"]["target"] == 30.0
    assert _by_id(report.targets({"ledger": _ledger(None)}, "full"))["ledger_pg_claim"][
        "status"
    ] == ("n/a")


def test_the_ledger_report_puts_sqlite_and_postgresql_side_by_side() -> None:
    pgl = report.postgres_ledger_summary([_pg_run(30_000.0, [45.0])])
    text = report.markdown({"meta": META, "cases": {"ledger": _ledger(pgl)}, "targets": []})

    assert "| operation | SQLite | PostgreSQL | goal | unit |" in text
    assert "| register (new files, chunks of 5,000) | 53,000 (pass) | 30,000 (**MISS**) |" in text
    assert "| re-register (unchanged files) | 120,000 | 60,000 |" in text
    assert "| claim of 1,000 files, median | 1.00 (pass) | 45.00 (**MISS**) | < 30 |" in text
    assert "| finish of 1,000 outcomes in one call | 27.00 | 40.00 |" in text
    assert "shared\\_buffers = 2GB" in text  # a table cell's text, escaped
    plain = report.markdown({"meta": META, "cases": {"ledger": _ledger(None)}, "targets": []})
    assert "PostgreSQL" not in plain.split("## Case 3")[1].split("## What is measured")[0]


def test_a_missing_postgresql_fails_the_case_with_the_install_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = pg.server_module()

    def missing() -> Path:
        raise module.PostgresMissingError("PostgreSQL is not installed (no pg_ctl): install it")

    monkeypatch.setattr(module, "server_binaries", missing)
    with pytest.raises(BenchmarkError, match=r"case workers needs PostgreSQL: PostgreSQL is not"):
        pg.check_available("workers")


def test_the_harness_stops_before_any_case_when_postgresql_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = pg.server_module()

    def missing() -> Path:
        raise module.PostgresMissingError("PostgreSQL is not installed (no pg_ctl)")

    monkeypatch.setattr(module, "server_binaries", missing)
    code = main(["--size", "smoke", "--cases", "latency,ledger", "--out", str(tmp_path)])

    assert code == 1
    assert "case ledger needs PostgreSQL: PostgreSQL is not installed" in capsys.readouterr().out
    text = (tmp_path / "latest.md").read_text()
    assert "## ERROR" in text and "case ledger needs PostgreSQL" in text
    assert "## Case 4" not in text  # no case ran: the check comes first


def test_the_postgres_ledger_refuses_more_claims_than_waiting_files_before_starting() -> None:
    with pytest.raises(ValueError, match="claims of 1000 need that many waiting files"):
        measure(50_000, 5_000, 10)
    with pytest.raises(ValueError, match="register must be between 1 and rows - 1"):
        measure(50_000, 50_000, 1)


def test_an_error_with_backticks_cannot_close_the_reports_code_block() -> None:
    error = "workers: key 'ohlcv/```x.csv' failed\n```\n# not a heading"
    text = report.markdown({"meta": META, "cases": {}, "targets": [], "error": error})

    block = text.split("## ERROR\n\n")[1]
    assert block.startswith("````\n" + error + "\n````\n")
