"""The landing edges a real folder hits, through the CLI: symbolic links, completeness markers,
and stopping promptly on a signal whatever the schedule interval."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from e2e_support import CLI, clean_env, ohlcv_csv, wait_until, workflow, write_config, write_file


def test_a_symlink_to_a_file_outside_the_landing_root_is_never_read(tmp_path: Path) -> None:
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/", batch_size=1)])
    secret = tmp_path / "secret.csv"
    secret.write_text("Date,Open,High,Low,Close,Volume\nTOP-SECRET-LINE,1,1,1,1,1\n")
    (project.landing / "ohlcv").mkdir()
    (project.landing / "ohlcv" / "passwd.csv").symlink_to("/etc/passwd")
    (project.landing / "ohlcv" / "secret.csv").symlink_to(secret)
    write_file(project.landing / "ohlcv" / "real.csv", ohlcv_csv(random.Random(1), 5))
    project.run_once()
    assert list(project.by_key()) == ["ohlcv/real.csv"]
    unrouted = {u["key"]: u["reason"] for u in project.json("unrouted")}
    assert set(unrouted) == {"ohlcv/passwd.csv", "ohlcv/secret.csv"}
    assert all("symbolic link" in reason for reason in unrouted.values())
    ledger = (project.root / ".ingestflow" / "ledger.db").read_bytes()
    assert b"TOP-SECRET-LINE" not in ledger and b"root:x:0:0" not in ledger
    assert [p.name for p in project.outputs("ohlcv")] == ["real.csv.parquet"]


def test_follow_symlinks_takes_links_inside_the_root_and_still_refuses_the_rest(
    tmp_path: Path,
) -> None:
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/", batch_size=1)])
    text = project.config.read_text().replace("[landing]\n", "[landing]\nfollow_symlinks = true\n")
    project.config.write_text(text)
    write_file(project.landing / "shared" / "real.csv", ohlcv_csv(random.Random(2), 5))
    (project.landing / "ohlcv").mkdir()
    (project.landing / "ohlcv" / "alias.csv").symlink_to(project.landing / "shared" / "real.csv")
    (project.landing / "ohlcv" / "passwd.csv").symlink_to("/etc/passwd")
    project.run_once()
    assert {k: r["status"] for k, r in project.by_key().items()} == {"ohlcv/alias.csv": "DONE"}
    (unrouted,) = [u for u in project.json("unrouted") if u["key"].startswith("ohlcv/")]
    assert unrouted["key"] == "ohlcv/passwd.csv"
    assert "outside the landing folder" in unrouted["reason"]


def test_a_marked_folder_waits_for_its_marker_then_runs_whatever_the_batch_size(
    tmp_path: Path,
) -> None:
    project = write_config(
        tmp_path / "p",
        [workflow("daily", "daily/", batch_size=100, max_wait="1h", ready_marker="_SUCCESS")],
    )
    rng = random.Random(3)
    for day in ("2024-01-01", "2024-01-02"):
        for n in range(3):
            write_file(project.landing / "daily" / day / f"{n}.csv", ohlcv_csv(rng, 5))
    first = project.run_once()
    assert {r["status"] for r in project.files()} == {"TODO"}
    assert "_SUCCESS" in first.stdout + first.stderr  # says what it waits for
    (project.landing / "daily" / "2024-01-01" / "_SUCCESS").write_text("")
    project.run_once()
    status = {k: r["status"] for k, r in project.by_key().items()}
    assert status == {
        **{f"daily/2024-01-01/{n}.csv": "DONE" for n in range(3)},
        **{f"daily/2024-01-02/{n}.csv": "TODO" for n in range(3)},
    }
    assert project.json("unrouted") == []  # the marker is neither a file nor unrouted


def test_max_wait_still_flushes_a_folder_without_marker_unless_the_marker_is_required(
    tmp_path: Path,
) -> None:
    project = write_config(
        tmp_path / "p",
        [
            workflow("loose", "loose/", batch_size=100, max_wait="0s", ready_marker="_SUCCESS"),
            workflow(
                "strict",
                "strict/",
                batch_size=100,
                max_wait="0s",
                ready_marker="_SUCCESS",
                marker_required=True,
            ),
        ],
    )
    rng = random.Random(4)
    write_file(project.landing / "loose" / "a" / "x.csv", ohlcv_csv(rng, 5))
    write_file(project.landing / "strict" / "a" / "x.csv", ohlcv_csv(rng, 5))
    project.run_once()
    status = {k: r["status"] for k, r in project.by_key().items()}
    assert status == {"loose/a/x.csv": "DONE", "strict/a/x.csv": "TODO"}


@pytest.mark.parametrize("watch", [True, False], ids=["watcher", "listing-only"])
def test_sigterm_stops_run_within_two_seconds_even_with_an_hour_long_interval(
    tmp_path: Path, watch: bool
) -> None:
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/")], schedule_interval="1h")
    if not watch:
        text = project.config.read_text().replace("[landing]\n", "[landing]\nwatch = false\n")
        project.config.write_text(text)
    err = (project.root / "run.stderr").open("wb")
    proc = subprocess.Popen(
        [*CLI, "run", "--config", str(project.config)],
        cwd=project.root,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    try:
        wait_until(
            lambda: (project.root / ".ingestflow" / "ledger.db").exists(),
            30,
            lambda: project.run_log(),
        )
        time.sleep(1.5)  # well into the first (hour-long) wait
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        stopped_after = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err.close()
    assert code == 0, project.run_log()
    assert stopped_after < 2.0, f"took {stopped_after:.2f}s to stop"


@pytest.mark.parametrize("interval, listed", [("1h", False), ("500ms", True)])
def test_with_the_watcher_on_the_full_listing_runs_every_reconcile_interval(
    tmp_path: Path, interval: str, listed: bool
) -> None:
    """The unrouted list is refreshed by the listing only (files no workflow takes raise no
    event a workflow acts on), so it shows how often the listing ran."""
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/", batch_size=1)])
    text = project.config.read_text().replace(
        "[landing]\n", f'[landing]\nreconcile_interval = "{interval}"\n'
    )
    project.config.write_text(text)
    with project.running():
        write_file(project.landing / "ohlcv" / "a.csv", ohlcv_csv(random.Random(5), 3))
        wait_until(lambda: [r["status"] for r in project.files()] == ["DONE"], 20, project.run_log)
        (project.landing / "notes.txt").write_text("not a CSV")
        time.sleep(2.5)
        seen = [u["key"] for u in project.json("unrouted")]
    assert seen == (["notes.txt"] if listed else [])
