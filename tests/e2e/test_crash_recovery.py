"""`kill -9` in the middle of a batch: no partial output is visible, and a restart finishes
the batch with every file DONE once."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from e2e_support import (
    CLEAN_HISTORY,
    assert_output_matches,
    transitions,
    wait_until,
    workflow,
    write_config,
)

from ingestflow.sampledata import write_ohlcv_files

FILES = 30
ROWS = 100_000
TMP = ".ingestflow-tmp"


def assert_outputs_complete(outputs: list[Path]) -> None:
    for path in outputs:
        meta = pq.read_metadata(path)  # a readable Parquet file, footer and all
        assert meta.num_rows == ROWS, path
        assert pq.read_table(path).num_rows == ROWS, path


@pytest.mark.slow
def test_kill_9_mid_batch_then_restart_finishes_every_file_once(tmp_path: Path) -> None:
    project = write_config(
        tmp_path / "p",
        [workflow("ohlcv", "ohlcv/", batch_size=FILES, max_wait="1s", lease="60s")],
        settle="0s",
    )
    # Two generated files (generation is slow), copied to 30 keys: ~6 MB each.
    sources = write_ohlcv_files(tmp_path / "gen", 2, ROWS, seed=5)
    keys = []
    for i in range(FILES):
        key = f"ohlcv/{i % 3}/part-{i:02d}.csv"
        (project.landing / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sources[i % 2], project.landing / key)
        keys.append(key)

    with project.running() as proc:

        def mid_batch() -> bool:
            assert proc.poll() is None, project.run_log()
            counts = project.counts()
            return counts["DONE"] >= 1 and counts["PROCESSING"] >= 3

        wait_until(
            mid_batch,
            60,
            lambda: f"never saw DONE and PROCESSING together: {project.counts()}",
            interval=0.05,
        )
        proc.kill()
        proc.wait(timeout=10)

    records = project.by_key()
    statuses = {r["status"] for r in records.values()}
    assert statuses <= {"DONE", "PROCESSING"}, records
    in_flight = {k for k, r in records.items() if r["status"] == "PROCESSING"}
    assert in_flight, "the crash must leave PROCESSING files"
    # no partial output: every .parquet under output/ohlcv/ is complete and readable
    outputs = project.outputs("ohlcv")
    assert_outputs_complete(outputs)
    done = {k for k, r in records.items() if r["status"] == "DONE"}
    assert {project.output_for("ohlcv", k) for k in done} <= set(outputs)

    started = time.monotonic()
    project.run_once()  # the owner is dead: its batch is recovered at once, not after 60 s
    assert time.monotonic() - started < 50

    assert project.counts() == {"TODO": 0, "PROCESSING": 0, "DONE": FILES, "FAILED": 0}
    outputs = project.outputs("ohlcv")
    assert len(outputs) == FILES
    assert set(outputs) == {project.output_for("ohlcv", k) for k in keys}
    assert_outputs_complete(outputs)
    for i in (0, 1):
        assert_output_matches(project.output_for("ohlcv", keys[i]), sources[i].read_bytes())
    leftovers = [p for p in (project.output / TMP).rglob("*") if p.is_file()]
    assert leftovers == []

    histories = project.histories(keys)
    for key, history in histories.items():
        steps = transitions(history)
        assert steps.count(("PROCESSING", "DONE")) == 1, (key, steps)
        if key in done:
            assert steps == CLEAN_HISTORY, (key, steps)
        else:
            assert steps == [
                (None, "TODO"),
                ("TODO", "PROCESSING"),
                ("PROCESSING", "TODO"),
                ("TODO", "PROCESSING"),
                ("PROCESSING", "DONE"),
            ], (key, steps)
