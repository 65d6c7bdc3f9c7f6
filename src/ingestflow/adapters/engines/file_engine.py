"""What the engines on local folders (DuckDB, Spark) share: how a batch is cut before any data
is read, and how an input is opened and inspected.

`FileEngine.run` refuses up front each file whose output path cannot be derived or whose input
cannot be opened or inspected (one outcome list with all of them), converts every file the
engine must read on its own (`_alone`) with `_single` as it comes, and groups the rest by
`_group_key` (the header, and for DuckDB the compression) into chunks bounded by `group_files`
and `group_bytes` for `_group`. Inputs are opened through `LandingFiles` (the symbolic-link
policy, checked on the descriptor the engine then reads) and inspected by
`inputs.inspect_stream`; a header missing a required column is refused before the engine
runs."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from ingestflow.adapters.engines.inputs import CsvInput, inspect_stream, missing_columns_error
from ingestflow.adapters.engines.landing_files import LandingFiles, open_file_budget
from ingestflow.adapters.engines.output_files import check_writable, output_path, temporary_folder
from ingestflow.domain.errors import FileProcessingError, TerminalError, TransientError
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.transform import TransformSpec

TMP_DIR = ".ingestflow-tmp"  # the engines' temporary folder, under the output root

Member = tuple[FileRecord, CsvInput]


def failed_outcome(record: FileRecord, exc: FileProcessingError) -> FileOutcome:
    """`record` failed with `exc` (retryable as the error says)."""
    return FileOutcome.failed(record.key, record.etag, str(exc), retryable=exc.retryable)


class FileEngine:
    """The shared half of an Engine on a local landing folder and output folder."""

    def __init__(
        self,
        landing_root: Path,
        output_root: Path,
        *,
        small_file_bytes: int,
        group_files: int,
        group_bytes: int,
        owner: str | None,
        owner_is_dead: Callable[[str], bool] | None,
        follow_symlinks: bool,
    ) -> None:
        self.landing_root = Path(landing_root)
        self.output_root = Path(output_root)
        self.small_file_bytes = small_file_bytes
        self.group_files = min(group_files, open_file_budget())
        self.group_bytes = group_bytes
        self._files = LandingFiles(self.landing_root, follow_symlinks=follow_symlinks)
        self._missing_cache: dict[tuple[TransformSpec, tuple[str, ...]], list[str]] = {}
        self._tmp = temporary_folder(self.output_root / TMP_DIR, owner, owner_is_dead)

    # -- what each engine says ------------------------------------------------------------

    def _alone(self, record: FileRecord, csv_input: CsvInput) -> bool:
        """Whether `record` is converted on its own rather than in a group."""
        return record.size > self.small_file_bytes

    def _group_key(self, csv_input: CsvInput) -> Hashable:
        """Files of one group share this (a group is read by one query or job)."""
        return csv_input.header

    def _single(
        self, workflow: str, record: FileRecord, csv_input: CsvInput, spec: TransformSpec
    ) -> FileOutcome:
        raise NotImplementedError

    def _group(
        self, workflow: str, members: list[Member], spec: TransformSpec
    ) -> Iterator[list[FileOutcome]]:
        raise NotImplementedError

    def _check_input(self, raw: BinaryIO, csv_input: CsvInput, spec: TransformSpec) -> None:
        """More checks on the open input (positioned anywhere); TerminalError refuses it."""

    # -- the port ---------------------------------------------------------------------------

    def check_output_writable(self) -> None:
        """Raise OutputFolderError ("output folder /x is not writable: Permission denied")
        unless a file can be created in the output folder and in the engine's temporary one."""
        check_writable(self.output_root)
        check_writable(self._tmp, "temporary folder")

    def run(
        self, workflow: str, files: Sequence[FileRecord], spec: TransformSpec
    ) -> Iterator[list[FileOutcome]]:
        """Each single file as it comes, then the refused files (one list), then each group
        chunk."""
        groups: dict[Hashable, list[Member]] = {}
        refused: list[FileOutcome] = []
        for record in files:
            try:
                output_path(self.output_root, workflow, record.key)  # refused up front
                csv_input = self._inspect(record.key, spec)
            except FileProcessingError as exc:
                refused.append(failed_outcome(record, exc))
                continue
            if self._alone(record, csv_input):
                yield [self._single(workflow, record, csv_input, spec)]
            else:
                groups.setdefault(self._group_key(csv_input), []).append((record, csv_input))
        if refused:
            yield refused
        for members in groups.values():
            yield from self._in_chunks(workflow, members, spec)

    def process_file(self, workflow: str, record: FileRecord, spec: TransformSpec) -> FileOutcome:
        """Convert one file on its own."""
        try:
            output_path(self.output_root, workflow, record.key)
            csv_input = self._inspect(record.key, spec)
        except FileProcessingError as exc:
            return failed_outcome(record, exc)
        return self._single(workflow, record, csv_input, spec)

    # -- shared steps -----------------------------------------------------------------------

    def _in_chunks(
        self, workflow: str, members: list[Member], spec: TransformSpec
    ) -> Iterator[list[FileOutcome]]:
        """Bound each group by file count and bytes (a group is materialised in memory)."""
        chunk: list[Member] = []
        size = 0
        for member in members:
            if chunk and (len(chunk) >= self.group_files or size >= self.group_bytes):
                yield from self._group(workflow, chunk, spec)
                chunk, size = [], 0
            chunk.append(member)
            size += member[0].size
        if chunk:
            yield from self._group(workflow, chunk, spec)

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
                self._check_input(raw, csv_input, spec)
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
