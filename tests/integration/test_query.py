"""`run_query`: SQL over Parquet outputs the real DuckDB engine produced, a table per workflow."""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest

from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.adapters.engines.duckdb_query import open_query, run_query
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


def test_a_workflow_without_outputs_is_not_a_table_and_naming_it_says_so(
    tmp_path: Path, ohlcv_files: list[Path]
) -> None:
    (tmp_path / "output" / "empty").mkdir()
    for name in ("empty", "never_ran"):
        with pytest.raises(IngestflowError) as raised:
            run_query(tmp_path / "output", ["ohlcv", "empty", "never_ran"], f"SELECT * FROM {name}")
        assert str(raised.value) == f"workflow '{name}' has no outputs yet"
    # The workflows that have outputs still answer in the same call.
    _, rows = run_query(
        tmp_path / "output", ["ohlcv", "empty", "never_ran"], "SELECT count(*) FROM ohlcv"
    )
    assert rows == [(16 * 40,)]
    # A table that is no workflow at all is DuckDB's own error.
    with pytest.raises(IngestflowError, match=r"query failed: .*nowhere"):
        run_query(tmp_path / "output", ["ohlcv", "empty"], "SELECT * FROM nowhere")


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


def test_a_table_name_is_never_read_from_a_python_variable(
    tmp_path: Path, ohlcv_files: list[Path]
) -> None:
    # DuckDB's Python client would scan a local variable named like the table (`sql`, `files`
    # exist inside run_query) instead of failing on an unknown table.
    for name in ("sql", "files", "con", "empty"):
        with pytest.raises(IngestflowError, match=f"Table with name {name} does not exist"):
            run_query(tmp_path / "output", ["ohlcv"], f"SELECT * FROM {name}")


def test_keys_with_glob_characters_are_read_literally(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    keys = ["g/[red]x.csv", "g/rx.csv", "g/q*x.csv", "g/qax.csv", "g/a?b.csv", "g/acb.csv"]
    paths = [
        write(landing, key, f"{HEADER}\n" + f"2024-01-01,1,2,0.5,1.5,{n}\n" * (n + 1))
        for n, key in enumerate(keys)
    ]
    output = tmp_path / "out [*?]"
    produce(landing, output, "g", paths)
    _, rows = run_query(output, ["g"], "SELECT volume, count(*) FROM g GROUP BY 1 ORDER BY 1")
    assert rows == [(float(n), n + 1) for n in range(len(keys))]


def test_folders_named_like_hive_partitions_are_not_columns(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    paths = [
        write(landing, "h/date=2024-01-01/a.csv", f"{HEADER}\n2024-01-01,1,2,0.5,1.5,10\n"),
        write(landing, "h/date=2024-01-02/b.csv", f"{HEADER}\n2024-01-02,1,2,0.5,1.5,20\n"),
    ]
    produce(landing, tmp_path / "output", "h", paths)
    columns, rows = run_query(tmp_path / "output", ["h"], "SELECT * FROM h ORDER BY volume")
    assert "date" not in columns
    assert columns == [
        "timestamp",
        "open_price",
        "high_price",
        "low_price",
        "close_price",
        "volume",
        "price_change",
    ]
    assert [r[5] for r in rows] == [10.0, 20.0]


def _union_by_name(folder: Path) -> tuple[list[str], list[tuple[object, ...]]]:
    """The reference: DuckDB's own union_by_name read over every output file."""
    con = duckdb.connect()
    try:
        files = sorted(str(p) for p in folder.rglob("*.parquet"))
        sql = "SELECT * FROM read_parquet(?, union_by_name = true) ORDER BY volume"
        cursor = con.execute(sql, [files])
        return [d[0] for d in cursor.description], cursor.fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("schemas", [3, 40])
def test_outputs_of_many_schemas_give_the_table_union_by_name_gives(
    tmp_path: Path, schemas: int
) -> None:
    """Files are grouped by schema and the groups unioned by name (or, past the group cap,
    read with union_by_name): either way the same columns, in the same order, and rows."""
    landing = tmp_path / "landing"
    paths = []
    for i in range(60):
        extra = [f"c{i % schemas}", "Symbol"] if i % 2 else ["Symbol", f"c{i % schemas}"]
        header = ",".join([*extra[: i % 3], *HEADER.split(","), *extra[i % 3 :]])
        values = [f"v{i}" if name != "Symbol" else "EURUSD" for name in extra]
        row = ",".join([*values[: i % 3], f"2024-01-{i % 28 + 1:02d}", "1,2,0.5,1.5", str(i)])
        row += "," + ",".join(values[i % 3 :]) if values[i % 3 :] else ""
        paths.append(write(landing, f"m/{i:02d}.csv", f"{header}\n{row}\n"))
    produce(landing, tmp_path / "output", "m", paths)
    got = run_query(tmp_path / "output", ["m"], "SELECT * FROM m ORDER BY volume")
    assert got == _union_by_name(tmp_path / "output" / "m")
    assert len(got[1]) == 60
    assert {c for c in got[0] if c[0] == "c" and c[1:].isdigit()} == {
        f"c{i}" for i in range(schemas)
    }


def test_a_query_opens_only_the_outputs_of_the_workflows_it_names(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    good = write(landing, "a/good.csv", f"{HEADER}\n2024-01-01,1,2,0.5,1.5,10\n")
    produce(landing, tmp_path / "output", "a", [good])
    broken = tmp_path / "output" / "b" / "broken.csv.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"PAR1 not really parquet PAR1")
    assert run_query(tmp_path / "output", ["a", "b"], "SELECT count(*) FROM a")[1] == [(1,)]
    with pytest.raises(IngestflowError, match="query failed"):
        run_query(tmp_path / "output", ["a", "b"], "SELECT count(*) FROM b")
    # SQL naming no workflow (SHOW TABLES) gets every table.
    with pytest.raises(IngestflowError, match="query failed"):
        run_query(tmp_path / "output", ["a", "b"], "SHOW TABLES")


def test_rows_are_fetched_in_batches(tmp_path: Path, ohlcv_files: list[Path]) -> None:
    with open_query(tmp_path / "output", ["ohlcv"], "SELECT * FROM ohlcv") as result:
        sizes = [len(batch) for batch in result.batches(size=100)]
    assert sizes == [100] * 6 + [40]
