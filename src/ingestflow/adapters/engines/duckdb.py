"""DuckDBEngine: the local, in-process engine (CSV -> Parquet with DuckDB).

Each file is read with explicit columns (no type sniffing: it costs milliseconds per small file
and guesses wrong on odd files), cast strictly in SQL, and written to a temporary Parquet file
that is renamed into place, so a crash never leaves a partial output.

Batches are cut and inputs opened and inspected as for every local engine (`file_engine`: the
symbolic-link policy is checked on the descriptor DuckDB then reads); outputs go where
`ingestflow.domain.outputs` says (`output_files`). Every DuckDB error becomes a file error
through `engine_errors.summarise` (cause first, one line).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestflow.adapters.engines import duckdb_sql as sql
from ingestflow.adapters.engines.duckdb_group import convert_group
from ingestflow.adapters.engines.duckdb_single import convert_file
from ingestflow.adapters.engines.file_engine import TMP_DIR, FileEngine, failed_outcome
from ingestflow.adapters.engines.inputs import CsvInput
from ingestflow.adapters.engines.output_files import output_path, place
from ingestflow.adapters.engines.polars_fast import convert_fast
from ingestflow.domain.errors import FileProcessingError
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.transform import TransformSpec

__all__ = ["TMP_DIR", "DuckDBEngine", "output_path"]

_GLOB_CHARS = re.compile(r"[*?\[\]{}]")


class DuckDBEngine(FileEngine):
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
        super().__init__(
            landing_root,
            output_root,
            small_file_bytes=small_file_bytes,
            group_files=group_files,
            group_bytes=group_bytes,
            owner=owner,
            owner_is_dead=owner_is_dead,
            follow_symlinks=follow_symlinks,
        )
        # Large files try the Polars fast path first (when Polars is installed).
        self.fast_path = fast_path
        # DuckDB spells "no compression" 'uncompressed'; pyarrow spells it 'none'.
        self.compression = "uncompressed" if compression == "none" else compression
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

    def _alone(self, record: FileRecord, csv_input: CsvInput) -> bool:
        """Large files, names DuckDB would expand as globs and lines past DuckDB's default
        line limit (each query sets its own) are converted one by one."""
        return bool(
            record.size > self.small_file_bytes
            or _GLOB_CHARS.search(record.key)
            or csv_input.final_line_bytes > sql.DEFAULT_MAX_LINE_SIZE
        )

    def _group_key(self, csv_input: CsvInput) -> tuple[tuple[str, ...], str]:
        return (csv_input.header, csv_input.compression)

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
                        refused.append(failed_outcome(record, exc))
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
                together.append(failed_outcome(record, exc))
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
            return failed_outcome(record, exc)
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
