"""DuckDBEngine on real files and real DuckDB.

Every output is checked against an independent computation (Python's csv module, strptime and
float arithmetic; Parquet read back with pyarrow). Bad inputs must fail alone, terminally, with a
reason a data engineer can act on, and leave no output behind.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestflow.adapters.engines.duckdb import TMP_DIR, DuckDBEngine
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV, ColumnRule, DerivedColumn, TransformSpec
from ingestflow.sampledata import ohlcv_text, write_ohlcv_files

WF = "wf"
HEADER = "Date,Open,High,Low,Close,Volume"
DEFAULT_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
NULL_MARKERS = ("", "null", "NULL")
OHLCV_TARGETS = {
    "date": "timestamp",
    "open": "open_price",
    "high": "high_price",
    "low": "low_price",
    "close": "close_price",
    "volume": "volume",
}
OHLCV_OUTPUT = [
    "timestamp",
    "open_price",
    "high_price",
    "low_price",
    "close_price",
    "volume",
    "price_change",
]


# --- helpers -------------------------------------------------------------------------------


def make_engine(tmp_path: Path, **options: int) -> DuckDBEngine:
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    return DuckDBEngine(landing, tmp_path / "output", **options)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[DuckDBEngine]:
    eng = make_engine(tmp_path)
    yield eng
    eng.close()


@pytest.fixture(params=["grouped", "one-by-one"])
def any_path_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DuckDBEngine]:
    """The multi-file path (small files sharing a header) and the single-file path."""
    options = {"small_file_bytes": 0} if request.param == "one-by-one" else {}
    eng = make_engine(tmp_path, **options)
    yield eng
    eng.close()


def land(engine: DuckDBEngine, key: str, data: bytes | str) -> FileRecord:
    """Write a landing file and return its ledger record."""
    path = engine.landing_root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    st = path.stat()
    etag = f"{st.st_size}-{st.st_mtime_ns}"
    return FileRecord("landing", key, WF, "", st.st_size, etag, st.st_mtime, Status.PROCESSING)


def record_for(engine: DuckDBEngine, path: Path) -> FileRecord:
    key = path.relative_to(engine.landing_root).as_posix()
    st = path.stat()
    return FileRecord("landing", key, WF, "", st.st_size, "e", st.st_mtime, Status.PROCESSING)


def convert(
    engine: DuckDBEngine, records: Sequence[FileRecord], spec: TransformSpec = OHLCV
) -> dict[str, FileOutcome]:
    """Run the engine; exactly one outcome per input file, every outcome for a given file."""
    outcomes = [o for chunk in engine.run(WF, list(records), spec) for o in chunk]
    counts = Counter(o.key for o in outcomes)
    assert counts == Counter(r.key for r in records), "one outcome per file expected"
    return {o.key: o for o in outcomes}


def expected_output_path(engine: DuckDBEngine, key: str) -> Path:
    return engine.output_root / WF / f"{key}.parquet"


def read_output(engine: DuckDBEngine, outcome: FileOutcome) -> pa.Table:
    assert outcome.ok, outcome.error
    assert outcome.output == str(expected_output_path(engine, outcome.key))
    table = pq.read_table(outcome.output)
    assert outcome.rows == table.num_rows
    return table


def temporary_files(engine: DuckDBEngine) -> list[Path]:
    tmp = engine.output_root / TMP_DIR
    found = [p for p in tmp.rglob("*") if p.is_file()] if tmp.exists() else []
    return found + list(engine.output_root.rglob("*.tmp"))


def csv_rows(data: bytes, delimiter: str = ",") -> tuple[list[str], list[list[str]]]:
    """Header and data rows, read with the csv module (gzip and a BOM handled here)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text = data.decode("utf-8-sig")
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if r]
    return [h.strip() for h in rows[0]], rows[1:]


def parse_timestamp(text: str, formats: Sequence[str]) -> dt.datetime:
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise AssertionError(f"test data error: {text!r} matches none of {formats}")


def expected_ohlcv(
    data: bytes | str, formats: Sequence[str] = DEFAULT_FORMATS, delimiter: str = ","
) -> tuple[list[str], list[dict[str, object]]]:
    """The ohlcv transform computed independently: output column names and rows."""
    header, rows = csv_rows(data.encode() if isinstance(data, str) else data, delimiter)
    names = [OHLCV_TARGETS.get(h.casefold(), h) for h in header] + ["price_change"]
    out = []
    for row in rows:
        record: dict[str, object] = {}
        for name, raw in zip(header, row, strict=True):
            target = OHLCV_TARGETS.get(name.casefold())
            value: object = None if raw in NULL_MARKERS else raw
            if target == "timestamp":
                value = parse_timestamp(raw.strip(), formats) if raw.strip() else None
            elif target is not None and value is not None:
                value = float(raw)
            record[target or name] = value
        close, open_ = record["close_price"], record["open_price"]
        change = None
        if isinstance(close, float) and isinstance(open_, float):
            change = close - open_
        record["price_change"] = change
        out.append(record)
    return names, out


def assert_matches_independent_computation(
    engine: DuckDBEngine,
    outcome: FileOutcome,
    data: bytes | str,
    formats: Sequence[str] = DEFAULT_FORMATS,
    delimiter: str = ",",
) -> None:
    table = read_output(engine, outcome)
    names, rows = expected_ohlcv(data, formats, delimiter)
    assert table.column_names == names
    assert table.to_pylist() == rows


def candle(day: int, open_: float, volume: int, hour: int = 0) -> str:
    prices = f"{open_},{open_ + 1},{open_ - 0.5},{open_ + 0.25}"
    return f"2024-01-{day:02d} {hour:02d}:00:00,{prices},{volume}"


def good_text(n: int) -> str:
    return HEADER + "\n" + "\n".join(candle(d, 1.5 * n + d, 100 * n + d) for d in (1, 2, 3)) + "\n"


# --- values against an independent computation ---------------------------------------------


def test_generated_ohlcv_files_match_an_independent_computation(
    any_path_engine: DuckDBEngine,
) -> None:
    engine = any_path_engine
    paths = write_ohlcv_files(engine.landing_root, 24, 150, seed=11, gzip_every=4)
    assert sum(p.name.endswith(".csv.gz") for p in paths) == 6
    outcomes = convert(engine, [record_for(engine, p) for p in paths])
    for path in paths:
        outcome = outcomes[path.relative_to(engine.landing_root).as_posix()]
        assert outcome.rows == 150
        assert_matches_independent_computation(engine, outcome, path.read_bytes())


def test_a_generated_file_larger_than_the_small_file_limit_matches_too(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, small_file_bytes=64 * 1024)
    try:
        (path,) = write_ohlcv_files(engine.landing_root, 1, 5000, seed=5)
        assert path.stat().st_size > 64 * 1024
        outcome = engine.process_file(WF, record_for(engine, path), OHLCV)
        assert outcome.rows == 5000
        assert_matches_independent_computation(engine, outcome, path.read_bytes())
    finally:
        engine.close()


def test_ohlcv_columns_are_renamed_typed_and_the_date_column_is_dropped(
    engine: DuckDBEngine,
) -> None:
    outcome = convert(engine, [land(engine, "a.csv", good_text(1))])["a.csv"]
    schema = read_output(engine, outcome).schema
    assert schema.names == OHLCV_OUTPUT
    assert "Date" not in schema.names
    assert schema.field("timestamp").type == pa.timestamp("us")
    for name in OHLCV_OUTPUT[1:]:
        assert schema.field(name).type == pa.float64(), name


def test_price_change_is_close_minus_open_in_double_arithmetic(engine: DuckDBEngine) -> None:
    text = f"{HEADER}\n2024-01-01,0.1,1,0,0.3,1\n2024-01-02,1.1000007,2,1,1.0999993,5\n"
    table = read_output(engine, convert(engine, [land(engine, "p.csv", text)])["p.csv"])
    assert table.column("price_change").to_pylist() == [0.3 - 0.1, 1.0999993 - 1.1000007]


QUOTED = (
    "Date,Open,High,Low,Close,Volume,Note\n"
    '2024-01-01 09:30:00,1,2,0.5,1.5,10,"comma, inside"\n'
    '"2024-01-02 09:30:00","1.25","2","0.5","1.5","11","line\nbreak"\n'
    '2024-01-03,1,2,0.5,1.5,12,"say ""hi"""\n'
    '2024-01-04,1,2,0.5,1.5,13,"crlf\r\ninside, and ""quotes"""\n'
)
DIALECTS = {
    "crlf": (f"{HEADER}\n{candle(1, 1.5, 10)}\n{candle(2, 2.5, 20)}\n").replace("\n", "\r\n"),
    "utf8-bom": f"\ufeff{HEADER}\n{candle(1, 1.5, 10)}\n",
    "bom-and-crlf": f"\ufeff{HEADER}\r\n{candle(1, 1.5, 10)}\r\n{candle(2, 3.5, 30)}\r\n",
    "quoted-commas-newlines-quotes": QUOTED,
    "trailing-empty-line": f"{HEADER}\n{candle(1, 1.5, 10)}\n\n",
    "trailing-empty-lines-crlf": f"{HEADER}\r\n{candle(1, 1.5, 10)}\r\n\r\n\r\n",
    "no-final-newline": f"{HEADER}\n{candle(1, 1.5, 10)}\n{candle(2, 1.75, 11)}",
    "columns-in-any-order-with-extras": (
        "Symbol,Volume,Close,Note,Date,Low,Open,High\n"
        "EURUSD,10,2.5, padded ,2024-02-29 23:59:59,1,2,3\n"
        "007,11,2.5,1e3,2024-03-01,1,2,3\n"
        "TRUE,12,2.5,3.0,2024-03-02 00:00:01,1,2,3\n"
    ),
    "date-only-and-date-time": f"{HEADER}\n2024-02-29,1,2,0,1.5,1\n2024-03-01 12:34:56,1,2,0,1,1\n",
    "lower-case-header": f"{HEADER.lower()}\n{candle(1, 1.5, 10)}\n",
    "spaces-around-values": f"{HEADER}\n 2024-01-01 10:00:00 , 1.5 ,2, 0.5,1.75 ,10\n",
    "scientific-and-negative-numbers": f"{HEADER}\n2024-01-01,1e-3,-2.5E2,-0,1.5e+1,12345678901\n",
    "blank-line-between-rows": f"{HEADER}\n{candle(1, 1.5, 10)}\n\n{candle(2, 2.5, 20)}\n",
}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_csv_dialect_variants_give_the_independently_computed_values(
    any_path_engine: DuckDBEngine, dialect: str
) -> None:
    engine = any_path_engine
    text = DIALECTS[dialect]
    # Five copies, so the grouped engine reads them in one multi-file query.
    records = [land(engine, f"{dialect}/copy{i}.csv", text) for i in range(5)]
    outcomes = convert(engine, records)
    for record in records:
        assert_matches_independent_computation(engine, outcomes[record.key], text.encode())


def test_extra_columns_are_kept_unchanged_as_text(engine: DuckDBEngine) -> None:
    text = DIALECTS["columns-in-any-order-with-extras"]
    table = read_output(engine, convert(engine, [land(engine, "x.csv", text)])["x.csv"])
    assert table.column_names == [
        "Symbol",
        "volume",
        "close_price",
        "Note",
        "timestamp",
        "low_price",
        "open_price",
        "high_price",
        "price_change",
    ]
    assert table.schema.field("Symbol").type == pa.string()
    assert table.schema.field("Note").type == pa.string()
    assert table.column("Symbol").to_pylist() == ["EURUSD", "007", "TRUE"]
    assert table.column("Note").to_pylist() == [" padded ", "1e3", "3.0"]


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip-content", "plain-content"])
def test_csv_gz_files_are_read_by_content_not_by_name(
    any_path_engine: DuckDBEngine, compressed: bool
) -> None:
    engine = any_path_engine
    text = QUOTED.replace("\n", "\r\n")
    data = gzip.compress(text.encode(), mtime=0) if compressed else text.encode()
    records = [land(engine, f"gz/{i}.csv.gz", data) for i in range(4)]
    outcomes = convert(engine, records)
    for record in records:
        assert_matches_independent_computation(engine, outcomes[record.key], text.encode())


def test_empty_values_and_null_markers_become_nulls(engine: DuckDBEngine) -> None:
    text = (
        "Date,Open,High,Low,Close,Volume,Note\n"
        "2024-01-01 00:00:00,1,2,0.5,,,\n"
        ",null,NULL,1,1,1,null\n"
        '2024-01-03,"",2,0.5,1.5,10,kept\n'
    )
    table = read_output(engine, convert(engine, [land(engine, "n.csv", text)])["n.csv"])
    rows = table.to_pylist()
    assert rows[0]["close_price"] is None and rows[0]["volume"] is None
    assert rows[0]["Note"] is None and rows[0]["price_change"] is None
    assert rows[0]["open_price"] == 1.0
    assert rows[1]["timestamp"] is None
    assert rows[1]["open_price"] is None and rows[1]["high_price"] is None
    assert rows[1]["Note"] is None and rows[1]["price_change"] is None
    assert rows[2]["open_price"] is None and rows[2]["Note"] == "kept"
    assert table.to_pylist() == expected_ohlcv(text)[1]


def test_the_timestamp_format_option_replaces_the_default_formats(engine: DuckDBEngine) -> None:
    fmt = "%d/%m/%Y %H:%M"
    spec = OHLCV.with_options({"timestamp_format": fmt})
    text = f"{HEADER}\n31/12/2024 23:59,1,2,0.5,1.5,10\n01/02/2024 07:05,2,3,1,2,20\n"
    outcome = convert(engine, [land(engine, "eu.csv", text)], spec)["eu.csv"]
    assert_matches_independent_computation(engine, outcome, text, formats=(fmt,))
    stamps = read_output(engine, outcome).column("timestamp").to_pylist()
    assert stamps == [dt.datetime(2024, 12, 31, 23, 59), dt.datetime(2024, 2, 1, 7, 5)]


def test_the_timestamp_format_option_rejects_values_in_the_default_format(
    engine: DuckDBEngine,
) -> None:
    spec = OHLCV.with_options({"timestamp_format": "%d/%m/%Y %H:%M"})
    text = f"{HEADER}\n31/12/2024 23:59,1,2,0.5,1.5,10\n2024-12-31 23:59:00,1,2,0.5,1.5,10\n"
    outcome = convert(engine, [land(engine, "mixed.csv", text)], spec)["mixed.csv"]
    assert not outcome.ok and not outcome.retryable
    assert outcome.error == (
        "column 'Date', row 2: cannot parse '2024-12-31 23:59:00' as timestamp "
        "(formats: %d/%m/%Y %H:%M)"
    )
    assert not expected_output_path(engine, "mixed.csv").exists()


@pytest.mark.parametrize("delimiter", [";", "\t", "|"], ids=["semicolon", "tab", "pipe"])
def test_the_delimiter_option_splits_fields_on_that_character(
    any_path_engine: DuckDBEngine, delimiter: str
) -> None:
    engine = any_path_engine
    spec = OHLCV.with_options({"delimiter": delimiter})
    rows = [
        ["Date", "Open", "High", "Low", "Close", "Volume", "Note"],
        ["2024-01-01 10:00:00", "1.5", "2", "1", "1.75", "10", "a,b"],
        ["2024-01-02", "2.5", "3", "2", "2.25", "20", f"quoted {delimiter} inside"],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    text = buffer.getvalue()
    assert f'"quoted {delimiter} inside"' in text
    records = [land(engine, f"d/{i}.csv", text) for i in range(4)]
    outcomes = convert(engine, records, spec)
    for record in records:
        assert_matches_independent_computation(
            engine, outcomes[record.key], text, delimiter=delimiter
        )


# --- header only: a valid, empty file --------------------------------------------------------

HEADER_ONLY = {
    "lf": f"{HEADER}\n".encode(),
    "crlf": f"{HEADER}\r\n".encode(),
    "no-newline": HEADER.encode(),
    "bom": f"\ufeff{HEADER}\n".encode(),
    "gzip": gzip.compress(f"{HEADER}\n".encode(), mtime=0),
}


@pytest.mark.parametrize("variant", sorted(HEADER_ONLY))
def test_a_header_only_file_succeeds_with_zero_rows_and_a_typed_output(
    any_path_engine: DuckDBEngine, variant: str
) -> None:
    engine = any_path_engine
    name = "h/empty.csv.gz" if variant == "gzip" else "h/empty.csv"
    records = [land(engine, name, HEADER_ONLY[variant])]
    records += [land(engine, f"h/good{i}.csv", good_text(i)) for i in range(4)]
    outcomes = convert(engine, records)
    outcome = outcomes[name]
    assert outcome.ok, outcome.error
    assert outcome.rows == 0
    table = read_output(engine, outcome)
    assert table.num_rows == 0
    assert table.column_names == OHLCV_OUTPUT
    assert table.schema.field("timestamp").type == pa.timestamp("us")
    assert table.schema.field("price_change").type == pa.float64()
    assert all(outcomes[f"h/good{i}.csv"].rows == 3 for i in range(4))


# --- bad inputs ------------------------------------------------------------------------------


def _large_gzip() -> bytes:
    """A gzip member well beyond the 64 KiB the header probe reads."""
    text = ohlcv_text(12_000, random.Random(3), "EURUSD", dt.datetime(2024, 1, 1))
    data = gzip.compress(text.encode(), mtime=0)
    assert len(data) > 200_000
    return data


def _corrupt(data: bytes) -> bytes:
    """64 bytes of 0xFF in the middle of the deflate stream: an invalid block, not a CRC slip."""
    half = len(data) // 2
    return data[:half] + b"\xff" * 64 + data[half + 64 :]


_RNG = random.Random(20240101)
_GARBAGE_NO_NUL = bytes(_RNG.randrange(1, 256) for _ in range(5000))
_LARGE_GZIP = _large_gzip()

BAD_INPUTS: dict[str, tuple[str, bytes, tuple[str, ...]]] = {
    # id: (file name, content, substrings the error must contain)
    "binary-garbage": ("x.csv", random.Random(1).randbytes(4000), ("binary content",)),
    "binary-garbage-without-nul-bytes": ("x.csv", _GARBAGE_NO_NUL, ("not UTF-8",)),
    "png-image": (
        "x.csv",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(2).randbytes(500),
        ("binary content",),
    ),
    "empty-file": ("x.csv", b"", ("empty file",)),
    "blank-lines-only": ("x.csv", b"\n \r\n\n", ("empty file",)),
    "missing-columns": (
        "x.csv",
        b"Date,Open,Note\n2024-01-01,1,x\n",
        ("missing required column(s) High, Low, Close, Volume",),
    ),
    "unparseable-date": (
        "x.csv",
        f"{HEADER}\n{candle(1, 1, 1)}\nyesterday,1,2,0,1,1\n".encode(),
        ("column 'Date', row 2: cannot parse 'yesterday' as timestamp",),
    ),
    "impossible-date": (
        "x.csv",
        f"{HEADER}\n2024-02-30 10:00:00,1,2,0,1,1\n".encode(),
        ("column 'Date', row 1: cannot parse '2024-02-30 10:00:00'",),
    ),
    "unparseable-number": (
        "x.csv",
        f"{HEADER}\n{candle(1, 1, 1)}\n{candle(2, 1, 1)}\n2024-01-03,1,2,abc,1,1\n".encode(),
        ("column 'Low', row 3: cannot parse 'abc' as double",),
    ),
    "decimal-comma": (
        "x.csv",
        f'{HEADER}\n2024-01-01,"1,5",2,0,1,1\n'.encode(),
        ("column 'Open', row 1: cannot parse '1,5' as double",),
    ),
    "too-many-fields": (
        "x.csv",
        f"{HEADER}\n{candle(1, 1, 1)}\n{candle(2, 1, 1)},9\n".encode(),
        ("malformed CSV", "Line: 3"),
    ),
    "too-few-fields": (
        "x.csv",
        f"{HEADER}\n2024-01-01,1,2,0,1\n{candle(2, 1, 1)}\n".encode(),
        ("malformed CSV", "Line: 2"),
    ),
    "non-utf8-header": (
        "x.csv",
        f"{HEADER},Caf\xe9\n{candle(1, 1, 1)},x\n".encode("latin-1"),
        ("not UTF-8",),
    ),
    "non-utf8-text-value": (
        "x.csv",
        f"{HEADER},Note\n{candle(1, 1, 1)},ok\n{candle(2, 1, 1)},caf\xe9\n".encode("latin-1"),
        ("utf-8", "Line: 3"),
    ),
    "non-utf8-number": (
        "x.csv",
        f"{HEADER}\n{candle(1, 1, 1)}\n{candle(2, 1, 1)}\xb2\n".encode("latin-1"),
        ("Line: 3",),
    ),
    "truncated-gzip-small": (
        "x.csv.gz",
        gzip.compress(good_text(1).encode(), mtime=0)[:30],
        ("gzip",),
    ),
    "truncated-gzip-large": ("x.csv.gz", _LARGE_GZIP[: len(_LARGE_GZIP) // 2], ("gzip",)),
    "gzip-missing-its-trailer": ("x.csv.gz", _LARGE_GZIP[:-8], ("gzip",)),
    "corrupt-gzip-large": ("x.csv.gz", _corrupt(_LARGE_GZIP), ("gzip",)),
    "semicolon-delimited": (
        "x.csv",
        b"Date;Open;High;Low;Close;Volume\n2024-01-01;1;2;0;1;1\n",
        ("missing required column(s)", "';'-delimited", "options.delimiter"),
    ),
    "repeated-column-names": (
        "x.csv",
        f"{HEADER},Open\n{candle(1, 1, 1)},1\n".encode(),
        ("header repeats column names: Open",),
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_a_bad_file_fails_alone_with_a_readable_terminal_error(
    any_path_engine: DuckDBEngine, case: str
) -> None:
    engine = any_path_engine
    name, content, needles = BAD_INPUTS[case]
    good = [land(engine, f"ok/{i}.csv", good_text(i)) for i in range(6)]
    bad = land(engine, f"bad/{name}", content)
    outcomes = convert(engine, [*good[:3], bad, *good[3:]])
    failed = outcomes.pop(bad.key)
    assert not failed.ok
    assert failed.retryable is False, f"terminal expected, got a retryable error: {failed.error}"
    error = str(failed.error)
    for needle in needles:
        assert needle.casefold() in error.casefold()
    assert len(error) <= 600 and "Traceback" not in error
    assert failed.output is None and failed.rows is None
    assert not expected_output_path(engine, bad.key).exists()
    assert not (engine.output_root / WF / "bad").exists()
    for record in good:
        assert_matches_independent_computation(
            engine, outcomes[record.key], (engine.landing_root / record.key).read_bytes()
        )
    assert temporary_files(engine) == []


def test_a_file_with_old_mac_line_endings_does_not_break_its_batch(engine: DuckDBEngine) -> None:
    """Carriage returns only (Excel's "CSV (Macintosh)"): convert it or fail it terminally, but
    never raise out of the engine and take its batch-mates down with it."""
    text = f"{HEADER}\r{candle(1, 1.5, 10)}\r{candle(2, 2.5, 20)}\r"
    good = [land(engine, f"ok/{i}.csv", good_text(i)) for i in range(4)]
    mac = land(engine, "mac.csv", text)
    outcomes = convert(engine, [*good, mac])
    assert all(outcomes[r.key].ok for r in good)
    outcome = outcomes[mac.key]
    if outcome.ok:
        assert_matches_independent_computation(engine, outcome, text.replace("\r", "\n"))
    else:
        assert outcome.retryable is False
        assert not expected_output_path(engine, mac.key).exists()


def _large_file(bad_row: int, rows: int, replace: dict[int, str]) -> str:
    lines = [HEADER]
    for i in range(1, rows + 1):
        fields = [
            f"2024-01-01 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}",
            f"{i}.5",
            f"{i + 1}",
            f"{i - 1}",
            f"{i}.25",
            str(i),
        ]
        if i == bad_row:
            for index, value in replace.items():
                if index < len(fields):
                    fields[index] = value
                else:
                    fields.append(value)
        lines.append(",".join(fields))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        ({5: "n/a"}, "column 'Volume', row 150000: cannot parse 'n/a' as double"),
        ({1: "1.2.3"}, "column 'Open', row 150000: cannot parse '1.2.3' as double"),
        (
            {0: "2024-02-30 00:00:00"},
            "column 'Date', row 150000: cannot parse '2024-02-30 00:00:00' as timestamp "
            "(formats: %Y-%m-%d %H:%M:%S, %Y-%m-%d)",
        ),
    ],
    ids=["volume", "open", "date"],
)
def test_an_unparseable_value_deep_in_a_large_file_is_reported_with_its_row(
    engine: DuckDBEngine, replace: dict[int, str], expected: str
) -> None:
    record = land(engine, "big.csv", _large_file(150_000, 200_000, replace))
    assert record.size > engine.small_file_bytes  # converted on its own
    outcome = convert(engine, [record])["big.csv"]
    assert not outcome.ok and outcome.retryable is False
    assert outcome.error == expected
    assert not expected_output_path(engine, "big.csv").exists()
    assert temporary_files(engine) == []


def test_a_row_with_an_extra_field_deep_in_a_large_file_is_reported_with_its_line(
    engine: DuckDBEngine,
) -> None:
    record = land(engine, "big.csv", _large_file(150_000, 200_000, {6: "surplus"}))
    outcome = convert(engine, [record])["big.csv"]
    assert not outcome.ok and outcome.retryable is False
    assert "malformed CSV" in str(outcome.error)
    assert "Line: 150001" in str(outcome.error)  # the header is line 1
    assert not expected_output_path(engine, "big.csv").exists()


def test_a_batch_of_good_and_bad_files_gives_one_outcome_per_file(tmp_path: Path) -> None:
    # A low small-file limit mixes both paths: the large files go one by one.
    engine = make_engine(tmp_path, small_file_bytes=20_000)
    try:
        paths = write_ohlcv_files(engine.landing_root, 12, 60, seed=3, gzip_every=3)
        paths += write_ohlcv_files(engine.landing_root, 2, 600, seed=4, prefix="large")
        good = [record_for(engine, p) for p in paths]
        assert any(r.size > 20_000 for r in good)
        bad = [
            land(engine, "ohlcv/bad/garbage.csv", random.Random(9).randbytes(2000)),
            land(engine, "ohlcv/bad/empty.csv", b""),
            land(engine, "ohlcv/bad/columns.csv", "Date,Price\n2024-01-01,1\n"),
            land(engine, "ohlcv/bad/value.csv", f"{HEADER}\n2024-01-01,x,1,1,1,1\n"),
            land(engine, "ohlcv/bad/cut.csv.gz", gzip.compress(good_text(1).encode())[:25]),
        ]
        mixed = [*good[:5], *bad[:2], *good[5:9], *bad[2:], *good[9:]]
        outcomes = convert(engine, mixed)
        assert len(outcomes) == len(good) + len(bad)
        for record in good:
            assert_matches_independent_computation(
                engine, outcomes[record.key], (engine.landing_root / record.key).read_bytes()
            )
        for record in bad:
            assert not outcomes[record.key].ok
            assert outcomes[record.key].retryable is False
        written = {
            p.relative_to(engine.output_root / WF) for p in engine.output_root.rglob("*.parquet")
        }
        assert written == {Path(f"{r.key}.parquet") for r in good}
        assert temporary_files(engine) == []
    finally:
        engine.close()


# --- outputs: paths, replacement, temporary files ------------------------------------------


def test_the_same_file_name_in_two_folders_gives_two_outputs(
    any_path_engine: DuckDBEngine,
) -> None:
    engine = any_path_engine
    keys = ["a/eurusd.csv", "b/eurusd.csv", "2024/01/02/eurusd.csv", "eurusd.csv"]
    records = [land(engine, key, good_text(n)) for n, key in enumerate(keys)]
    outcomes = convert(engine, records)
    for n, key in enumerate(keys):
        outcome = outcomes[key]
        assert outcome.output == str(engine.output_root / WF / f"{key}.parquet")
        assert_matches_independent_computation(engine, outcome, good_text(n))
    assert len(set(engine.output_root.rglob("*.parquet"))) == 4


def test_process_file_writes_the_same_output_as_run(engine: DuckDBEngine) -> None:
    record = land(engine, "one/file.csv", QUOTED)
    outcome = engine.process_file(WF, record, OHLCV)
    assert outcome.key == record.key and outcome.etag == record.etag
    assert_matches_independent_computation(engine, outcome, QUOTED)


def test_reprocessing_a_file_replaces_its_output(any_path_engine: DuckDBEngine) -> None:
    engine = any_path_engine
    first = [land(engine, f"r/{i}.csv", good_text(i)) for i in range(4)]
    convert(engine, first)
    second_text = f"{HEADER}\n{candle(9, 7.0, 70)}\n"
    second = [land(engine, f"r/{i}.csv", second_text) for i in range(4)]
    outcomes = convert(engine, second)
    for record in second:
        assert outcomes[record.key].rows == 1
        assert_matches_independent_computation(engine, outcomes[record.key], second_text)
    assert sorted(p.name for p in (engine.output_root / WF / "r").iterdir()) == [
        f"{i}.csv.parquet" for i in range(4)
    ]
    assert temporary_files(engine) == []


def test_no_temporary_files_are_left_after_successes_and_failures(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, small_file_bytes=2_000)
    try:
        records = [land(engine, f"t/{i}.csv", good_text(i)) for i in range(6)]
        records.append(land(engine, "t/big.csv", _large_file(0, 100, {})))
        records.append(land(engine, "t/bigbad.csv", _large_file(50, 100, {1: "x"})))
        records.append(land(engine, "t/bad.csv", f"{HEADER}\n2024-01-01,x,1,1,1,1\n"))
        outcomes = convert(engine, records)
        assert {k for k, o in outcomes.items() if not o.ok} == {"t/bigbad.csv", "t/bad.csv"}
        assert temporary_files(engine) == []
        tmp_root = engine.output_root / TMP_DIR
        assert tmp_root.is_dir()
    finally:
        engine.close()
    assert list(tmp_root.rglob("*")) == []  # close removes the engine's own folder


def test_a_missing_input_file_is_a_terminal_gone_error(engine: DuckDBEngine) -> None:
    record = land(engine, "gone/x.csv", good_text(1))
    (engine.landing_root / record.key).unlink()
    for outcome in (convert(engine, [record])[record.key], engine.process_file(WF, record, OHLCV)):
        assert not outcome.ok
        assert outcome.retryable is False
        assert "gone" in str(outcome.error) and record.key in str(outcome.error)
    assert not expected_output_path(engine, record.key).exists()


@pytest.mark.parametrize(
    ("name", "neighbour"),
    [("a[1].csv", "a1.csv"), ("q?.csv", "qx.csv"), ("star*.csv", "star-more.csv")],
    ids=["brackets", "question-mark", "asterisk"],
)
def test_a_file_whose_name_holds_glob_characters_is_read_alone(
    any_path_engine: DuckDBEngine, name: str, neighbour: str
) -> None:
    """Keys are literal names: a[1].csv must not read a1.csv (nor both)."""
    engine = any_path_engine
    mine = land(engine, f"g/{name}", good_text(1))
    other = land(engine, f"g/{neighbour}", good_text(2))
    fillers = [land(engine, f"g/filler{i}.csv", good_text(i + 3)) for i in range(3)]
    outcomes = convert(engine, [mine, other, *fillers])
    assert_matches_independent_computation(engine, outcomes[mine.key], good_text(1))
    assert_matches_independent_computation(engine, outcomes[other.key], good_text(2))


# --- a generic declarative transform -------------------------------------------------------

TRADES = TransformSpec(
    name="trades",
    columns=(
        ColumnRule("Qty", "qty", "integer"),
        ColumnRule("Id", "trade_id", "bigint"),
        ColumnRule("Ok", "settled", "boolean"),
        ColumnRule("Day", "day", "date", formats=("%d/%m/%Y", "%Y-%m-%d")),
        ColumnRule("Sym", "symbol", "varchar"),
        ColumnRule("Price", "price", "double"),
    ),
    derived=(
        DerivedColumn("notional", "qty * price", "double"),
        DerivedColumn("label", "symbol || '-' || CAST(trade_id AS VARCHAR)"),
    ),
    drop=("Comment",),
    keep_others=False,
)
TRADES_TEXT = (
    "Qty,Id,Ok,Day,Sym,Price,Comment,Other\n"
    "3,9000000000,true,31/12/2024,EURUSD,2.5,first,o1\n"
    "-4, 12 ,false,2024-01-05,x y,1.25,second,o2\n"
    ",,,,,,,\n"
    " 5 ,1,TRUE,01/02/2024,007,0.5,,o4\n"
)


def expected_trades(text: str) -> list[dict[str, object]]:
    header, rows = csv_rows(text.encode())
    out = []
    for raw in rows:
        row = dict(zip(header, raw, strict=True))

        def value(name: str, row: dict[str, str] = row) -> str | None:
            return None if row[name].strip() == "" else row[name]

        qty = int(v) if (v := value("Qty")) else None
        trade_id = int(v) if (v := value("Id")) else None
        settled = v.lower() == "true" if (v := value("Ok")) else None
        day = None
        if v := value("Day"):
            fmt = "%d/%m/%Y" if "/" in v else "%Y-%m-%d"
            day = dt.datetime.strptime(v, fmt).date()
        symbol = value("Sym")
        price = float(v) if (v := value("Price")) else None
        notional = qty * price if qty is not None and price is not None else None
        label = f"{symbol}-{trade_id}" if symbol is not None and trade_id is not None else None
        out.append(
            {
                "qty": qty,
                "trade_id": trade_id,
                "settled": settled,
                "day": day,
                "symbol": symbol,
                "price": price,
                "notional": notional,
                "label": label,
            }
        )
    return out


def test_a_declarative_transform_casts_renames_derives_and_drops(
    any_path_engine: DuckDBEngine,
) -> None:
    engine = any_path_engine
    records = [land(engine, f"trades/{i}.csv", TRADES_TEXT) for i in range(4)]
    outcomes = convert(engine, records, TRADES)
    for record in records:
        table = read_output(engine, outcomes[record.key])
        assert table.schema.names == [
            "qty",
            "trade_id",
            "settled",
            "day",
            "symbol",
            "price",
            "notional",
            "label",
        ]
        assert table.schema.types == [
            pa.int32(),
            pa.int64(),
            pa.bool_(),
            pa.date32(),
            pa.string(),
            pa.float64(),
            pa.float64(),
            pa.string(),
        ]
        assert table.to_pylist() == expected_trades(TRADES_TEXT)


def test_keep_others_keeps_unmapped_columns_as_text_except_dropped_ones(
    engine: DuckDBEngine,
) -> None:
    spec = TransformSpec(
        name="prices",
        columns=(ColumnRule("Price", "price", "double"),),
        derived=(DerivedColumn("double_price", "price * 2"),),
        drop=("comment",),  # matched case-insensitively, like the column rules
    )
    table = read_output(
        engine, convert(engine, [land(engine, "k.csv", TRADES_TEXT)], spec)["k.csv"]
    )
    header, rows = csv_rows(TRADES_TEXT.encode())
    kept = [h for h in header if h != "Comment"]
    assert table.column_names == [("price" if h == "Price" else h) for h in kept] + ["double_price"]
    for name in kept:
        if name == "Price":
            continue
        assert table.schema.field(name).type == pa.string()
        want = [r[header.index(name)] or None for r in rows]
        assert table.column(name).to_pylist() == want
    prices = [float(r[header.index("Price")]) if r[header.index("Price")] else None for r in rows]
    assert table.column("price").to_pylist() == prices
    assert table.column("double_price").to_pylist() == [p * 2 if p else None for p in prices]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("3.5,1,true,31/12/2024,a,1,c,o", "column 'Qty', row 2: cannot parse '3.5' as integer"),
        (
            "3000000000,1,true,31/12/2024,a,1,c,o",
            "column 'Qty', row 2: cannot parse '3000000000' as integer",
        ),
        ("1e3,1,true,31/12/2024,a,1,c,o", "column 'Qty', row 2: cannot parse '1e3' as integer"),
        ("3,1.0,true,31/12/2024,a,1,c,o", "column 'Id', row 2: cannot parse '1.0' as bigint"),
        (
            "3,99999999999999999999,true,31/12/2024,a,1,c,o",
            "column 'Id', row 2: cannot parse '99999999999999999999' as bigint",
        ),
        ("3,1,maybe,31/12/2024,a,1,c,o", "column 'Ok', row 2: cannot parse 'maybe' as boolean"),
        (
            "3,1,true,2024/12/31,a,1,c,o",
            "column 'Day', row 2: cannot parse '2024/12/31' as date (formats: %d/%m/%Y, %Y-%m-%d)",
        ),
        ("3,1,true,31/12/2024,a,x,c,o", "column 'Price', row 2: cannot parse 'x' as double"),
    ],
    ids=[
        "fraction",
        "int-overflow",
        "exponent",
        "bigint-fraction",
        "bigint-overflow",
        "bool",
        "date",
        "double",
    ],
)
def test_declarative_type_errors_name_the_column_row_and_value(
    engine: DuckDBEngine, row: str, expected: str
) -> None:
    text = f"Qty,Id,Ok,Day,Sym,Price,Comment,Other\n3,1,true,31/12/2024,a,1,c,o\n{row}\n"
    outcome = convert(engine, [land(engine, "bad.csv", text)], TRADES)["bad.csv"]
    assert not outcome.ok and outcome.retryable is False
    assert outcome.error == expected
    assert not expected_output_path(engine, "bad.csv").exists()


def test_the_date_format_option_replaces_the_date_formats(engine: DuckDBEngine) -> None:
    spec = TRADES.with_options({"date_format": "%Y%m%d"})
    text = "Qty,Id,Ok,Day,Sym,Price\n1,2,false,20240229,s,1.5\n"
    table = read_output(engine, convert(engine, [land(engine, "d.csv", text)], spec)["d.csv"])
    assert table.column("day").to_pylist() == [dt.date(2024, 2, 29)]
    again = convert(engine, [land(engine, "e.csv", text.replace("20240229", "29/02/2024"))], spec)
    assert again["e.csv"].error == (
        "column 'Day', row 1: cannot parse '29/02/2024' as date (formats: %Y%m%d)"
    )
