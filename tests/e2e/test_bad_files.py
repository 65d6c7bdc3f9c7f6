"""Malformed files fail alone, with a readable reason; `retry` and re-uploads bring them back."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from e2e_support import (
    CLEAN_HISTORY,
    Project,
    assert_output_matches,
    ohlcv_csv,
    rewrite,
    transitions,
    workflow,
    write_config,
    write_file,
)

GARBAGE = "ohlcv/bad/garbage.csv"
NOT_UTF8 = "ohlcv/bad/latin1.csv"
MISSING = "ohlcv/bad/missing.csv"
BAD_DATE = "ohlcv/bad/baddate.csv"
BAD_NUMBER = "ohlcv/bad/badnumber.csv"
BAD_DATE_ROW = 43_210  # data row (1 = the first row after the header)


def lines_csv(rows: int, start: int = 0) -> list[str]:
    lines = ["Date,Open,High,Low,Close,Volume"]
    for i in range(start, start + rows):
        lines.append(
            f"2024-01-{1 + i // 1440 % 28:02d} {i // 60 % 24:02d}:{i % 60:02d}:00,1.5,2,1,1.75,{i}"
        )
    return lines


def bad_files() -> dict[str, bytes]:
    rng = random.Random(3)
    garbage = rng.randbytes(5000) + b"\x00\x01"
    latin1 = "Date,Ouverture,Clôture\n2024-01-01,1,2\n".encode("latin-1")
    missing = b"Date,Open,Close\n2024-01-01 00:00:00,1,2\n"
    bad_date = lines_csv(50_000)
    bad_date[BAD_DATE_ROW] = "2024-02-30 25:61:00,1.5,2,1,1.75,9"
    bad_number = lines_csv(40)
    bad_number[17] = "2024-01-01 00:16:00,1.5,2,one,1.75,9"
    return {
        GARBAGE: garbage,
        NOT_UTF8: latin1,
        MISSING: missing,
        BAD_DATE: ("\n".join(bad_date) + "\n").encode(),
        BAD_NUMBER: ("\n".join(bad_number) + "\n").encode(),
    }


def assert_readable(error: str | None) -> str:
    assert error, "no error recorded"
    assert "Traceback" not in error and len(error) < 600 and "\n" not in error, error
    return error


@pytest.mark.slow
def test_bad_files_fail_alone_with_their_reason_then_retry_and_reupload(tmp_path: Path) -> None:
    project: Project = write_config(
        tmp_path / "p",
        [workflow("ohlcv", "ohlcv/", batch_size=10, max_wait="0s")],
        engine_threads=None,  # all cores: the bad row must be found in a parallel read
    )
    rng = random.Random(4)
    good = {f"ohlcv/good/g{i}.csv": ohlcv_csv(rng, 25, variant=i) for i in range(7)}
    bad = bad_files()
    for key, content in {**good, **bad}.items():
        write_file(project.landing / key, content)

    result = project.run_once(expect=1)  # exit 1: a file ended FAILED
    records = project.by_key()
    assert len({r["batch_id"] for r in records.values()}) == 1  # bad and good: one batch
    assert project.counts() == {"TODO": 0, "PROCESSING": 0, "DONE": 7, "FAILED": 5}, result
    for key, content in good.items():
        assert records[key]["status"] == "DONE", records[key]
        assert_output_matches(project.output_for("ohlcv", key), content)
    failed = {r["key"]: r for r in project.files("--status", "FAILED")}
    assert set(failed) == set(bad)
    histories = project.histories(sorted(failed))
    for key, record in failed.items():
        assert_readable(record["error"])
        assert record["attempts"] == 1, record  # terminal: never retried by itself
        assert record["output"] is None, record
        assert not project.output_for("ohlcv", key).exists(), key  # no output at all
        history = histories[key]
        assert transitions(history) == [
            (None, "TODO"),
            ("TODO", "PROCESSING"),
            ("PROCESSING", "FAILED"),
        ]
        assert history[-1]["error"] == record["error"]

    missing_error = failed[MISSING]["error"]
    for column in ("High", "Low", "Volume"):
        assert column in missing_error, missing_error
    date_error = failed[BAD_DATE]["error"]
    for part in ("Date", str(BAD_DATE_ROW), "2024-02-30 25:61:00"):
        assert part in date_error, date_error
    number_error = failed[BAD_NUMBER]["error"]
    for part in ("Low", "17", "one"):
        assert part in number_error, number_error

    # retry: the file goes back to TODO with attempts reset; unchanged, it fails again
    out = project.cli("retry", BAD_DATE)
    assert "1 file" in out.stdout
    record = project.by_key("--prefix", BAD_DATE)[BAD_DATE]
    assert (record["status"], record["attempts"]) == ("TODO", 0), record
    assert transitions(project.history(BAD_DATE))[-1] == ("FAILED", "TODO")
    project.run_once(expect=1)
    record = project.by_key("--prefix", BAD_DATE)[BAD_DATE]
    assert record["status"] == "FAILED" and record["error"] == date_error, record

    # retry, then fix the file before the next run: processed with the new content
    project.cli("retry", MISSING)
    fixed_missing = ohlcv_csv(rng, 12)
    rewrite(project.landing / MISSING, fixed_missing)
    # a re-upload alone (no retry) also brings a FAILED file back
    fixed_lines = lines_csv(50_000)
    rewrite(project.landing / BAD_DATE, ("\n".join(fixed_lines) + "\n").encode())
    project.run_once(expect=0)
    records = project.by_key()
    for key in (MISSING, BAD_DATE):
        assert records[key]["status"] == "DONE" and records[key]["error"] is None, records[key]
    assert_output_matches(project.output_for("ohlcv", MISSING), fixed_missing)
    assert_output_matches(
        project.output_for("ohlcv", BAD_DATE), ("\n".join(fixed_lines) + "\n").encode()
    )
    assert transitions(project.history(MISSING))[3:] == [
        ("FAILED", "TODO"),
        ("TODO", "PROCESSING"),
        ("PROCESSING", "DONE"),
    ]
    assert transitions(project.history(BAD_DATE))[-3:] == [
        ("FAILED", "TODO"),
        ("TODO", "PROCESSING"),
        ("PROCESSING", "DONE"),
    ]
    # the good files were not touched again
    for key, history in project.histories(sorted(good)).items():
        assert transitions(history) == CLEAN_HISTORY, key
    assert project.counts() == {"TODO": 0, "PROCESSING": 0, "DONE": 9, "FAILED": 3}

    # retry of a file that is not FAILED changes nothing and says so
    refused = project.cli("retry", MISSING, expect=1)
    assert MISSING in refused.stderr
    assert project.by_key("--prefix", MISSING)[MISSING]["status"] == "DONE"
    # retry --failed takes every FAILED file; unchanged garbage fails again
    out = project.cli("retry", "--failed")
    assert "3 file" in out.stdout
    assert project.counts()["TODO"] == 3
    project.run_once(expect=1)
    assert project.counts() == {"TODO": 0, "PROCESSING": 0, "DONE": 9, "FAILED": 3}
