"""The Spark engine on a real standalone cluster (master + worker from the pyspark wheel, see
tests/support/spark_cluster.py) gives the DuckDB engine's outputs, and a bad file fails alone.

Landing and output are local folders: the worker runs on this machine, so its executors read
the inputs and write the large files' Parquet parts where the driver finds them.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from spark_cluster import SparkCluster

from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.adapters.engines.spark import SparkEngine
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV
from ingestflow.ports import Engine
from ingestflow.sampledata import ohlcv_text, write_ohlcv_files

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WF = "ohlcv"
# Files above this size go one by one (Spark's executors write the Parquet); smaller files
# share one job per header (collected to the driver and written there).
SMALL_FILE_BYTES = 100_000
BAD_LOW_ROW = 17
BAD_DATE_ROW = 4321
BAD_ERRORS = {
    "bad/low.csv": f"column 'Low', row {BAD_LOW_ROW}: cannot parse 'n/a' as double",
    "big/bad-date.csv": (
        f"column 'Date', row {BAD_DATE_ROW}: cannot parse '2024-02-30 10:00:00' as timestamp "
        "(formats: %Y-%m-%d %H:%M:%S, %Y-%m-%d)"
    ),
}
# The session the engine creates on the cluster: the worker's size, loopback only.
CLUSTER_CONF = {
    "spark.cores.max": "2",
    "spark.executor.memory": "1g",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[SparkCluster]:
    running = SparkCluster(cores=2, memory="1g").start()
    try:
        yield running
    finally:
        running.stop()


def with_bad_row(text: str, row: int, column: int, value: str) -> str:
    """`text` with data row `row` (1 = the first after the header) holding `value` in
    `column` (0-based)."""
    lines = text.split("\n")
    fields = lines[row].split(",")
    fields[column] = value
    lines[row] = ",".join(fields)
    return "\n".join(lines)


def land_inputs(landing: Path) -> list[FileRecord]:
    """Realistic OHLCV files: small ones (two of them gzipped), a large one, a small one
    with a bad number and a large one with an impossible date."""
    paths = write_ohlcv_files(landing, 6, 200, seed=11, gzip_every=3)
    paths += write_ohlcv_files(landing, 1, 6000, seed=12, prefix="big")
    rng = random.Random(13)
    start = dt.datetime(2024, 3, 1)
    bad = {
        "bad/low.csv": with_bad_row(ohlcv_text(40, rng, "EURUSD", start), BAD_LOW_ROW, 3, "n/a"),
        "big/bad-date.csv": with_bad_row(
            ohlcv_text(6000, rng, "BTCUSD", start), BAD_DATE_ROW, 0, "2024-02-30 10:00:00"
        ),
    }
    for key, text in bad.items():
        (landing / key).parent.mkdir(parents=True, exist_ok=True)
        (landing / key).write_text(text, encoding="utf-8")
        paths.append(landing / key)
    records = []
    for path in paths:
        st = path.stat()
        key = path.relative_to(landing).as_posix()
        records.append(
            FileRecord("landing", key, WF, "", st.st_size, "e1", st.st_mtime, Status.PROCESSING)
        )
    return records


def convert(engine: Engine, records: list[FileRecord]) -> dict[str, FileOutcome]:
    outcomes = [o for chunk in engine.run(WF, records, OHLCV) for o in chunk]
    assert sorted(o.key for o in outcomes) == sorted(r.key for r in records)
    return {o.key: o for o in outcomes}


def test_the_spark_engine_on_a_standalone_cluster_gives_the_duckdb_engines_outputs(
    cluster: SparkCluster, tmp_path: Path
) -> None:
    from pyspark.sql import SparkSession

    assert SparkSession.getActiveSession() is None  # else the engine would not use the cluster
    landing = tmp_path / "landing"
    records = land_inputs(landing)
    assert any(r.key.endswith(".csv.gz") for r in records)
    assert {r.size > SMALL_FILE_BYTES for r in records} == {True, False}  # both paths taken
    duck_root, spark_root = tmp_path / "out-duckdb", tmp_path / "out-spark"

    duckdb_engine = DuckDBEngine(landing, duck_root, small_file_bytes=SMALL_FILE_BYTES)
    try:
        expected = convert(duckdb_engine, records)
    finally:
        duckdb_engine.close()
    spark_engine = SparkEngine(
        landing,
        spark_root,
        master=cluster.master_url,
        conf=CLUSTER_CONF,
        small_file_bytes=SMALL_FILE_BYTES,
    )
    try:
        got = convert(spark_engine, records)
        session = SparkSession.getActiveSession()
        assert session is not None and session.sparkContext.master == cluster.master_url
    finally:
        spark_engine.close()  # stops the session it created, before the cluster stops
    assert SparkSession.getActiveSession() is None
    assert any(cluster.work_dir.glob("app-*")), cluster.log_tails()  # the worker ran executors

    for key, reason in BAD_ERRORS.items():
        assert (got[key].ok, got[key].retryable, got[key].error) == (False, False, reason), key
        assert expected[key].error == reason, key
        assert got[key].output is None
    good = [r.key for r in records if r.key not in BAD_ERRORS]
    for key in good:
        mine, theirs = got[key], expected[key]
        assert mine.ok and theirs.ok, (key, mine.error, theirs.error)
        assert mine.output is not None and theirs.output is not None
        assert Path(mine.output).relative_to(spark_root) == Path(theirs.output).relative_to(
            duck_root
        )
        assert Path(mine.output).relative_to(spark_root).as_posix() == f"{WF}/{key}.parquet"
        assert mine.rows == theirs.rows and mine.rows is not None and mine.rows > 0, key
        table, reference = pq.read_table(mine.output), pq.read_table(theirs.output)
        assert table.schema.equals(reference.schema), (key, table.schema, reference.schema)
        assert table.to_pylist() == reference.to_pylist(), key
    written = sorted(p.relative_to(spark_root).as_posix() for p in spark_root.rglob("*.parquet"))
    assert written == sorted(f"{WF}/{key}.parquet" for key in good)
