"""Helpers for the end-to-end tests: the CLI as a subprocess, configs, CSV data, expectations.

Everything here reads results only through the documented contract: the CLI's JSON output, its
exit codes and the Parquet files under `<output>/<workflow>/<key>.parquet`.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.parquet as pq

CLI = [sys.executable, "-m", "ingestflow"]
STATUSES = ("TODO", "PROCESSING", "DONE", "FAILED")
OHLCV_COLUMNS = {
    "Open": "open_price",
    "High": "high_price",
    "Low": "low_price",
    "Close": "close_price",
    "Volume": "volume",
}
CLEAN_HISTORY = [(None, "TODO"), ("TODO", "PROCESSING"), ("PROCESSING", "DONE")]

T = TypeVar("T")

_HISTORIES_SCRIPT = """
import contextlib, io, json, sys
from ingestflow.entrypoints.cli.app import app
config, found = sys.argv[1], {}
for key in json.load(sys.stdin):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = app(["history", key, "--json", "--config", config], standalone_mode=False)
    if code:
        sys.exit(f"history {key} exited {code}")
    found[key] = json.loads(out.getvalue())
json.dump(found, sys.stdout)
"""


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without INGESTFLOW_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTFLOW_")}
    env.update(extra or {})
    return env


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    message: str | Callable[[], str],
    interval: float = 0.2,
) -> T:
    """Call `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:.0f}s: {text}")
        time.sleep(interval)


def parse_iso(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


# -- the CLI ---------------------------------------------------------------------------------


@dataclass
class Project:
    """A folder with an ingestflow.toml, driven through the real CLI."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "ingestflow.toml"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def output(self) -> Path:
        return self.root / "output"

    def cli(
        self,
        *args: str,
        expect: int | None = 0,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run `ingestflow ARGS --config <config>`; assert the exit code when `expect` is set."""
        cmd = [*CLI, *args, "--config", str(self.config)]
        result = subprocess.run(
            cmd,
            cwd=self.root,
            env=clean_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if expect is not None:
            assert result.returncode == expect, (
                f"{' '.join(args)} exited {result.returncode}, expected {expect}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return json.loads(self.cli(*args, "--json", env=env).stdout)

    def counts(self) -> dict[str, int]:
        data = self.json("status")
        return dict(data["counts"])

    def files(self, *filters: str) -> list[dict[str, Any]]:
        return list(self.json("files", *filters))

    def by_key(self, *filters: str) -> dict[str, dict[str, Any]]:
        return {f["key"]: f for f in self.files(*filters)}

    def history(self, key: str) -> list[dict[str, Any]]:
        return list(self.json("history", key))

    def histories(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """`history KEY --json` for many keys. A Python process costs ~0.35 s of CPU to start,
        so one subprocess runs the CLI's own command (the Typer app `ingestflow` runs) once per
        key; the first few keys are also asked through `python -m ingestflow` and must match."""
        result = subprocess.run(
            [sys.executable, "-c", _HISTORIES_SCRIPT, str(self.config)],
            input=json.dumps(list(keys)),
            cwd=self.root,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        found: dict[str, list[dict[str, Any]]] = json.loads(result.stdout)
        assert list(found) == list(keys)
        for key in list(keys)[:3]:
            assert self.history(key) == found[key], key
        return found

    def run_once(self, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        return self.cli("run", "--once", expect=expect)

    @contextlib.contextmanager
    def running(self, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
        """`ingestflow run` (continuous) in the background; always stopped and reaped."""
        out = (self.root / "run.stdout").open("ab")
        err = (self.root / "run.stderr").open("ab")
        proc = subprocess.Popen(
            [*CLI, "run", "--config", str(self.config), *extra],
            cwd=self.root,
            env=clean_env(),
            stdout=out,
            stderr=err,
        )
        try:
            yield proc
        finally:
            try:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                proc.wait(timeout=15)
            finally:
                out.close()
                err.close()

    def run_log(self) -> str:
        path = self.root / "run.stderr"
        return path.read_text(errors="replace") if path.exists() else ""

    def output_for(self, workflow: str, key: str) -> Path:
        return self.output / workflow / f"{key}.parquet"

    def outputs(self, workflow: str) -> list[Path]:
        return sorted((self.output / workflow).rglob("*.parquet"))


def write_config(
    root: Path,
    workflows: Sequence[dict[str, Any]],
    *,
    settle: str = "0s",
    schedule_interval: str = "250ms",
    engine_threads: int | None = 1,
    extra: str = "",
) -> Project:
    """Write `root/ingestflow.toml` for the embedded default with the given workflows."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [
        f'schedule_interval = "{schedule_interval}"',
        "",
        "[landing]",
        'path = "landing"',
        f'settle = "{settle}"',
        "",
        "[output]",
        'path = "output"',
        "",
        "[ledger]",
        'url = "sqlite://.ingestflow/ledger.db"',
        "",
        "[engine]",
        'name = "duckdb"',
    ]
    if engine_threads:
        lines.append(f"threads = {engine_threads}")
    for workflow in workflows:
        lines += ["", "[[workflows]]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in workflow.items()]
    text = "\n".join(lines) + "\n" + extra
    (root / "ingestflow.toml").write_text(text, encoding="utf-8")
    (root / "landing").mkdir(exist_ok=True)
    return Project(root)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def workflow(name: str, prefix: str, **settings: Any) -> dict[str, Any]:
    return {"name": name, "prefix": prefix, "transform": "ohlcv", **settings}


# -- CSV data ---------------------------------------------------------------------------------


def ohlcv_csv(
    rng: random.Random,
    rows: int,
    *,
    variant: int = 0,
    start: dt.datetime = dt.datetime(2024, 1, 1),
) -> bytes:
    """A realistic OHLCV CSV. `variant` varies the shape the way real exports do: column order,
    extra text columns (quoted, with commas), CRLF line ends, a BOM, date-only dates, empty
    values, surrounding spaces, scientific notation."""
    header = ["Date", "Open", "High", "Low", "Close", "Volume"]
    if variant % 5 == 1:
        header = ["Volume", "Close", "Date", "Low", "Open", "High"]
    if variant % 5 in (2, 4):
        header = ["Symbol", *header, "Note"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if variant % 5 == 3 else "\n")
    writer.writerow(header)
    price = rng.uniform(0.5, 2000.0)
    when = start + dt.timedelta(minutes=rng.randrange(0, 10_000))
    for i in range(rows):
        open_ = price
        close = open_ * (1 + rng.gauss(0, 0.002))
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.001)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.001)))
        values = {
            "Date": f"{when:%Y-%m-%d}" if variant % 5 == 4 else f"{when:%Y-%m-%d %H:%M:%S}",
            "Open": f"{open_:.6f}",
            "High": repr(high),  # full precision, sometimes scientific notation
            "Low": f"{low:.4e}" if variant % 2 else f"{low:.5f}",
            "Close": f" {close:.6f} " if variant % 5 == 2 else f"{close:.6f}",
            "Volume": str(rng.randrange(0, 10**6)),
            "Symbol": rng.choice(["EURUSD", "BTC-USD", "X,Y"]),
            "Note": rng.choice(["", "ok", 'said "hi", then left', " padded "]),
        }
        if variant % 7 == 6 and i % 4 == 2:
            values["Volume"] = ""  # empty values become nulls
        writer.writerow([values[h] for h in header])
        price = close
        when += dt.timedelta(days=1) if variant % 5 == 4 else dt.timedelta(minutes=1)
    data = out.getvalue().encode("utf-8")
    return b"\xef\xbb\xbf" + data if variant % 11 == 10 else data


def write_file(path: Path, data: bytes, *, atomic: bool = False) -> Path:
    """Write `data` at `path` (creating folders); `atomic` writes a `.part` file and renames it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if atomic:
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    else:
        path.write_bytes(data)
    return path


def drop_ohlcv_files(
    landing: Path, keys: Sequence[str], seed: int, rows: int = 20, atomic: bool = False
) -> dict[str, bytes]:
    """Write one varied OHLCV file per key (`.csv.gz` keys are gzipped); return key -> bytes."""
    rng = random.Random(seed)
    written = {}
    for i, key in enumerate(keys):
        data = ohlcv_csv(rng, rows + rng.randrange(0, 15), variant=seed + i)
        if key.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        write_file(landing / key, data, atomic=atomic)
        written[key] = data
    return written


# -- expectations -----------------------------------------------------------------------------


def _float_or_none(text: str) -> float | None:
    text = text.strip()
    return None if text == "" else float(text)


def _timestamp(text: str) -> dt.datetime | None:
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            pass
    raise ValueError(f"test data has an unparseable date: {text!r}")


def expected_rows(data: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    """Independent computation of the `ohlcv` transform: (output columns, rows)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header = next(reader)
    columns = []
    for name in header:
        columns.append("timestamp" if name == "Date" else OHLCV_COLUMNS.get(name, name))
    columns.append("price_change")
    rows = []
    for values in reader:
        record: dict[str, Any] = {}
        for name, value in zip(header, values, strict=True):
            if name == "Date":
                record["timestamp"] = _timestamp(value)
            elif name in OHLCV_COLUMNS:
                record[OHLCV_COLUMNS[name]] = _float_or_none(value)
            else:
                record[name] = None if value == "" else value
        opened, closed = record["open_price"], record["close_price"]
        record["price_change"] = None if opened is None or closed is None else closed - opened
        rows.append(record)
    return columns, rows


def _row_sort_key(row: dict[str, Any]) -> str:
    return repr(sorted(row.items()))


def assert_output_matches(path: Path, data: bytes, *, ordered: bool = True) -> None:
    """The Parquet output at `path` holds exactly what the transform of `data` must give: the
    same columns in the same order and the same values (row order too, when `ordered`)."""
    assert path.is_file(), f"missing output {path}"
    table = pq.read_table(path)
    columns, rows = expected_rows(data)
    assert table.column_names == columns, path
    actual = table.to_pylist()
    assert len(actual) == len(rows), f"{path}: {len(actual)} rows, expected {len(rows)}"
    if not ordered:
        actual = sorted(actual, key=_row_sort_key)
        rows = sorted(rows, key=_row_sort_key)
    for i, (got, want) in enumerate(zip(actual, rows, strict=True)):
        assert got == want, f"{path} row {i + 1}: got {got}, expected {want}"


def rewrite(path: Path, data: bytes) -> None:
    """Replace a landing file's content; its mtime always changes (a new version)."""
    before = path.stat().st_mtime_ns
    path.write_bytes(data)
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def transitions(history: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return [(t["from"], t["to"]) for t in history]
