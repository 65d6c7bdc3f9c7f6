"""DuckDBEngine: the local, in-process engine (CSV -> Parquet with DuckDB).

Each file is read with explicit VARCHAR columns (no type sniffing: it costs milliseconds per
small file and guesses wrong on odd files), cast strictly in SQL, and written to a temporary
Parquet file that is renamed into place, so a crash never leaves a partial output.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb

from ingestflow.adapters.engines import duckdb_sql as sql
from ingestflow.adapters.engines.inputs import CsvInput, inspect_csv
from ingestflow.domain.errors import FileProcessingError, TerminalError, TransientError
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.transform import TransformSpec

TMP_DIR = ".ingestflow-tmp"
_TERMINAL_DUCKDB = (
    duckdb.ConversionException,
    duckdb.InvalidInputException,
    duckdb.BinderException,
    duckdb.ParserException,
    duckdb.OutOfRangeException,
)


def output_path(output_root: Path, workflow: str, key: str) -> Path:
    """Where the output of `key` goes: derived from the whole key, so equal file names in
    different folders never collide."""
    return output_root / workflow / f"{key}.parquet"


def _short(message: str, limit: int = 400) -> str:
    text = " ".join(message.strip().splitlines()[:3])
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DuckDBEngine:
    """Engine port on DuckDB. `threads`/`memory_limit` bound what one batch may use."""

    def __init__(
        self,
        landing_root: Path,
        output_root: Path,
        threads: int | None = None,
        memory_limit: str | None = None,
        compression: str = "zstd",
    ) -> None:
        self.landing_root = Path(landing_root)
        self.output_root = Path(output_root)
        self.compression = compression
        self._tmp = self.output_root / TMP_DIR
        # Leftovers of a crashed run are never outputs; clear them.
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        config: dict[str, str | bool | int | float | list[str]] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._con = duckdb.connect(":memory:", config=config)

    def run(
        self, workflow: str, files: Sequence[FileRecord], spec: TransformSpec
    ) -> Iterator[FileOutcome]:
        for record in files:
            yield self.process_file(workflow, record, spec)

    def process_file(self, workflow: str, record: FileRecord, spec: TransformSpec) -> FileOutcome:
        try:
            target, rows = self._convert(workflow, record.key, spec)
        except FileProcessingError as exc:
            return FileOutcome.failed(record.key, record.etag, str(exc), retryable=exc.retryable)
        return FileOutcome.done(record.key, record.etag, str(target), rows)

    def _convert(self, workflow: str, key: str, spec: TransformSpec) -> tuple[Path, int]:
        source_path = self.landing_root / key
        delimiter = spec.delimiter
        try:
            csv_input = inspect_csv(source_path, delimiter)
        except FileNotFoundError:
            raise TerminalError(f"input file is gone: {key}") from None
        except OSError as exc:
            raise TransientError(f"cannot read {key}: {exc}") from None
        missing = spec.missing_columns(csv_input.header)
        if missing:
            raise TerminalError(
                f"missing required column(s) {', '.join(missing)}; "
                f"header has: {', '.join(csv_input.header)}"
            )
        source = sql.read_csv_sql(
            str(source_path), csv_input.header, csv_input.compression, delimiter
        )
        target = output_path(self.output_root, workflow, key)
        tmp = self._tmp / f"{uuid.uuid4().hex}.parquet.tmp"
        query = sql.select_sql(spec, source, csv_input.header)
        try:
            result = self._con.execute(
                f"COPY ({query}) TO {sql.literal(str(tmp))} "
                f"(FORMAT parquet, COMPRESSION {self.compression})"
            ).fetchone()
            rows = int(result[0]) if result else 0
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        except _TERMINAL_DUCKDB as exc:
            tmp.unlink(missing_ok=True)
            raise TerminalError(self._diagnose(spec, source, csv_input, exc)) from None
        except (duckdb.IOException, OSError) as exc:
            tmp.unlink(missing_ok=True)
            raise TransientError(f"I/O error: {_short(str(exc))}") from None
        except duckdb.Error as exc:
            tmp.unlink(missing_ok=True)
            raise TransientError(f"engine error: {_short(str(exc))}") from None
        return target, rows

    def _diagnose(
        self, spec: TransformSpec, source: str, csv_input: CsvInput, exc: Exception
    ) -> str:
        """Name the column, row and value that broke the strict cast, when one did."""
        for rule in spec.columns:
            if rule.type == "varchar" or rule.source not in csv_input.header:
                continue
            try:
                found = self._con.execute(sql.first_bad_value_sql(rule, source)).fetchone()
            except duckdb.Error:
                break  # the file itself is malformed; report the engine's message
            if found:
                row, value = found
                expected = (
                    f"{rule.type} (formats: {', '.join(rule.parse_formats())})"
                    if rule.type in ("timestamp", "date")
                    else rule.type
                )
                return f"column '{rule.source}', row {row}: cannot parse {value!r} as {expected}"
        return f"malformed CSV: {_short(str(exc))}"

    def close(self) -> None:
        self._con.close()
