"""A tiny process that starts and reaps the measured children: ``python -m benchmarks.launcher``.

Why: a child's ``ru_maxrss`` starts from the resident size of the process that forked it (fork
copies the address space; vfork shares it until exec), so children spawned by the harness itself
— grown by DuckDB checks and data generation — would all report at least the harness's size.
This launcher imports nothing heavy and stays at ~10 MiB, so a child's peak RSS is its own.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.

- ``{"op": "start", "argv": [...], "cwd": ..., "stdout": path, "stderr": path,
  "timeout_s": s}`` -> ``{"pid": n}``; the child is killed (SIGKILL) after ``timeout_s``.
- ``{"op": "wait", "pid": n}`` -> ``{"wall_s", "user_s", "sys_s", "maxrss_kib", "exit_code",
  "timed_out"}`` from ``os.wait4`` (the child plus the descendants it reaped).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any


class _Started:
    def __init__(self, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
        self.proc = proc
        self.started = time.perf_counter()
        self.timed_out = False
        self.timer = threading.Timer(timeout_s, self.kill)
        self.timer.daemon = True
        self.timer.start()

    def kill(self) -> None:
        self.timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)


def _start(request: dict[str, Any], children: dict[int, _Started]) -> dict[str, Any]:
    with open(request["stdout"], "wb") as out, open(request["stderr"], "wb") as err:
        proc = subprocess.Popen(
            request["argv"],
            cwd=request.get("cwd"),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    children[proc.pid] = _Started(proc, float(request["timeout_s"]))
    return {"pid": proc.pid}


def _wait(request: dict[str, Any], children: dict[int, _Started]) -> dict[str, Any]:
    child = children.pop(int(request["pid"]))
    _, status, usage = os.wait4(child.proc.pid, 0)
    wall = time.perf_counter() - child.started
    child.timer.cancel()
    code = os.waitstatus_to_exitcode(status)
    child.proc.returncode = code  # reaped here; keep Popen from waiting again
    return {
        "wall_s": wall,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "maxrss_kib": usage.ru_maxrss,
        "exit_code": code,
        "timed_out": child.timed_out,
    }


def main() -> int:
    children: dict[int, _Started] = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            if request["op"] == "start":
                reply = _start(request, children)
            elif request["op"] == "wait":
                reply = _wait(request, children)
            else:
                reply = {"error": f"unknown op {request['op']!r}"}
        except Exception as exc:  # reported to the harness, which raises
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    for child in children.values():
        child.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
