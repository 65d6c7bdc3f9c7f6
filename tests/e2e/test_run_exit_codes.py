"""`run` exit codes: `run --once` stopped by a signal exits 128 + the signal number (130 for
SIGINT, 143 for SIGTERM) after printing its summary, so a cron wrapper can tell an interrupted
run from a complete one; a continuous `run` stopped by a signal exits 0. A `run --once` that ran
nothing says why."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from e2e_support import CLI, Project, clean_env, wait_until, workflow, write_config, write_file

CSV = b"Date,Open,High,Low,Close,Volume\n2024-01-01,1,2,0.5,1.5,10\n"


def start_once(project: Project) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "run", "--once", "--config", str(project.config)],
        cwd=project.root,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def test_run_once_stopped_by_sigterm_during_a_batch_exits_143_after_its_summary(
    tmp_path: Path,
) -> None:
    project = write_config(
        tmp_path / "p",
        [workflow("ohlcv", "ohlcv/", batch_size=1, max_wait="0s", max_batch_files=10_000)],
    )
    files = 800
    for i in range(files):  # a header each: one query per file, a batch of seconds
        header = f"Date,Open,High,Low,Close,Volume,x{i}\n".encode()
        write_file(project.landing / f"ohlcv/{i:03d}.csv", header + CSV.split(b"\n")[1] + b",a\n")
    proc = start_once(project)
    try:
        # The first output file appears: the batch is running.
        wait_until(
            lambda: proc.poll() is not None or any(project.output.rglob("*.parquet")),
            60,
            "the batch to start",
            interval=0.01,
        )
        assert proc.poll() is None, "the batch finished before it could be interrupted"
        proc.send_signal(signal.SIGTERM)
    finally:
        code, out, err = finish(proc)
    assert code == 143, (out, err)
    (summary,) = [line for line in out.splitlines() if line.startswith("registered")]
    done = int(summary.split("done ")[1].split(",")[0])
    assert 0 < done < files, summary
    counts = project.counts()
    assert counts["PROCESSING"] == 0  # the files not started went back to TODO
    assert counts["DONE"] == done and counts["TODO"] == files - done
    assert "Traceback" not in err


def test_run_once_stopped_by_sigint_while_waiting_for_files_to_settle_exits_130(
    tmp_path: Path,
) -> None:
    project = write_config(
        tmp_path / "p", [workflow("ohlcv", "ohlcv/", batch_size=1, max_wait="0s")], settle="30s"
    )
    old = write_file(project.landing / "ohlcv/old.csv", CSV)
    os.utime(old, (time.time() - 3600, time.time() - 3600))  # settled: registered at once
    write_file(project.landing / "ohlcv/new.csv", CSV)  # still settling: run --once waits
    proc = start_once(project)
    try:
        wait_until(lambda: project.counts()["TODO"] == 1, 60, "old.csv to be registered")
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
    finally:
        code, out, err = finish(proc)
    assert code == 130, (out, err)
    assert "registered 1, batches 0, done 0" in out
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_a_continuous_run_stopped_by_sigterm_exits_0(tmp_path: Path) -> None:
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/", batch_size=1)])
    write_file(project.landing / "ohlcv/a.csv", CSV)
    with project.running() as proc:
        wait_until(lambda: project.counts()["DONE"] == 1, 60, "a.csv to be DONE")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_a_run_once_that_ran_nothing_says_what_the_files_wait_for(tmp_path: Path) -> None:
    project = write_config(
        tmp_path / "p", [workflow("ohlcv", "ohlcv/", batch_size=10, max_wait="1h")]
    )
    for name in ("a", "b"):
        write_file(project.landing / f"ohlcv/{name}.csv", CSV)
    out = project.run_once().stdout
    lines = out.splitlines()
    assert lines[0].startswith("registered 2, batches 0, done 0")
    (why,) = [line for line in lines[1:] if "ohlcv" in line or "2 files" in line]
    assert "batch_size" in why and "max_wait" in why and "10" in why, out
