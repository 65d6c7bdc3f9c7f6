"""The Polars fast path for large files, against the DuckDB engine on the same files.

Contract (`ingestflow.adapters.engines.polars_fast`): `convert_fast` returns a row count only
when the Parquet file it wrote is exactly what DuckDBEngine writes for that input (schema with
Parquet types, values, nulls, row order); for a bad file, and for any file it cannot prove that
for, it returns None and leaves nothing behind, so the DuckDB path decides and words the error.
Every expectation here is DuckDBEngine's own output on the same bytes: real engines, real files.
"""

from __future__ import annotations

import datetime as dt
import gzip
import random
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.adapters.engines.inputs import inspect_csv
from ingestflow.adapters.engines.polars_fast import convert_fast
from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV, ColumnRule, DerivedColumn, TransformSpec
from ingestflow.sampledata import ohlcv_text

pytest.importorskip("polars")

WF = "wf"
HEADER = "Date,Open,High,Low,Close,Volume"
EVERY_TYPE = TransformSpec(
    name="every_type",
    columns=(
        ColumnRule("i", "small", "integer"),
        ColumnRule("b", "big", "bigint"),
        ColumnRule("f", "single", "float"),
        ColumnRule("d", "amount", "double"),
        ColumnRule("s", "label", "varchar"),
        ColumnRule("z", "flag", "boolean"),
        ColumnRule("day", "day", "date", ("%d.%m.%Y", "%Y-%m-%d")),
        ColumnRule("at", "at", "timestamp", ("%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M:%S")),
    ),
    derived=(DerivedColumn("scaled", "(amount - -Amount) + amount * (amount - amount)", "double"),),
    drop=("gone",),
)
EVERY_TYPE_HEADER = "i,b,f,d,s,z,day,at,gone,extra"
EVERY_TYPE_ROWS = [
    "1,9000000000,1.5,2.5,abc,true,05.01.2024,05/01/2024 10:20,x,k1",
    " -7 ,+3,0.1,1e10,,N,2024-02-29,31/12/2024 23:59,x,k2",
    ",,,,null,,,,x,k3",
    "2147483647,9223372036854775807,3.4028234e38,1e300,NULL,YES,29.02.2024,"
    "2024-12-31T23:59:59,x,k4",
    "-2147483648,-9223372036854775808,1.0000000596046447753906251,5e-324,é 中,false,01.01.0001,"
    "01/01/9999 00:00,x,k5",
    '007,-0,-0,-0,"a,b",F,31.12.9999,2000-02-29T12:00:00,x,k6',
    "+0,0001,1.4e-45,+.5,  padded  ,0,2023-02-28,29/02/2000 00:00,x,k7",
]
BOOLEAN_WORDS = ["true", "false", "t", "f", "yes", "no", "y", "n", "1", "0"]


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[DuckDBEngine]:
    """DuckDBEngine converting files one by one, as it converts every large file."""
    landing = tmp_path / "landing"
    landing.mkdir()
    eng = DuckDBEngine(landing, tmp_path / "output", small_file_bytes=0)
    yield eng
    eng.close()


def land(engine: DuckDBEngine, key: str, data: bytes | str) -> Path:
    path = engine.landing_root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def duckdb_output(engine: DuckDBEngine, path: Path, spec: TransformSpec) -> Path | None:
    """The Parquet file DuckDBEngine writes for `path`, or None when it fails the file."""
    st_ = path.stat()
    key = path.relative_to(engine.landing_root).as_posix()
    record = FileRecord("landing", key, WF, "", st_.st_size, "e", st_.st_mtime, Status.PROCESSING)
    outcome = engine.process_file(WF, record, spec)
    return Path(outcome.output) if outcome.ok and outcome.output else None


def fast_output(
    engine: DuckDBEngine, path: Path, spec: TransformSpec, compression: str = "snappy"
) -> tuple[int | None, Path]:
    """What convert_fast returns for `path`, and the target it was given."""
    target = engine.output_root.parent / "fast" / f"{uuid.uuid4().hex}.parquet.tmp"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = convert_fast(path, inspect_csv(path, spec.delimiter), spec, target, compression)
    return rows, target


def parquet_columns(path: Path) -> list[tuple[str, str, str]]:
    """Each column's name, physical and logical Parquet type. Polars leaves INT32 and INT64
    unannotated where DuckDB writes Int(32/64, signed): the same type by the Parquet spec (and
    for every reader), so an unannotated one is written out here."""
    schema = pq.ParquetFile(path).schema
    columns = [schema.column(i) for i in range(len(schema))]
    signed = {f"INT{n}": f"Int(bitWidth={n}, isSigned=true)" for n in (32, 64)}
    return [
        (c.name, c.physical_type, str(c.logical_type))
        if str(c.logical_type) != "None"
        else (c.name, c.physical_type, signed.get(c.physical_type, "None"))
        for c in columns
    ]


def assert_same_as_duckdb(
    engine: DuckDBEngine, key: str, data: bytes | str, spec: TransformSpec = OHLCV
) -> pa.Table:
    path = land(engine, key, data)
    rows, target = fast_output(engine, path, spec)
    expected_path = duckdb_output(engine, path, spec)
    assert expected_path is not None, "DuckDB refuses this file: not a good-corpus file"
    assert rows is not None, "the fast path should prove this file"
    expected, table = pq.read_table(expected_path), pq.read_table(target)
    assert rows == expected.num_rows == table.num_rows
    assert table.schema == expected.schema
    assert parquet_columns(target) == parquet_columns(expected_path)
    assert table.to_pylist() == expected.to_pylist()
    assert table.equals(expected)
    return table


def assert_left_to_duckdb(engine: DuckDBEngine, path: Path, spec: TransformSpec = OHLCV) -> None:
    rows, target = fast_output(engine, path, spec)
    assert rows is None
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def candle(day: int, open_: float, volume: int, hour: int = 0) -> str:
    prices = f"{open_},{open_ + 1},{open_ - 0.5},{open_ + 0.25}"
    return f"2024-01-{day:02d} {hour:02d}:00:00,{prices},{volume}"


def good_text(rows: int = 3) -> str:
    return (
        HEADER + "\n" + "\n".join(candle(d % 28 + 1, 1.5 + d, 100 + d) for d in range(rows)) + "\n"
    )


# --- good files: the fast path gives DuckDB's output exactly ---------------------------------

GOOD = {
    "generated-ohlcv": ohlcv_text(500, random.Random(7), "EURUSD", dt.datetime(2024, 1, 1)),
    "crlf": good_text().replace("\n", "\r\n"),
    "utf8-bom": "\ufeff" + good_text(),
    "bom-and-crlf": ("\ufeff" + good_text()).replace("\n", "\r\n"),
    "quoted-fields": (
        '"Date","Open","High","Low","Close","Volume","Note"\n'
        '2024-01-01 09:30:00,1,2,0.5,1.5,10,"comma, inside"\n'
        '"2024-01-02 09:30:00","1.25","2","0.5","1.5","11","x"\n'
        '2024-01-03,"-1e3",2,0.5,1.5,"","y"\n'
    ),
    "quoted-fields-crlf": (
        'Date,Open,High,Low,Close,Volume,Note\r\n2024-01-01,"1",2,0.5,1.5,10,"a, b"\r\n'
    ),
    "no-final-newline": good_text().rstrip("\n"),
    "columns-in-any-order-with-extras": (
        "Symbol,Volume,Close,Note,Date,Low,Open,High\n"
        "EURUSD,10,2.5, padded ,2024-02-29 23:59:59,1,2,3\n"
        "007,11,2.5,1e3,2024-03-01,1,2,3\n"
        "TRUE,12,2.5,3.0,2024-03-02 00:00:01,1,2,3\n"
    ),
    "date-only-and-date-time": f"{HEADER}\n2024-02-29,1,2,0,1.5,1\n2024-03-01 12:34:56,1,2,0,1,1\n",
    "lower-case-header": f"{HEADER.lower()}\n{candle(1, 1.5, 10)}\n",
    "mixed-case-header": "DATE,open,HiGh,low,CLOSE,volume\n" + candle(1, 1.5, 10) + "\n",
    "spaces-around-values": f"{HEADER}\n 2024-01-01 10:00:00 , 1.5 ,2, 0.5,1.75 ,10\n",
    "scientific-and-negative-numbers": f"{HEADER}\n2024-01-01,1e-3,-2.5E2,-0,1.5e+1,12345678901\n",
    "number-spellings-duckdb-reads": (
        f"{HEADER}\n2024-01-01,+.5,5.,0001.5,1.e5,1.7976931348623157e308\n"
        f"2024-01-02,5e-324,1e-400,-0.0,1.5E-3,0\n"
    ),
    "empty-number-fields": f"{HEADER}\n2024-01-01,,2,1,,5\n2024-01-02,1,,1,1,5\n",
    "empty-values-and-null-markers": (
        "Date,Open,High,Low,Close,Note,Volume\n"
        "2024-01-01 00:00:00,1,2,0.5,,,1\n"
        ',null,NULL,1,1,"",2\n'
        '"",2,"",0.5,1.5,NULL,3\n'
        "2024-01-04,1,2,0.5,1.5,null,4\n"
    ),
    "unicode-and-control-text": (
        "Date,Open,High,Low,Close,Note,Volume\n"
        "2024-01-01,1,2,0.5,1.5,é 中 🙂,1\n2024-01-02,1,2,0.5,1.5,tab\there,2\n"
        "2024-01-03,1,2,0.5,1.5,bell\x07 \x0c,3\n"
    ),
    "timestamp-boundaries": (
        f"{HEADER}\n2024-02-29 23:59:59,1,1,1,1,1\n0001-01-01 00:00:00,1,1,1,1,1\n"
        f"9999-12-31 23:59:59,1,1,1,1,1\n2000-02-29,1,1,1,1,1\n1970-01-01 00:00:00,1,1,1,1,1\n"
        f"1969-12-31 23:59:59,1,1,1,1,1\n"
    ),
}


@pytest.mark.parametrize("case", sorted(GOOD))
def test_a_good_ohlcv_file_gives_exactly_the_duckdb_output(engine: DuckDBEngine, case: str) -> None:
    assert_same_as_duckdb(engine, f"{case}.csv", GOOD[case])


def test_every_column_type_nulls_spaces_extremes_and_derived_arithmetic_match_duckdb(
    engine: DuckDBEngine,
) -> None:
    text = EVERY_TYPE_HEADER + "\n" + "\n".join(EVERY_TYPE_ROWS) + "\n"
    table = assert_same_as_duckdb(engine, "types.csv", text, EVERY_TYPE)
    assert table.column_names == [
        "small", "big", "single", "amount", "label", "flag", "day", "at", "extra", "scaled",
    ]  # fmt: skip
    types = [table.schema.field(n).type for n in table.column_names]
    assert types == [
        pa.int32(), pa.int64(), pa.float32(), pa.float64(), pa.string(), pa.bool_(),
        pa.date32(), pa.timestamp("us"), pa.string(), pa.float64(),
    ]  # fmt: skip
    assert table.column("small").to_pylist()[:3] == [1, -7, None]
    assert table.column("label").to_pylist()[2:5] == [None, None, "é 中"]


def test_every_boolean_word_duckdb_reads_in_any_case_matches_duckdb(engine: DuckDBEngine) -> None:
    spec = TransformSpec("b", columns=(ColumnRule("z", "z", "boolean"),))
    words = [w for word in BOOLEAN_WORDS for w in (word, word.upper(), word.capitalize())]
    text = "z,k\n" + "".join(f"{w},k\n" for w in words)
    table = assert_same_as_duckdb(engine, "bool.csv", text, spec)
    assert table.column("z").null_count == 0


@pytest.mark.parametrize(
    ("options", "rows"),
    [
        ({"timestamp_format": "%d/%m/%Y %H:%M"}, ["31/12/2024 23:59", "01/02/2024 07:05"]),
        ({"timestamp_format": "%Y%m%d%H%M%S"}, ["20240105102030", "19991231235959"]),
        ({"timestamp_format": "%H:%M %d-%m-%Y"}, ["10:20 05-01-2024", "00:00 29-02-2024"]),
    ],
    ids=["day-first", "no-separators", "time-first"],
)
def test_a_timestamp_format_option_gives_the_duckdb_output(
    engine: DuckDBEngine, options: dict[str, str], rows: list[str]
) -> None:
    text = HEADER + "\n" + "".join(f"{r},1,2,0.5,1.5,10\n" for r in rows)
    assert_same_as_duckdb(engine, "fmt.csv", text, OHLCV.with_options(options))


@pytest.mark.parametrize("delimiter", [";", "\t", "|"], ids=["semicolon", "tab", "pipe"])
def test_a_delimiter_option_gives_the_duckdb_output(engine: DuckDBEngine, delimiter: str) -> None:
    text = good_text().replace(",", delimiter).replace("\n", f"{delimiter}x,y\n")
    text = text.replace(f"Volume{delimiter}x,y", f"Volume{delimiter}Note")
    assert_same_as_duckdb(engine, "d.csv", text, OHLCV.with_options({"delimiter": delimiter}))


def test_dropped_columns_and_keep_others_off_match_duckdb(engine: DuckDBEngine) -> None:
    spec = TransformSpec(
        "narrow",
        columns=(ColumnRule("Close", "close", "double"), ColumnRule("Date", "at", "timestamp")),
        drop=("Open",),
        keep_others=False,
    )
    table = assert_same_as_duckdb(engine, "narrow.csv", good_text(), spec)
    assert table.column_names == ["at", "close"]


def test_a_file_name_with_glob_characters_is_read_literally(engine: DuckDBEngine) -> None:
    land(engine, "g/a1.csv", good_text(1))  # what a glob 'a[12].csv' would also match
    assert_same_as_duckdb(engine, "g/a[12].csv", good_text(4))


@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_file_above_the_small_file_limit_matches_duckdb_row_for_row(
    engine: DuckDBEngine, line_end: str
) -> None:
    text = ohlcv_text(90_000, random.Random(11), "BTCUSD", dt.datetime(2024, 3, 1))
    data = text.replace("\n", line_end).encode()
    assert len(data) > 4 * 1024 * 1024  # many Polars batches, row groups and 4 MiB read chunks
    table = assert_same_as_duckdb(engine, "big.csv", data)
    assert table.num_rows == 90_000


@pytest.mark.parametrize(
    ("field", "duckdb_reads_it"), [("", True), (" ", False)], ids=["empty", "blank"]
)
def test_an_empty_number_deep_in_a_large_file_is_proven_and_a_blank_one_refused(
    engine: DuckDBEngine, field: str, duckdb_reads_it: bool
) -> None:
    lines = ohlcv_text(90_000, random.Random(5), "ETHUSD", dt.datetime(2024, 5, 1)).split("\n")
    cells = lines[85_000].split(",")
    lines[85_000] = ",".join([cells[0], field, *cells[2:]])
    text = "\n".join(lines)
    if duckdb_reads_it:
        table = assert_same_as_duckdb(engine, "deep.csv", text)
        assert table.column("open_price").null_count == 1
    else:
        path = land(engine, "deep.csv", text)
        assert_left_to_duckdb(engine, path)
        assert duckdb_output(engine, path, OHLCV) is None


@pytest.mark.parametrize("compression", ["snappy", "zstd", "gzip", "lz4", "uncompressed"])
def test_the_output_uses_the_compression_duckdb_uses(tmp_path: Path, compression: str) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    duck = DuckDBEngine(
        landing, tmp_path / "out", compression="none" if compression == "uncompressed" else (
            compression
        ), small_file_bytes=0,
    )  # fmt: skip
    try:
        path = land(duck, "c.csv", good_text(50))
        expected = duckdb_output(duck, path, OHLCV)
        rows, target = fast_output(duck, path, OHLCV, compression)
        assert rows == 50 and expected is not None
        codec = pq.ParquetFile(target).metadata.row_group(0).column(0).compression
        assert codec == pq.ParquetFile(expected).metadata.row_group(0).column(0).compression
        assert pq.read_table(target).equals(pq.read_table(expected))
    finally:
        duck.close()


# --- bad files: DuckDB refuses them; the fast path returns None and writes nothing -----------

BAD = {
    "short-row-first": f"{HEADER}\n2024-01-01,1,2,3,4\n{candle(2, 1, 1)}\n",
    "short-row-middle": f"{HEADER}\n{candle(1, 1, 1)}\n2024-01-02,1,2\n{candle(3, 1, 1)}\n",
    "short-row-last-no-newline": f"{HEADER}\n{candle(1, 1, 1)}\n2024-01-02,1,2,3,4",
    "single-field-row": f"{HEADER}\n{candle(1, 1, 1)}\n2024-01-02\n",
    "long-row": f"{HEADER}\n{candle(1, 1, 1)},7\n",
    "bad-number": f"{HEADER}\n2024-01-01,1,2,abc,4,5\n",
    "number-overflow": f"{HEADER}\n2024-01-01,1e400,2,1,4,5\n",
    "negative-overflow": f"{HEADER}\n2024-01-01,1,2,-1e400,4,5\n",
    "infinity": f"{HEADER}\n2024-01-01,1,inf,1,4,5\n",
    "not-a-number": f"{HEADER}\n2024-01-01,1,2,1,NaN,5\n",
    "blank-number": f"{HEADER}\n2024-01-01,  ,2,1,4,5\n",
    "quoted-blank-number": f'{HEADER}\n2024-01-01,1,2," ",4,5\n',
    "blank-and-empty-numbers": f"{HEADER}\n2024-01-01,,2,1,4,5\n2024-01-02,1,\t,1,4,5\n",
    "number-with-unit": f"{HEADER}\n2024-01-01,1.5 EUR,2,1,4,5\n",
    "month-13": f"{HEADER}\n2024-13-01 00:00:00,1,2,1,4,5\n",
    "february-30": f"{HEADER}\n2024-02-30,1,2,1,4,5\n",
    "february-29-not-leap": f"{HEADER}\n2023-02-29 10:00:00,1,2,1,4,5\n",
    "hour-24": f"{HEADER}\n2024-01-01 24:00:00,1,2,1,4,5\n",
    "minute-60": f"{HEADER}\n2024-01-01 10:60:00,1,2,1,4,5\n",
    "leap-second": f"{HEADER}\n2024-01-01 23:59:60,1,2,1,4,5\n",
    "timestamp-in-another-format": f"{HEADER}\n01/02/2024 10:00,1,2,1,4,5\n",
    "timestamp-with-text": f"{HEADER}\n2024-01-01 10:00:00 UTC,1,2,1,4,5\n",
    "latin-1-text": ("Date,Open,High,Low,Close,Note,Volume\n2024-01-01,1,2,1,4,café,5\n").encode(
        "latin-1"
    ),
    "carriage-return-inside-a-line": f"{HEADER}\n2024-01-01,1\r,2,1,4,5\n",
    "unterminated-quote": f'{HEADER}\n2024-01-01,1,2,1,4,"5\n',
    "a-lone-quote-ending-the-file": f'{HEADER}\n2024-01-05,,-0.25,2,-0.25,"',  # Polars panics
    "lf-lines-in-a-crlf-file": f"{HEADER}\r\n{candle(1, 1, 1)}\n{candle(2, 1, 1)}\r\n",
    "crlf-lines-in-an-lf-file": f"{HEADER}\n{candle(1, 1, 1)}\r\n{candle(2, 1, 1)}\n",
    "last-line-lf-in-a-crlf-file": f"{HEADER}\r\n{candle(1, 1, 1)}\r\n{candle(2, 1, 1)}\n",
    "binary-after-the-header-probe": (
        good_text(4000) + "2024-01-01,\x00\x01\xff\xfe,1,1,1,1\n"
    ).encode("latin-1"),
}
BAD_TYPED = {
    "fraction-in-an-integer": ("i,k\n1,k\n1.5,k\n", "integer"),
    "integer-overflow": ("i,k\n2147483648,k\n", "integer"),
    "bigint-overflow": ("i,k\n9223372036854775808,k\n", "bigint"),
    "integer-in-scientific-notation": ("i,k\n1e3,k\n", "bigint"),
    "float-overflow": ("i,k\n3.5e38,k\n", "float"),
    "boolean-word-duckdb-refuses": ("i,k\non,k\n", "boolean"),
    "boolean-with-a-space": ("i,k\n true,k\n", "boolean"),
    "date-with-a-time-in-a-date-only-format": ("i,k\n2024-01-01 10:00:00,k\n", "date"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_ohlcv_file_is_left_to_duckdb_which_fails_it(engine: DuckDBEngine, case: str) -> None:
    path = land(engine, f"{case}.csv", BAD[case])
    assert_left_to_duckdb(engine, path)
    assert duckdb_output(engine, path, OHLCV) is None


@pytest.mark.parametrize("case", sorted(BAD_TYPED))
def test_a_value_duckdb_refuses_is_left_to_duckdb_for_every_type(
    engine: DuckDBEngine, case: str
) -> None:
    text, kind = BAD_TYPED[case]
    spec = TransformSpec("t", columns=(ColumnRule("i", "i", kind),))
    path = land(engine, f"{case}.csv", text)
    assert_left_to_duckdb(engine, path, spec)
    assert duckdb_output(engine, path, spec) is None


# --- files DuckDB may accept but the fast path cannot prove: left to DuckDB ------------------

DOUBTFUL = {
    "null-in-the-last-column": f"{HEADER}\n2024-01-01,1,2,1,4,\n",
    "null-marker-in-the-last-column": f"{HEADER}\n2024-01-01,1,2,1,4,null\n",
    "blank-line-between-rows": f"{HEADER}\n{candle(1, 1, 1)}\n\n{candle(2, 1, 1)}\n",
    "trailing-empty-lines": f"{HEADER}\n{candle(1, 1, 1)}\n\n\n",
    "quoted-line-break-in-text": f'{HEADER},Note\n{candle(1, 1, 1)},"line\nbreak"\n',
    "doubled-quotes-in-text": f'{HEADER},Note\n{candle(1, 1, 1)},"say ""hi"""\n',
    "space-before-a-quote": f'Note,{HEADER}\n "a, b",{candle(1, 1, 1)}\n',
    "quote-inside-unquoted-text": f'Note,{HEADER}\nab"c,{candle(1, 1, 1)}\n',
    "trailing-delimiter": f"{HEADER}\n{candle(1, 1, 1)},\n",
    "old-mac-line-ends": good_text().replace("\n", "\r"),
    "open-quote-in-the-header": f'"Date,Open",High,Low,Close,Volume\n{candle(1, 1, 1)}\n',
    "names-equal-but-for-case": "Open,open,Date,High,Low,Close,Volume\n1,2,2024-01-01,1,1,1,1\n",
    "timestamp-only-spaces": f"{HEADER}\n   ,1,2,1,4,5\n",
    "single-digit-month": f"{HEADER}\n2024-1-05 10:00:00,1,2,1,4,5\n",
    "gzip-content": gzip.compress(good_text().encode(), mtime=0),
    "header-only": f"{HEADER}\n",
    "very-long-text": f"Note,{HEADER}\n{'x' * ((1 << 20) + 1)},{candle(1, 1, 1)}\n",
}


@pytest.mark.parametrize("case", sorted(DOUBTFUL))
def test_a_file_the_fast_path_cannot_prove_is_left_to_duckdb(
    engine: DuckDBEngine, case: str
) -> None:
    assert_left_to_duckdb(engine, land(engine, f"{case}.csv", DOUBTFUL[case]))


UNSUPPORTED = {
    "division": DerivedColumn("r", "close_price / open_price", "double"),
    "a literal": DerivedColumn("r", "close_price - 1", "double"),
    "a function": DerivedColumn("r", "abs(close_price)", "double"),
    "a cast": DerivedColumn("r", "CAST(Symbol AS DOUBLE)", "double"),
    "a comment": DerivedColumn("r", "close_price --open_price", "double"),
    "a text column": DerivedColumn("r", "close_price - Symbol", "double"),
    "an unknown column": DerivedColumn("r", "close_price - nothing", "double"),
    "a keyword": DerivedColumn("r", "close_price - select", "double"),
    "a float result": DerivedColumn("r", "close_price - open_price", "float"),
    "a name taken": DerivedColumn("Volume", "close_price - open_price", "double"),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_a_derived_expression_beyond_plus_minus_times_is_left_to_duckdb(
    engine: DuckDBEngine, case: str
) -> None:
    spec = TransformSpec("d", columns=OHLCV.columns, derived=(UNSUPPORTED[case],), drop=("Volume",))
    path = land(engine, "d.csv", f"{HEADER},Symbol\n{candle(1, 1, 1)},EURUSD\n")
    assert_left_to_duckdb(engine, path, spec)


@pytest.mark.parametrize(
    "formats",
    [("%d %b %Y",), ("%Y-%m-%d %H:%M:%S.%f",), ("%d/%m/%Y", "%m/%d/%Y"), (" %Y-%m-%d",)],
    ids=["month-name", "fraction-of-second", "same-skeleton-order-matters", "leading-space"],
)
def test_a_timestamp_format_beyond_fixed_width_digits_is_left_to_duckdb(
    engine: DuckDBEngine, formats: tuple[str, ...]
) -> None:
    spec = TransformSpec("f", columns=(ColumnRule("at", "at", "timestamp", formats),))
    assert_left_to_duckdb(engine, land(engine, "f.csv", "at,k\n05/01/2024,k\n"), spec)


def test_without_polars_installed_every_file_is_left_to_duckdb(
    engine: DuckDBEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = land(engine, "p.csv", good_text())
    monkeypatch.setitem(sys.modules, "polars", None)  # `import polars` raises ImportError
    assert_left_to_duckdb(engine, path)


# --- any file: a result from the fast path is DuckDB's result --------------------------------

_ATOMS = [
    "0", "7", "-3", "+4", "1.5", ".5", "1e3", "1e400", "inf", "nan", "null", "NULL", "", " ",
    "\t", '"', '""', '"1.5"', " 2", "true", "N", "x", "é", ",", "\r", "\n", "\r\n", ";",
    "2024-01-05", "2024-01-05 10:20:30", " 2024-01-05 10:20:30 ", "2024-02-30", "2024-1-5",
    "23:59:60", "9223372036854775808", "2147483648",
]  # fmt: skip
_CLEAN = {
    "ohlcv": ["2024-01-05 10:20:30", "1.5", "-2", "3", "0.25", "10"],
    "every_type": [
        "1",
        "9",
        "1.5",
        "2.5",
        "abc",
        "true",
        "05.01.2024",
        "05/01/2024 10:20",
        "x",
        "k",
    ],
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 5), st.integers(0, 9), st.lists(st.sampled_from(_ATOMS), max_size=2)
        ),
        max_size=4,
    ),
    rows=st.integers(1, 6),
    line_end=st.sampled_from(["\n", "\r\n"]),
    spec=st.sampled_from([OHLCV, EVERY_TYPE]),
)
def test_whatever_the_bytes_a_fast_result_is_the_duckdb_result(
    engine: DuckDBEngine,
    edits: list[tuple[int, int, list[str]]],
    rows: int,
    line_end: str,
    spec: TransformSpec,
) -> None:
    header = HEADER if spec is OHLCV else EVERY_TYPE_HEADER
    table = [list(_CLEAN[spec.name]) for _ in range(rows)]
    for row, col, atoms in edits:
        table[row % rows][col % len(table[0])] = "".join(atoms)
    text = line_end.join([header, *(",".join(r) for r in table)]) + line_end
    path = land(engine, f"h/{uuid.uuid4().hex}.csv", text)
    rows_written, target = fast_output(engine, path, spec)
    if rows_written is None:
        assert not target.exists()
        return
    expected = duckdb_output(engine, path, spec)
    assert expected is not None, f"the fast path accepted a file DuckDB refuses: {text!r}"
    assert pq.read_table(target).equals(pq.read_table(expected)), text
    assert rows_written == pq.read_table(expected).num_rows
