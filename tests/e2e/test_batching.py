"""Batch readiness in the continuous `run`: a partial batch waits for `max_wait` (counted from
the files' mtime, their `upload_time`); a full batch runs at once."""

from __future__ import annotations

import random
import time
from pathlib import Path

from e2e_support import (
    assert_output_matches,
    ohlcv_csv,
    parse_iso,
    wait_until,
    workflow,
    write_config,
    write_file,
)


def test_partial_batch_waits_for_max_wait_then_runs(tmp_path: Path) -> None:
    project = write_config(
        tmp_path / "p",
        [workflow("ohlcv", "ohlcv/", batch_size=10, max_wait="3s")],
        settle="0s",
    )
    rng = random.Random(7)
    data = {f"ohlcv/EURUSD/2024-05-0{d}.csv": ohlcv_csv(rng, 30) for d in (1, 2, 3)}
    with project.running() as proc:
        for key, content in data.items():  # renamed into place: complete when it appears
            write_file(project.landing / key, content, atomic=True)
        oldest = min((project.landing / key).stat().st_mtime for key in data)

        def registered() -> bool:
            return set(project.by_key()) == set(data)

        wait_until(registered, 10, lambda: f"not registered: {project.files()}")
        # ~1.5 s after the drop: three files of a batch of ten, younger than max_wait
        while time.time() < oldest + 1.5:
            time.sleep(0.05)
        records = project.by_key()
        asked_at = time.time()
        if asked_at < oldest + 3.0:
            assert {r["status"] for r in records.values()} == {"TODO"}, records

        def all_done() -> bool:
            return {r["status"] for r in project.files()} == {"DONE"}

        wait_until(all_done, 15, lambda: f"not DONE: {project.files()}\n{project.run_log()}")
        done_seen = time.time()
        assert proc.poll() is None, project.run_log()
    assert done_seen - oldest < 3.0 + 4.0, "the partial batch ran late"
    records = project.by_key()
    assert len({r["batch_id"] for r in records.values()}) == 1, records  # one batch
    for key, record in records.items():
        upload = parse_iso(record["upload_time"])
        assert abs(upload - (project.landing / key).stat().st_mtime) < 0.001, record
        claimed = parse_iso(record["start_time"])
        assert claimed >= oldest + 3.0 - 0.01, f"claimed before max_wait: {record}"
        assert parse_iso(record["end_time"]) - oldest < 3.0 + 3.0, record
        assert_output_matches(project.output_for("ohlcv", key), data[key])


def test_full_batch_runs_at_once_and_a_short_one_keeps_waiting(tmp_path: Path) -> None:
    project = write_config(
        tmp_path / "p",
        [
            workflow("full", "full/", batch_size=10, max_wait="1h"),
            workflow("short", "short/", batch_size=10, max_wait="1h"),
        ],
        settle="0s",
    )
    rng = random.Random(8)
    full = {f"full/f{i}.csv": ohlcv_csv(rng, 10) for i in range(10)}
    short = {f"short/s{i}.csv": ohlcv_csv(rng, 10) for i in range(9)}
    with project.running():
        for key, content in {**short, **full}.items():
            write_file(project.landing / key, content, atomic=True)
        wait_until(
            lambda: project.counts()["DONE"] == 10,
            20,
            lambda: f"the full batch did not run: {project.files()}\n{project.run_log()}",
        )
        records = project.by_key()
        assert {records[k]["status"] for k in full} == {"DONE"}
        assert {records[k]["status"] for k in short} == {"TODO"}
        backlog = {w["name"]: w for w in project.json("workflows")}
        assert backlog["short"]["backlog"] == 9
        assert backlog["full"]["backlog"] == 0
    for key, content in full.items():
        assert_output_matches(project.output_for("full", key), content)
    assert project.outputs("short") == []
