"""``python -m benchmarks``: generate the data, run every case and contender, write the results.

    python -m benchmarks [--size smoke|medium|full] [--runs N]
                         [--cases large,small,ledger,latency,workers]
                         [--contenders ingestflow,ingestflow_metrics,duckdb_per_file,
                                       duckdb_multi_file,polars,pyspark,ingestflow_spark]
                         [--out DIR] [--data-dir DIR] [--seed N] [--spark-max-files N]

Exit status: 0 when every run finished and every output agreed with the expected values (a
missed performance target is reported, not an error); 1 when a run failed or outputs disagree,
or when a case needs PostgreSQL (ledger, workers) and it is not installed (checked before any
case runs, never skipped); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import pg, report
from benchmarks.contender import CONTENDERS
from benchmarks.datagen import Dataset, ensure_dataset, warm_page_cache
from benchmarks.latency import run_latency
from benchmarks.runner import BenchmarkError, run_task
from benchmarks.sizes import SIZES, SizeProfile
from benchmarks.verify import mismatches, output_checks
from benchmarks.workers import WORKER_COUNTS, remove_outputs, run_workers

CASES = ("large", "small", "ledger", "latency", "workers")
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
PER_FILE_OUTPUT = {
    "ingestflow",
    "ingestflow_metrics",
    "ingestflow_spark",
    "duckdb_per_file",
    "polars",
}
SPARK_CONTENDERS = ("pyspark", "ingestflow_spark")


def log(message: str) -> None:
    print(message, flush=True)


def _csv_list(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in items if t not in allowed]
    if unknown or not items:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(allowed)}"
        )
    return [a for a in allowed if a in items]  # canonical order


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--runs", type=int, help="runs per contender (default: 1 smoke, else 3)")
    parser.add_argument(
        "--cases", default=",".join(CASES), type=lambda t: _csv_list(t, CASES, "case")
    )
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        type=lambda t: _csv_list(t, tuple(CONTENDERS), "contender"),
        help="contenders of the large/small cases (the other cases measure ingestflow only)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    parser.add_argument(
        "--data-dir", type=Path, help="generated data and run outputs (default: OUT/data)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--spark-max-files",
        type=int,
        help="small case: the pyspark contender processes only the first N files (compared "
        "per file); ingestflow_spark always runs every file",
    )
    parser.add_argument(
        "--keep-outputs", action="store_true", help="keep every run's Parquet output"
    )
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be >= 1")
    if args.spark_max_files is not None and args.spark_max_files < 1:
        parser.error("--spark-max-files must be >= 1")
    spark = [c for c in args.contenders if c in SPARK_CONTENDERS]
    if spark and any(c in args.cases for c in ("large", "small")):
        if importlib.util.find_spec("pyspark") is None:
            parser.error(
                f"pyspark is not installed: `pip install pyspark` or drop {' and '.join(spark)} "
                "from --contenders"
            )
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            parser.error(f"{' and '.join(spark)} need(s) Java (java on PATH or JAVA_HOME)")
    return args


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def meta(args: argparse.Namespace, runs: int) -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
        "size": args.size,
        "runs": runs,
        "seed": args.seed,
        "cases": args.cases,
        "contenders": args.contenders,
        "load_avg_start": list(os.getloadavg()),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": memory / 1024**3,
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {
            p: _version(p)
            for p in ("ingestflow", "duckdb", "polars", "pyarrow", "pyspark", "psycopg")
        },
    }


class Context:
    """Everything a case needs: the size profile, folders and options."""

    def __init__(self, args: argparse.Namespace, profile: SizeProfile, runs: int) -> None:
        self.args = args
        self.profile = profile
        self.runs = runs
        self.out: Path = args.out.resolve()
        self.data_dir: Path = (args.data_dir or args.out / "data").resolve()
        self.work: Path = self.data_dir / "runs"

    def fresh(self, *parts: str) -> Path:
        path: Path = self.work.joinpath(*parts)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def dataset(self, case: str) -> Dataset:
        p = self.profile
        count, size = (
            (p.large_files, p.large_file_bytes)
            if case == "large"
            else (p.small_files, p.small_file_bytes)
        )
        return ensure_dataset(self.data_dir, case, p.name, self.args.seed, count, size, log)


def run_files_case(case: str, ctx: Context) -> dict[str, Any]:
    """Cases 1 and 2: every contender on the same CSV files, `runs` times, taking turns."""
    dataset = ctx.dataset(case)
    warm_page_cache(dataset.paths())
    contenders = ctx.args.contenders
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
    for k in range(1, ctx.runs + 1):
        for name in contenders:
            limit = ctx.args.spark_max_files if (name == "pyspark" and case == "small") else None
            limit = limit if limit is None or limit < len(dataset.files) else None
            base = ctx.fresh(case, f"{name}-run{k}")
            out, work = base / "out", base / "work"
            work.mkdir()
            task_args = {
                "dataset": str(dataset.root),
                "out": str(out),
                "work": str(work),
                "limit": limit,
            }
            measured = run_task(name, task_args, base / "logs", ctx.profile.timeout_s)
            expected = dataset.expected(limit)
            got = output_checks(out)
            problems = mismatches(expected, got)
            if name in PER_FILE_OUTPUT and got["parquet_files"] != expected["files"]:
                problems.append(
                    f"parquet files: expected {expected['files']}, got {got['parquet_files']}"
                )
            if problems:
                raise BenchmarkError(
                    f"{case}/{name} run {k}: output disagrees with the expected values:\n  "
                    + "\n  ".join(problems)
                    + f"\n(output kept in {out})"
                )
            run = {**measured.as_dict(), "check": got, "expected": expected, "check_ok": True}
            runs[name].append(run)
            extra = f", Spark start {run['startup_s']:.2f} s" if "startup_s" in run else ""
            log(
                f"  {case} run {k}/{ctx.runs} {name:<17} wall {run['wall_s']:7.2f} s  "
                f"job {run['job_s']:7.2f} s  cpu {run['cpu_s']:7.2f} s  "
                f"rss {run['peak_rss_mib']:6.0f} MiB{extra}  rows {got['rows']:,} ok"
            )
            if not ctx.args.keep_outputs:
                shutil.rmtree(out, ignore_errors=True)
    infos: dict[str, dict[str, Any]] = {}
    for name, rs in runs.items():
        n = rs[0]["files"]
        chosen = dataset.files[:n]
        info = report.summarize_contender(
            rs, sum(f.bytes for f in chosen), sum(f.rows for f in chosen)
        )
        info["runs"] = rs
        infos[name] = info
    report.add_ratios(infos)
    result: dict[str, Any] = {
        "dataset": {
            "path": str(dataset.root),
            "files": len(dataset.files),
            "bytes": dataset.total_bytes,
            "rows": dataset.total_rows,
        },
        "contenders": infos,
    }
    spark = infos.get("pyspark")
    if spark and spark["files"] < len(dataset.files):
        result["note"] = (
            f"PySpark processed the first {spark['files']} of {len(dataset.files)} files "
            "(--spark-max-files); its throughput and ratios are per input byte / per file."
            + (
                " ingestflow_spark ran every file (one batch, small files in shared Spark jobs)."
                if "ingestflow_spark" in infos
                else ""
            )
        )
    return result


def run_ledger_case(ctx: Context) -> dict[str, Any]:
    """Case 3: the SQLite ledger through its port methods (see benchmarks.ledger), the dashboard's
    files API on it (benchmarks.files_api), and the PostgreSQL ledger the same way
    (benchmarks.postgres_ledger)."""
    p = ctx.profile
    # Built in a child, like the measurements, so both use the ingestflow code on disk now.
    setup_args = {
        "data_dir": str(ctx.data_dir),
        "size": p.name,
        "seed": ctx.args.seed,
        "rows": p.ledger_total_rows - p.ledger_register,
    }
    setup = run_task("ledger_setup", setup_args, ctx.fresh("ledger", "setup"), p.timeout_s)
    for line in setup.result["log"]:
        log(line)
    base = setup.result["base"]
    runs = []
    for k in range(1, ctx.runs + 1):
        work = ctx.fresh("ledger", f"run{k}")
        task_args = {
            "base": str(base),
            "db": str(work / "ledger.db"),
            "register": p.ledger_register,
            "claims": p.ledger_claims,
            "repeats": p.ledger_query_repeats,
        }
        measured = run_task("ledger", task_args, work / "logs", p.timeout_s)
        r = measured.as_dict()
        runs.append(r)
        log(
            f"  ledger run {k}/{ctx.runs}: register {r['register']['files_per_s']:,.0f} files/s, "
            f"claim p50 {report.percentile(r['claim_ms'], 50):.1f} ms, "
            f"backlog p50 {report.percentile(r['backlog_ms'], 50):.1f} ms, "
            f"stale p50 {report.percentile(r['stale_ms'], 50):.1f} ms "
            f"at {r['rows_at_measure']:,} rows"
        )
        for suffix in ("", "-wal", "-shm"):
            Path(str(work / "ledger.db") + suffix).unlink(missing_ok=True)

    api_runs = []
    for k in range(1, ctx.runs + 1):
        work = ctx.fresh("ledger", f"files-api-run{k}")
        task_args = {
            "base": str(base),
            "db": str(work / "ledger.db"),
            "register": p.ledger_register,
            "rows": p.ledger_total_rows,
            "repeats": p.ledger_query_repeats,
        }
        r = run_task("files_api", task_args, work / "logs", p.timeout_s).as_dict()
        api_runs.append(r)
        figures = ", ".join(
            f"{name} p50 {report.percentile(q['warm_ms'], 50):.1f} ms"
            for name, q in r["queries"].items()
        )
        log(f"  files API run {k}/{ctx.runs}: {figures} at {r['rows_at_measure']:,} rows")
        for suffix in ("", "-wal", "-shm"):
            Path(str(work / "ledger.db") + suffix).unlink(missing_ok=True)

    postgres = run_postgres_ledger(ctx)

    def pooled(key: str) -> dict[str, float]:
        return report.latency_stats([v for r in runs for v in r[key]])

    result: dict[str, Any] = {
        "runs": len(runs),
        "register_files": p.ledger_register,
        "rows_at_measure": runs[0]["rows_at_measure"],
        "stale_found": runs[0]["stale_found"],
        "backlog_count": runs[0]["backlog_count"],
        "register_files_per_s": report.spread([r["register"]["files_per_s"] for r in runs]),
        "reregister_files_per_s": report.spread([r["reregister"]["files_per_s"] for r in runs]),
        "summary": {
            m: report.spread([r[m] for r in runs]) for m in ("wall_s", "cpu_s", "peak_rss_mib")
        },
        "run_results": runs,
        "files_api": report.files_api_summary(api_runs),
        "postgres": postgres,
    }
    for key in ("claim_ms", "backlog_ms", "stale_ms", "finish_per_file_ms", "counts_ms"):
        result[key] = pooled(key)
    batch = [r["finish_batch_ms"] for r in runs if "finish_batch_ms" in r]
    if batch:
        result["finish_batch_ms"] = report.latency_stats(batch)
    return result


def run_postgres_ledger(ctx: Context) -> dict[str, Any]:
    """The ledger case on PostgreSQL (benchmarks.postgres_ledger): a child per run, each with its
    own throwaway server, at the size profile's rows, registered files and claims."""
    p = ctx.profile
    runs = []
    for k in range(1, ctx.runs + 1):
        work = ctx.fresh("ledger", f"postgres-run{k}")
        task_args = {
            "rows": p.ledger_total_rows,
            "register": p.ledger_register,
            "claims": p.ledger_claims,
        }
        r = run_task("postgres_ledger", task_args, work / "logs", p.timeout_s).as_dict()
        runs.append(r)
        log(
            f"  postgres ledger run {k}/{ctx.runs}: register {r['register']['files_per_s']:,.0f} "
            f"files/s, claim p50 {report.percentile(r['claim_ms'], 50):.1f} ms, finish "
            f"{r['finish_batch_ms']:.1f} ms at {r['rows_at_measure']:,} rows "
            f"(server start {r['server_start_s']:.1f} s, load {r['load_s']:.1f} s)"
        )
    return report.postgres_ledger_summary(runs)


def run_latency_case(ctx: Context) -> dict[str, Any]:
    """Case 4: upload -> DONE latency of a running `ingestflow run` (see benchmarks.latency)."""
    dataset = ctx.dataset("small")
    runs = []
    for k in range(1, ctx.runs + 1):
        work = ctx.fresh("latency", f"run{k}")
        r = run_latency(dataset, ctx.profile.latency_files, work, ctx.profile.timeout_s)
        runs.append(r)
        stats = report.latency_stats([s["ledger_s"] for s in r["samples"]])
        log(
            f"  latency run {k}/{ctx.runs}: p50 {stats['p50']:.3f} s, p95 {stats['p95']:.3f} s, "
            f"rss {r['peak_rss_mib']:.0f} MiB"
        )
        if not ctx.args.keep_outputs:
            shutil.rmtree(work / "output", ignore_errors=True)
            shutil.rmtree(work / "landing", ignore_errors=True)
    return {
        "runs": len(runs),
        "files_per_run": ctx.profile.latency_files,
        "ledger_s": report.latency_stats([s["ledger_s"] for r in runs for s in r["samples"]]),
        "observed_s": report.latency_stats([s["observed_s"] for r in runs for s in r["samples"]]),
        "per_run": [report.latency_stats([s["ledger_s"] for s in r["samples"]]) for r in runs],
        "summary": {
            m: report.spread([r[m] for r in runs]) for m in ("wall_s", "cpu_s", "peak_rss_mib")
        },
        "run_results": runs,
    }


def run_workers_case(ctx: Context) -> dict[str, Any]:
    """Case 5: files/s with 1, 2, 4 workers on one PostgreSQL ledger (see benchmarks.workers)."""
    dataset = ctx.dataset("small")
    warm_page_cache(dataset.paths())
    p = ctx.profile
    started = time.perf_counter()
    try:
        server = pg.start_server()
    except Exception as exc:  # initdb / pg_ctl failed: one message, the results still written
        raise BenchmarkError(f"workers: cannot start PostgreSQL: {exc}") from exc
    log(f"  PostgreSQL server started in {time.perf_counter() - started:.1f} s")
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in WORKER_COUNTS}
    try:
        for k in range(1, ctx.runs + 1):
            for n in WORKER_COUNTS:
                work = ctx.fresh("workers", f"n{n}-run{k}")
                r = run_workers(dataset, n, server, work, p.workers_batch_files, p.timeout_s)
                runs[n].append(r)
                shares = ", ".join(str(x["batches"]) for x in r["processes"] if x["role"] == "work")
                log(
                    f"  workers run {k}/{ctx.runs} N={n}: {r['files']} files in "
                    f"{r['wall_s']:.2f} s = {r['files_per_s']:,.1f} files/s (ledger span "
                    f"{r['span_s']:.2f} s), {r['batches']} batches (per worker: {shares}), "
                    f"cpu {r['cpu_s']:.2f} s (processes ready in {r['ready_s']:.1f} s), "
                    "every file DONE once, outputs ok"
                )
                if not ctx.args.keep_outputs:
                    remove_outputs(work)
    finally:
        server.stop()
    return report.workers_summary(
        runs,
        {
            "path": str(dataset.root),
            "files": len(dataset.files),
            "bytes": dataset.total_bytes,
            "rows": dataset.total_rows,
        },
        p.workers_batch_files,
        os.cpu_count() or 1,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    profile = SIZES[args.size]
    runs = args.runs or profile.runs
    ctx = Context(args, profile, runs)
    results: dict[str, Any] = {"meta": meta(args, runs), "cases": {}, "targets": []}
    json_path, md_path = ctx.out / "latest.json", ctx.out / "latest.md"
    started = time.perf_counter()
    log(
        f"ingestflow benchmark: size {args.size}, {runs} run(s), cases {','.join(args.cases)}, "
        f"contenders {','.join(args.contenders)}; data in {ctx.data_dir}"
    )
    code = 0
    try:
        for case in args.cases:
            if case in pg.POSTGRES_CASES:
                pg.check_available(case)  # before any case runs: an error, never a skip
        for case in args.cases:
            log(f"case {case}:")
            case_started = time.perf_counter()
            if case in ("large", "small"):
                results["cases"][case] = run_files_case(case, ctx)
            elif case == "ledger":
                results["cases"][case] = run_ledger_case(ctx)
            elif case == "workers":
                results["cases"][case] = run_workers_case(ctx)
            else:
                results["cases"][case] = run_latency_case(ctx)
            log(f"  case {case} took {time.perf_counter() - case_started:.1f} s")
            results["targets"] = report.targets(results["cases"], args.size)
            results["meta"]["duration_s"] = time.perf_counter() - started
            report.write_json(json_path, results)  # partial results survive a later failure
    except BenchmarkError as exc:
        results["error"] = str(exc)
        log(f"BENCHMARK FAILED: {exc}")
        code = 1
    results["targets"] = report.targets(results["cases"], args.size)
    results["meta"]["duration_s"] = time.perf_counter() - started
    results["meta"]["load_avg_end"] = list(os.getloadavg())
    report.write_json(json_path, results)
    report.write_markdown(md_path, results)
    for t in results["targets"]:
        value = "n/a" if t["value"] is None else f"{t['value']:,.3f}"
        goal = "no goal" if t["target"] is None else f"{t['op']} {t['target']:g}"
        log(f"  [{t['status']:>4}] {t['description']}: {value} {t['unit']} ({goal})")
    log(f"wrote {json_path} and {md_path} in {results['meta']['duration_s']:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
