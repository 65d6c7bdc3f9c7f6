"""The workers case: files/s with 1, 2 and 4 ``ingestflow run --role work`` processes sharing one
PostgreSQL ledger, on the small-files data set (the ``small`` case's CSVs).

One throwaway PostgreSQL server (``benchmarks.pg``) serves the whole case. Per run and per
worker count N (counts take turns run by run):

- a fresh ledger (``server.new_database()``), a fresh output folder and a fresh landing folder
  holding the data set's files hard-linked under temporary names (``<key>.part``, ignored by
  ingestflow until renamed; not timed);
- a config: ``[engine] name = "duckdb"`` with ``threads = 1`` (one core per worker: N workers
  ask for N cores), one ``ohlcv`` workflow with ``batch_size = max_batch_files`` = the size
  profile's ``workers_batch_files`` (50 at full size: 2,000 files make 40 batches for the
  workers to share) and ``max_wait = "0s"``, ``schedule_interval = "100ms"`` (an idle worker
  looks for work that often), the watcher on (a full listing every 10 s as a safety net);
- ``ingestflow setup`` (not timed);
- N ``python -m ingestflow run --role work`` processes and ONE ``python -m ingestflow run
  --role discover`` (it registers what lands; the workers only claim and run batches) are
  started through the benchmark launcher, and the harness waits until every one of them is up
  (from /proc: it catches SIGTERM, which `ingestflow run` handles once its pipeline is built,
  and sleeps with its CPU time flat: polling the ledger): ``ready_s``;
- the clock starts and every file is renamed to its key (complete on arrival, like an upload
  renamed into place: the watcher announces it at once); the harness polls
  ``PostgresStatusStore.counts()`` every 20 ms and the clock stops when every file is DONE
  (``wall_s``: arrival to the last DONE, with the processes already running; their start-up is
  the same for every N and is not what the workers share);
- every process gets SIGTERM and must exit 0; its CPU time and peak RSS come from ``os.wait4``
  (the PostgreSQL server's work is not in them);
- checks: the ledger holds exactly the data set's files, all DONE, and each file's transitions
  (the change stream, ``transitions_after``) are exactly TODO -> PROCESSING -> DONE (so each was
  claimed and done once); the outputs are verified like the small case's (``benchmarks.verify``:
  one Parquet file per input, rows, sum of ``price_change``, timestamps, schema).

Reported per N: ``files_per_s`` (files / wall_s) and the speed-up over N = 1, and the same from
the ledger's own times (``span_s``: the first registration to the last DONE); batches per
worker, from each worker's closing summary line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.datagen import Dataset
from benchmarks.runner import REPO_ROOT, BenchmarkError, Child, Measured, child_env
from benchmarks.verify import mismatches, output_checks

WORKER_COUNTS = (1, 2, 4)
POLL_S = 0.02
IDLE_WINDOW_S = 0.25
IDLE_TICKS = 3  # CPU clock ticks (usually 10 ms each) a polling, idle process may use per window
CLEAN_STEPS = [(None, "TODO"), ("TODO", "PROCESSING"), ("PROCESSING", "DONE")]
_SUMMARY = re.compile(r"registered (\d+), batches (\d+), done (\d+), failed (\d+)")


def write_config(path: Path, landing: Path, output: Path, url: str, batch_files: int) -> None:
    """The config every process of one run reads (see the module docstring)."""
    path.write_text(
        f"""schedule_interval = "100ms"

[landing]
path = {json.dumps(str(landing))}
bucket = "landing"
settle = "0s"
watch = true
reconcile_interval = "10s"

[output]
path = {json.dumps(str(output))}

[ledger]
url = {json.dumps(url)}
pool_size = 2

[engine]
name = "duckdb"
threads = 1

[[workflows]]
name = "ohlcv"
prefix = "ohlcv/"
transform = "ohlcv"
batch_size = {batch_files}
max_batch_files = {batch_files}
max_wait = "0s"
max_batch_bytes = "1GB"
lease = "5m"
"""
    )


def check_steps(steps: dict[str, list[tuple[str | None, str]]], keys: list[str]) -> list[str]:
    """Problems with the ledger's transitions (empty = every file of `keys`, and no other, went
    TODO -> PROCESSING -> DONE exactly once)."""
    problems = []
    missing = sorted(set(keys) - set(steps))
    extra = sorted(set(steps) - set(keys))
    if missing:
        problems.append(f"{len(missing)} file(s) never in the ledger, e.g. {missing[0]!r}")
    if extra:
        problems.append(f"{len(extra)} unexpected file(s) in the ledger, e.g. {extra[0]!r}")
    wrong = [(k, s) for k, s in sorted(steps.items()) if s != CLEAN_STEPS]
    if wrong:
        key, seen = wrong[0]
        problems.append(
            f"{len(wrong)} file(s) not TODO -> PROCESSING -> DONE exactly once, e.g. {key!r}: "
            + " / ".join(f"{old} -> {new}" for old, new in seen)
        )
    return problems


def parse_summary(stdout: str) -> dict[str, int] | None:
    """The counts of `ingestflow run`'s closing line (None when it printed none)."""
    found = _SUMMARY.findall(stdout)
    if not found:
        return None
    registered, batches, done, failed = (int(v) for v in found[-1])
    return {"registered": registered, "batches": batches, "done": done, "failed": failed}


def _transitions(store: Any) -> tuple[dict[str, list[tuple[str | None, str]]], list[Any]]:
    """Every file's (from, to) steps from the change stream, and the transitions themselves."""
    steps: dict[str, list[tuple[str | None, str]]] = {}
    every: list[Any] = []
    checkpoint = 0
    while True:
        page = store.transitions_after(checkpoint, 5000)
        if not page:
            return steps, every
        for t in page:
            old = None if t.old_status is None else str(t.old_status.value)
            steps.setdefault(t.key, []).append((old, str(t.new_status.value)))
        every.extend(page)
        checkpoint = page[-1].id


def _stop(children: list[tuple[str, Child]]) -> list[Measured]:
    for _, child in children:
        if child.running():
            os.kill(child.pid, signal.SIGTERM)
    return [child.wait() for _, child in children]


def proc_info(pid: int) -> tuple[str, int, bool] | None:
    """(state, user + system CPU clock ticks, whether SIGTERM is caught) of a running process,
    from /proc (None when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name: state, ppid, ...
    caught = next(
        (line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0"
    )
    sigterm = bool(int(caught, 16) >> (signal.SIGTERM - 1) & 1)
    return fields[0], int(fields[11]) + int(fields[12]), sigterm  # fields 3, 14, 15 of proc(5)


def wait_until_ready(children: list[tuple[str, Child]], timeout_s: float) -> float:
    """Wait until every process is up: it catches SIGTERM (`ingestflow run` installs its handler
    once the pipeline is built, just before its loop), sleeps, and its CPU time grew by at most
    IDLE_TICKS in each of two consecutive IDLE_WINDOW_S windows (the start-up listing and the
    watcher are done: it polls); the seconds it took. BenchmarkError when one exits or the time
    is up. (CPU time alone would not do: on a busy machine a starved process looks idle.)"""
    started = time.perf_counter()
    before: list[int | None] = [None] * len(children)
    quiet = 0
    while quiet < 2:
        time.sleep(IDLE_WINDOW_S)
        now: list[int | None] = []
        ready = True
        for (role, child), previous in zip(children, before, strict=True):
            found = proc_info(child.pid)
            if found is None or not child.running():
                raise BenchmarkError(
                    f"workers: an `ingestflow run --role {role}` exited while starting\n"
                    + child.tail()
                )
            state, ticks, sigterm = found
            now.append(ticks)
            idle = previous is not None and ticks - previous <= IDLE_TICKS
            ready = ready and sigterm and state == "S" and idle
        quiet = quiet + 1 if ready else 0
        before = now
        if time.perf_counter() - started > timeout_s:
            raise BenchmarkError(f"workers: the processes were not up within {timeout_s:.0f} s")
    return time.perf_counter() - started


def stage(dataset: Dataset, work: Path) -> list[tuple[Path, Path]]:
    """Hard links to the data set's files under temporary names in `work/landing`
    (``<key>.part``, which ingestflow ignores until renamed; a copy when linking fails):
    (temporary file, key path) pairs. Renamed within the watched folder, a file is announced by
    the watcher at once, as an upload renamed into place."""
    pairs = []
    for f in dataset.files:
        target = work / "landing" / f.key
        staged = target.with_name(target.name + ".part")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(dataset.landing / f.key, staged)
        except OSError:
            shutil.copy2(dataset.landing / f.key, staged)
        pairs.append((staged, target))
    return pairs


def run_workers(
    dataset: Dataset, workers: int, server: Any, work: Path, batch_files: int, timeout_s: float
) -> dict[str, Any]:
    """One run with `workers` worker processes (see the module docstring)."""
    from ingestflow.adapters.state.postgres import PostgresStatusStore
    from ingestflow.domain.status import Status

    url = server.new_database()
    output = work / "output"
    output.mkdir()
    pairs = stage(dataset, work)
    config = work / "ingestflow.toml"
    write_config(config, work / "landing", output, url, batch_files)
    cli = [sys.executable, "-m", "ingestflow"]
    setup = subprocess.run(
        [*cli, "setup", "--json", "--config", str(config)],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if setup.returncode != 0:
        raise BenchmarkError(
            f"workers: `ingestflow setup` exited {setup.returncode}: {setup.stderr[-2000:]}"
        )
    n = len(dataset.files)
    store = PostgresStatusStore(url, min_size=1, max_size=1)
    children: list[tuple[str, Child]] = []
    measured: list[Measured] = []
    try:
        for i in range(workers):
            argv = [*cli, "run", "--role", "work", "--config", str(config)]
            children.append(("work", Child(argv, work / "logs" / f"work{i + 1}", timeout_s)))
        argv = [*cli, "run", "--role", "discover", "--config", str(config)]
        children.append(("discover", Child(argv, work / "logs" / "discover", timeout_s)))
        ready_s = wait_until_ready(children, min(timeout_s, 300.0))
        started_at, started = time.time(), time.perf_counter()
        for staged, target in pairs:
            os.replace(staged, target)  # complete on arrival, as an upload renamed into place
        landed_s = time.perf_counter() - started
        deadline = started + timeout_s
        while True:
            counts = store.counts()
            if counts[Status.DONE] >= n:
                wall_s = time.perf_counter() - started
                break
            if counts[Status.FAILED]:
                raise BenchmarkError(f"workers: {counts[Status.FAILED]} file(s) FAILED: {counts}")
            gone = [(role, c) for role, c in children if not c.running()]
            if gone:
                role, child = gone[0]
                raise BenchmarkError(
                    f"workers: an `ingestflow run --role {role}` exited early ({counts})\n"
                    + child.tail()
                )
            if time.perf_counter() > deadline:
                raise BenchmarkError(f"workers: not every file DONE in {timeout_s:.0f} s: {counts}")
            time.sleep(POLL_S)
    finally:
        measured = _stop(children)
    summaries = [parse_summary(c.stdout_path.read_text(errors="replace")) for _, c in children]
    try:
        for (role, child), m in zip(children, measured, strict=True):
            if m.exit_code != 0 or m.timed_out:
                raise BenchmarkError(
                    f"workers: `ingestflow run --role {role}` exited {m.exit_code} after SIGTERM"
                    f"{' (timed out)' if m.timed_out else ''}\n{child.tail()}"
                )
        counts = store.counts()
        steps, transitions = _transitions(store)
    finally:
        store.close()
    problems = check_steps(steps, [f.key for f in dataset.files])
    if counts[Status.DONE] != n or sum(counts.values()) != n:
        problems.append(f"ledger counts { {s.value: c for s, c in counts.items()} }")
    expected = dataset.expected()
    got = output_checks(output)
    problems += mismatches(expected, got)
    if got["parquet_files"] != n:
        problems.append(f"parquet files: expected {n}, got {got['parquet_files']}")
    if problems:
        raise BenchmarkError(
            f"workers ({workers}): the run disagrees with the expected values:\n  "
            + "\n  ".join(problems)
            + f"\n(output kept in {output})"
        )
    registered = [t.at for t in transitions if t.new_status == Status.TODO]
    ended = [t.at for t in transitions if t.new_status == Status.DONE]
    batch_ids = {t.new.get("batch_id") for t in transitions if t.new_status == Status.PROCESSING}
    span_s = max(ended) - min(registered)
    processes: list[dict[str, Any]] = []
    for (role, _), m, summary in zip(children, measured, summaries, strict=True):
        processes.append(
            {
                "role": role,
                "wall_s": m.wall_s,
                "cpu_s": m.cpu_s,
                "peak_rss_mib": m.peak_rss_mib,
                "exit_code": m.exit_code,
                "batches": None if summary is None else summary["batches"],
                "done": None if summary is None else summary["done"],
            }
        )
    return {
        "workers": workers,
        "files": n,
        "batch_files": batch_files,
        "wall_s": wall_s,
        "files_per_s": n / wall_s,
        "ready_s": ready_s,
        "landed_s": landed_s,
        "first_registered_s": min(registered) - started_at,
        "span_s": span_s,
        "span_files_per_s": n / span_s if span_s > 0 else None,
        "batches": len(batch_ids - {None}),
        "cpu_s": sum(p["cpu_s"] for p in processes),
        "peak_rss_mib": max(p["peak_rss_mib"] for p in processes),
        "processes": processes,
        "check": got,
        "expected": expected,
        "check_ok": True,
    }


def remove_outputs(work: Path) -> None:
    """The run's outputs and its landing folder (hard links to the data set's files)."""
    for name in ("output", "landing"):
        shutil.rmtree(work / name, ignore_errors=True)
