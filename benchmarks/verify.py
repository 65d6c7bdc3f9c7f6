"""Checking a contender's output: DuckDB reads its Parquet files back and compares them with the
expected values computed from the input CSVs (``datagen.expected_checks``).

Checked: number of rows, the sum of ``price_change`` (``fsum``, relative tolerance 1e-6), that
every row has a parsed timestamp, the timestamp range, and the output schema (the seven columns
of the ``ohlcv`` transform, prices and volume as DOUBLE).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.datagen import TIMESTAMP_FORMAT, quiet_duckdb

REL_TOLERANCE = 1e-6
EXPECTED_COLUMNS = {
    "timestamp",
    "open_price",
    "high_price",
    "low_price",
    "close_price",
    "volume",
    "price_change",
}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def output_checks(out_dir: Path) -> dict[str, Any]:
    """Row count, sum of price_change, timestamp count/range and schema of `out_dir`'s Parquet."""
    files = sorted(p for p in out_dir.rglob("*.parquet") if p.is_file())
    if not files:
        return {"parquet_files": 0, "rows": 0, "sum_price_change": 0.0, "timestamps": 0}
    listing = "[" + ", ".join(_lit(str(p)) for p in files) + "]"
    source = f"read_parquet({listing}, union_by_name = true, hive_partitioning = false)"
    con = quiet_duckdb()
    try:
        schema = {
            name: str(ctype)
            for name, ctype, *_ in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        }
        rows, total, stamps, lo, hi = con.execute(
            f"SELECT count(*), fsum(price_change), count(timestamp), "
            f"strftime(min(timestamp), '{TIMESTAMP_FORMAT}'), "
            f"strftime(max(timestamp), '{TIMESTAMP_FORMAT}') FROM {source}"
        ).fetchone() or (0, 0.0, 0, None, None)
    finally:
        con.close()
    return {
        "parquet_files": len(files),
        "rows": int(rows),
        "sum_price_change": float(total or 0.0),
        "timestamps": int(stamps),
        "min_ts": lo,
        "max_ts": hi,
        "schema": schema,
    }


def close_enough(a: float, b: float, rel: float = REL_TOLERANCE) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-12


def mismatches(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Human-readable differences between the expected and the measured checks (empty = ok)."""
    problems = []
    for name in ("rows", "timestamps", "min_ts", "max_ts"):
        if expected[name] != got.get(name):
            problems.append(f"{name}: expected {expected[name]!r}, got {got.get(name)!r}")
    if not close_enough(expected["sum_price_change"], got.get("sum_price_change", 0.0)):
        problems.append(
            f"sum(price_change): expected {expected['sum_price_change']!r}, "
            f"got {got.get('sum_price_change')!r} (relative tolerance {REL_TOLERANCE})"
        )
    schema = got.get("schema", {})
    if set(schema) != EXPECTED_COLUMNS:
        problems.append(f"columns: expected {sorted(EXPECTED_COLUMNS)}, got {sorted(schema)}")
    else:
        wrong = {c: t for c, t in schema.items() if c != "timestamp" and t != "DOUBLE"}
        if wrong or not schema["timestamp"].startswith("TIMESTAMP"):
            problems.append(f"column types: {schema}")
    return problems
