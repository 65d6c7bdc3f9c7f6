"""DuckDBEngine on real files: values against an independent computation, and bad inputs."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import random
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV, ColumnRule, DerivedColumn, TransformSpec
from ingestflow.sampledata import write_ohlcv_files

HEADER = "Date,Open,High,Low,Close,Volume\n"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[DuckDBEngine]:
    (tmp_path / "landing").mkdir()
    eng = DuckDBEngine(tmp_path / "landing", tmp_path / "output")
    yield eng
    eng.close()


def put(engine: DuckDBEngine, key: str, data: bytes | str) -> FileRecord:
    path = engine.landing_root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return FileRecord("b", key, "wf", "", path.stat().st_size, "e1", 0.0, Status.PROCESSING)


def run(
    engine: DuckDBEngine, records: list[FileRecord], spec: TransformSpec = OHLCV
) -> dict[str, FileOutcome]:
    outcomes = [o for chunk in engine.run("wf", records, spec) for o in chunk]
    assert sorted(o.key for o in outcomes) == sorted(r.key for r in records)
    return {o.key: o for o in outcomes}


def expected_rows(text: str) -> list[dict[str, object]]:
    """The ohlcv transform computed independently with the csv module."""
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        date = row["Date"].strip()
        fmt = "%Y-%m-%d" if len(date) == 10 else "%Y-%m-%d %H:%M:%S"
        o, c = float(row["Open"]), float(row["Close"])
        out.append(
            {
                "timestamp": dt.datetime.strptime(date, fmt),
                "open_price": o,
                "high_price": float(row["High"]),
                "low_price": float(row["Low"]),
                "close_price": c,
                "volume": float(row["Volume"]),
                "price_change": c - o,
            }
        )
    return out


def output_rows(outcome: FileOutcome) -> list[dict[str, object]]:
    assert outcome.ok, outcome.error
    assert outcome.output is not None
    return pq.read_table(outcome.output).to_pylist()


def test_generated_files_match_an_independent_computation_in_row_order(
    engine: DuckDBEngine,
) -> None:
    paths = write_ohlcv_files(engine.landing_root, 30, 120, seed=7, gzip_every=5)
    records = []
    texts = {}
    for path in paths:
        key = path.relative_to(engine.landing_root).as_posix()
        raw = path.read_bytes()
        texts[key] = (gzip.decompress(raw) if key.endswith(".gz") else raw).decode()
        records.append(FileRecord("b", key, "wf", "", len(raw), "e", 0.0, Status.PROCESSING))
    outcomes = run(engine, records)
    for key, text in texts.items():
        got = output_rows(outcomes[key])
        want = expected_rows(text)
        assert len(got) == len(want) == outcomes[key].rows
        for g, w in zip(got, want, strict=True):
            assert g["timestamp"] == w["timestamp"]
            for name in ("open_price", "high_price", "low_price", "close_price", "volume"):
                assert g[name] == pytest.approx(w[name], rel=1e-12)
            assert g["price_change"] == pytest.approx(w["price_change"], rel=1e-9, abs=1e-12)


def test_columns_in_any_order_extra_columns_kept_and_dates_without_time(
    engine: DuckDBEngine,
) -> None:
    text = 'Symbol,Volume,Close,Date,Low,Open,High\r\n"X,Y",10,2.5,2024-02-29,1,2,3\r\n'
    out = output_rows(run(engine, [put(engine, "a/x.csv", "\ufeff" + text)])["a/x.csv"])
    assert out == [
        {
            "Symbol": "X,Y",
            "volume": 10.0,
            "close_price": 2.5,
            "timestamp": dt.datetime(2024, 2, 29),
            "low_price": 1.0,
            "open_price": 2.0,
            "high_price": 3.0,
            "price_change": 0.5,
        }
    ]


def test_two_files_with_one_name_in_different_folders_get_two_outputs(
    engine: DuckDBEngine,
) -> None:
    one = put(engine, "a/eurusd.csv", HEADER + "2024-01-01 00:00:00,1,1,1,1,1\n")
    two = put(engine, "b/eurusd.csv", HEADER + "2024-01-01 00:00:00,2,2,2,2,2\n")
    outcomes = run(engine, [one, two])
    assert outcomes["a/eurusd.csv"].output != outcomes["b/eurusd.csv"].output
    assert output_rows(outcomes["a/eurusd.csv"])[0]["open_price"] == 1.0
    assert output_rows(outcomes["b/eurusd.csv"])[0]["open_price"] == 2.0
    assert Path(str(outcomes["a/eurusd.csv"].output)).name == "eurusd.csv.parquet"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (random.Random(1).randbytes(4000), "not"),
        (b"", "empty file"),
        ("Date,Open\n2024-01-01,1\n", "missing required column(s) High, Low, Close, Volume"),
        (HEADER + "2024-01-01 00:00:00,1,1,1,1,1\nyesterday,1,1,1,1,1\n", "'Date', row 2"),
        (HEADER + "2024-01-01 00:00:00,1,1,abc,1,1\n", "'Low', row 1: cannot parse 'abc'"),
        (HEADER + "2024-01-01 00:00:00,1,1,1,1,1,9\n", "malformed CSV"),
        (gzip.compress((HEADER + "2024-01-01 00:00:00,1,1,1,1,1\n").encode())[:30], "gzip"),
        ("Date;Open;High;Low;Close;Volume\n", "delimited"),
    ],
    ids=["garbage", "empty", "missing", "date", "number", "extra-field", "gzip", "semicolon"],
)
def test_a_bad_file_fails_alone_with_a_readable_terminal_error(
    engine: DuckDBEngine, content: bytes | str, needle: str
) -> None:
    good = [
        put(engine, f"ok/{i}.csv", HEADER + f"2024-01-0{i + 1},1,2,0.5,1.5,10\n") for i in range(6)
    ]
    bad = put(engine, "bad/file.csv", content)
    outcomes = run(engine, [*good[:3], bad, *good[3:]])
    failed = outcomes.pop("bad/file.csv")
    assert not failed.ok
    assert not failed.retryable
    assert needle in str(failed.error)
    assert all(o.ok for o in outcomes.values())
    assert not (engine.output_root / "wf" / "bad").exists()
    leftovers = [p for p in (engine.output_root / ".ingestflow-tmp").rglob("*") if p.is_file()]
    assert leftovers == []


def test_a_bad_value_deep_in_a_large_file_is_reported_with_its_row(engine: DuckDBEngine) -> None:
    lines = [HEADER.strip()]
    lines += [f"2024-01-01 00:00:00,{i},1,1,1,1" for i in range(1, 150_000)]
    lines.append("2024-01-01 00:00:00,oops,1,1,1,1")
    lines += [f"2024-01-01 00:00:00,{i},1,1,1,1" for i in range(1000)]
    outcome = run(engine, [put(engine, "big.csv", "\n".join(lines) + "\n")])["big.csv"]
    assert outcome.error == "column 'Open', row 150000: cannot parse 'oops' as double"


def test_empty_values_and_null_markers_become_nulls_not_errors(engine: DuckDBEngine) -> None:
    text = HEADER + "2024-01-01 00:00:00,1,2,0.5,,\n2024-01-02,null,NULL,1,1,1\n"
    rows = output_rows(run(engine, [put(engine, "n.csv", text)])["n.csv"])
    assert rows[0]["close_price"] is None and rows[0]["volume"] is None
    assert rows[1]["open_price"] is None and rows[1]["price_change"] is None


def test_a_header_only_file_gives_an_empty_output(engine: DuckDBEngine) -> None:
    outcome = run(engine, [put(engine, "h.csv", HEADER)])["h.csv"]
    assert outcome.ok and outcome.rows == 0
    assert pq.read_table(str(outcome.output)).num_rows == 0


def test_reprocessing_replaces_the_output(engine: DuckDBEngine) -> None:
    run(engine, [put(engine, "r.csv", HEADER + "2024-01-01,1,1,1,1,1\n")])
    outcome = run(engine, [put(engine, "r.csv", HEADER + "2024-01-01,7,1,1,1,1\n")])["r.csv"]
    assert [r["open_price"] for r in output_rows(outcome)] == [7.0]


def test_a_missing_input_is_a_terminal_failure(engine: DuckDBEngine) -> None:
    record = FileRecord("b", "gone.csv", "wf", "", 1, "e", 0.0, Status.PROCESSING)
    outcome = run(engine, [record])["gone.csv"]
    assert not outcome.ok and not outcome.retryable
    assert "gone" in str(outcome.error)


def test_a_declarative_transform_casts_renames_derives_and_drops(engine: DuckDBEngine) -> None:
    spec = TransformSpec(
        name="trades",
        columns=(
            ColumnRule("Qty", "qty", "integer"),
            ColumnRule("Price", "price", "double"),
            ColumnRule("Day", "day", "date", formats=("%d/%m/%Y",)),
            ColumnRule("Flag", "flag", "boolean"),
        ),
        derived=(DerivedColumn("notional", "qty * price", "double"),),
        drop=("Comment",),
        keep_others=False,
        delimiter=";",
    )
    text = "Qty;Price;Day;Flag;Comment;Other\n3;2.5;31/12/2024;true;x;y\n"
    rows = output_rows(run(engine, [put(engine, "t.csv", text)], spec)["t.csv"])
    assert rows == [
        {"qty": 3, "price": 2.5, "day": dt.date(2024, 12, 31), "flag": True, "notional": 7.5}
    ]
    bad = run(engine, [put(engine, "u.csv", text.replace("3;", "3.5;", 1))], spec)["u.csv"]
    assert bad.error == "column 'Qty', row 1: cannot parse '3.5' as integer"
