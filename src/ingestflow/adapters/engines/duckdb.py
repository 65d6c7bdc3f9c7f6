"""DuckDBEngine: the local, in-process engine (CSV -> Parquet with DuckDB).

Each file is read with explicit VARCHAR columns (no type sniffing: it costs milliseconds per
small file and guesses wrong on odd files), cast strictly in SQL, and written to a temporary
Parquet file that is renamed into place, so a crash never leaves a partial output.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestflow.adapters.engines import duckdb_sql as sql
from ingestflow.adapters.engines.duckdb_group import convert_group
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


_GLOB_CHARS = re.compile(r"[*?\[\]{}]")
# I/O errors that mean the input itself is damaged (retrying cannot help).
_CORRUPT_COMPRESSION = re.compile(r"gzip|zlib|decompress|compressed", re.IGNORECASE)


def output_path(output_root: Path, workflow: str, key: str) -> Path:
    """Where the output of `key` goes: derived from the whole key, so equal file names in
    different folders never collide."""
    return output_root / workflow / f"{key}.parquet"


def _failed(record: FileRecord, exc: FileProcessingError) -> FileOutcome:
    return FileOutcome.failed(record.key, record.etag, str(exc), retryable=exc.retryable)


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
        compression: str = "snappy",
        small_file_bytes: int = 4 * 1024 * 1024,
        group_files: int = 500,
        group_bytes: int = 64 * 1024 * 1024,
        owner: str | None = None,
        owner_is_dead: Callable[[str], bool] | None = None,
    ) -> None:
        self.landing_root = Path(landing_root)
        self.output_root = Path(output_root)
        # DuckDB spells "no compression" 'uncompressed'; pyarrow spells it 'none'.
        self.compression = "uncompressed" if compression == "none" else compression
        self.small_file_bytes = small_file_bytes
        self.group_files = group_files
        self.group_bytes = group_bytes
        self._missing_cache: dict[tuple[TransformSpec, tuple[str, ...]], list[str]] = {}
        # Each process writes into its own temporary folder (outputs are renamed out of it), so
        # several processes can share one output root; leftovers of dead ones are cleared.
        tmp_root = self.output_root / TMP_DIR
        self._tmp = tmp_root / (owner or f"engine-{uuid.uuid4().hex}").replace(":", "-")
        shutil.rmtree(self._tmp, ignore_errors=True)
        if owner_is_dead is not None and tmp_root.is_dir():
            for leftover in tmp_root.iterdir():
                host, _, pid = leftover.name.rpartition("-")
                if owner_is_dead(f"{host}:{pid}"):
                    shutil.rmtree(leftover, ignore_errors=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        config: dict[str, str | bool | int | float | list[str]] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._con = duckdb.connect(":memory:", config=config)
        self._con.execute("SET enable_progress_bar = false")

    def run(
        self, workflow: str, files: Sequence[FileRecord], spec: TransformSpec
    ) -> Iterator[list[FileOutcome]]:
        """Small files with the same header go through one multi-file query (per-file query
        overhead dominates them); large files, and any group whose query fails, go one by one
        so a bad file fails alone with its own reason."""
        groups: dict[tuple[tuple[str, ...], str], list[tuple[FileRecord, CsvInput]]] = {}
        rejected: list[FileOutcome] = []
        for record in files:
            try:
                csv_input = self._inspect(record.key, spec)
            except FileProcessingError as exc:
                rejected.append(_failed(record, exc))
                continue
            if record.size > self.small_file_bytes or _GLOB_CHARS.search(record.key):
                yield [self._single(workflow, record, csv_input, spec)]
            else:
                groups.setdefault((csv_input.header, csv_input.compression), []).append(
                    (record, csv_input)
                )
        if rejected:
            yield rejected
        for members in groups.values():
            yield from self._group_in_chunks(workflow, members, spec)

    def _group_in_chunks(
        self, workflow: str, members: list[tuple[FileRecord, CsvInput]], spec: TransformSpec
    ) -> Iterator[list[FileOutcome]]:
        """Bound each multi-file query by file count and bytes (it is materialised in memory)."""
        chunk: list[tuple[FileRecord, CsvInput]] = []
        size = 0
        for member in members:
            if chunk and (len(chunk) >= self.group_files or size >= self.group_bytes):
                yield from self._group(workflow, chunk, spec)
                chunk, size = [], 0
            chunk.append(member)
            size += member[0].size
        if chunk:
            yield from self._group(workflow, chunk, spec)

    def process_file(self, workflow: str, record: FileRecord, spec: TransformSpec) -> FileOutcome:
        """Convert one file on its own."""
        try:
            csv_input = self._inspect(record.key, spec)
        except FileProcessingError as exc:
            return _failed(record, exc)
        return self._single(workflow, record, csv_input, spec)

    def _inspect(self, key: str, spec: TransformSpec) -> CsvInput:
        try:
            csv_input = inspect_csv(self.landing_root / key, spec.delimiter)
        except FileNotFoundError:
            raise TerminalError(f"input file is gone: {key}") from None
        except OSError as exc:
            raise TransientError(f"cannot read {key}: {exc}") from None
        missing = self._missing(spec, csv_input.header)
        if missing:
            hint = ""
            if len(csv_input.header) == 1:
                for other in (";", "\t", "|"):
                    if other in csv_input.header[0]:
                        hint = f" (the header looks {other!r}-delimited: set options.delimiter)"
            found = ", ".join(csv_input.header)
            found = found if len(found) <= 200 else found[:197] + "..."
            raise TerminalError(
                f"missing required column(s) {', '.join(missing)}; header has: {found}{hint}"
            )
        return csv_input

    def _missing(self, spec: TransformSpec, header: tuple[str, ...]) -> list[str]:
        """Required columns absent from `header` (cached: batches repeat a few headers)."""
        cache_key = (spec, header)
        if cache_key not in self._missing_cache:
            if len(self._missing_cache) > 1000:
                self._missing_cache.clear()
            self._missing_cache[cache_key] = spec.bound_to(header).missing_columns(header)
        return self._missing_cache[cache_key]

    def _group(
        self, workflow: str, members: list[tuple[FileRecord, CsvInput]], spec: TransformSpec
    ) -> Iterator[list[FileOutcome]]:
        """One query for the whole group; when it fails, split it in halves (a bad file costs
        a few extra queries, not one query per file) down to single files."""
        if len(members) < 4:
            for record, csv_input in members:
                yield [self._single(workflow, record, csv_input, spec)]
            return
        tmp_dir = self._tmp / uuid.uuid4().hex
        try:
            written = convert_group(
                self._con, [c for _, c in members], spec, tmp_dir, self.compression
            )
        except (duckdb.Error, pa.ArrowException, OSError):
            shutil.rmtree(tmp_dir, ignore_errors=True)
            half = len(members) // 2
            yield from self._group(workflow, members[:half], spec)
            yield from self._group(workflow, members[half:], spec)
            return
        together: list[FileOutcome] = []
        alone: list[tuple[FileRecord, CsvInput]] = []
        for i, (record, csv_input) in enumerate(members):
            if i not in written:
                alone.append((record, csv_input))
                continue
            part, rows = written[i]
            target = output_path(self.output_root, workflow, record.key)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(part, target)
            except OSError as exc:
                together.append(_failed(record, TransientError(f"cannot write output: {exc}")))
                continue
            together.append(FileOutcome.done(record.key, record.etag, str(target), rows))
        shutil.rmtree(tmp_dir, ignore_errors=True)
        yield together
        for record, csv_input in alone:
            yield [self._single(workflow, record, csv_input, spec)]

    def _single(
        self, workflow: str, record: FileRecord, csv_input: CsvInput, spec: TransformSpec
    ) -> FileOutcome:
        try:
            target, rows = self._convert(workflow, record.key, csv_input, spec)
        except FileProcessingError as exc:
            return _failed(record, exc)
        return FileOutcome.done(record.key, record.etag, str(target), rows)

    def _convert(
        self, workflow: str, key: str, csv_input: CsvInput, spec: TransformSpec
    ) -> tuple[Path, int]:
        with self._readable(csv_input.path) as path:
            return self._convert_path(workflow, key, csv_input, spec, path)

    @contextmanager
    def _readable(self, path: Path) -> Iterator[str]:
        """A path DuckDB reads literally. DuckDB expands glob characters (* ? [ {) in file
        names, so such a file is read through a plain-named link in the temporary folder."""
        if not _GLOB_CHARS.search(str(path)):
            yield str(path)
            return
        link = self._tmp / f"{uuid.uuid4().hex}{''.join(path.suffixes[-2:])}"
        link.symlink_to(path.resolve())
        try:
            yield str(link)
        finally:
            link.unlink(missing_ok=True)

    def _convert_path(
        self, workflow: str, key: str, csv_input: CsvInput, spec: TransformSpec, path: str
    ) -> tuple[Path, int]:
        header, compression = csv_input.header, csv_input.compression
        spec = spec.bound_to(header)
        types = sql.reader_types(spec, header)
        source = sql.read_csv_sql(path, header, compression, spec.delimiter, types)
        target = output_path(self.output_root, workflow, key)
        tmp = self._tmp / f"{uuid.uuid4().hex}.parquet.tmp"
        query = sql.select_sql(spec, source, header)
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
            text_source = sql.read_csv_sql(path, header, compression, spec.delimiter)
            raise TerminalError(self._diagnose(spec, text_source, csv_input, exc)) from None
        except (duckdb.IOException, OSError) as exc:
            tmp.unlink(missing_ok=True)
            if _CORRUPT_COMPRESSION.search(str(exc)):
                raise TerminalError(f"corrupt compressed data: {_short(str(exc))}") from None
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
        shutil.rmtree(self._tmp, ignore_errors=True)
