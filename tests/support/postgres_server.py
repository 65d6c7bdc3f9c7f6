"""A throwaway PostgreSQL server for tests: Debian's binaries (`/usr/lib/postgresql/*/bin`,
installed by scripts/system-deps.sh), initdb + pg_ctl run as the OS user `postgres` when the
tests run as root, a data folder under /tmp (pytest's tmp folders are 0700: the server could
not reach them), TCP on 127.0.0.1 at a free port, durability off (fsync, synchronous_commit,
full_page_writes): a test server loses nothing a test needs.

    server = PostgresServer().start()
    url = server.new_database()        # a fresh, empty ledger (schema) per test
    server.stop()

A missing PostgreSQL raises PostgresMissingError: the tests fail, they never skip.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresMissingError(RuntimeError):
    """PostgreSQL's server binaries are not installed."""


def server_binaries() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin holding pg_ctl."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresMissingError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): run"
            " scripts/system-deps.sh (it installs the Debian package `postgresql`)"
        )
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One server in its own folder; `stop()` shuts it down and removes the folder."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = dict(settings or {})
        """Extra server settings (`-c name=value`), e.g. {"shared_buffers": "2GB"}."""
        self.bindir = server_binaries()
        # The server refuses to run as root: switch to the package's `postgres` user.
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="ingestflow-pg-", dir="/tmp"))
        self.root.chmod(0o755)
        if self.user is not None:
            account = pwd.getpwnam(self.user)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.data = self.root / "data"
        self.port = 0
        self._names = itertools.count(1)
        self._running = False
        self._shared = False

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        done = subprocess.run(command, user=self.user, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def start(self) -> PostgresServer:
        """initdb (once) and start the server; a port taken meanwhile is retried."""
        if not self.data.exists():
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--locale=C", "--no-sync", "--no-instructions",
            )  # fmt: skip
        for attempt in range(5):
            self.port = self.port if self.port and attempt == 0 else _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                " -c max_connections=200"
                + "".join(f" -c {name}={value}" for name, value in self.settings.items())
            )
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                    "-w", "-t", "30", "-o", options, "start",
                )  # fmt: skip
            except RuntimeError:
                if attempt == 4:
                    raise
                continue
            self._running = True
            return self
        raise AssertionError("unreachable")

    def restart(self) -> None:
        """Stop and start again on the same port (connections are cut)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self._running = False
        self.start()

    def new_database(self) -> str:
        """The URL of a fresh, empty ledger: a schema of its own in the shared database
        `ledgers` (the URL sets its search_path). A schema costs a millisecond; CREATE
        DATABASE costs a checkpoint (150-200 ms once the server has written anything)."""
        import psycopg
        from psycopg import sql

        name = f"ledger_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            if not self._shared:
                conn.execute("CREATE DATABASE ledgers TEMPLATE template0")
                self._shared = True
        with psycopg.connect(self.url("ledgers"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return f"{self.url('ledgers')}?options=-csearch_path%3D{name}"

    def stop(self) -> None:
        if self._running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self._running = False
        shutil.rmtree(self.root, ignore_errors=True)
