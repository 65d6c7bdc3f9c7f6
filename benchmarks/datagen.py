"""Seeded OHLCV CSV generation with DuckDB, cached by (case, size, seed).

Prices follow a smooth curve plus hashed noise, so every row is computed independently (no
random-walk window) and generation runs in parallel: ``hash(i, seed, k)`` makes it reproducible
for a given DuckDB version. Each data set lives in ``<data_dir>/<case>-<size>-seed<seed>/`` with
the CSVs under ``landing/ohlcv/`` and a ``manifest.json`` written last (its presence marks the
data set complete). The manifest also holds the *expected* result of the ``ohlcv`` transform per
file (row count, exact sum of ``Close - Open``, timestamp range), computed once by an independent
DuckDB scan of the CSVs; every contender's output is checked against it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

GENERATOR_VERSION = 1
SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF", "BTCUSD", "ETHUSD", "XAUUSD")
BASE_PRICE = {"USDJPY": 150.0, "BTCUSD": 60000.0, "ETHUSD": 3000.0, "XAUUSD": 2300.0}
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class DataFile:
    """One generated CSV and what the ``ohlcv`` transform must produce from it."""

    key: str  # path relative to the landing root, '/'-separated
    bytes: int
    rows: int
    sum_price_change: float
    min_ts: str
    max_ts: str


@dataclass(frozen=True)
class Dataset:
    """A generated, verified set of CSV files."""

    root: Path
    case: str
    size: str
    seed: int
    files: tuple[DataFile, ...]

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def total_rows(self) -> int:
        return sum(f.rows for f in self.files)

    def paths(self, limit: int | None = None) -> list[Path]:
        """Absolute paths of the first `limit` files (all when None)."""
        return [self.landing / f.key for f in self.files[:limit]]

    def expected(self, limit: int | None = None) -> dict[str, Any]:
        """Expected checks over the first `limit` files (all when None)."""
        chosen = self.files[:limit]
        return {
            "files": len(chosen),
            "rows": sum(f.rows for f in chosen),
            "timestamps": sum(f.rows for f in chosen),
            "sum_price_change": math.fsum(f.sum_price_change for f in chosen),
            "min_ts": min(f.min_ts for f in chosen),
            "max_ts": max(f.max_ts for f in chosen),
        }


def quiet_duckdb() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection without the progress bar (as ingestflow's engine).
    Imported here, not at module level: the Polars and PySpark children must not load DuckDB."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def _row_bytes(base: float) -> float:
    """Approximate CSV bytes per row: date, four prices with 6 decimals, volume, separators."""
    return 20 + 4 * (len(f"{base:.6f}") + 1) + 4.6


def ohlcv_select_sql(rows: int, seed: int, base: float, start: str) -> str:
    """SELECT producing `rows` one-minute candles as text columns Date,Open,High,Low,Close,Volume.

    open = curve(i) * (1 + noise), close = curve(i + 1): consecutive candles are continuous but
    sum(close - open) does not telescope, so it is a meaningful checksum."""

    def curve(i: str) -> str:
        return (
            f"(ln({base!r}) + 0.03 * sin({i} / 7919.0 + {seed % 997}) "
            f"+ 0.01 * sin({i} / 613.0 + {seed % 89}) "
            f"+ 0.0008 * ((hash({i}, {seed}, 1) % 2000001)::DOUBLE / 1000000.0 - 1.0))"
        )

    def uniform(k: int) -> str:
        return f"((hash(i, {seed}, {k}) % 1000001)::DOUBLE / 1000000.0)"

    return f"""
        WITH t AS (
            SELECT i,
                exp({curve("i")}) * (1 + 0.0003 * ({uniform(2)} - 0.5)) AS o,
                exp({curve("(i + 1)")}) AS c,
                {uniform(3)} AS u3, {uniform(4)} AS u4, {uniform(5)} AS u5
            FROM range({rows}) r(i)
        )
        SELECT strftime(TIMESTAMP '{start}' + to_minutes(i), '{TIMESTAMP_FORMAT}') AS Date,
            printf('%.6f', o) AS Open,
            printf('%.6f', greatest(o, c) * (1 + 0.0004 * u3)) AS High,
            printf('%.6f', least(o, c) * (1 - 0.0004 * u4)) AS Low,
            printf('%.6f', c) AS Close,
            CAST(floor(exp(5 + 4 * u5)) AS BIGINT) AS Volume
        FROM t
    """


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def expected_checks(landing: Path, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per file: rows, exact sum of Close - Open, timestamp count and range (typed DuckDB read)."""
    con = quiet_duckdb()
    out: dict[str, dict[str, Any]] = {}
    chunk = 500
    for start in range(0, len(keys), chunk):
        part = keys[start : start + chunk]
        paths = ", ".join(_literal(str(landing / k)) for k in part)
        rows = con.execute(
            f"""
            SELECT filename, count(*), fsum(Close - Open),
                count(strptime(Date, '{TIMESTAMP_FORMAT}')),
                strftime(min(strptime(Date, '{TIMESTAMP_FORMAT}')), '{TIMESTAMP_FORMAT}'),
                strftime(max(strptime(Date, '{TIMESTAMP_FORMAT}')), '{TIMESTAMP_FORMAT}')
            FROM read_csv([{paths}], header = true, auto_detect = false, filename = true,
                columns = {{'Date': 'VARCHAR', 'Open': 'DOUBLE', 'High': 'DOUBLE',
                            'Low': 'DOUBLE', 'Close': 'DOUBLE', 'Volume': 'DOUBLE'}})
            GROUP BY filename
            """
        ).fetchall()
        by_path = {str(landing / k): k for k in part}
        for name, count, total, stamps, lo, hi in rows:
            out[by_path[name]] = {
                "rows": int(count),
                "sum_price_change": float(total),
                "timestamps": int(stamps),
                "min_ts": lo,
                "max_ts": hi,
            }
    con.close()
    missing = [k for k in keys if k not in out]
    if missing:
        raise RuntimeError(f"expected checks missing for {len(missing)} file(s): {missing[:3]}")
    return out


def _plan(case: str, count: int, file_bytes: int) -> list[tuple[str, float, int, str]]:
    """(key, base price, rows, first timestamp) of each file of a data set."""
    plan = []
    for i in range(count):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        base = BASE_PRICE.get(symbol, 1.1 + 0.05 * (i % len(SYMBOLS)))
        rows = max(10, int(file_bytes / _row_bytes(base)))
        if case == "large":
            key = f"ohlcv/{symbol}/{symbol}_{i:02d}.csv"
            start = dt.datetime(2016, 1, 1)
        else:
            start = dt.datetime(2024, 1, 1) + dt.timedelta(days=i // len(SYMBOLS))
            key = f"ohlcv/{symbol}/{start:%Y-%m-%d}.csv"
        plan.append((key, base, rows, f"{start:{TIMESTAMP_FORMAT}}"))
    return plan


def load_dataset(root: Path) -> Dataset | None:
    """The complete data set in `root`, or None when it is absent, partial or outdated."""
    manifest = root / "manifest.json"
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text())
    if data.get("generator_version") != GENERATOR_VERSION:
        return None
    files = tuple(DataFile(**f) for f in data["files"])
    if not all((root / "landing" / f.key).is_file() for f in files):
        return None
    return Dataset(root, data["case"], data["size"], int(data["seed"]), files)


def ensure_dataset(
    data_dir: Path, case: str, size: str, seed: int, count: int, file_bytes: int, log: Any = print
) -> Dataset:
    """The cached data set for (case, size, seed), generating it first when absent."""
    root = data_dir / f"{case}-{size}-seed{seed}"
    found = load_dataset(root)
    if found is not None and len(found.files) == count:
        log(f"  data: reusing {root} ({len(found.files)} files, {found.total_bytes / 1e6:.1f} MB)")
        return found
    shutil.rmtree(root, ignore_errors=True)
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    landing = partial / "landing"
    started = time.perf_counter()
    log(f"  data: generating {count} {case} file(s) of ~{file_bytes / 1e6:.2f} MB in {root}")
    con = quiet_duckdb()
    con_version = str(con.execute("SELECT version()").fetchone()[0])  # type: ignore[index]
    if case != "large":
        con.execute("SET threads = 1")  # tiny files: thread start-up dominates
    plan = _plan(case, count, file_bytes)
    for i, (key, base, rows, start) in enumerate(plan):
        path = landing / key
        path.parent.mkdir(parents=True, exist_ok=True)
        select = ohlcv_select_sql(rows, seed * 100_003 + i, base, start)
        con.execute(f"COPY ({select}) TO {_literal(str(path))} (HEADER, DELIMITER ',')")
    con.close()
    keys = [key for key, _, _, _ in plan]
    checks = expected_checks(landing, keys)
    files = [
        DataFile(
            key=k,
            bytes=(landing / k).stat().st_size,
            rows=checks[k]["rows"],
            sum_price_change=checks[k]["sum_price_change"],
            min_ts=checks[k]["min_ts"],
            max_ts=checks[k]["max_ts"],
        )
        for k in keys
    ]
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "duckdb_version": con_version,
        "case": case,
        "size": size,
        "seed": seed,
        "generated_s": round(time.perf_counter() - started, 3),
        "files": [f.__dict__ for f in files],
    }
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=1))
    partial.rename(root)
    dataset = Dataset(root, case, size, seed, tuple(files))
    log(
        f"  data: {count} files, {dataset.total_bytes / 1e6:.1f} MB, {dataset.total_rows:,} rows "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return dataset


def warm_page_cache(paths: Sequence[Path]) -> None:
    """Read every input once so all contenders start from the same (cached) state."""
    for path in paths:
        with path.open("rb") as stream:
            while stream.read(8 * 1024 * 1024):
                pass
