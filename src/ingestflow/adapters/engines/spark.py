"""SparkEngine: the Engine port on PySpark (local or a cluster), with the DuckDB engine's results.

Same inputs, same outputs: files are inspected and refused exactly as by the DuckDB engine
(`inputs`, `landing_files`), the transform compiles to Spark expressions with DuckDB's parsing
rules (`spark_compile`), and each input gives one Parquet file at `output_files.output_path`
with the same schema and values.

- Small files sharing a header are read by one job (one DataFrame over all of them, each row
  tagged with its file), collected as Arrow and written one Parquet file per input, like the
  DuckDB engine's groups. A file with a bad value fails alone (its rows carry the flags); a
  group whose job fails (a malformed record, corrupt gzip) is split in halves down to files.
- Large files go one by one: Spark writes them into a temporary folder, then the part file
  is renamed to the output path; a bad value makes the write fail (never a silent null) and a
  diagnosis job names the column, row and value. An uncompressed file without any quote
  character (no field can hold a line break) is split across tasks (every core works on it);
  its part files, in file order, are then joined into the one output file (`join_parts`).
- Spark reads every input through a link in the engine's temporary folder: to the verified
  open descriptor (`/proc/<pid>/fd/N`, local masters) or the verified real path (clusters).
  The link's name carries `.gz` when the content is gzip (Spark picks codecs by name) and
  nothing Spark would take for a glob or a URI.

pyspark is imported on first use; the session is created by the first `run` and stopped by
`close` (a session that was already active is reused and left running).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from ingestflow.adapters.engines import spark_errors
from ingestflow.adapters.engines.file_engine import TMP_DIR, FileEngine, Member, failed_outcome
from ingestflow.adapters.engines.inputs import CsvInput
from ingestflow.adapters.engines.output_files import output_path, place
from ingestflow.adapters.engines.spark_read import (
    OK_COLUMN,
    bad_members,
    converted,
    read_csv,
    ref,
    split_by_file,
)
from ingestflow.adapters.engines.spark_session import start_session
from ingestflow.domain.errors import FileProcessingError, TerminalError, TransientError
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.transform import TransformSpec

__all__ = ["TMP_DIR", "SparkEngine"]

_NO_CONF: Mapping[str, str] = MappingProxyType({})
_PROC = Path("/proc")


class SparkEngine(FileEngine):
    """Engine port on Spark. `master`/`conf` configure the session it creates (`conf` wins
    over the engine's defaults; the settings outputs depend on, see `spark_session`, are
    always applied). `check_utf8`: read each input once in Python first to refuse what Spark
    would change silently (invalid UTF-8, a carriage return inside quotes); turning it off
    saves that read at the price of those guarantees. Other arguments as DuckDBEngine's."""

    def __init__(
        self,
        landing_root: Path,
        output_root: Path,
        master: str = "local[2]",
        conf: Mapping[str, str] = _NO_CONF,
        compression: str = "snappy",
        small_file_bytes: int = 4 * 1024 * 1024,
        group_files: int = 500,
        group_bytes: int = 64 * 1024 * 1024,
        owner: str | None = None,
        owner_is_dead: Callable[[str], bool] | None = None,
        follow_symlinks: bool = False,
        check_utf8: bool = True,
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
        self.master = master
        self.conf = dict(conf)
        self.compression = "none" if compression == "uncompressed" else compression
        self.check_utf8 = check_utf8
        self._session: Any = None
        self._owned = False

    # -- the port ------------------------------------------------------------------------

    def close(self) -> None:
        if self._session is not None and self._owned:
            self._session.stop()
        self._session = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    # -- inputs --------------------------------------------------------------------------

    def _check_input(self, raw: BinaryIO, csv_input: CsvInput, spec: TransformSpec) -> None:
        if self.check_utf8:
            raw.seek(0)
            problem = spark_errors.utf8_problem(
                raw, csv_input.compression == "gzip", spec.delimiter
            )
            if problem:
                raise TerminalError(problem)

    @contextmanager
    def _source(self, key: str, csv_input: CsvInput) -> Iterator[str]:
        """The path Spark reads for `key`: a plain-named link to the verified open file."""
        fd = self._open(key)
        try:
            if self.master.startswith("local") and (_PROC / "self" / "fd").is_dir():
                target = f"/proc/{os.getpid()}/fd/{fd}"  # exactly the inode that was checked
            else:
                target = self._files.reader_path(fd, key)
                if target.startswith("/proc/self/"):
                    target = os.readlink(target)
            suffix = ".csv.gz" if csv_input.compression == "gzip" else ".csv"
            link = self._tmp / "inputs" / f"{uuid.uuid4().hex}{suffix}"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target)
            try:
                yield str(link)
            finally:
                link.unlink(missing_ok=True)
        finally:
            os.close(fd)

    # -- Spark ---------------------------------------------------------------------------

    def _spark(self) -> Any:
        if self._session is None:
            self._session, self._owned = start_session(self.master, self.conf, self.compression)
        return self._session

    def _errors(self) -> tuple[type[BaseException], ...]:
        from py4j.protocol import Py4JError  # type: ignore[import-untyped]
        from pyspark.errors import PySparkException

        return (Py4JError, PySparkException)

    def _diagnose(
        self,
        path: str,
        key: str,
        csv_input: CsvInput,
        spec: TransformSpec,
        exc: BaseException | None,
    ) -> FileProcessingError:
        names = {path: key, f"file://{path}": key}
        try:
            problem = spark_errors.diagnose(
                lambda: read_csv(self._spark(), [path], csv_input.header, spec, permissive=True),
                spec,
                csv_input.header,
            )
        except self._errors() as error:
            summary = spark_errors.summarise(error, names)
            if csv_input.compression == "gzip" and spark_errors.is_corrupt_gzip(summary):
                return TerminalError(f"corrupt gzip data: {summary}")
            return TerminalError(f"malformed CSV: {summary}")
        if problem:
            return TerminalError(problem)
        if exc is None:
            return TerminalError("malformed CSV: a row was refused")
        return TransientError(f"engine error: {spark_errors.summarise(exc, names)}")

    # -- groups and single files ----------------------------------------------------------

    def _group(
        self, workflow: str, members: list[Member], spec: TransformSpec
    ) -> Iterator[list[FileOutcome]]:
        if len(members) == 1:
            record, csv_input = members[0]
            yield [self._single(workflow, record, csv_input, spec)]
            return
        header = members[0][1].header
        refused: list[FileOutcome] = []
        kept: list[Member] = []
        links: list[str] = []
        try:
            with ExitStack() as stack:
                for record, csv_input in members:
                    try:
                        links.append(stack.enter_context(self._source(record.key, csv_input)))
                    except FileProcessingError as exc:
                        refused.append(failed_outcome(record, exc))
                        continue
                    kept.append((record, csv_input))
                if not kept:
                    yield refused
                    return
                frame, count = converted(self._spark(), links, header, spec)
                table = frame.toArrow()
                bad = bad_members(table, links)
                diagnosed = {
                    i: self._diagnose(links[i], kept[i][0].key, kept[i][1], spec, None)
                    for i in sorted(bad)
                }
        except self._errors():
            if refused:
                yield refused
            half = len(kept) // 2
            yield from self._group(workflow, kept[:half], spec)
            yield from self._group(workflow, kept[half:], spec)
            return
        yield refused + self._write_group(workflow, kept, links, table, count, diagnosed)

    def _write_group(
        self,
        workflow: str,
        kept: list[Member],
        links: list[str],
        table: pa.Table,
        count: int,
        diagnosed: dict[int, FileProcessingError],
    ) -> list[FileOutcome]:
        data, slices = split_by_file(table, links, count)
        outcomes: list[FileOutcome] = []
        tmp_dir = self._tmp / uuid.uuid4().hex
        tmp_dir.mkdir(parents=True, exist_ok=True)
        try:
            for i, (record, _) in enumerate(kept):
                if i in diagnosed:
                    outcomes.append(failed_outcome(record, diagnosed[i]))
                    continue
                offset, length = slices.get(i, (0, 0))
                part = tmp_dir / f"{i}.parquet"
                try:
                    target = output_path(self.output_root, workflow, record.key)
                    pq.write_table(data.slice(offset, length), part, compression=self.compression)
                    place(part, target)
                except OSError as exc:
                    outcomes.append(
                        failed_outcome(record, TransientError(f"cannot write output: {exc}"))
                    )
                    continue
                except FileProcessingError as exc:
                    outcomes.append(failed_outcome(record, exc))
                    continue
                outcomes.append(FileOutcome.done(record.key, record.etag, str(target), length))
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        return outcomes

    def _single(
        self, workflow: str, record: FileRecord, csv_input: CsvInput, spec: TransformSpec
    ) -> FileOutcome:
        """One file, written by Spark itself: strict (a bad value fails the write)."""
        from pyspark.sql import functions as F

        tmp_dir = self._tmp / uuid.uuid4().hex
        try:
            target = output_path(self.output_root, workflow, record.key)
            with self._source(record.key, csv_input) as path:
                try:
                    splittable = csv_input.compression != "gzip" and not self._quoted(record.key)
                    frame, count = converted(
                        self._spark(), [path], csv_input.header, spec, splittable=splittable
                    )
                    body = [F.col(ref(c)) for c in frame.columns[:count]]
                    first = F.when(F.col(OK_COLUMN), body[0]).otherwise(
                        F.raise_error(F.lit("ingestflow: a value does not convert"))
                    )
                    strict = frame.select(first.alias(frame.columns[0]), *body[1:])
                    strict.write.mode("overwrite").parquet(str(tmp_dir))
                    part = self._one_part(tmp_dir)
                    rows = pq.read_metadata(part).num_rows
                    place(part, target)
                except self._errors() as exc:
                    raise self._diagnose(path, record.key, csv_input, spec, exc) from None
        except FileProcessingError as exc:
            return failed_outcome(record, exc)
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        return FileOutcome.done(record.key, record.etag, str(target), rows)

    def _quoted(self, key: str) -> bool:
        """Whether the file holds a quote character anywhere (read through a verified open)."""
        fd = self._open(key)
        try:
            while chunk := os.read(fd, 8 * 1024 * 1024):
                if b'"' in chunk:
                    return True
            return False
        except OSError as exc:
            raise TransientError(f"cannot read {key}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)

    def _one_part(self, folder: Path) -> Path:
        """The folder's Parquet output as one file: its only part, or its parts joined."""
        parts = sorted(p for p in folder.glob("part-*") if p.name.endswith(".parquet"))
        if len(parts) <= 1:
            return self._part(folder)
        joined = folder / "joined.parquet"
        join_parts(parts, joined, self.compression)
        return joined

    @staticmethod
    def _part(folder: Path) -> Path:
        parts = sorted(p for p in folder.glob("part-*") if p.name.endswith(".parquet"))
        if len(parts) != 1:
            raise TransientError(f"spark wrote {len(parts)} part files, expected one")
        return parts[0]


def join_parts(parts: Sequence[Path], target: Path, compression: str) -> None:
    """Write the part files' rows, part after part (Spark numbers the parts of one file in
    file order), into one Parquet file with the first part's schema (Spark's metadata kept)."""
    schema = pq.read_schema(parts[0])
    codec = "none" if compression == "none" else compression
    with pq.ParquetWriter(target, schema, compression=codec) as writer:
        for part in parts:
            source = pq.ParquetFile(part)
            for group in range(source.num_row_groups):
                writer.write_table(source.read_row_group(group))
