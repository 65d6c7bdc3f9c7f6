"""Text from files, keys, configs and errors prints literally in every command: Rich markup in
it (`[/red]`, `[bold]`) is shown as typed, never interpreted (no crash, no other key shown), and
terminal control characters (ESC, C1) are shown as visible escapes, never sent raw."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
from pathlib import Path

import pytest
from e2e_support import CLI, Project, clean_env, workflow, write_config, write_file

WIDE = {"COLUMNS": "400"}  # no folding: every cell on one line
HEADER = "Date,Open,High,Low,Close,Volume"
NOTE = "[bold]\x1b[31mNote\u009b"  # an extra column kept as text, its name from the CSV
VALUE = "[/red]\x1b[2Jv"
BAD_DATE = "\x1b[31mbad[/red]"
KEYS = {
    "good": "ohlcv/[red]x.csv",
    "failed": "ohlcv/[/red].csv",
    "header": "ohlcv/[bold]b.csv",
}
UNROUTED = "[/red]notes.txt"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = write_config(
        tmp_path_factory.mktemp("escaping") / "p",
        [
            workflow("ohlcv", "ohlcv/", batch_size=1, max_wait="0s"),
            workflow("tagged", "[bold]tagged/", batch_size=1, max_wait="0s"),
        ],
    )
    write_file(project.landing / KEYS["good"], f"{HEADER}\n2024-01-01,1,2,0.5,1.5,10\n".encode())
    write_file(project.landing / KEYS["failed"], f"{HEADER}\n{BAD_DATE},1,2,0.5,1.5,10\n".encode())
    write_file(
        project.landing / KEYS["header"],
        f"{HEADER},{NOTE}\n2024-01-02,1,2,0.5,1.5,20,{VALUE}\n".encode(),
    )
    write_file(project.landing / UNROUTED, b"hello\n")
    project.run_once(expect=1)  # one file FAILED on purpose
    return project


def shown(project: Project, *args: str, expect: int = 0) -> str:
    """stdout of a command, checked to hold no raw ESC or C1 control character."""
    result = project.cli(*args, env=WIDE, expect=expect)
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream and "\u009b" not in stream, stream
        assert "Traceback" not in stream and "MarkupError" not in stream, stream
    return result.stdout if expect == 0 else result.stderr


def row_of(table: str, first_cell: str) -> str:
    (line,) = [line for line in table.splitlines() if f"│ {first_cell} " in line]
    return line


def test_keys_and_errors_print_literally_in_the_files_table(hostile: Project) -> None:
    table = shown(hostile, "files")
    for key in KEYS.values():
        assert f"│ {key} " in table
    failed = row_of(table, KEYS["failed"])
    assert "FAILED" in failed
    # The engine quotes the value with repr(); the brackets survive, the ESC stays escaped.
    assert "cannot parse '\\x1b[31mbad[/red]' as timestamp" in failed


def test_unrouted_keys_print_literally(hostile: Project) -> None:
    table = shown(hostile, "unrouted")
    assert f"│ {UNROUTED} " in table
    assert json.loads(hostile.cli("unrouted", "--json").stdout)[0]["key"] == UNROUTED


def test_history_shows_the_key_that_was_asked_for(hostile: Project) -> None:
    for key in KEYS.values():
        table = shown(hostile, "history", key)
        assert table.splitlines()[0].strip() == key  # the title: the key as typed
    table = shown(hostile, "history", KEYS["failed"])
    (failed,) = [line for line in table.splitlines() if "│ FAILED " in line]
    assert "cannot parse '\\x1b[31mbad[/red]' as timestamp" in failed


def test_an_unknown_key_is_named_literally_in_the_error(hostile: Project) -> None:
    stderr = shown(hostile, "history", "ohlcv/[bold]nope.csv", expect=1)
    assert stderr == "error: no history for 'ohlcv/[bold]nope.csv' in bucket 'landing'\n"


def test_column_names_and_values_from_a_csv_print_as_visible_escapes(hostile: Project) -> None:
    table = shown(hostile, "query", "SELECT * FROM ohlcv ORDER BY timestamp")
    assert "[bold]\\x1b[31mNote\\x9b" in table
    assert "[/red]\\x1b[2Jv" in table


def test_json_output_keeps_every_value_exactly(hostile: Project) -> None:
    text = shown(hostile, "query", "SELECT * FROM ohlcv ORDER BY timestamp", "--json")
    rows = json.loads(text)
    assert rows[-1][NOTE] == VALUE
    assert "\\u001b" in text and "\\u009b" in text  # escaped in the JSON text, same value
    files = json.loads(shown(hostile, "files", "--json"))
    assert {f["key"] for f in files} == set(KEYS.values())


def test_csv_output_into_a_pipe_is_the_data_unchanged(hostile: Project) -> None:
    result = hostile.cli("query", "SELECT * FROM ohlcv ORDER BY timestamp", "--csv")
    assert f",{NOTE}," in result.stdout.splitlines()[0]
    assert f",{VALUE}," in result.stdout.splitlines()[-1]


def test_config_text_prints_literally(hostile: Project) -> None:
    table = shown(hostile, "workflows")
    assert "│ [bold]tagged/ " in table


def test_retry_names_a_skipped_key_literally(hostile: Project) -> None:
    stderr = shown(hostile, "retry", "[bold]k.csv", expect=1)
    assert stderr == "skipped: [bold]k.csv: not in the ledger\n"


def test_config_errors_keep_their_brackets(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.config.write_text('"[bold]colour" = "red"\n[landing]\npath = "landing"\n')
    stderr = shown(project, "status", expect=2)
    assert "'[bold]colour'" in stderr
    assert len(stderr.splitlines()) == 1
    missing = tmp_path / "[red]gone" / "ingestflow.toml"
    result = subprocess.run(
        [*CLI, "status", "--config", str(missing)],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 2
    assert str(missing) in result.stderr


def test_the_progress_bar_on_a_terminal_shows_keys_literally(tmp_path: Path) -> None:
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/", batch_size=1)])
    write_file(project.landing / KEYS["failed"], f"{HEADER}\n2024-01-01,1,2,0.5,1.5,10\n".encode())
    code, output = run_on_a_terminal(project, "run", "--once")
    assert code == 0, output
    assert "MarkupError" not in output and "Traceback" not in output
    assert "done 1, failed 0" in output


def run_on_a_terminal(project: Project, *args: str) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; (exit code, all output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, *args, "--config", str(project.config)],
        cwd=project.root,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=clean_env({"TERM": "xterm", "COLUMNS": "200"}),
    )
    os.close(slave)
    chunks = []
    try:
        while select.select([master], [], [], 60)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")
