"""Statistics, targets and the two result files (JSON and Markdown).

Every timing is summarised over the runs as median, min and max. Throughputs and ratios use the
medians. Ratios are *throughput* ratios: ``contender MB/s ÷ reference MB/s`` (1.0 = as fast,
0.5 = half as fast), computed per input byte so a contender that processed a subset of the files
(``--spark-max-files``) is still compared fairly.

A target has a goal (status ``pass`` or ``miss``; a miss is reported, never an error) or, when
the issue gives none, is informational (``info``: the value is shown, no goal, no verdict), and
is ``n/a`` when its inputs were not measured. Text that comes from files, keys or errors goes
into the Markdown only through ``_cell`` (table cells) or ``_fenced`` (code blocks).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BARE_ENGINES = ("duckdb_per_file", "duckdb_multi_file", "polars")
RSS_LIMIT_MIB = 1024.0
FILES_API_GOAL_MS = 100.0  # each page of the dashboard's GET /api/files (warm p95)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of `values`."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (pct in 0..100)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * pct / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values),
        "n": len(values),
    }


def summarize_contender(runs: list[dict[str, Any]], input_bytes: int, rows: int) -> dict[str, Any]:
    """Per-metric spreads over runs and median-based throughputs for one contender."""
    metrics = ("wall_s", "job_s", "cpu_s", "peak_rss_mib", "startup_s", "shutdown_s")
    summary = {m: spread([r[m] for r in runs]) for m in metrics if all(m in r for r in runs)}
    files = runs[0]["files"]
    job, wall = summary["job_s"]["median"], summary["wall_s"]["median"]
    return {
        "files": files,
        "input_bytes": input_bytes,
        "rows": rows,
        "summary": summary,
        "throughput": {
            "job_mb_per_s": input_bytes / 1e6 / job,
            "wall_mb_per_s": input_bytes / 1e6 / wall,
            "job_rows_per_s": rows / job,
            "job_files_per_s": files / job,
            "job_s_per_file": job / files,
        },
    }


def add_ratios(contenders: dict[str, dict[str, Any]]) -> None:
    """Throughput of each contender relative to each bare DuckDB variant (job time)."""
    for info in contenders.values():
        ratios = {}
        for ref in ("duckdb_per_file", "duckdb_multi_file"):
            if ref in contenders:
                ratios[f"vs_{ref}"] = (
                    info["throughput"]["job_mb_per_s"]
                    / contenders[ref]["throughput"]["job_mb_per_s"]
                )
        info["ratios"] = ratios


def files_api_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The files API runs (benchmarks.files_api) pooled: per query, the warm calls of every
    run as one sample, the cold (first) calls as another, the in-process split's medians."""
    first = runs[0]
    queries = {}
    for qid, q in first["queries"].items():
        per = [r["queries"][qid] for r in runs]
        queries[qid] = {
            "text": q["text"],
            "goal": q["goal"],
            "path": q["path"],
            "files": q["files"],
            "has_next": q["has_next"],
            "wire_bytes": q["wire_bytes"],
            "cold_ms": latency_stats([p["cold_ms"] for p in per]),
            "warm_ms": latency_stats([v for p in per for v in p["warm_ms"]]),
            "split": {k: statistics.median(p["split"][k] for p in per) for k in q["split"]},
        }
    return {
        "runs": len(runs),
        "rows_at_measure": first["rows_at_measure"],
        "repeats": first["repeats"],
        "goal_ms": FILES_API_GOAL_MS,
        "queries": queries,
        "summary": {m: spread([r[m] for r in runs]) for m in ("wall_s", "cpu_s", "peak_rss_mib")},
        "run_results": runs,
    }


def postgres_ledger_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The ledger case's PostgreSQL runs (benchmarks.postgres_ledger, one child each) pooled:
    files/s per run as spreads, the claims of every run as one sample."""
    first = runs[0]
    return {
        "runs": len(runs),
        "rows_at_measure": first["rows_at_measure"],
        "register_files": first["register"]["files"],
        "settings": first.get("settings", {}),
        "server_version": first.get("server_version"),
        "register_files_per_s": spread([r["register"]["files_per_s"] for r in runs]),
        "reregister_files_per_s": spread([r["reregister"]["files_per_s"] for r in runs]),
        "claim_ms": latency_stats([v for r in runs for v in r["claim_ms"]]),
        "finish_batch_ms": latency_stats([r["finish_batch_ms"] for r in runs]),
        "server_start_s": spread([r["server_start_s"] for r in runs]),
        "load_s": spread([r["load_s"] for r in runs]),
        "summary": {m: spread([r[m] for r in runs]) for m in ("wall_s", "cpu_s", "peak_rss_mib")},
        "run_results": runs,
    }


def workers_summary(
    runs: dict[int, list[dict[str, Any]]], dataset: dict[str, Any], batch_files: int, cpus: int
) -> dict[str, Any]:
    """The workers case (benchmarks.workers): per worker count, spreads over runs, files/s from
    the median times, and the speed-up over one worker (wall time, and the ledger's span)."""
    counts: dict[str, dict[str, Any]] = {}
    for n, rs in runs.items():
        if not rs:
            continue
        files = rs[0]["files"]
        wall, span = spread([r["wall_s"] for r in rs]), spread([r["span_s"] for r in rs])
        last = rs[-1]
        counts[str(n)] = {
            "workers": n,
            "files": files,
            "wall_s": wall,
            "span_s": span,
            "ready_s": spread([r["ready_s"] for r in rs]),
            "files_per_s": files / wall["median"],
            "span_files_per_s": files / span["median"] if span["median"] > 0 else None,
            "cpu_s": spread([r["cpu_s"] for r in rs]),
            "peak_rss_mib": spread([r["peak_rss_mib"] for r in rs]),
            "batches": last["batches"],
            "batches_per_worker": [p["batches"] for p in last["processes"] if p["role"] == "work"],
            "check_ok": all(r["check_ok"] for r in rs),
            "runs": rs,
        }
    one = counts.get("1")
    for info in counts.values():
        info["speedup"] = info["files_per_s"] / one["files_per_s"] if one else None
        span_one = one["span_files_per_s"] if one else None
        span_n = info["span_files_per_s"]
        info["span_speedup"] = span_n / span_one if span_n and span_one else None
    return {
        "dataset": dataset,
        "batch_files": batch_files,
        "cpus": cpus,
        "runs": max((len(rs) for rs in runs.values()), default=0),
        "counts": counts,
    }


def _target(
    tid: str, text: str, value: float | None, op: str, goal: float, unit: str, note: str = ""
) -> dict[str, Any]:
    if value is None:
        status = "n/a"
    else:
        status = "pass" if (value >= goal if op == ">=" else value < goal) else "miss"
    return {
        "id": tid,
        "description": text,
        "value": value,
        "op": op,
        "target": goal,
        "unit": unit,
        "status": status,
        "note": note,
    }


def _info(tid: str, text: str, value: float | None, unit: str, note: str = "") -> dict[str, Any]:
    """A figure the issue asks to see without a goal: status ``info`` (``n/a`` unmeasured)."""
    return {
        "id": tid,
        "description": text,
        "value": value,
        "op": "",
        "target": None,
        "unit": unit,
        "status": "n/a" if value is None else "info",
        "note": note,
    }


def _thr(case: dict[str, Any] | None, name: str, key: str = "job_mb_per_s") -> float | None:
    if not case or name not in case["contenders"]:
        return None
    return float(case["contenders"][name]["throughput"][key])


def _median_of(value: Any) -> float | None:
    """A figure stored either as a number or as a spread/percentile dict."""
    if value is None or isinstance(value, int | float):
        return value
    for key in ("median", "p50"):
        if key in value:
            return float(value[key])
    return None


def targets(cases: dict[str, Any], size: str) -> list[dict[str, Any]]:
    """The issue's targets, computed from the case results (n/a when an input is missing)."""
    large, small = cases.get("large"), cases.get("small")
    ledger, latency = cases.get("ledger"), cases.get("latency")
    out = []

    ing = _thr(large, "ingestflow")
    bare = [t for t in (_thr(large, b) for b in BARE_ENGINES) if t is not None]
    fastest = None
    if large and bare:
        fastest = max(
            (b for b in BARE_ENGINES if b in large["contenders"]),
            key=lambda b: large["contenders"][b]["throughput"]["job_mb_per_s"],
        )
    out.append(
        _target(
            "large_vs_fastest_bare",
            "large files: ingestflow throughput ÷ fastest bare engine"
            + (f" ({fastest})" if fastest else ""),
            ing / max(bare) if ing and bare else None,
            ">=",
            0.9,
            "×",
            "job time (in-process work, no interpreter start-up)",
        )
    )
    ing_wall, spark_wall = (
        _thr(large, "ingestflow", "wall_mb_per_s"),
        _thr(large, "pyspark", "wall_mb_per_s"),
    )
    out.append(
        _target(
            "large_vs_pyspark",
            "large files: ingestflow throughput ÷ PySpark (wall incl. session start)",
            ing_wall / spark_wall if ing_wall and spark_wall else None,
            ">=",
            7.0,
            "×",
            "wall time of each process, PySpark including JVM/session start",
        )
    )
    ing_s, multi = _thr(small, "ingestflow"), _thr(small, "duckdb_multi_file")
    out.append(
        _target(
            "small_vs_duckdb_multi",
            "small files: ingestflow throughput ÷ bare DuckDB multi-file query",
            ing_s / multi if ing_s and multi else None,
            ">=",
            0.7,
            "×",
            "job time",
        )
    )
    with_metrics = _thr(small, "ingestflow_metrics")
    out.append(
        _target(
            "small_metrics_overhead",
            "small files: time added by metrics forwarding (JSON lines + Prometheus)",
            (ing_s / with_metrics - 1.0) * 100.0 if ing_s and with_metrics else None,
            "<",
            5.0,
            "%",
            "job time of ingestflow_metrics (delivery included) vs ingestflow",
        )
    )
    ing_pf = _thr(small, "ingestflow", "job_s_per_file")
    spark_pf = _thr(small, "pyspark", "job_s_per_file")
    out.append(
        _target(
            "small_vs_pyspark_per_file",
            "small files: PySpark seconds per file ÷ ingestflow seconds per file",
            spark_pf / ing_pf if ing_pf and spark_pf else None,
            ">=",
            20.0,
            "×",
            "job time per file; PySpark session start excluded",
        )
    )
    rows = ledger["rows_at_measure"] if ledger else None
    at = f" (at {rows:,} rows)" if rows else ""
    out.append(
        _target(
            "ledger_register",
            "ledger: register files/s" + at,
            ledger["register_files_per_s"]["median"] if ledger else None,
            ">=",
            50_000.0,
            "files/s",
            "median over runs",
        )
    )
    for tid, key, text, limit in (
        ("ledger_claim", "claim_ms", "ledger: claim of 1,000 files", 30.0),
        ("ledger_backlog", "backlog_ms", "ledger: backlog query", 50.0),
        ("ledger_stale", "stale_ms", "ledger: stale query", 50.0),
    ):
        out.append(
            _target(
                tid,
                text + at,
                ledger[key]["p50"] if ledger else None,
                "<",
                limit,
                "ms",
                "median over all calls of all runs",
            )
        )
    finish = ledger.get("finish_batch_ms") if ledger else None
    out.append(
        _target(
            "ledger_finish_batch",
            "ledger: finish of 1,000 outcomes in one call" + at,
            _median_of(finish),
            "<",
            30.0,
            "ms",
            "median over runs",
        )
    )
    pgl = ledger.get("postgres") if ledger else None
    pg_at = f" (at {pgl['rows_at_measure']:,} rows)" if pgl else ""
    out.append(
        _target(
            "ledger_pg_register",
            "ledger (PostgreSQL): register files/s" + pg_at,
            pgl["register_files_per_s"]["median"] if pgl else None,
            ">=",
            50_000.0,
            "files/s",
            "median over runs; the same target as SQLite's",
        )
    )
    out.append(
        _target(
            "ledger_pg_claim",
            "ledger (PostgreSQL): claim of 1,000 files" + pg_at,
            pgl["claim_ms"]["p50"] if pgl else None,
            "<",
            30.0,
            "ms",
            "median over all calls of all runs; the same target as SQLite's",
        )
    )
    api = ledger.get("files_api") if ledger else None
    api_at = f" (at {api['rows_at_measure']:,} rows)" if api else ""
    for qid, q in (api or {}).get("queries", {}).items():
        if not q["goal"]:
            continue
        out.append(
            _target(
                f"files_api_{qid}",
                f"dashboard: GET /api/files, {q['text']}" + api_at,
                q["warm_ms"]["p95"],
                "<",
                FILES_API_GOAL_MS,
                "ms",
                f"p95 of {q['warm_ms']['n']} warm calls over HTTP; cold first call "
                f"{_f(q['cold_ms']['max'])} ms (max over runs)",
            )
        )
    out.append(
        _target(
            "latency_p50",
            "latency: upload -> DONE p50 (batch_size 1)",
            latency["ledger_s"]["p50"] if latency else None,
            "<",
            1.0,
            "s",
            "ledger end_time - upload_time",
        )
    )
    for name, case in (("large", large), ("small", small)):
        engine, reference = _thr(case, "ingestflow_spark"), _thr(case, "pyspark")
        wall_engine = _thr(case, "ingestflow_spark", "wall_mb_per_s")
        wall_reference = _thr(case, "pyspark", "wall_mb_per_s")
        wall = (
            f"; wall incl. session start {wall_engine / wall_reference:.2f} ×"
            if wall_engine and wall_reference
            else ""
        )
        out.append(
            _info(
                f"{name}_spark_engine_vs_pyspark",
                f"{name} files: Spark engine (ingestflow_spark) throughput ÷ reference PySpark job",
                engine / reference if engine and reference else None,
                "×",
                "job time per input byte, Spark session start excluded for both" + wall,
            )
        )
    workers = cases.get("workers")
    for n in (2, 4):
        info = workers["counts"].get(str(n)) if workers else None
        cpus = workers["cpus"] if workers else None
        out.append(
            _info(
                f"workers_speedup_{n}",
                f"workers: files/s with {n} workers ÷ with 1 (one PostgreSQL ledger)",
                info["speedup"] if info else None,
                "×",
                "wall time from the files' arrival to the last DONE, processes already up"
                + (f"; {cpus} CPUs: at most {min(n, cpus)} ×" if cpus else ""),
            )
        )
    rss = None
    if large and "ingestflow" in large["contenders"]:
        rss = large["contenders"]["ingestflow"]["summary"]["peak_rss_mib"]["max"]
    mb = large["dataset"]["bytes"] / 1e6 if large else 0.0
    out.append(
        _target(
            "large_ingestflow_rss",
            "large files: ingestflow peak RSS" + (f" on the {mb:,.0f} MB case" if large else ""),
            rss,
            "<",
            RSS_LIMIT_MIB,
            "MiB",
            "max over runs" + ("" if size == "full" else "; the target is for the full size"),
        )
    )
    return out


# -- output -----------------------------------------------------------------------------------


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def _f(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _cell(text: Any) -> str:
    """`text` as literal table-cell content: Markdown and HTML specials escaped, one line."""
    value = " ".join(str(text).split())
    for char in "\\`*_[]<>|#":
        value = value.replace(char, "\\" + char)
    return value


def _fenced(text: str) -> list[str]:
    """`text` as a code block whose fence is longer than any backtick run inside it."""
    longest, run = 0, 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def _mmm(spread_: dict[str, float] | None, digits: int = 2) -> str:
    if not spread_:
        return "–"
    lo, hi = _f(spread_["min"], digits), _f(spread_["max"], digits)
    return f"{_f(spread_['median'], digits)} ({lo}–{hi})"


def _files_table(case: dict[str, Any]) -> list[str]:
    lines = [
        "| contender | files | wall s | job s | Spark start s | CPU s | peak RSS MiB "
        "| MB/s (job) | files/s (job) | ÷ duckdb per-file | ÷ duckdb multi-file | output check |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, info in case["contenders"].items():
        s, t, r = info["summary"], info["throughput"], info.get("ratios", {})
        check = "ok" if all(run["check_ok"] for run in info["runs"]) else "MISMATCH"
        lines.append(
            f"| {name} | {info['files']} | {_mmm(s['wall_s'])} | {_mmm(s['job_s'])} "
            f"| {_mmm(s.get('startup_s'))} | {_mmm(s['cpu_s'])} | {_mmm(s['peak_rss_mib'], 0)} "
            f"| {_f(t['job_mb_per_s'], 1)} | {_f(t['job_files_per_s'], 1)} "
            f"| {_f(r.get('vs_duckdb_per_file'))} | {_f(r.get('vs_duckdb_multi_file'))} "
            f"| {check} |"
        )
    return lines


def _checks_table(case: dict[str, Any]) -> list[str]:
    lines = [
        "| contender | rows | sum(price_change) | timestamps | expected rows | expected sum |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, info in case["contenders"].items():
        run = info["runs"][-1]
        got, exp = run["check"], run["expected"]
        lines.append(
            f"| {name} | {got['rows']:,} | {got['sum_price_change']:.9g} | {got['timestamps']:,} "
            f"| {exp['rows']:,} | {exp['sum_price_change']:.9g} |"
        )
    return lines


def _phases(case: dict[str, Any], name: str = "ingestflow") -> list[str]:
    info = case["contenders"].get(name)
    if not info:
        return []
    run = min(info["runs"], key=lambda r: r["job_s"])
    phases = dict(run.get("phases", {}))
    ledger = phases.pop("ledger_total_s", 0.0)
    main = ("bootstrap_s", "reconcile_s", "engine_s")
    named = " + ".join(f"{k[:-2]} {phases[k]:.3f} s" for k in main if k in phases)
    calls = ", ".join(
        f"{k[:-2]} {v:.3f} s" for k, v in phases.items() if k not in main and v >= 0.0005
    )
    return [
        "",
        f"{name} time split (fastest run, job {run['job_s']:.3f} s): {named}; ledger calls "
        f"{ledger:.3f} s in all ({calls}; register runs inside reconcile).",
    ]


def _ledger_section(ledger: dict[str, Any]) -> list[str]:
    lines = [
        f"Ledger of {ledger['rows_at_measure']:,} rows after registering "
        f"{ledger['register_files']:,} files; {ledger['runs']} run(s).",
        "",
        "| operation | median | p95 | max | unit |",
        "|---|---:|---:|---:|---|",
        f"| register (new files, chunks of 5,000) | {_f(ledger['register_files_per_s']['median'])}"
        f" | – | – | files/s (median over runs; min {_f(ledger['register_files_per_s']['min'])}) |",
        f"| re-register (unchanged files) | {_f(ledger['reregister_files_per_s']['median'])}"
        " | – | – | files/s |",
    ]
    for key, text in (
        ("claim_ms", "claim 1,000 files"),
        ("backlog_ms", "backlog(workflow)"),
        ("stale_ms", f"stale(workflows) ({ledger['stale_found']:,} found)"),
        ("finish_per_file_ms", "finish, one file per call"),
        ("counts_ms", "counts() (`ingestflow status`)"),
    ):
        st = ledger[key]
        lines.append(
            f"| {text} | {_f(st['p50'])} | {_f(st['p95'])} | {_f(st['max'])} "
            f"| ms ({st['n']} calls) |"
        )
    if ledger.get("finish_batch_ms"):
        st = ledger["finish_batch_ms"]
        lines.append(
            f"| finish, 1,000 outcomes in one call | {_f(st['p50'])} | {_f(st['p95'])} "
            f"| {_f(st['max'])} | ms |"
        )
    lines.append(
        f"| child process | {_mmm(ledger['summary']['wall_s'])} wall s, "
        f"{_mmm(ledger['summary']['cpu_s'])} CPU s, "
        f"{_mmm(ledger['summary']['peak_rss_mib'], 0)} MiB peak RSS | | | |"
    )
    return lines


def _judged(value: float, op: str, goal: float) -> str:
    return "pass" if (value >= goal if op == ">=" else value < goal) else "**MISS**"


def postgres_ledger_section(ledger: dict[str, Any]) -> list[str]:
    """SQLite and PostgreSQL side by side (the ledger case's two stores)."""
    pgl = ledger["postgres"]
    settings = ", ".join(f"{_cell(k)} = {_cell(v)}" for k, v in pgl.get("settings", {}).items())
    sq_reg, pg_reg = ledger["register_files_per_s"]["median"], pgl["register_files_per_s"]["median"]
    sq_claim, pg_claim = ledger["claim_ms"]["p50"], pgl["claim_ms"]["p50"]
    sq_fin = _median_of(ledger.get("finish_batch_ms"))
    sq, ps = ledger["summary"], pgl["summary"]
    return [
        f"SQLite beside PostgreSQL: `SqliteStatusStore` at {ledger['rows_at_measure']:,} rows, "
        f"`PostgresStatusStore` at {pgl['rows_at_measure']:,} rows, the same files, workflows "
        f"and port calls ({pgl['register_files']:,} files registered into an already loaded "
        f"ledger), {ledger['runs']} / {pgl['runs']} run(s). PostgreSQL"
        + (f" {_cell(pgl['server_version'])}" if pgl.get("server_version") else "")
        + ": a throwaway server per run "
        f"(tests/support/postgres_server.py, 127.0.0.1, durability off: fsync, "
        f"synchronous_commit and full_page_writes off; {settings or 'default settings'}), "
        f"started in {_mmm(pgl['server_start_s'])} s and bulk-loaded in {_mmm(pgl['load_s'])} s "
        "(not measured). Same targets for both stores.",
        "",
        "| operation | SQLite | PostgreSQL | goal | unit |",
        "|---|---:|---:|---|---|",
        f"| register (new files, chunks of 5,000) | {_f(sq_reg)} ({_judged(sq_reg, '>=', 5e4)}) "
        f"| {_f(pg_reg)} ({_judged(pg_reg, '>=', 5e4)}) | >= 50,000 | files/s (median over runs) |",
        f"| re-register (unchanged files) | {_f(ledger['reregister_files_per_s']['median'])} "
        f"| {_f(pgl['reregister_files_per_s']['median'])} | – | files/s (median over runs) |",
        f"| claim of 1,000 files, median | {_f(sq_claim)} ({_judged(sq_claim, '<', 30.0)}) "
        f"| {_f(pg_claim)} ({_judged(pg_claim, '<', 30.0)}) | < 30 "
        f"| ms ({ledger['claim_ms']['n']} / {pgl['claim_ms']['n']} calls) |",
        f"| finish of 1,000 outcomes in one call | {_f(sq_fin)} "
        f"| {_f(pgl['finish_batch_ms']['p50'])} | – | ms (median over runs) |",
        f"| measuring child process | {_mmm(sq['wall_s'])} wall s, {_mmm(sq['cpu_s'])} CPU s, "
        f"{_mmm(sq['peak_rss_mib'], 0)} MiB | {_mmm(ps['wall_s'])} wall s, "
        f"{_mmm(ps['cpu_s'])} CPU s, {_mmm(ps['peak_rss_mib'], 0)} MiB (client only: the "
        "server's work is not in it; start and load included) | | |",
    ]


def workers_section(workers: dict[str, Any]) -> list[str]:
    """The workers case's table (benchmarks.workers)."""
    ds, cpus = workers["dataset"], workers["cpus"]
    lines = [
        f"{ds['files']:,} small CSV files ({ds['bytes'] / 1e6:,.1f} MB, {ds['rows']:,} rows), "
        f'`batch_size = max_batch_files = {workers["batch_files"]}`, `max_wait = "0s"`; one '
        "`ingestflow run --role discover` (it registers what lands) plus N `ingestflow run "
        "--role work` processes (DuckDB, `threads = 1`) on one PostgreSQL ledger (a fresh one "
        "per run, one throwaway server for the case, durability off), all started and idle "
        "before the files land; "
        f"{workers['runs']} run(s) per N, median (min–max). wall s: from the first file renamed "
        "into the landing folder (all of them within milliseconds) until the ledger counts "
        "every file DONE; ledger span: from the first registration to the last DONE (the "
        "ledger's times); ready s: from starting the processes until all were up and idle "
        "(not in wall s); CPU s: all the ingestflow processes, start-up included (not the "
        "PostgreSQL server).",
        "",
        f"This machine has {cpus} CPU(s): each worker runs one DuckDB thread, so N workers use at "
        f"most min(N, {cpus}) cores, and 4 workers cannot be 4× one worker "
        f"(at most {min(4, cpus)}× here, less the discoverer, the server and the harness).",
        "",
        "| workers | wall s | files/s | speed-up | ledger span s | files/s (span) "
        "| speed-up (span) | ready s | batches (per worker, last run) | CPU s | peak RSS MiB "
        "| check |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for info in workers["counts"].values():
        shares = ", ".join("?" if b is None else str(b) for b in info["batches_per_worker"])
        check = "ok" if info["check_ok"] else "MISMATCH"
        lines.append(
            f"| {info['workers']} | {_mmm(info['wall_s'])} | {_f(info['files_per_s'], 1)} "
            f"| {_f(info['speedup'])} | {_mmm(info['span_s'])} "
            f"| {_f(info['span_files_per_s'], 1)} | {_f(info['span_speedup'])} "
            f"| {_mmm(info['ready_s'])} | {info['batches']} ({shares}) | {_mmm(info['cpu_s'])} "
            f"| {_mmm(info['peak_rss_mib'], 0)} | {check} |"
        )
    lines += [
        "",
        "check: every file of the data set TODO -> PROCESSING -> DONE exactly once in the "
        "ledger's transitions, every process exited 0 after SIGTERM, and the outputs (one "
        "Parquet file per input) agree with the expected values:",
        "",
        "| workers | Parquet files | rows | sum(price_change) | expected rows | expected sum |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for info in workers["counts"].values():
        run = info["runs"][-1]
        got, exp = run["check"], run["expected"]
        lines.append(
            f"| {info['workers']} | {got['parquet_files']:,} | {got['rows']:,} "
            f"| {got['sum_price_change']:.9g} | {exp['rows']:,} | {exp['sum_price_change']:.9g} |"
        )
    return lines


def _verdict(value: float, goal: float) -> str:
    return "pass" if value < goal else "**MISS**"


def files_api_section(api: dict[str, Any]) -> list[str]:
    """The dashboard files API table (benchmarks.files_api) of the ledger case."""
    goal = api["goal_ms"]
    lines = [
        f"Dashboard files API: `GET /api/files` (limit 100) over real HTTP (uvicorn on "
        f"127.0.0.1, `build_server_app`, `Accept-Encoding: gzip`) on a ledger of "
        f"{api['rows_at_measure']:,} rows; per query one cold call (the first; the first query's "
        f"is also the server's first request) then {api['repeats']} warm calls, "
        f"{api['runs']} run(s) (cold ms: the slowest first call). Goal: < {_f(goal, 0)} ms "
        "(warm p95) for the pages; the key-substring (`q`) scans are reported without a goal. "
        "store / render / gzip: the same work in-process (median): `file_page`, JSON "
        "building, level-9 gzip.",
        "",
        f"| query | files | cold ms | p50 ms | p95 ms | max ms | < {_f(goal, 0)} ms "
        "| store ms | render ms | gzip ms | JSON KB |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for q in api["queries"].values():
        warm, cold, sp = q["warm_ms"], q["cold_ms"], q["split"]
        verdict = _verdict(warm["p95"], goal)
        if q["goal"] and cold["max"] >= goal:
            verdict += " (cold **MISS**)"
        if not q["goal"]:
            verdict = f"no goal ({verdict})"
        more = ", next_cursor" if q["has_next"] else ""
        lines.append(
            f"| {q['text']} | {q['files']}{more} | {_f(cold['max'])} | {_f(warm['p50'])} "
            f"| {_f(warm['p95'])} | {_f(warm['max'])} | {verdict} | {_f(sp['store_ms'])} "
            f"| {_f(sp['render_ms'])} | {_f(sp['gzip_ms'])} | {_f(sp['body_bytes'] / 1000, 1)} |"
        )
    s = api["summary"]
    lines += [
        "",
        f"Files API child process (copy, register, server, queries): "
        f"{_mmm(s['wall_s'])} wall s, {_mmm(s['cpu_s'])} CPU s, "
        f"{_mmm(s['peak_rss_mib'], 0)} MiB peak RSS.",
    ]
    return lines


def _latency_section(latency: dict[str, Any]) -> list[str]:
    a, b = latency["ledger_s"], latency["observed_s"]
    return [
        f"{latency['files_per_run']} file(s) per run, {latency['runs']} run(s), "
        f"`batch_size = 1`, watcher on.",
        "",
        "| measure | p50 s | p95 s | max s | n |",
        "|---|---:|---:|---:|---:|",
        f"| ledger: end_time - upload_time | {a['p50']:.3f} | {a['p95']:.3f} | {a['max']:.3f} "
        f"| {a['n']} |",
        f"| observed: rename -> DONE seen | {b['p50']:.3f} | {b['p95']:.3f} | {b['max']:.3f} "
        f"| {b['n']} |",
        "",
        f"`ingestflow run` process: peak RSS {_mmm(latency['summary']['peak_rss_mib'], 0)} MiB, "
        f"CPU {_mmm(latency['summary']['cpu_s'])} s over {_mmm(latency['summary']['wall_s'])} "
        "s wall.",
    ]


def markdown(results: dict[str, Any]) -> str:
    """The Markdown report of `results`."""
    meta = results["meta"]
    lines = [
        f"# ingestflow benchmark — size `{meta['size']}`",
        "",
        f"- command: `{meta['command']}`",
        f"- started {meta['started']}, took {meta.get('duration_s', 0):.0f} s; "
        f"{meta['runs']} run(s) per contender, seed {meta['seed']}",
        f"- machine: {meta['machine']['cpus']} CPUs, {meta['machine']['memory_gib']:.1f} GiB, "
        f"{meta['machine']['platform']}, Python {meta['machine']['python']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "- load average (1/5/15 min) at start "
        + "/".join(f"{x:.2f}" for x in meta.get("load_avg_start", []))
        + ", at end "
        + "/".join(f"{x:.2f}" for x in meta.get("load_avg_end", []))
        + f" (a quiet machine is near 0; {meta['machine']['cpus']} CPUs)",
    ]
    if results.get("error"):
        lines += ["", "## ERROR", "", *_fenced(str(results["error"]))]
    cases = results["cases"]
    if results.get("targets"):
        lines += [
            "",
            "## Targets",
            "",
            *(
                [
                    f"Targets are set for the full size; at size `{meta['size']}` they are only "
                    "indicative.",
                    "",
                ]
                if meta["size"] != "full"
                else []
            ),
            "| target | value | goal | status | how |",
            "|---|---:|---:|---|---|",
        ]
        for t in results["targets"]:
            status = {"pass": "pass", "miss": "**MISS**", "n/a": "n/a", "info": "info"}
            value = "n/a" if t["value"] is None else f"{_f(t['value'])} {t['unit']}"
            goal = "no goal" if t["target"] is None else f"{t['op']} {_f(t['target'])} {t['unit']}"
            lines.append(
                f"| {t['description']} | {value} | {goal} | {status[t['status']]} | {t['note']} |"
            )
    titles = {
        "large": "Case 1 — few large files",
        "small": "Case 2 — many small files",
    }
    for name, title in titles.items():
        case = cases.get(name)
        if not case:
            continue
        ds = case["dataset"]
        lines += [
            "",
            f"## {title}",
            "",
            f"{ds['files']:,} CSV files, {ds['bytes'] / 1e6:,.1f} MB, {ds['rows']:,} rows. "
            "Cells: median (min–max) over runs. MB/s is input CSV bytes per second of job "
            "time; ÷ columns are throughput ratios to bare DuckDB.",
            "",
            *_files_table(case),
            *_phases(case),
            *_phases(case, "ingestflow_spark"),
            "",
            "Output checks (last run, DuckDB over each contender's Parquet):",
            "",
            *_checks_table(case),
        ]
        if case.get("note"):
            lines += ["", case["note"]]
    if cases.get("ledger"):
        lines += ["", "## Case 3 — ledger", "", *_ledger_section(cases["ledger"])]
        if cases["ledger"].get("postgres"):
            lines += ["", *postgres_ledger_section(cases["ledger"])]
        if cases["ledger"].get("files_api"):
            lines += ["", *files_api_section(cases["ledger"]["files_api"])]
    if cases.get("latency"):
        lines += ["", "## Case 4 — latency", "", *_latency_section(cases["latency"])]
    if cases.get("workers"):
        lines += [
            "",
            "## Case 5 — workers on one PostgreSQL ledger",
            "",
            *workers_section(cases["workers"]),
        ]
    lines += [
        "",
        "## What is measured",
        "",
        "- wall s: the contender's own process, fork to exit (interpreter start-up, imports, "
        "JVM for PySpark); job s: the work inside it, timed by the process itself (PySpark: "
        "without session start, shown apart as Spark start s).",
        "- CPU s: user + system time of the process and the children it reaped (the PySpark "
        "JVM); peak RSS: `ru_maxrss`, the largest single process of that tree.",
        "- Every run starts in a fresh process and writes to a fresh folder; inputs are read "
        "once before each case so every contender starts from the page cache; contenders take "
        "turns run by run.",
        "- Bare engines parse the one timestamp format of the data and skip ingestflow's input "
        "checks: they are the floor.",
        "- ingestflow_spark: ingestflow end to end on the Spark engine (`local[2]`), every file "
        "of the case in one batch; its Spark start s (import + session) is apart from job s, as "
        "for pyspark, the reference job it is compared with.",
        "- PostgreSQL figures (ledger case, workers case) come from a throwaway local server "
        "with durability off; the measured processes are its clients, the server's own CPU time "
        "and memory are not in their figures.",
    ]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(results))
