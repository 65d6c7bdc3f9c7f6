"""The CLI at scale: tables are paged (a default --limit and a footer saying how many there are),
JSON is streamed through the ledger's keyset cursor, and `query` does not keep a reader per
output file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from e2e_support import CLI, Project, clean_env, workflow, write_config

TABLE_ROWS = 100  # the documented default --limit of a table
FILES = 2_600  # more than one page of the ledger cursor (2,000 rows)
KEY_COLUMNS = ["key", "status", "workflow", "attempts", "upload_time", "error"]


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """FILES files waiting in the ledger (a batch of 10,000 is never ready), 150 unrouted.
    Most share one upload time, so the cursor must order ties by key."""
    project = write_config(
        tmp_path_factory.mktemp("scale") / "p",
        [workflow("ohlcv", "ohlcv/", batch_size=10_000, max_wait="1h", max_batch_files=10_000)],
    )
    at = time.time() - 60
    for i in range(FILES):
        path = project.landing / "ohlcv" / f"d{i % 7}" / f"f{i:05d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"Date,Open\n")
        stamp = at if i % 10 else at - i  # ties at `at`, and a spread of older files
        os.utime(path, (stamp, stamp))
    for i in range(150):
        (project.landing / f"note{i:03d}.txt").write_bytes(b"x")
    project.run_once()
    return project


def table(project: Project, *args: str) -> str:
    """A command's table, wide enough that no cell folds onto a second line."""
    return project.cli(*args, env={"COLUMNS": "300"}).stdout


def rows_of(table: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith("│")]


def test_the_files_table_shows_a_page_and_says_how_many_there_are(many: Project) -> None:
    out = table(many, "files")
    assert len(rows_of(out)) == TABLE_ROWS
    assert out.splitlines()[-1] == (
        f"showing {TABLE_ROWS} of {FILES} files (use --limit N or --json for all)"
    )
    out = table(many, "files", "--status", "TODO", "--limit", "7")
    assert len(rows_of(out)) == 7
    assert out.splitlines()[-1] == f"showing 7 of {FILES} files (use --limit N or --json for all)"
    # A prefix filter has no counter to ask: the footer says "the first".
    out = table(many, "files", "--prefix", "ohlcv/d1/", "--limit", "3")
    assert len(rows_of(out)) == 3
    assert out.splitlines()[-1] == "showing the first 3 files (use --limit N or --json for all)"


def test_a_table_that_fits_has_no_footer(many: Project) -> None:
    out = table(many, "files", "--status", "DONE")
    assert rows_of(out) == [] and "showing" not in out
    out = table(many, "files", "--prefix", "ohlcv/d3/", "--limit", "0")
    assert len(rows_of(out)) == len([i for i in range(FILES) if i % 7 == 3])
    assert "showing" not in out


def test_files_json_streams_every_file_in_order_in_the_same_format(many: Project) -> None:
    text = many.cli("files", "--json").stdout
    files = json.loads(text)
    # Byte for byte what one json.dumps(indent=2) of the whole list gave before streaming.
    assert text == json.dumps(files, indent=2, ensure_ascii=False) + "\n"
    assert len(files) == FILES
    assert len({f["key"] for f in files}) == FILES  # no file twice across pages
    order = [(f["upload_time"], f["key"]) for f in files]
    assert order == sorted(order)
    assert [f["key"] for f in many.files("--limit", "2100")] == [f["key"] for f in files[:2100]]
    assert many.cli("files", "--status", "DONE", "--json").stdout == "[]\n"


def test_files_json_into_a_pipe_closed_early_stops_quietly(many: Project) -> None:
    proc = subprocess.Popen(
        [*CLI, "files", "--json", "--config", str(many.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10) == b"[\n  {\n    "
    proc.stdout.close()  # like `| head -c 10`
    with proc.stderr:
        stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, stderr
    assert "Traceback" not in stderr and "Error" not in stderr, stderr


def test_the_unrouted_table_is_paged_too(many: Project) -> None:
    out = table(many, "unrouted")
    assert len(rows_of(out)) == TABLE_ROWS
    assert out.splitlines()[-1] == (
        f"showing {TABLE_ROWS} of 150 unrouted files (use --limit N or --json for all)"
    )
    assert len(json.loads(many.cli("unrouted", "--json").stdout)) == 150
    assert len(json.loads(many.cli("unrouted", "--json", "--limit", "4").stdout)) == 4


def test_query_tables_are_paged_and_json_and_csv_stream_every_row(many: Project) -> None:
    sql = "SELECT range AS i FROM range(250)"
    out = table(many, "query", sql)
    assert len(rows_of(out)) == TABLE_ROWS
    assert out.splitlines()[-1] == (
        f"showing the first {TABLE_ROWS} rows (use --limit N, --json or --csv for all)"
    )
    assert json.loads(many.cli("query", sql, "--json").stdout) == [{"i": i} for i in range(250)]
    assert many.cli("query", sql, "--csv").stdout == "i\n" + "".join(f"{i}\n" for i in range(250))
    assert len(json.loads(many.cli("query", sql, "--json", "--limit", "3").stdout)) == 3
    assert len(many.cli("query", sql, "--csv", "--limit", "3").stdout.splitlines()) == 4


_PEAK = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""


def peak_mib(project: Project, sql: str) -> int:
    """Peak RSS (MiB) of one `query SQL --json` process."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _PEAK,
            *CLI,
            "query",
            sql,
            "--json",
            "--config",
            str(project.config),
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
        check=True,
    )
    code, peak = result.stdout.split()
    assert code == "0", result.stderr
    return int(peak)


@pytest.mark.slow
def test_query_memory_does_not_grow_with_a_reader_per_output_file(tmp_path: Path) -> None:
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/")])
    idle = peak_mib(project, "SELECT 1 AS one")  # before any output exists
    outputs = 5_000
    project.output.mkdir()
    con = duckdb.connect()
    con.execute(  # one small Parquet file per folder, as one output per input key would be
        f"COPY (SELECT i % {outputs} AS k, TIMESTAMP '2024-01-01' + to_minutes(i) AS timestamp, "
        "i::DOUBLE AS volume, 0.5::DOUBLE AS price_change FROM range(3 * ?) t(i)) "
        f"TO '{project.output / 'ohlcv'}' (FORMAT parquet, PARTITION_BY (k))",
        [outputs],
    )
    con.close()
    counted = peak_mib(project, "SELECT count(*) AS n FROM ohlcv")
    # union_by_name kept ~16 KiB per file (+80 MiB here); a plain read of one schema does not.
    assert counted - idle < 45, (idle, counted)
