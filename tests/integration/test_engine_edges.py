"""DuckDBEngine at the edges a real landing folder hits: long keys and colliding output names,
numbers outside the double range, very wide headers and very long lines, output folders that
cannot be written. Real files, real DuckDB; unprivileged cases run as uid 65534 in a subprocess
(this machine runs the tests as root, which ignores file permissions)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingestflow.adapters.engines.duckdb import TMP_DIR, DuckDBEngine
from ingestflow.adapters.engines.engine_errors import summarise
from ingestflow.adapters.engines.inputs import HEADER_MAX_BYTES, MAX_COLUMNS, MAX_LINE_BYTES
from ingestflow.adapters.engines.output_files import OutputFolderError
from ingestflow.domain.errors import IngestflowError
from ingestflow.domain.outputs import NAME_MAX, PATH_MAX, output_relpath
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV, ColumnRule, TransformSpec

WF = "wf"
HEADER = "Date,Open,High,Low,Close,Volume"
ROW = "2024-01-01 10:00:00,1.5,2,1,1.75,10"
GOOD = f"{HEADER}\n{ROW}\n"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(params=["grouped", "one-by-one"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DuckDBEngine]:
    """The multi-file path (small files sharing a header) and the single-file path."""
    (tmp_path / "landing").mkdir()
    small = 0 if request.param == "one-by-one" else 4 * 1024 * 1024
    eng = DuckDBEngine(tmp_path / "landing", tmp_path / "output", small_file_bytes=small)
    yield eng
    eng.close()


def land(engine: DuckDBEngine, key: str, data: bytes | str) -> FileRecord:
    path = engine.landing_root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    st = path.stat()
    return FileRecord("landing", key, WF, "", st.st_size, "e", st.st_mtime, Status.PROCESSING)


def convert(
    engine: DuckDBEngine,
    records: list[FileRecord],
    spec: TransformSpec = OHLCV,
    filler: str = GOOD,
) -> dict[str, FileOutcome]:
    """Run a batch padded with good files (so the grouped engine groups), one outcome each."""
    fillers = [land(engine, f"fill/{i}.csv", filler) for i in range(4)]
    outcomes = [o for chunk in engine.run(WF, [*records, *fillers], spec) for o in chunk]
    assert sorted(o.key for o in outcomes) == sorted(r.key for r in [*records, *fillers])
    assert all(o.ok for o in outcomes if o.key.startswith("fill/")), outcomes
    return {o.key: o for o in outcomes}


def outputs(engine: DuckDBEngine) -> set[str]:
    root = engine.output_root / WF
    return {p.relative_to(root).as_posix() for p in root.rglob("*.parquet") if p.is_file()}


def assert_one_readable_line(error: str | None) -> str:
    assert error, "no error recorded"
    assert "\n" not in error and len(error) <= 600 and "Traceback" not in error, error
    return error


def assert_failed_terminal(outcome: FileOutcome) -> str:
    assert not outcome.ok and outcome.retryable is False, outcome
    assert outcome.output is None
    return assert_one_readable_line(outcome.error)


# --- output paths ----------------------------------------------------------------------------


def test_a_key_whose_file_name_is_250_bytes_converts_to_a_shortened_output_name(
    engine: DuckDBEngine,
) -> None:
    name = "é" * 60 + "x" * 126 + ".csv"  # multi-byte characters count in bytes
    assert len(name.encode()) == 250
    key = f"long/{name}"
    outcome = convert(engine, [land(engine, key, GOOD)])[key]
    assert outcome.ok, outcome.error
    output = Path(str(outcome.output))
    assert output == engine.output_root / output_relpath(WF, key)
    assert output.parent == engine.output_root / WF / "long"
    assert len(output.name.encode()) <= NAME_MAX and output.name.endswith(".parquet")
    assert output.name.startswith("é" * 60)  # still recognisable
    assert pq.read_table(output).column("open_price").to_pylist() == [1.5]


def test_an_input_and_a_folder_named_like_its_output_both_convert_without_colliding(
    engine: DuckDBEngine,
) -> None:
    keys = ["a.csv", "a.csv.parquet/b.csv", "a.csv.parquet.d/c.csv", "x/y.parquet"]
    texts = {k: f"{HEADER}\n2024-01-0{n + 1},{n}.5,2,1,1.75,10\n" for n, k in enumerate(keys)}
    outcomes = convert(engine, [land(engine, k, texts[k]) for k in keys])
    for n, key in enumerate(keys):
        assert outcomes[key].ok, outcomes[key].error
        assert outcomes[key].output == str(engine.output_root / output_relpath(WF, key))
        table = pq.read_table(str(outcomes[key].output))
        assert table.column("open_price").to_pylist() == [n + 0.5]
    assert len({o.output for o in outcomes.values()}) == len(outcomes)
    assert {"a.csv.parquet", "a.csv.parquet.d/b.csv.parquet"} <= outputs(engine)


def _deep_folder(base: Path, total_bytes: int) -> Path:
    """A folder whose path is exactly `total_bytes` long (segments of at most 200 bytes)."""
    path = str(base)
    while len(path) < total_bytes:
        path += "/" + "d" * min(200, total_bytes - len(path) - 1)
    assert len(path) == total_bytes
    Path(path).mkdir(parents=True)
    return Path(path)


def _key_of_output_length(rel_bytes: int) -> str:
    """A key whose `wf/<key>.parquet` output path is exactly `rel_bytes` long."""
    length = rel_bytes - len(f"{WF}/") - len(".parquet") - len(".csv")
    parts = []
    while length > 200:
        parts.append("k" * 199)
        length -= 200
    parts.append("f" * length + ".csv")
    key = "/".join(parts)
    assert len(output_relpath(WF, key).encode()) == rel_bytes
    return key


@pytest.mark.parametrize("over", [0, 1], ids=["at-the-limit", "one-byte-over"])
def test_a_key_too_long_for_the_path_limit_fails_terminally_and_one_at_the_limit_converts(
    tmp_path: Path, over: int
) -> None:
    """PATH_MAX (4096) counts the terminating NUL: a path of 4095 bytes is the longest usable."""
    (tmp_path / "landing").mkdir()
    output_root = _deep_folder(tmp_path / "out", 3700)
    engine = DuckDBEngine(tmp_path / "landing", output_root, small_file_bytes=0)
    try:
        room = PATH_MAX - len(str(output_root)) - 2
        key = _key_of_output_length(room + over)
        record = land(engine, key, GOOD)
        outcome = engine.process_file(WF, record, OHLCV)
        batch = [o for chunk in engine.run(WF, [record], OHLCV) for o in chunk]
        assert batch == [outcome]
        if over:
            error = assert_failed_terminal(outcome)
            assert error.startswith(f"refused: no output path for {key}: output path would be")
            assert str(room) in error
            assert not (output_root / WF).exists()
        else:
            assert outcome.ok, outcome.error
            assert len(str(outcome.output).encode()) == PATH_MAX - 1
            assert pq.read_table(str(outcome.output)).num_rows == 1
    finally:
        engine.close()


# --- values: finite numbers only -------------------------------------------------------------

OUT_OF_RANGE = "(outside the range of double)"
NOT_FINITE = "(not a finite number: inf and nan are refused)"


@pytest.mark.parametrize(
    ("value", "note"),
    [
        ("1e400", OUT_OF_RANGE),
        ("-1.8e308", OUT_OF_RANGE),
        ("inf", NOT_FINITE),
        ("-Infinity", NOT_FINITE),
        ("nan", NOT_FINITE),
        ("NaN", NOT_FINITE),
    ],
)
def test_a_number_outside_the_double_range_or_not_finite_is_a_terminal_error_naming_it(
    engine: DuckDBEngine, value: str, note: str
) -> None:
    text = f"{HEADER}\n{ROW}\n2024-01-02,1,2,1,{value},10\n"
    outcome = convert(engine, [land(engine, "v.csv", text)])["v.csv"]
    error = assert_failed_terminal(outcome)
    assert error == f"column 'Close', row 2: cannot parse {value!r} as double {note}"
    assert "v.csv.parquet" not in outputs(engine)


def test_float_columns_refuse_values_beyond_the_float_range_and_keep_the_largest_ones(
    engine: DuckDBEngine,
) -> None:
    spec = TransformSpec(name="f", columns=(ColumnRule("X", "x", "float"),))
    text = "X\n3.4e38\n-3.4e38\n1e-3\n\nnull\n"
    ok = convert(engine, [land(engine, "ok.csv", text)], spec, "X\n1\n")
    values = pq.read_table(str(ok["ok.csv"].output)).column("x").to_pylist()
    assert [round(v / 1e38, 4) for v in values[:2]] == [3.4, -3.4]
    assert values[3:] == [None, None]  # a single-column file: the blank line is an empty value
    bad = convert(engine, [land(engine, "bad.csv", "X\n1\n3.5e38\n")], spec, "X\n1\n")["bad.csv"]
    error = assert_failed_terminal(bad)
    assert error == "column 'X', row 2: cannot parse '3.5e38' as float (outside the range of float)"


def test_the_largest_finite_doubles_and_null_markers_still_convert(engine: DuckDBEngine) -> None:
    text = f"{HEADER}\n2024-01-01,1.7976931348623157e308,-1.7e308,4.9e-324,,null\n"
    outcome = convert(engine, [land(engine, "edge.csv", text)])["edge.csv"]
    row = pq.read_table(str(outcome.output)).to_pylist()[0]
    assert row["open_price"] == 1.7976931348623157e308 and row["high_price"] == -1.7e308
    assert row["low_price"] == 4.9e-324
    assert row["close_price"] is None and row["volume"] is None


# --- sizes: wide headers, long lines ---------------------------------------------------------


def _wide_header(columns: int) -> str:
    return HEADER + "," + ",".join(f"extra_column_{i:06d}" for i in range(columns))


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_header_wider_than_64_kib_converts(engine: DuckDBEngine, compressed: bool) -> None:
    header = _wide_header(4000)
    assert len(header) > 64 * 1024
    row = ROW + "," + ",".join(str(i) for i in range(4000))
    data = f"{header}\n{row}\n{row}\n".encode()
    key = "wide.csv.gz" if compressed else "wide.csv"
    started = time.perf_counter()
    outcome = convert(engine, [land(engine, key, gzip.compress(data) if compressed else data)])
    elapsed = time.perf_counter() - started
    table = pq.read_table(str(outcome[key].output))
    assert table.num_columns == 4000 + 6 + 1  # the extras, OHLCV renamed, price_change
    assert table.column("extra_column_003999").to_pylist() == ["3999", "3999"]
    assert table.column("price_change").to_pylist() == [0.25, 0.25]
    print(f"4,000-column file converted in {elapsed:.2f} s")


def test_a_header_longer_than_the_header_limit_is_refused_with_the_reason(
    engine: DuckDBEngine,
) -> None:
    data = (HEADER + "," + "x" * HEADER_MAX_BYTES + "\n" + ROW + "\n").encode()
    outcome = convert(engine, [land(engine, "huge.csv", data)])["huge.csv"]
    error = assert_failed_terminal(outcome)
    assert error.startswith("no line break in the first 16 MiB: not a CSV file")


def test_a_header_with_more_columns_than_the_limit_is_refused_with_the_reason(
    engine: DuckDBEngine,
) -> None:
    header = HEADER + "," + ",".join(f"c{i}" for i in range(MAX_COLUMNS))
    outcome = convert(engine, [land(engine, "many.csv", header + "\n")])["many.csv"]
    error = assert_failed_terminal(outcome)
    assert error == f"header has {MAX_COLUMNS + 6} columns, over the limit of {MAX_COLUMNS}"


MiB = 1024 * 1024


def _long_line_file(note_bytes: int, last: bool, compressed: bool = False) -> bytes:
    """Rows 1 and 3 short; row 2 (or the last row) carries a `note_bytes` long field."""
    rows = [f"{ROW},short", f"{ROW},{'n' * note_bytes}"]
    rows = rows if last else [*rows, f"{ROW},after"]
    data = "\n".join([f"{HEADER},Note", *rows]).encode() + b"\n"
    return gzip.compress(data, compresslevel=1) if compressed else data


@pytest.mark.parametrize(
    ("note_bytes", "last", "compressed"),
    [
        (20 * MiB, False, False),
        (20 * MiB, True, False),
        (31 * MiB, True, False),  # DuckDB alone drops such a last line without an error
        (31 * MiB, True, True),
        (MAX_LINE_BYTES - 100, False, False),
    ],
    ids=["20MiB-middle", "20MiB-last", "31MiB-last", "31MiB-last-gzip", "at-the-limit-middle"],
)
def test_a_field_longer_than_duckdbs_default_line_limit_converts_with_every_row(
    engine: DuckDBEngine, note_bytes: int, last: bool, compressed: bool
) -> None:
    key = "long.csv.gz" if compressed else "long.csv"
    outcome = convert(engine, [land(engine, key, _long_line_file(note_bytes, last, compressed))])
    assert outcome[key].ok, outcome[key].error
    notes = pq.read_table(str(outcome[key].output)).column("Note").to_pylist()
    assert [len(n) for n in notes] == [5, note_bytes] + ([] if last else [5])


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_line_above_the_engines_limit_fails_with_its_cause_first_and_its_line(
    engine: DuckDBEngine, compressed: bool
) -> None:
    key = "toolong.csv.gz" if compressed else "toolong.csv"
    data = _long_line_file(MAX_LINE_BYTES + 10, last=False, compressed=compressed)
    outcome = convert(engine, [land(engine, key, data)])[key]
    error = assert_failed_terminal(outcome)
    assert error.startswith(f"malformed CSV: Maximum line size of {MAX_LINE_BYTES} bytes exceeded")
    assert "(Line: 3: '2024-01-01 10:00:00,1.5,2,1,1.75,10,nnn" in error
    assert "Possible Solution" not in error and "file =" not in error


def test_a_last_line_above_the_engines_limit_is_refused_never_dropped(
    engine: DuckDBEngine,
) -> None:
    plain = land(engine, "last.csv", _long_line_file(MAX_LINE_BYTES + 10, last=True))
    packed = land(
        engine, "last.csv.gz", _long_line_file(MAX_LINE_BYTES + 10, last=True, compressed=True)
    )
    outcomes = convert(engine, [plain, packed])
    assert assert_failed_terminal(outcomes[plain.key]) == (
        f"malformed CSV: the last line is longer than the limit of {MAX_LINE_BYTES} bytes"
    )
    error = assert_failed_terminal(outcomes[packed.key])  # gzip: found by DuckDB itself
    assert error.startswith(f"malformed CSV: Maximum line size of {MAX_LINE_BYTES} bytes exceeded")


def test_text_in_the_offending_line_that_looks_like_a_cause_does_not_hide_the_real_cause(
    engine: DuckDBEngine,
) -> None:
    decoy = '"x\nInvalid unicode decoy\nExpected Number of Columns: 99 Found: 1"'
    text = f"{HEADER},Note\n{ROW},ok\n{ROW},{decoy},surplus\n"
    outcome = convert(engine, [land(engine, "decoy.csv", text)])["decoy.csv"]
    error = assert_failed_terminal(outcome)
    assert error.startswith("malformed CSV: Expected Number of Columns: 7 Found: 8 (Line: 3: ")


def test_summarise_keeps_an_unknown_cause_and_names_the_key_not_the_descriptor() -> None:
    message = (
        "Invalid Input Error: CSV Error on Line: 12\nOriginal Line: " + "z" * 5000 + "\n"
        "Some new problem DuckDB learnt to report\n\nPossible fixes:\n* a fix\n\n"
        "  file = /proc/self/fd/7\n"
    )
    text = summarise(message, {"/proc/self/fd/7": "k.csv"})
    assert text == ("Some new problem DuckDB learnt to report (Line: 12: '" + "z" * 100 + "...')")
    assert (
        summarise(
            'IO Error: No files found that match "/proc/self/fd/7"', {"/proc/self/fd/7": "k.csv"}
        )
        == 'No files found that match "k.csv"'
    )


# --- output folder problems ------------------------------------------------------------------


def _nobody_folder() -> Path:
    """A temporary folder uid 65534 can traverse and write (the tests run as root)."""
    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    folder.chmod(0o777)
    return folder


def _as_nobody(script: str, *args: str) -> dict[str, object]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SRC), "HOME": "/tmp"}
    result = subprocess.run(
        [*NOBODY, sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


_ENGINE_AS_NOBODY = """
import json, sys
from pathlib import Path
from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.domain.errors import IngestflowError
from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV
landing, output = Path(sys.argv[1]), Path(sys.argv[2])
try:
    engine = DuckDBEngine(landing, output, small_file_bytes=int(sys.argv[3]))
except IngestflowError as exc:
    print(json.dumps({"init": str(exc), "type": type(exc).__name__}))
    sys.exit(0)
size = (landing / "a.csv").stat().st_size
record = FileRecord("landing", "a.csv", "wf", "", size, "e", 0.0, Status.PROCESSING)
fill = [FileRecord("landing", f"f{i}.csv", "wf", "", size, "e", 0.0, Status.PROCESSING)
        for i in range(4)]
out = {o.key: [o.ok, o.retryable, o.error] for c in engine.run("wf", [record, *fill], OHLCV)
       for o in c}
engine.close()
print(json.dumps(out))
"""


def test_a_read_only_output_folder_fails_the_engine_at_start_with_one_line() -> None:
    base = _nobody_folder()
    try:
        (base / "landing").mkdir()
        (base / "landing" / "a.csv").write_text(GOOD)
        output = base / "output"
        output.mkdir(mode=0o555)
        output.chmod(0o555)
        found = _as_nobody(_ENGINE_AS_NOBODY, str(base / "landing"), str(output), "0")
        assert found == {
            "init": f"output folder {output} is not writable: Permission denied",
            "type": "OutputFolderError",
        }
    finally:
        shutil.rmtree(base)


@pytest.mark.parametrize("small_file_bytes", ["0", "4194304"], ids=["one-by-one", "grouped"])
def test_a_read_only_workflow_folder_fails_each_file_with_the_path_and_the_problem(
    small_file_bytes: str,
) -> None:
    base = _nobody_folder()
    try:
        (base / "landing").mkdir()
        for name in ["a.csv", *(f"f{i}.csv" for i in range(4))]:
            (base / "landing" / name).write_text(GOOD)
        output = base / "output"
        output.mkdir(mode=0o777)
        output.chmod(0o777)
        (output / WF).mkdir()
        (output / WF).chmod(0o555)  # owned by root: uid 65534 cannot write in it
        found = _as_nobody(_ENGINE_AS_NOBODY, str(base / "landing"), str(output), small_file_bytes)
        target = output / WF / "a.csv.parquet"
        assert found["a.csv"] == [
            False,
            True,  # an operator can fix permissions: retried, then FAILED after max_attempts
            f"cannot write output {target}: Permission denied",
        ]
        assert not any((output / TMP_DIR).rglob("*.parquet*"))
    finally:
        shutil.rmtree(base)


def test_a_file_where_the_output_folder_should_be_fails_each_file_with_one_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "landing").mkdir()
    engine = DuckDBEngine(tmp_path / "landing", tmp_path / "output", small_file_bytes=0)
    try:
        (engine.output_root / WF).write_text("not a folder")
        outcome = engine.process_file(WF, land(engine, "sub/a.csv", GOOD), OHLCV)
        assert not outcome.ok and outcome.retryable is True
        assert assert_one_readable_line(outcome.error) == (
            f"cannot write output {engine.output_root / WF / 'sub' / 'a.csv.parquet'}: "
            f"a file is in the way where a folder must be ({engine.output_root / WF})"
        )
    finally:
        engine.close()


def test_an_output_folder_that_is_a_file_is_refused_at_start_with_one_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "output").write_text("x")
    with pytest.raises(OutputFolderError) as raised:
        DuckDBEngine(tmp_path / "landing", tmp_path / "output")
    assert isinstance(raised.value, IngestflowError)
    assert str(raised.value) == f"output folder {tmp_path / 'output'} is not a folder"


def test_run_on_a_read_only_output_folder_exits_1_with_one_readable_line() -> None:
    base = _nobody_folder()
    try:
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SRC), "HOME": "/tmp"}
        cli = [sys.executable, "-m", "ingestflow"]
        subprocess.run([*cli, "init", str(base / "p")], env=env, check=True, capture_output=True)
        for path in [base / "p", *(base / "p").rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
        (base / "p" / "output").chmod(0o555)
        result = subprocess.run(
            [*NOBODY, *cli, "run", "--once"],
            cwd=base / "p",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 1, result
        # (rich wraps long lines at 80 columns when stderr is not a terminal)
        assert " ".join(result.stderr.split()) == (
            f"error: output folder {base / 'p' / 'output'} is not writable: Permission denied"
        )
        assert "Traceback" not in result.stderr
        assert stat.S_IMODE((base / "p" / "output").stat().st_mode) == 0o555
    finally:
        shutil.rmtree(base)


def test_a_derived_double_that_overflows_is_a_terminal_error_naming_the_column(
    engine: DuckDBEngine,
) -> None:
    """Finite inputs can still overflow: 1.7e308 - -1.7e308 is inf."""
    text = f"{HEADER}\n2024-01-01 10:00:00,-1.7e308,2,1,1.7e308,10\n"
    outcome = convert(engine, [land(engine, "overflow.csv", text)])["overflow.csv"]
    error = assert_failed_terminal(outcome)
    assert "price_change" in error and "not a finite number" in error, error
    assert "overflow.csv.parquet" not in outputs(engine)
