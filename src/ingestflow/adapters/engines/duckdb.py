"""DuckDBEngine: the local, in-process engine (CSV -> Parquet with DuckDB).

Each file is read with explicit columns (no type sniffing: it costs milliseconds per small file
and guesses wrong on odd files), cast strictly in SQL, and written to a temporary Parquet file
that is renamed into place, so a crash never leaves a partial output.

Inputs are opened through `LandingFiles` (the symbolic-link policy, checked on the descriptor
DuckDB then reads); outputs go where `ingestflow.domain.outputs` says (`output_files`). Every
DuckDB error becomes a file error through `engine_errors.summarise` (cause first, one line).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestflow.adapters.engines import duckdb_sql as sql
from ingestflow.adapters.engines.duckdb_group import convert_group
from ingestflow.adapters.engines.duckdb_single import convert_file
from ingestflow.adapters.engines.inputs import CsvInput, inspect_stream, missing_columns_error
from ingestflow.adapters.engines.landing_files import LandingFiles, open_file_budget
from ingestflow.adapters.engines.output_files import (
    check_writable,
    output_path,
    place,
    temporary_folder,
)
from ingestflow.adapters.engines.polars_fast import convert_fast
from ingestflow.domain.errors import FileProcessingError, TerminalError, TransientError
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.transform import TransformSpec

__all__ = ["TMP_DIR", "DuckDBEngine", "output_path"]

TMP_DIR = ".ingestflow-tmp"
_GLOB_CHARS = re.compile(r"[*?\[\]{}]")


def _failed(record: FileRecord, exc: FileProcessingError) -> FileOutcome:
    return FileOutcome.failed(record.key, record.etag, str(exc), retryable=exc.retryable)


class DuckDBEngine:
    """Engine port on DuckDB. `threads`/`memory_limit` bound what one batch may use;
    `follow_symlinks` is the landing folder's link policy (see `landing_files`).

    The constructor raises `OutputFolderError` (one line) when the output folder cannot be
    written; `check_output_writable` repeats that check at any time."""

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
        follow_symlinks: bool = False,
        fast_path: bool = True,
    ) -> None:
        self.landing_root = Path(landing_root)
        # Large files try the Polars fast path first (when Polars is installed).
        self.fast_path = fast_path
        self.output_root = Path(output_root)
        self._files = LandingFiles(self.landing_root, follow_symlinks=follow_symlinks)
        # DuckDB spells "no compression" 'uncompressed'; pyarrow spells it 'none'.
        self.compression = "uncompressed" if compression == "none" else compression
        self.small_file_bytes = small_file_bytes
        self.group_files = min(group_files, open_file_budget())
        self.group_bytes = group_bytes
        self._missing_cache: dict[tuple[TransformSpec, tuple[str, ...]], list[str]] = {}
        self._tmp = temporary_folder(self.output_root / TMP_DIR, owner, owner_is_dead)
        config: dict[str, str | bool | int | float | list[str]] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._con = duckdb.connect(":memory:", config=config)
        self._con.execute("SET enable_progress_bar = false")
        # Inputs are read through /proc/self/fd/N, names reused for other files later: never
        # let a cache keyed by path serve one file's bytes for another.
        with suppress(duckdb.Error):  # a DuckDB without that cache
            self._con.execute("SET enable_external_file_cache = false")

    def check_output_writable(self) -> None:
        """Raise OutputFolderError ("output folder /x is not writable: Permission denied")
        unless a file can be created in the output folder and in the engine's temporary one."""
        check_writable(self.output_root)
        check_writable(self._tmp, "temporary folder")

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
                output_path(self.output_root, workflow, record.key)  # refused up front
                csv_input = self._inspect(record.key, spec)
            except FileProcessingError as exc:
                rejected.append(_failed(record, exc))
                continue
            if (
                record.size > self.small_file_bytes
                or _GLOB_CHARS.search(record.key)
                or csv_input.final_line_bytes > sql.DEFAULT_MAX_LINE_SIZE
            ):
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
            output_path(self.output_root, workflow, record.key)
            csv_input = self._inspect(record.key, spec)
        except FileProcessingError as exc:
            return _failed(record, exc)
        return self._single(workflow, record, csv_input, spec)

    def _open(self, key: str) -> int:
        """A verified descriptor on the landing file `key`; FileProcessingError otherwise."""
        try:
            return self._files.open(key)
        except FileNotFoundError:
            raise TerminalError(f"input file is gone: {key}") from None
        except OSError as exc:
            raise TransientError(f"cannot read {key}: {exc.strerror or exc}") from None

    def _inspect(self, key: str, spec: TransformSpec) -> CsvInput:
        fd = self._open(key)
        try:
            with os.fdopen(fd, "rb") as raw:
                csv_input = inspect_stream(raw, self.landing_root / key, spec.delimiter)
        except OSError as exc:
            raise TransientError(f"cannot read {key}: {exc.strerror or exc}") from None
        missing = self._missing(spec, csv_input.header)
        if missing:
            raise missing_columns_error(csv_input.header, missing)
        return csv_input

    def _missing(self, spec: TransformSpec, header: tuple[str, ...]) -> list[str]:
        """Required columns absent from `header` (cached: batches repeat a few headers)."""
        cache_key = (spec, header)
        if cache_key not in self._missing_cache:
            if len(self._missing_cache) > 1000:
                self._missing_cache.clear()
            self._missing_cache[cache_key] = spec.bound_to(header).missing_columns(header)
        return self._missing_cache[cache_key]

    @contextmanager
    def _source(self, key: str) -> Iterator[str]:
        """The path DuckDB reads for `key`: the verified open file (see `landing_files`).
        DuckDB expands glob characters (* ? [ {) in names, so where the reader path is the file
        name itself (no /proc), such a file is read through a plain-named link to it."""
        fd = self._open(key)
        try:
            path = self._files.reader_path(fd, key)
            if not _GLOB_CHARS.search(path):
                yield path
                return
            link = self._tmp / f"{uuid.uuid4().hex}{''.join(Path(path).suffixes[-2:])}"
            link.symlink_to(path)  # `path` is the verified real path
            try:
                yield str(link)
            finally:
                link.unlink(missing_ok=True)
        finally:
            os.close(fd)

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
        refused: list[FileOutcome] = []
        kept: list[tuple[FileRecord, CsvInput]] = []
        try:
            with ExitStack() as inputs:
                paths: list[str] = []
                for record, csv_input in members:
                    try:
                        paths.append(inputs.enter_context(self._source(record.key)))
                    except FileProcessingError as exc:
                        refused.append(_failed(record, exc))
                        continue
                    kept.append((record, csv_input))
                if not kept:
                    yield refused
                    return
                written = convert_group(
                    self._con, [c for _, c in kept], spec, tmp_dir, self.compression, paths
                )
        except (duckdb.Error, pa.ArrowException, OSError):
            shutil.rmtree(tmp_dir, ignore_errors=True)
            if refused:
                yield refused
            half = len(kept) // 2
            yield from self._group(workflow, kept[:half], spec)
            yield from self._group(workflow, kept[half:], spec)
            return
        together: list[FileOutcome] = refused
        alone: list[tuple[FileRecord, CsvInput]] = []
        for i, (record, csv_input) in enumerate(kept):
            if i not in written:
                alone.append((record, csv_input))
                continue
            part, rows = written[i]
            try:
                target = output_path(self.output_root, workflow, record.key)
                place(part, target)
            except FileProcessingError as exc:
                together.append(_failed(record, exc))
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
            target = output_path(self.output_root, workflow, record.key)
            with self._source(record.key) as path:
                tmp = self._tmp / f"{uuid.uuid4().hex}.parquet.tmp"
                rows = self._fast(path, record, csv_input, spec, tmp, target)
                if rows is None:
                    rows = convert_file(
                        self._con, path, record.key, csv_input, spec, tmp, target, self.compression
                    )
        except FileProcessingError as exc:
            return _failed(record, exc)
        return FileOutcome.done(record.key, record.etag, str(target), rows)

    def _fast(
        self,
        path: str,
        record: FileRecord,
        csv_input: CsvInput,
        spec: TransformSpec,
        tmp: Path,
        target: Path,
    ) -> int | None:
        """A large file through the Polars fast path (see `polars_fast`): rows written, or None
        when that path cannot prove its result equals DuckDB's (the strict path then runs)."""
        if not self.fast_path or record.size <= self.small_file_bytes:
            return None
        rows = convert_fast(path, csv_input, spec, tmp, self.compression)
        if rows is not None:
            place(tmp, target)
        return rows

    def close(self) -> None:
        self._con.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
