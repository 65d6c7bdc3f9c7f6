"""A throwaway Spark standalone cluster for tests: one master and one worker, started from the
pyspark wheel's own `bin/spark-class` (the wheel has no start-master.sh), on 127.0.0.1 with
ephemeral ports (`--port 0 --webui-port 0`; the master's URL is read from its log), the REST
server off, logs and the worker's folder in a temporary folder.

    cluster = SparkCluster().start()   # ~10 s: master up, then the worker registered
    ... SparkSession.builder.master(cluster.master_url) ...
    cluster.stop()                     # stop the session first

Each daemon runs in a process group of its own (the JVM `spark-class` execs, plus the
executors and Python workers the worker starts); `stop()` sends SIGTERM to both groups, then
SIGKILL to whatever is left, and waits until the groups are empty. A missing Java or pyspark
raises SparkClusterError: the tests fail, they never skip.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
_MASTER_URL = re.compile(r"Starting Spark master at (spark://\S+)")
_LEADER = "I have been elected leader"
_REGISTERED = "Successfully registered with master"


class SparkClusterError(RuntimeError):
    """The cluster could not start (no pyspark, no Java, a daemon died or timed out)."""


def spark_home() -> Path:
    """The pyspark package folder: the wheel's SPARK_HOME (bin/, jars/)."""
    try:
        import pyspark
    except ImportError:
        raise SparkClusterError("pyspark is not installed: install ingestflow[spark]") from None
    return Path(pyspark.__file__).resolve().parent


class _Daemon:
    """One `spark-class` process in its own session, its output in `log`."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._out: IO[bytes] = log.open("wb")
        self.proc = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # pgid == pid: the JVM and everything it starts
        )
        self.pgid = self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, pattern: str | re.Pattern[str], deadline: float) -> re.Match[str]:
        regex = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern
        while True:
            found = regex.search(self.text())
            if found:
                return found
            if self.proc.poll() is not None:
                raise SparkClusterError(
                    f"the spark {self.name} exited {self.proc.returncode} before "
                    f"{regex.pattern!r}; log {self.log}:\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise SparkClusterError(
                    f"the spark {self.name} did not log {regex.pattern!r} in time; "
                    f"log {self.log}:\n{self.tail()}"
                )
            time.sleep(0.2)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def alive(self) -> bool:
        """Whether any process of the group is left (the JVM may have gone, a child not)."""
        self.proc.poll()  # reap the leader, or the group looks alive while it is a zombie
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def send(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, sig)

    def close_log(self) -> None:
        self._out.close()


class SparkCluster:
    """A master and one worker (`cores`, `memory`) on 127.0.0.1. `master_url` once started;
    `logs` holds master.log and worker.log, `work_dir` the executors' folders and stderr."""

    def __init__(self, cores: int = 2, memory: str = "1g", timeout: float = 90) -> None:
        self.cores = cores
        self.memory = memory
        self.timeout = timeout
        self.root = Path(tempfile.mkdtemp(prefix="ingestflow-spark-"))
        self.logs = self.root / "logs"
        self.logs.mkdir()
        self.work_dir = self.root / "work"  # the worker's: one app-* folder per application
        self._master_url: str | None = None
        self._daemons: list[_Daemon] = []
        # A session that dies before its finalizer runs must not leave JVMs behind.
        atexit.register(self._kill)

    @property
    def master_url(self) -> str:
        if self._master_url is None:
            raise SparkClusterError("the cluster is not running: call start() first")
        return self._master_url

    def env(self) -> dict[str, str]:
        """The daemons' environment (see feasibility-scaleout §C2 for why each entry)."""
        home = spark_home()
        venv_bin = str(Path(sys.executable).parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
        env.update(
            SPARK_HOME=str(home),
            PATH=f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
            SPARK_LOCAL_IP="127.0.0.1",
            SPARK_LOCAL_DIRS=str(self.root / "local"),
            SPARK_DAEMON_MEMORY="512m",
            SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false",
            PYSPARK_PYTHON=sys.executable,  # executors' Python: the one with the project
        )
        return env

    def start(self) -> SparkCluster:
        """Start the master, then the worker; return once the worker is registered. On any
        failure everything started is stopped before the error is raised."""
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise SparkClusterError("Spark needs Java 17+: no `java` on PATH and no JAVA_HOME")
        spark_class = str(spark_home() / "bin" / "spark-class")
        env = self.env()
        deadline = time.monotonic() + self.timeout
        try:
            master = self._spawn(
                "master",
                [spark_class, MASTER_CLASS, "--host", "127.0.0.1", "--port", "0"],
                env,
            )
            url = master.wait_for(_MASTER_URL, deadline).group(1)
            master.wait_for(_LEADER, deadline)
            worker = self._spawn(
                "worker",
                [
                    spark_class, WORKER_CLASS, url, "--host", "127.0.0.1", "--port", "0",
                    "--cores", str(self.cores), "--memory", self.memory,
                    "--work-dir", str(self.work_dir),
                ],
                env,
            )  # fmt: skip
            worker.wait_for(_REGISTERED, deadline)
        except BaseException:
            self.stop(remove=False)
            raise
        self._master_url = url
        return self

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> _Daemon:
        daemon = _Daemon(name, [*command, "--webui-port", "0"], env, self.logs / f"{name}.log")
        self._daemons.append(daemon)
        return daemon

    def log_tails(self) -> str:
        """The end of each daemon's log (for a failing test's message)."""
        return "\n".join(f"--- {d.name} ({d.log})\n{d.tail()}" for d in self._daemons)

    def stop(self, *, remove: bool = True, grace: float = 15) -> None:
        """SIGTERM both process groups (worker first: it stops its executors), SIGKILL what
        is left after `grace` seconds, wait until nothing is left. Idempotent. `remove`
        deletes the logs too (kept when a start failed, for the error message's path)."""
        self._master_url = None
        atexit.unregister(self._kill)
        for daemon in reversed(self._daemons):
            daemon.send(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(d.alive() for d in self._daemons) and time.monotonic() < deadline:
            time.sleep(0.1)
        self._kill()
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill(self) -> None:
        for daemon in self._daemons:
            daemon.send(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(d.alive() for d in self._daemons) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [d.name for d in self._daemons if d.alive()]
        for daemon in self._daemons:
            daemon.close_log()
        self._daemons = []
        if left:
            raise SparkClusterError(f"spark {', '.join(left)} still running after SIGKILL")

    def __enter__(self) -> SparkCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
