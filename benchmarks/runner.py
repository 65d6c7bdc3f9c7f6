"""Running a child process and measuring it: wall time, CPU time and peak RSS via ``os.wait4``.

Children are started and reaped by ``benchmarks.launcher``, a small separate process, so their
``ru_maxrss`` does not inherit the harness's own size (see that module). ``os.wait4`` returns the
child's own resource usage plus that of the descendants it waited for (the PySpark contender
reaps its JVM for this reason). ``peak_rss_mib`` is ``ru_maxrss``: the largest resident set of
any single process in that tree, not their sum. ``cpu_s`` is user + system time of the whole
reaped tree. ``wall_s`` runs from just before the spawn to the reap, so it includes interpreter
start-up and imports.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.contender import RESULT_MARKER

REPO_ROOT = Path(__file__).resolve().parent.parent


class BenchmarkError(RuntimeError):
    """A run failed or produced a wrong result: the benchmark stops with this message."""


@dataclass
class Measured:
    """What was measured of one child, and the JSON result the child printed."""

    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    peak_rss_mib: float
    exit_code: int
    timed_out: bool = False
    result: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "user_s": self.user_s,
            "sys_s": self.sys_s,
            "peak_rss_mib": self.peak_rss_mib,
            **self.result,
        }


def child_env() -> dict[str, str]:
    """The environment of every child: ours, minus ingestflow overrides, plus the repo root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTFLOW_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    return env


class Launcher:
    """The harness's handle on its `benchmarks.launcher` process (started on first use)."""

    _instance: Launcher | None = None

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.launcher"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env=child_env(),
        )
        atexit.register(self.close)

    @classmethod
    def get(cls) -> Launcher:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BenchmarkError("the benchmark launcher process died")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise BenchmarkError(f"launcher: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


class Child:
    """A started child process whose stdout/stderr go to files in `log_dir`."""

    def __init__(self, argv: list[str], log_dir: Path, timeout_s: float) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.argv = argv
        self.stdout_path = log_dir / "stdout.txt"
        self.stderr_path = log_dir / "stderr.txt"
        self.timed_out = False
        reply = Launcher.get().call(
            {
                "op": "start",
                "argv": argv,
                "cwd": str(REPO_ROOT),
                "stdout": str(self.stdout_path),
                "stderr": str(self.stderr_path),
                "timeout_s": timeout_s,
            }
        )
        self.pid = int(reply["pid"])

    def running(self) -> bool:
        """Whether the child still runs (exited but not yet reaped counts as not running)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")

    def wait(self) -> Measured:
        """Reap the child (in the launcher, with os.wait4) and return its measurements."""
        r = Launcher.get().call({"op": "wait", "pid": self.pid})
        self.timed_out = bool(r["timed_out"])
        return Measured(
            wall_s=r["wall_s"],
            cpu_s=r["user_s"] + r["sys_s"],
            user_s=r["user_s"],
            sys_s=r["sys_s"],
            peak_rss_mib=r["maxrss_kib"] / 1024.0,
            exit_code=r["exit_code"],
            timed_out=self.timed_out,
        )

    def tail(self, lines: int = 25) -> str:
        text = self.stderr_path.read_text(errors="replace").splitlines()[-lines:]
        out = self.stdout_path.read_text(errors="replace").splitlines()[-5:]
        return "\n".join(["--- stderr (tail) ---", *text, "--- stdout (tail) ---", *out])


def run_task(name: str, args: dict[str, Any], log_dir: Path, timeout_s: float) -> Measured:
    """Run `python -m benchmarks.contender NAME ARGS` once; BenchmarkError when it fails."""
    argv = [sys.executable, "-m", "benchmarks.contender", name, json.dumps(args)]
    child = Child(argv, log_dir, timeout_s)
    measured = child.wait()
    if measured.timed_out:
        raise BenchmarkError(f"{name}: timed out after {timeout_s:.0f} s\n{child.tail()}")
    if measured.exit_code != 0:
        raise BenchmarkError(f"{name}: exited with {measured.exit_code}\n{child.tail()}")
    for line in child.stdout_path.read_text(errors="replace").splitlines():
        if line.startswith(RESULT_MARKER):
            measured.result = json.loads(line[len(RESULT_MARKER) :])
            break
    else:
        raise BenchmarkError(f"{name}: printed no {RESULT_MARKER.strip()} line\n{child.tail()}")
    return measured
