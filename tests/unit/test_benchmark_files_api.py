"""The benchmark's dashboard files API figures: pooling over runs, targets, the report table and
the answer checks (benchmarks.report, benchmarks.files_api)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # the harness is run from the repo, not installed

from benchmarks import report  # noqa: E402
from benchmarks.files_api import QUERIES, check  # noqa: E402


def _query(text: str, goal: bool, cold: float, warm: list[float]) -> dict[str, Any]:
    return {
        "text": text,
        "goal": goal,
        "path": "/api/files",
        "cold_ms": cold,
        "warm_ms": warm,
        "files": 100,
        "has_next": True,
        "wire_bytes": 9000,
        "split": {"store_ms": 2.0, "render_ms": 3.0, "gzip_ms": 1.0, "body_bytes": 52600.0},
    }


def _run(first_warm: list[float], scan_warm: list[float], cold: float) -> dict[str, Any]:
    return {
        "wall_s": 50.0,
        "cpu_s": 49.0,
        "peak_rss_mib": 150.0,
        "rows_at_measure": 1_000_000,
        "repeats": len(first_warm),
        "queries": {
            "first_page": _query("first page", True, cold, first_warm),
            "q_none": _query("q=no-such-key", False, 600.0, scan_warm),
        },
    }


def _ledger(api: dict[str, Any]) -> dict[str, Any]:
    stats = {"p50": 1.0, "p95": 2.0, "max": 3.0, "n": 3}
    return {
        "runs": 2,
        "register_files": 100_000,
        "rows_at_measure": 1_000_000,
        "stale_found": 1000,
        "backlog_count": 101_000,
        "register_files_per_s": {"median": 52_000.0, "min": 50_000.0, "max": 54_000.0},
        "reregister_files_per_s": {"median": 90_000.0, "min": 90_000.0, "max": 90_000.0},
        "summary": {
            m: {"median": 1.0, "min": 1.0, "max": 1.0} for m in ("wall_s", "cpu_s", "peak_rss_mib")
        },
        **{k: stats for k in ("claim_ms", "backlog_ms", "stale_ms", "finish_per_file_ms")},
        "counts_ms": stats,
        "files_api": api,
    }


def test_the_summary_pools_every_runs_warm_calls_and_keeps_each_runs_cold_call() -> None:
    api = report.files_api_summary(
        [_run([10.0, 12.0], [500.0], cold=40.0), _run([11.0, 13.0], [520.0], cold=30.0)]
    )

    first = api["queries"]["first_page"]
    assert first["warm_ms"]["n"] == 4 and first["warm_ms"]["max"] == 13.0
    assert first["cold_ms"]["n"] == 2 and first["cold_ms"]["max"] == 40.0
    assert api["rows_at_measure"] == 1_000_000 and api["goal_ms"] == 100.0


def test_only_the_page_queries_get_a_target_judged_on_the_warm_p95() -> None:
    slow = report.files_api_summary([_run([10.0] * 10 + [150.0] * 2, [500.0], cold=40.0)])
    fast = report.files_api_summary([_run([10.0] * 20, [500.0], cold=40.0)])

    def api_targets(api: dict[str, Any]) -> list[dict[str, Any]]:
        found = report.targets({"ledger": _ledger(api)}, "full")
        return [t for t in found if t["id"].startswith("files_api_")]

    assert [(t["id"], t["status"]) for t in api_targets(fast)] == [("files_api_first_page", "pass")]
    assert [t["status"] for t in api_targets(slow)] == ["miss"]


def test_the_report_shows_each_query_with_its_verdict_against_100_ms() -> None:
    api = report.files_api_summary([_run([10.0, 12.0], [500.0], cold=140.0)])

    text = report.markdown(
        {
            "meta": {
                "size": "full",
                "command": "python -m benchmarks --cases ledger",
                "started": "2026-12-02T00:00:00+00:00",
                "runs": 1,
                "seed": 42,
                "machine": {"cpus": 2, "memory_gib": 8.0, "platform": "Linux", "python": "3.11"},
                "versions": {"ingestflow": "0.1.0"},
            },
            "cases": {"ledger": _ledger(api)},
            "targets": [],
        }
    )

    assert "Dashboard files API" in text
    assert "| first page | 100, next_cursor | 140.00 | 11.00 |" in text
    assert "| pass (cold **MISS**) |" in text
    assert "| q=no-such-key | 100, next_cursor | 600.00 | 500.00 |" in text
    assert "| no goal (**MISS**) |" in text


def _file(key: str, status: str = "DONE", workflow: str = "quotes") -> dict[str, Any]:
    return {"key": key, "status": status, "workflow": workflow, "upload_time": "2026-01-01"}


def test_the_check_refuses_a_page_holding_a_file_outside_its_filters() -> None:
    done_quotes = next(q for q in QUERIES if q.id == "done_quotes")
    page = [_file(f"quotes/00003/{i:08d}.csv") for i in range(100)]
    check(done_quotes, {"files": page, "next_cursor": "x"}, None)

    page[7] = _file("trades/00001/00001007.csv", workflow="trades")
    with pytest.raises(SystemExit, match="prefix=quotes/"):
        check(done_quotes, {"files": page, "next_cursor": "x"}, None)


def test_the_check_refuses_a_second_page_that_does_not_follow_the_first() -> None:
    page_2 = next(q for q in QUERIES if q.id == "page_2")
    first = {"files": [_file(f"quotes/a/{i:03d}.csv") for i in range(100)], "next_cursor": "x"}

    with pytest.raises(SystemExit, match="page 2 does not start after page 1"):
        check(page_2, first, first)
