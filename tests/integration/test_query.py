"""`run_query`: SQL over Parquet outputs the real DuckDB engine produced, a table per workflow."""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.adapters.engines.duckdb_query import run_query
from ingestflow.domain.errors import IngestflowError
from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV
from ingestflow.sampledata import write_ohlcv_files

HEADER = "Date,Open,High,Low,Close,Volume"


def produce(landing: Path, output: Path, workflow: str, paths: Sequence[Path]) -> None:
    """Convert landing files into `<output>/<workflow>/...` with the real engine."""
    engine = DuckDBEngine(landing, output)
    try:
        records = [
            FileRecord(
                "landing",
                p.relative_to(landing).as_posix(),
                workflow,
                "",
                p.stat().st_size,
                "e",
                0.0,
                Status.PROCESSING,
            )
            for p in paths
        ]
        outcomes = [o for chunk in engine.run(workflow, records, OHLCV) for o in chunk]
        assert len(outcomes) == len(records)
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    finally:
        engine.close()


def text_of(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8-sig")


def column(paths: Sequence[Path], name: str) -> list[str]:
    return [row[name] for p in paths for row in csv.DictReader(io.StringIO(text_of(p)))]


def write(landing: Path, key: str, text: str) -> Path:
    path = landing / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def ohlcv_files(tmp_path: Path) -> list[Path]:
    landing = tmp_path / "landing"
    paths = write_ohlcv_files(landing, 16, 40, seed=21, gzip_every=4)
    produce(landing, tmp_path / "output", "ohlcv", paths)
    return paths


def test_a_workflow_is_a_table_over_all_of_its_outputs(
    tmp_path: Path, ohlcv_files: list[Path]
) -> None:
    columns, rows = run_query(
        tmp_path / "output",
        ["ohlcv"],
        "SELECT count(*) AS n, sum(price_change) AS change, sum(volume) AS volume, "
        "min(timestamp) AS first, max(timestamp) AS last FROM ohlcv",
    )
    assert columns == ["n", "change", "volume", "first", "last"]
    ((n, change, volume, first, last),) = rows
    opens = [float(v) for v in column(ohlcv_files, "Open")]
    closes = [float(v) for v in column(ohlcv_files, "Close")]
    assert n == len(opens) == 16 * 40
    assert math.isclose(change, math.fsum(c - o for c, o in zip(closes, opens, strict=True)))
    assert volume == sum(float(v) for v in column(ohlcv_files, "Volume"))
    dates = sorted(column(ohlcv_files, "Date"))
    assert (str(first), str(last)) == (dates[0], dates[-1])


def test_outputs_at_any_depth_are_part_of_the_table(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    keys = ["top.csv", "x/mid.csv", "x/y/z/deep.csv"]
    paths = [
        write(landing, key, f"{HEADER}\n" + f"2024-01-0{n + 1},1,2,0.5,1.5,{n}\n" * (n + 1))
        for n, key in enumerate(keys)
    ]
    produce(landing, tmp_path / "output", "w", paths)
    _, rows = run_query(
        tmp_path / "output", ["w"], "SELECT volume, count(*) FROM w GROUP BY 1 ORDER BY 1"
    )
    assert rows == [(0.0, 1), (1.0, 2), (2.0, 3)]


def test_workflows_are_separate_tables_that_can_be_joined(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    fx = [
        write(
            landing,
            "fx/a.csv",
            f"{HEADER}\n2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1,2,0.5,1.25,20\n",
        )
    ]
    crypto = [write(landing, "crypto/b.csv", f"{HEADER}\n2024-01-01,100,120,90,110,3\n")]
    produce(landing, tmp_path / "output", "fx", fx)
    produce(landing, tmp_path / "output", "crypto", crypto)
    columns, rows = run_query(
        tmp_path / "output",
        ["fx", "crypto"],
        "SELECT f.timestamp, f.price_change, c.price_change AS crypto_change "
        "FROM fx f JOIN crypto c USING (timestamp) ORDER BY 1",
    )
    assert columns == ["timestamp", "price_change", "crypto_change"]
    assert [(str(t), a, b) for t, a, b in rows] == [("2024-01-01 00:00:00", 0.5, 10.0)]
    _, counts = run_query(
        tmp_path / "output",
        ["fx", "crypto"],
        "SELECT (SELECT count(*) FROM fx), (SELECT count(*) FROM crypto)",
    )
    assert counts == [(2, 1)]


def test_outputs_with_different_extra_columns_are_unioned_by_name(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    paths = [
        write(landing, "w/plain.csv", f"{HEADER}\n2024-01-01,1,2,0.5,1.5,10\n"),
        write(landing, "w/tagged.csv", f"Symbol,{HEADER}\nEURUSD,2024-01-02,1,2,0.5,1.5,10\n"),
        write(landing, "w/header-only.csv", f"{HEADER}\n"),
    ]
    produce(landing, tmp_path / "output", "w", paths)
    _, rows = run_query(
        tmp_path / "output", ["w"], "SELECT Symbol, timestamp::DATE::VARCHAR FROM w ORDER BY 2"
    )
    assert rows == [(None, "2024-01-01"), ("EURUSD", "2024-01-02")]


def test_a_workflow_without_outputs_is_not_a_table(tmp_path: Path, ohlcv_files: list[Path]) -> None:
    (tmp_path / "output" / "empty").mkdir()
    for name in ("empty", "never_ran"):
        with pytest.raises(IngestflowError, match=rf"query failed: .*{name}"):
            run_query(tmp_path / "output", ["ohlcv", "empty", "never_ran"], f"SELECT * FROM {name}")
    # The workflows that have outputs still answer in the same call.
    _, rows = run_query(
        tmp_path / "output", ["ohlcv", "empty", "never_ran"], "SELECT count(*) FROM ohlcv"
    )
    assert rows == [(16 * 40,)]


def test_invalid_sql_fails_with_an_ingestflow_error(
    tmp_path: Path, ohlcv_files: list[Path]
) -> None:
    with pytest.raises(IngestflowError, match="query failed"):
        run_query(tmp_path / "output", ["ohlcv"], "SELEKT 1")
    with pytest.raises(IngestflowError, match="no_such_column"):
        run_query(tmp_path / "output", ["ohlcv"], "SELECT no_such_column FROM ohlcv")


def test_the_engines_temporary_folder_is_never_part_of_a_table(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    good = write(landing, "t/good.csv", f"{HEADER}\n2024-01-01,1,2,0.5,1.5,10\n")
    produce(landing, tmp_path / "output", "t", [good])
    # A stray temporary Parquet file of a crashed engine, beside the workflow folder.
    stray = tmp_path / "output" / ".ingestflow-tmp" / "engine-dead"
    stray.mkdir(parents=True)
    (stray / "t.parquet").write_bytes(
        (tmp_path / "output" / "t" / "t" / "good.csv.parquet").read_bytes()
    )
    _, rows = run_query(tmp_path / "output", ["t"], "SELECT count(*) FROM t")
    assert rows == [(1,)]


def test_an_output_folder_whose_path_holds_glob_characters_can_be_queried(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    output = tmp_path / "exports [2024]"
    good = write(landing, "fx/a.csv", f"{HEADER}\n2024-01-01,1,2,0.5,1.5,10\n")
    produce(landing, output, "fx", [good])
    assert (output / "fx" / "fx" / "a.csv.parquet").is_file()
    assert run_query(output, ["fx"], "SELECT count(*) FROM fx")[1] == [(1,)]
