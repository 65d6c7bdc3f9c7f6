"""Duplicates and re-uploads: the same file seen again changes nothing; new content is
processed again and replaces the output; equal names in different folders never collide."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from e2e_support import (
    CLEAN_HISTORY,
    assert_output_matches,
    ohlcv_csv,
    parse_iso,
    rewrite,
    transitions,
    workflow,
    write_config,
    write_file,
)

A = "ohlcv/a/eurusd.csv"
B = "ohlcv/b/eurusd.csv"
C = "ohlcv/c.csv"


def test_same_file_twice_is_one_record_and_new_content_is_processed_again(
    tmp_path: Path,
) -> None:
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/", max_wait="0s")])
    rng = random.Random(9)
    data = {key: ohlcv_csv(rng, 30, variant=i) for i, key in enumerate((A, B, C))}
    for key, content in data.items():
        write_file(project.landing / key, content)

    project.run_once()
    first = project.by_key()
    assert set(first) == set(data)
    out_a = project.output_for("ohlcv", A)
    out_b = project.output_for("ohlcv", B)
    assert out_a != out_b  # a/eurusd.csv and b/eurusd.csv: two outputs
    for key, content in data.items():
        assert_output_matches(project.output_for("ohlcv", key), content)
    written = {p: p.stat().st_mtime_ns for p in project.outputs("ohlcv")}
    assert len(written) == 3

    # Seen again by a second run; then re-uploaded with the same content and mtime.
    project.run_once()
    copy = project.landing / "ohlcv" / "a" / ".eurusd.csv.copy"
    shutil.copy2(project.landing / A, copy)  # same bytes, same mtime
    os.replace(copy, project.landing / A)
    project.run_once()
    assert project.by_key() == first  # one record per file, nothing changed
    assert {p: p.stat().st_mtime_ns for p in project.outputs("ohlcv")} == written
    for key in data:
        assert transitions(project.history(key)) == CLEAN_HISTORY

    # New content (new mtime): processed again, the output replaced
    new_a = ohlcv_csv(rng, 44, variant=3)
    rewrite(project.landing / A, new_a)
    project.run_once()
    records = project.by_key()
    assert len(records) == 3
    assert records[A]["status"] == "DONE" and records[A]["attempts"] == 1, records[A]
    assert records[A]["etag"] != first[A]["etag"]
    assert records[A]["batch_id"] != first[A]["batch_id"]
    upload = parse_iso(records[A]["upload_time"])
    assert abs(upload - (project.landing / A).stat().st_mtime) < 0.001
    history = project.history(A)
    assert transitions(history) == [
        *CLEAN_HISTORY,
        ("DONE", "TODO"),
        ("TODO", "PROCESSING"),
        ("PROCESSING", "DONE"),
    ]
    assert [t["to"] for t in history].count("DONE") == 2
    assert_output_matches(out_a, new_a)
    assert len(project.outputs("ohlcv")) == 3
    # the others were left alone
    for key in (B, C):
        assert records[key] == first[key]
        assert transitions(project.history(key)) == CLEAN_HISTORY
        assert_output_matches(project.output_for("ohlcv", key), data[key])
    assert project.counts() == {"TODO": 0, "PROCESSING": 0, "DONE": 3, "FAILED": 0}
