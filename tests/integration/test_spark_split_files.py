"""The Spark engine splits a large unquoted file across tasks and joins the parts, in file
order, into the one output file; its rows equal the DuckDB engine's, row by row. A file with
a quote character is read whole (a quoted field may hold a line break)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.adapters.engines.spark import SparkEngine
from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV
from ingestflow.sampledata import write_ohlcv_files

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# Small splits, so a 2 MB file becomes many tasks and part files.
SPLIT = {"spark.sql.files.maxPartitionBytes": str(128 * 1024)}


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from ingestflow.adapters.engines.spark_session import start_session

    started, _ = start_session("local[2]", {}, "snappy")
    yield started
    started.stop()


def record(landing: Path, path: Path) -> FileRecord:
    st = path.stat()
    key = path.relative_to(landing).as_posix()
    return FileRecord("landing", key, "wf", "", st.st_size, "e", st.st_mtime, Status.PROCESSING)


def convert(engine: Any, rec: FileRecord) -> pq.ParquetFile:
    (outcome,) = [o for chunk in engine.run("wf", [rec], OHLCV) for o in chunk]
    assert outcome.ok, outcome.error
    return pq.ParquetFile(outcome.output)


def rows_of(engine: Any, rec: FileRecord) -> list[dict[str, Any]]:
    return convert(engine, rec).read().to_pylist()


def test_a_large_unquoted_file_is_split_and_its_parts_joined_in_file_order(
    session: Any, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    (path,) = write_ohlcv_files(landing, 1, 30_000)
    assert path.stat().st_size > 1024 * 1024
    rec = record(landing, path)
    spark = SparkEngine(landing, tmp_path / "spark", small_file_bytes=1024, conf=SPLIT)
    duck = DuckDBEngine(landing, tmp_path / "duck", small_file_bytes=1024)
    try:
        output = convert(spark, rec)
        got = output.read().to_pylist()
        want = rows_of(duck, rec)
    finally:
        spark.close()
        duck.close()
    # Really split: every part's row groups are in the joined file (one task writes one).
    assert output.metadata.num_row_groups > 4
    assert len(got) == len(want) == 30_000
    assert got == want  # same rows, same order


def test_a_file_with_a_quoted_line_break_is_read_whole_and_kept_intact(
    session: Any, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    (path,) = write_ohlcv_files(landing, 1, 20_000)
    lines = path.read_text().splitlines()
    header = lines[0] + ",Note"
    body = [f'{line},"a\nb"' if i == 10_000 else f"{line},x" for i, line in enumerate(lines[1:])]
    path.write_text("\n".join([header, *body]) + "\n")
    rec = record(landing, path)
    spark = SparkEngine(landing, tmp_path / "spark", small_file_bytes=1024, conf=SPLIT)
    duck = DuckDBEngine(landing, tmp_path / "duck", small_file_bytes=1024)
    try:
        got, want = rows_of(spark, rec), rows_of(duck, rec)
    finally:
        spark.close()
        duck.close()
    assert got == want
    assert got[10_000]["Note"] == "a\nb"
