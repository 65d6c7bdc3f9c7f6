"""200 files, three workflows: `run --once` until everything is DONE, and the continuous `run`
fed in waves. Each output is checked against an independent computation from the CSV text, and
each file's history must be the clean None -> TODO -> PROCESSING -> DONE."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest
from e2e_support import (
    CLEAN_HISTORY,
    Project,
    assert_output_matches,
    drop_ohlcv_files,
    ohlcv_csv,
    parse_iso,
    transitions,
    wait_until,
    workflow,
    write_config,
    write_file,
)

TOTAL = 200
# Three workflows; `markets/crypto/` is nested in `markets/`: the longest prefix wins.
WORKFLOWS = [
    workflow("ohlcv", "ohlcv/", batch_size=10, max_wait="2s"),
    workflow("markets", "markets/", batch_size=10, max_wait="2s"),
    workflow("crypto", "markets/crypto/", batch_size=10, max_wait="2s"),
]
SYMBOLS = ["EURUSD", "GBPUSD", "USDJPY", "BTCUSD", "ETHUSD", "XAUUSD", "AUDUSD"]


def expected_workflow(key: str) -> str:
    if key.startswith("markets/crypto/"):
        return "crypto"
    if key.startswith("markets/"):
        return "markets"
    assert key.startswith("ohlcv/")
    return "ohlcv"


def make_keys(count: int, seed: int) -> list[str]:
    """Keys spread over the three workflows, at several depths; the same file name appears in
    many folders (outputs must never collide); some files are gzipped."""
    rng = random.Random(seed)
    roots = ["ohlcv/2024/", "markets/fx/", "markets/crypto/", "ohlcv/", "markets/crypto/spot/"]
    keys: list[str] = []
    while len(keys) < count:
        n = len(keys)
        day = f"2024-02-{1 + n // 35:02d}"
        key = f"{roots[n % len(roots)]}{SYMBOLS[n % 7]}/{day}.csv"
        if rng.random() < 0.1:
            key += ".gz"
        if key not in keys:
            keys.append(key)
    return keys


def assert_all_processed(project: Project, data: dict[str, bytes], *, ordered: bool) -> None:
    """Everything in `data` is DONE exactly once, with correct outputs and clean histories."""
    status = project.json("status")
    assert status == {
        "counts": {"TODO": 0, "PROCESSING": 0, "DONE": len(data), "FAILED": 0},
        "unrouted": 0,
    }
    records = project.by_key()
    assert set(records) == set(data)
    batches: dict[str, set[str]] = defaultdict(set)
    for key, record in records.items():
        wf = expected_workflow(key)
        assert record["status"] == "DONE", record
        assert record["workflow"] == wf, record
        assert record["error"] is None, record
        assert record["attempts"] == 1, record
        assert Path(record["output"]).resolve() == project.output_for(wf, key).resolve(), record
        # upload_time is the file's mtime
        mtime = (project.landing / key).stat().st_mtime
        assert abs(parse_iso(record["upload_time"]) - mtime) < 0.001, record
        assert parse_iso(record["start_time"]) <= parse_iso(record["end_time"]), record
        batches[record["batch_id"]].add(wf)
    # a batch belongs to one workflow
    assert all(len(wfs) == 1 for wfs in batches.values()), batches
    for wf in ("ohlcv", "markets", "crypto"):
        expected = {project.output_for(wf, k).resolve() for k in data if expected_workflow(k) == wf}
        assert expected, wf
        assert {p.resolve() for p in project.outputs(wf)} == expected, wf
    for key, content in data.items():
        assert_output_matches(
            project.output_for(expected_workflow(key), key), content, ordered=ordered
        )
    histories = project.histories(sorted(data))
    for key, history in histories.items():
        assert transitions(history) == CLEAN_HISTORY, (key, history)
        assert all(t["key"] == key for t in history)


@pytest.mark.slow
def test_run_once_repeatedly_until_all_200_files_are_done(tmp_path: Path) -> None:
    project = write_config(tmp_path / "p", WORKFLOWS)
    keys = make_keys(TOTAL, seed=11)
    first, late = keys[:-5], keys[-5:]
    data = drop_ohlcv_files(project.landing, first, seed=100)
    project.run_once()  # exit 0: nothing failed
    counts = project.counts()
    assert counts["PROCESSING"] == 0, counts  # --once finishes what it claimed
    assert counts["DONE"] >= len(first) - 3 * 9, counts  # every full batch ran

    # Five more files: fewer than batch_size anywhere, so they wait for max_wait (2s).
    late_data = drop_ohlcv_files(project.landing, late, seed=200)
    data.update(late_data)
    oldest = min((project.landing / k).stat().st_mtime for k in late)
    project.run_once()
    if time.time() < oldest + 1.9:
        waiting = project.by_key()
        assert {waiting[k]["status"] for k in late} == {"TODO"}, [waiting[k] for k in late]

    runs = 0

    def all_done() -> bool:
        nonlocal runs
        if project.counts()["DONE"] == TOTAL:
            return True
        runs += 1
        project.run_once()
        return False

    wait_until(all_done, 90, lambda: f"not all DONE after {runs} runs: {project.counts()}")
    for key in late:  # the late files ran only once max_wait had passed
        record = project.by_key("--prefix", key)[key]
        assert parse_iso(record["start_time"]) >= oldest + 2.0 - 0.01, record
    assert_all_processed(project, data, ordered=False)


@pytest.mark.slow
def test_continuous_run_ingests_200_files_dropped_in_waves(tmp_path: Path) -> None:
    # settle 1s: the listing never takes a file that is still being written (the watcher
    # registers it as soon as its writer closes it)
    project = write_config(tmp_path / "p", WORKFLOWS, settle="1s")
    keys = make_keys(TOTAL, seed=12)
    waves = [keys[:80], keys[80:140], keys[140:197], keys[197:]]
    data: dict[str, bytes] = {}
    with project.running() as proc:
        data.update(drop_ohlcv_files(project.landing, waves[0], seed=1))
        wait_until(
            lambda: project.counts()["DONE"] >= 1,
            30,
            lambda: f"nothing DONE from wave 1: {project.counts()}\n{project.run_log()}",
        )
        # wave 2: written under temporary names and renamed into place
        data.update(drop_ohlcv_files(project.landing, waves[1], seed=2, atomic=True))
        data.update(drop_ohlcv_files(project.landing, waves[2], seed=3))
        wait_until(
            lambda: project.counts()["DONE"] >= 140,
            60,
            lambda: f"waves 1-3 not processed: {project.counts()}\n{project.run_log()}",
        )
        # wave 4: three files, a partial batch that runs on max_wait
        data.update(drop_ohlcv_files(project.landing, waves[3], seed=4))
        wait_until(
            lambda: project.counts()["DONE"] == TOTAL,
            60,
            lambda: f"not all DONE: {project.counts()}\n{project.run_log()}",
        )
        assert proc.poll() is None, project.run_log()
        assert_all_processed(project, data, ordered=False)

        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`run` did not stop within 10s of SIGTERM\n{project.run_log()}")
        assert code == 0, project.run_log()
        assert time.monotonic() - stopped_at < 10


def test_outputs_keep_the_rows_in_input_order(tmp_path: Path) -> None:
    """A Parquet output is the CSV converted: rows stay in the order of the file (a time
    series must not come out shuffled). Many small files with one header, as usual."""
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/", max_wait="0s")])
    rng = random.Random(5)
    data = {}
    for day in range(1, 25):
        key = f"ohlcv/EURUSD/2024-03-{day:02d}.csv"
        data[key] = ohlcv_csv(rng, 40)
        write_file(project.landing / key, data[key])
    project.run_once()
    assert project.counts()["DONE"] == len(data)
    for key, content in data.items():  # the values are right...
        assert_output_matches(project.output_for("ohlcv", key), content, ordered=False)
    shuffled = []
    for key, content in data.items():  # ...and so is their order
        try:
            assert_output_matches(project.output_for("ohlcv", key), content, ordered=True)
        except AssertionError as exc:
            shuffled.append(f"{key}: {str(exc).splitlines()[0][:300]}")
    assert not shuffled, f"{len(shuffled)} of {len(data)} outputs reorder the rows:\n" + "\n".join(
        shuffled
    )
