"""The engines the engine contract suite runs against.

Each entry builds an `Engine` on a landing folder and an output folder, with the engine's own
options for "group small files" or "one file at a time" (`small_file_bytes`). Spark needs a
running session: the suite starts one per module (`spark_session` in the test module) and every
SparkEngine reuses it (an engine stops only a session it created itself).

To put a new engine under contract, add one `EngineFactory` to `ENGINES`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestflow.ports import Engine

# A file this size or larger goes one by one; smaller files share one query or job.
ONE_BY_ONE = 0
GROUPED = 4 * 1024 * 1024


@dataclass(frozen=True)
class EngineFactory:
    name: str
    make: Callable[[Path, Path, int], Engine]
    """Build an engine on (landing root, output root, small_file_bytes)."""
    slow: bool = False


def _duckdb(landing: Path, output: Path, small_file_bytes: int) -> Engine:
    from ingestflow.adapters.engines.duckdb import DuckDBEngine

    return DuckDBEngine(landing, output, small_file_bytes=small_file_bytes)


def _spark(landing: Path, output: Path, small_file_bytes: int) -> Engine:
    from ingestflow.adapters.engines.spark import SparkEngine

    return SparkEngine(landing, output, master="local[2]", small_file_bytes=small_file_bytes)


ENGINES: tuple[EngineFactory, ...] = (
    EngineFactory("duckdb", _duckdb),
    EngineFactory("spark", _spark, slow=True),
)


def engine_factory(name: str) -> EngineFactory:
    for factory in ENGINES:
        if factory.name == name:
            return factory
    known = ", ".join(f.name for f in ENGINES)
    raise LookupError(f"unknown engine {name!r} (known: {known})")


def start_spark_session() -> Any:
    """A local[2] session on the loopback interface, for the engines of one test module."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from ingestflow.adapters.engines.spark_session import start_session

    session, _ = start_session("local[2]", {}, "snappy")
    return session
