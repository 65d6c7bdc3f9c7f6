"""One run of one contender, in its own process: ``python -m benchmarks.contender NAME JSON``.

The parent (``benchmarks.runner``) measures this process's wall time, CPU time and peak RSS with
``os.wait4``; this process measures its own phases and prints one line
``BENCH_RESULT {json}`` on stdout. JSON arguments: ``dataset`` (data set folder), ``out`` (fresh
output folder), ``work`` (fresh scratch folder), ``limit`` (use only the first N files; null = all).

What ``job_s`` measures, per contender (every one reads the CSVs of the data set and writes
snappy Parquet, Spark's default and the reference's output, with the ``ohlcv`` columns):

- ``ingestflow``: ``load_settings`` + ``build_pipeline`` + ``run_once``: listing, register, claim,
  DuckDB transform one file at a time, finish, every transition row. ``phases`` splits the ledger
  calls out of it.
- ``ingestflow_metrics``: the same with metrics forwarding on, every point delivered.
- ``ingestflow_spark``: the same on the Spark engine (``[engine] name = "spark"``,
  ``master = "local[2]"``), every input of the data set in one batch (small files share Spark
  jobs, large files one Spark write each). The Spark session is started first, with the engine's
  own ``start_session`` and the ``[engine.conf]`` of the config (the engine reuses the active
  session): ``startup_s`` (import + session start, i.e. the JVM) and ``shutdown_s`` are reported
  apart from ``job_s``, as for ``pyspark``.
- ``duckdb_per_file``: bare DuckDB, one ``COPY (SELECT ... FROM read_csv(file)) TO file.parquet``
  per input, typed CSV columns, no ledger.
- ``duckdb_multi_file``: bare DuckDB, ONE ``COPY`` over all inputs into one Parquet file: the
  floor for DuckDB.
- ``polars``: bare Polars, ``scan_csv(file)`` ... ``sink_parquet`` per input.
- ``pyspark``: PySpark ``local[2]`` running the reference Glue job per input file (read CSV with
  header, ``withColumnRenamed``, ``to_timestamp(Date, 'yyyy-MM-dd HH:mm:ss')``, casts to double,
  ``price_change``, drop ``Date``, write one Parquet dataset per input). ``startup_s`` (import +
  ``SparkSession`` start, i.e. the JVM) and ``shutdown_s`` are reported apart from ``job_s``.

The bare contenders parse only the one timestamp format the data uses (the ``ohlcv`` preset also
accepts a date-only fallback) and do none of ingestflow's input checks or error diagnosis: they
are the floor, not equivalents.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.datagen import TIMESTAMP_FORMAT, Dataset, load_dataset, quiet_duckdb

RESULT_MARKER = "BENCH_RESULT "
PRICE_COLUMNS = {
    "Open": "open_price",
    "High": "high_price",
    "Low": "low_price",
    "Close": "close_price",
    "Volume": "volume",
}
SPARK_TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"

Contender = Callable[[dict[str, Any]], dict[str, Any]]


def _dataset(args: dict[str, Any]) -> Dataset:
    found = load_dataset(Path(args["dataset"]))
    if found is None:
        raise SystemExit(f"no complete data set at {args['dataset']}")
    return found


def _targets(dataset: Dataset, out: Path, limit: int | None) -> list[tuple[Path, Path]]:
    """(input CSV, output Parquet path) pairs; the output mirrors the key like ingestflow's."""
    pairs = []
    for f in dataset.files[:limit]:
        target = out / "ohlcv" / f"{f.key}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        pairs.append((dataset.landing / f.key, target))
    return pairs


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# -- ingestflow -------------------------------------------------------------------------------


def _toml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def write_ingestflow_config(
    path: Path,
    landing: Path,
    out: Path,
    ledger: Path,
    files: int,
    total_bytes: int,
    extra: str = "",
) -> None:
    """One workflow that takes every file in a single batch, no settle time, no waiting;
    `extra` is appended (the metrics sinks of `ingestflow_metrics`, the `[engine]` table of
    `ingestflow_spark`)."""
    path.write_text(
        f"""schedule_interval = "1s"

[landing]
path = {_toml_str(str(landing))}
bucket = "landing"
settle = "0s"
watch = false

[output]
path = {_toml_str(str(out))}

[ledger]
url = {_toml_str("sqlite:///" + str(ledger).lstrip("/"))}

[[workflows]]
name = "ohlcv"
prefix = "ohlcv/"
transform = "ohlcv"
batch_size = {files}
max_wait = "0s"
max_batch_files = {max(files, 1)}
max_batch_bytes = {total_bytes * 2 + 1}
{extra}"""
    )


def _timed(method: Callable[..., Any], bucket: dict[str, float], name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*a: Any, **kw: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*a, **kw)
        finally:
            bucket[name] = bucket.get(name, 0.0) + time.perf_counter() - started

    return wrapper


def _timed_generator(
    method: Callable[..., Iterator[Any]], bucket: dict[str, float], name: str
) -> Callable[..., Iterator[Any]]:
    """Wrap a generator method: time spent producing each item goes to bucket[name]."""

    @functools.wraps(method)
    def wrapper(*a: Any, **kw: Any) -> Iterator[Any]:
        items = method(*a, **kw)
        while True:
            started = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                bucket[name] = bucket.get(name, 0.0) + time.perf_counter() - started
            yield item

    return wrapper


LEDGER_METHODS = ("register", "claim", "finish", "renew", "reap", "set_unrouted", "backlog")


SPARK_MASTER = "local[2]"


def spark_engine_conf(work: Path) -> dict[str, str]:
    """The `[engine.conf]` of `ingestflow_spark`: the session settings of the `pyspark`
    contender that the engine does not already set (driver memory, scratch folder)."""
    return {"spark.driver.memory": "2g", "spark.local.dir": str(work / "spark-local")}


def spark_engine_config(conf: dict[str, str]) -> str:
    """The `[engine]` table of `ingestflow_spark` (appended after the workflow)."""
    lines = ["", "[engine]", 'name = "spark"', f"master = {_toml_str(SPARK_MASTER)}", ""]
    lines += ["[engine.conf]", *(f"{_toml_str(k)} = {_toml_str(v)}" for k, v in conf.items())]
    return "\n".join(lines) + "\n"


def run_ingestflow(args: dict[str, Any]) -> dict[str, Any]:
    """ingestflow end to end through its composition root, like `ingestflow run --once`.

    ``phases`` splits ``job_s``: ``bootstrap`` (load_settings + build_pipeline), ``reconcile``
    (listing the landing folder, including its ``register`` calls), ``engine`` (time inside the
    engine's outcome generator: CSV checks, DuckDB or Spark work, renames), and each ledger
    method. With ``engine = "spark"`` the session is started before the clock (``startup_s``)."""
    from ingestflow.bootstrap import build_pipeline
    from ingestflow.config import load_settings
    from ingestflow.domain.status import Status

    dataset = _dataset(args)
    out, work = Path(args["out"]), Path(args["work"])
    config = work / "ingestflow.toml"
    n = len(dataset.files)
    spark = args.get("engine") == "spark"
    # ingestflow_metrics: the same run forwarding every point to two sinks (a JSON-lines file
    # and the ledger-kept Prometheus totals), delivered before the job ends like `run --once`.
    metrics = METRICS_CONFIG.format(path=_toml_str(str(work / "points.jsonl")))
    conf = spark_engine_conf(work)
    write_ingestflow_config(
        config,
        dataset.landing,
        out,
        work / "ledger.db",
        n,
        dataset.total_bytes,
        (metrics if args.get("metrics") else "") + (spark_engine_config(conf) if spark else ""),
    )
    phases: dict[str, float] = {}
    extra: dict[str, Any] = {}
    session: Any = None
    # Library imports happen before the clock starts, as for the bare contenders (their
    # duckdb / polars imports are at module level or before `started`): the engine module
    # (DuckDB, PyArrow) that build_pipeline imports lazily, and Polars for the fast path.
    if spark:
        importlib.import_module("ingestflow.adapters.engines.spark")
        from ingestflow.adapters.engines.spark_session import start_session

        # Like the pyspark contender's: pyspark's import and the session (JVM) start, apart.
        session_started = time.perf_counter()
        session, _ = start_session(SPARK_MASTER, conf, "snappy", app_name="ingestflow-benchmark")
        extra["startup_s"] = time.perf_counter() - session_started
    else:
        importlib.import_module("ingestflow.adapters.engines.duckdb")
        with contextlib.suppress(ImportError):
            importlib.import_module("polars")
    started = time.perf_counter()
    settings = load_settings(config, environ={})
    pipeline = build_pipeline(settings)
    phases["bootstrap"] = time.perf_counter() - started
    store = pipeline.store
    for name in LEDGER_METHODS:
        setattr(store, name, _timed(getattr(store, name), phases, name))
    discovery = pipeline.discovery
    discovery.reconcile = _timed(discovery.reconcile, phases, "reconcile")  # type: ignore[method-assign]
    engine = pipeline.engine
    engine.run = _timed_generator(engine.run, phases, "engine")  # type: ignore[method-assign]
    summary = pipeline.run_once(settle_wait=False)
    if args.get("metrics"):
        from ingestflow.bootstrap_metrics import build_forwarder

        forwarded = time.perf_counter()
        forwarder = build_forwarder(settings, store)
        if forwarder is None or not forwarder.flush(600.0):
            raise SystemExit("ingestflow_metrics: the points were not all delivered")
        forwarder.close()
        phases["forward"] = time.perf_counter() - forwarded
    job_s = time.perf_counter() - started
    counts = store.counts()
    engine.close()
    store.close()
    if session is not None:
        extra["shutdown_s"] = stop_spark(session)
    if counts[Status.DONE] != n or summary.done != n:
        raise SystemExit(f"ingestflow: expected {n} DONE files, ledger counts {counts}")
    ledger_s = sum(phases.get(m, 0.0) for m in LEDGER_METHODS)
    return {
        "job_s": job_s,
        "files": n,
        "batches": summary.batches,
        **extra,
        "phases": {**{f"{k}_s": v for k, v in phases.items()}, "ledger_total_s": ledger_s},
    }


def stop_spark(spark: Any) -> float:
    """Stop the session and its JVM, and reap the JVM, so its CPU time and peak RSS are
    accounted to this process (the parent's wait4 sees the resources of children this process
    waited for); the seconds it took."""
    stop_started = time.perf_counter()
    gateway = spark.sparkContext._gateway
    spark.stop()
    proc = getattr(gateway, "proc", None)
    if gateway is not None:
        gateway.shutdown()
    if proc is not None:
        if proc.stdin is not None:
            proc.stdin.close()  # the PySpark gateway JVM exits when its stdin closes
        proc.wait(timeout=60)
    return time.perf_counter() - stop_started


# -- DuckDB -----------------------------------------------------------------------------------

_DUCKDB_COLUMNS = (
    "{'Date': 'VARCHAR', 'Open': 'DOUBLE', 'High': 'DOUBLE', 'Low': 'DOUBLE', "
    "'Close': 'DOUBLE', 'Volume': 'DOUBLE'}"
)


def duckdb_select(source: str) -> str:
    """The ohlcv transform as one DuckDB SELECT over `source` (a read_csv call)."""
    return (
        f"SELECT strptime(Date, '{TIMESTAMP_FORMAT}') AS timestamp, Open AS open_price, "
        "High AS high_price, Low AS low_price, Close AS close_price, Volume AS volume, "
        f"Close - Open AS price_change FROM {source}"
    )


def _read_csv(paths: str) -> str:
    return f"read_csv({paths}, header = true, auto_detect = false, columns = {_DUCKDB_COLUMNS})"


def run_duckdb_per_file(args: dict[str, Any]) -> dict[str, Any]:
    """Bare DuckDB: one COPY query per input file."""
    dataset = _dataset(args)
    pairs = _targets(dataset, Path(args["out"]), args.get("limit"))
    started = time.perf_counter()
    con = quiet_duckdb()
    for source, target in pairs:
        con.execute(
            f"COPY ({duckdb_select(_read_csv(_lit(str(source))))}) TO {_lit(str(target))} "
            "(FORMAT parquet, COMPRESSION snappy)"
        )
    con.close()
    return {"job_s": time.perf_counter() - started, "files": len(pairs)}


def run_duckdb_multi_file(args: dict[str, Any]) -> dict[str, Any]:
    """Bare DuckDB: one COPY query reading every input and writing one Parquet output per input
    file (PARTITION_BY the source file name), the floor for per-file outputs. DuckDB's
    partitioned writer does not keep row order within a file; the floor does not pay for it."""
    dataset = _dataset(args)
    paths = dataset.paths(args.get("limit"))
    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)
    listing = "[" + ", ".join(_lit(str(p)) for p in paths) + "]"
    source = (
        f"read_csv({listing}, header = true, auto_detect = false, "
        f"columns = {_DUCKDB_COLUMNS}, filename = 'source_file')"
    )
    select = duckdb_select(source).replace(
        "Close - Open AS price_change", "Close - Open AS price_change, hash(source_file) AS fid"
    )
    started = time.perf_counter()
    con = quiet_duckdb()
    con.execute(
        f"COPY ({select}) TO {_lit(str(out / 'parts'))} "
        "(FORMAT parquet, COMPRESSION snappy, PARTITION_BY (fid))"
    )
    con.close()
    return {"job_s": time.perf_counter() - started, "files": len(paths)}


# -- Polars -----------------------------------------------------------------------------------


def run_polars(args: dict[str, Any]) -> dict[str, Any]:
    """Bare Polars: lazy scan_csv -> transform -> sink_parquet, one input file at a time."""
    import polars as pl

    dataset = _dataset(args)
    pairs = _targets(dataset, Path(args["out"]), args.get("limit"))
    schema = {"Date": pl.String, **{c: pl.Float64 for c in PRICE_COLUMNS}}
    started = time.perf_counter()
    for source, target in pairs:
        (
            pl.scan_csv(source, schema=schema)
            .select(
                pl.col("Date").str.to_datetime(TIMESTAMP_FORMAT, strict=True).alias("timestamp"),
                *(pl.col(src).alias(dst) for src, dst in PRICE_COLUMNS.items()),
            )
            .with_columns((pl.col("close_price") - pl.col("open_price")).alias("price_change"))
            .sink_parquet(target, compression="snappy")
        )
    return {"job_s": time.perf_counter() - started, "files": len(pairs)}


# -- PySpark ----------------------------------------------------------------------------------


def run_pyspark(args: dict[str, Any]) -> dict[str, Any]:
    """PySpark local[2]: the reference Glue job, once per input file."""
    dataset = _dataset(args)
    pairs = _targets(dataset, Path(args["out"]), args.get("limit"))
    started = time.perf_counter()
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("ingestflow-benchmark")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "2g")
        .config("spark.local.dir", str(Path(args["work"]) / "spark-local"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    startup_s = time.perf_counter() - started
    job_started = time.perf_counter()
    for source, target in pairs:
        df = spark.read.option("header", True).csv(str(source))
        for src, dst in PRICE_COLUMNS.items():
            df = df.withColumnRenamed(src, dst)
        df = df.withColumn("timestamp", F.to_timestamp(F.col("Date"), SPARK_TIMESTAMP_FORMAT))
        for dst in PRICE_COLUMNS.values():
            df = df.withColumn(dst, F.col(dst).cast("double"))
        df = df.withColumn("price_change", F.col("close_price") - F.col("open_price"))
        df = df.drop("Date")
        df.write.mode("overwrite").option("compression", "snappy").parquet(str(target))
    job_s = time.perf_counter() - job_started
    return {
        "job_s": job_s,
        "startup_s": startup_s,
        "shutdown_s": stop_spark(spark),
        "files": len(pairs),
    }


def run_ledger(args: dict[str, Any]) -> dict[str, Any]:
    """The ledger case's measurements (see benchmarks.ledger)."""
    from benchmarks.ledger import measure

    return measure(args)


def run_files_api(args: dict[str, Any]) -> dict[str, Any]:
    """The ledger case's dashboard files API measurements (see benchmarks.files_api)."""
    from benchmarks.files_api import measure

    return measure(args)


def run_postgres_ledger(args: dict[str, Any]) -> dict[str, Any]:
    """The ledger case's PostgreSQL measurements (see benchmarks.postgres_ledger)."""
    from benchmarks.postgres_ledger import measure

    return measure(int(args["rows"]), int(args["register"]), int(args["claims"]))


def run_ledger_setup(args: dict[str, Any]) -> dict[str, Any]:
    """Build (or reuse) the ledger case's base ledger, with the ingestflow code measured next."""
    from benchmarks.ledger import ensure_base

    started = time.perf_counter()
    lines: list[str] = []
    base = ensure_base(
        Path(args["data_dir"]), args["size"], int(args["seed"]), int(args["rows"]), lines.append
    )
    return {"base": str(base), "job_s": time.perf_counter() - started, "log": lines}


METRICS_CONFIG = """
[metrics]
env = "bench"
[metrics.jsonl]
path = {path}
[metrics.prometheus]
"""


def run_ingestflow_metrics(args: dict[str, Any]) -> dict[str, Any]:
    """ingestflow with metrics forwarding on (see run_ingestflow)."""
    return run_ingestflow({**args, "metrics": True})


def run_ingestflow_spark(args: dict[str, Any]) -> dict[str, Any]:
    """ingestflow on the Spark engine (see run_ingestflow)."""
    return run_ingestflow({**args, "engine": "spark"})


CONTENDERS: dict[str, Contender] = {
    "ingestflow": run_ingestflow,
    "ingestflow_metrics": run_ingestflow_metrics,
    "duckdb_per_file": run_duckdb_per_file,
    "duckdb_multi_file": run_duckdb_multi_file,
    "polars": run_polars,
    "pyspark": run_pyspark,
    "ingestflow_spark": run_ingestflow_spark,
}
CHILD_TASKS: dict[str, Contender] = {
    **CONTENDERS,
    "ledger": run_ledger,
    "ledger_setup": run_ledger_setup,
    "files_api": run_files_api,
    "postgres_ledger": run_postgres_ledger,
}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in CHILD_TASKS:
        print(f"usage: python -m benchmarks.contender {{{','.join(CHILD_TASKS)}}} JSON-ARGS")
        return 2
    result = CHILD_TASKS[argv[1]](json.loads(argv[2]))
    print(RESULT_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
