"""StagedEngine: a local engine (DuckDB, Spark) on an S3 landing and/or S3 output.

Neither engine reads or writes s3:// here (DuckDB's httpfs and Spark's hadoop-aws cannot be
loaded offline), so the batch is staged through a private temporary folder:

1. each input is downloaded with `S3ObjectStore.open_read(key, etag)` (the listed version
   only, so a re-upload mid-batch is never mixed in) to `<staging>/landing/<key>`; a file that
   cannot be downloaded fails alone with its reason (retryable as the store's error says);
2. the inner engine runs on the local folders, unchanged (same outputs as a local run);
3. each output it produced is uploaded with `S3ObjectStore.write_output` to the same relative
   path (`domain.outputs.output_relpath`) under the output URL, and the outcome's `output`
   becomes that s3:// URL; an upload that fails turns that file's outcome into a failure.

Keys pass `validate_key` before touching the disk (no '..' climbs out of the staging folder);
the S3 stores add their prefix to every key, so nothing outside the landing prefix is read and
nothing outside the output prefix written. Staged inputs are removed after each batch, outputs
once uploaded, and the whole folder on `close`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from ingestflow.adapters.engines.file_engine import failed_outcome
from ingestflow.adapters.storage.s3 import S3ObjectStore
from ingestflow.domain.errors import FileProcessingError, InvalidKeyError, TerminalError
from ingestflow.domain.keys import validate_key
from ingestflow.domain.outputs import OutputPathError, output_relpath
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.transform import TransformSpec
from ingestflow.ports import Engine

S3_KEY_MAX = 1024
_COPY_BUFFER = 1024 * 1024


def s3_room(output: S3ObjectStore) -> int:
    """Bytes left for `<workflow>/<mapped key>` under the output prefix (S3 keys: 1,024 bytes)."""
    return S3_KEY_MAX - len(output.prefix.encode("utf-8"))


class StagedEngine:
    """Engine port: `make_inner(landing_root, output_root)` builds the local engine; `landing`
    and `output` are each an S3ObjectStore (staged) or a local folder (used directly).
    `workdir`: where the staging folder is made (default: the system's temporary folder)."""

    def __init__(
        self,
        make_inner: Callable[[Path, Path], Engine],
        landing: S3ObjectStore | Path,
        output: S3ObjectStore | Path,
        *,
        workdir: Path | None = None,
    ) -> None:
        self._staging = Path(tempfile.mkdtemp(prefix="ingestflow-staged-", dir=workdir))
        self._landing = landing if isinstance(landing, S3ObjectStore) else None
        self._output = output if isinstance(output, S3ObjectStore) else None
        self._landing_root = landing if isinstance(landing, Path) else self._staging / "landing"
        self._output_root = output if isinstance(output, Path) else self._staging / "output"
        try:
            self._landing_root.mkdir(exist_ok=True)
            self._output_root.mkdir(exist_ok=True, parents=True)
            self.inner = make_inner(self._landing_root, self._output_root)
        except BaseException:
            shutil.rmtree(self._staging, ignore_errors=True)
            raise

    def __repr__(self) -> str:
        return f"StagedEngine({self.inner!r}, landing={self._landing!r}, output={self._output!r})"

    def run(
        self, workflow: str, files: Sequence[FileRecord], spec: TransformSpec
    ) -> Iterator[list[FileOutcome]]:
        """The inner engine's outcomes, inputs downloaded first and outputs uploaded as each
        chunk completes; one outcome per file, never an exception for one file's problem."""
        staged: list[FileRecord] = []
        rejected: list[FileOutcome] = []
        try:
            for record in files:
                problem = self._stage(record)
                if problem is None:
                    staged.append(record)
                else:
                    rejected.append(problem)
            if rejected:
                yield rejected
            if staged:
                for chunk in self.inner.run(workflow, staged, spec):
                    yield [self._publish(workflow, outcome) for outcome in chunk]
        finally:
            if self._landing is not None:
                shutil.rmtree(self._landing_root, ignore_errors=True)
                self._landing_root.mkdir(exist_ok=True)

    def _stage(self, record: FileRecord) -> FileOutcome | None:
        """Download one input (the listed version); its failed outcome when that cannot be."""
        if self._landing is None:
            return None
        try:
            validate_key(record.key)
        except InvalidKeyError as exc:
            return failed_outcome(record, TerminalError(f"refused: {exc}"))
        target = self._landing_root / record.key
        url = self._landing.url_for(record.key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with (
                self._landing.open_read(record.key, record.etag) as source,
                open(target, "wb") as sink,
            ):
                shutil.copyfileobj(source, sink, _COPY_BUFFER)
        except FileProcessingError as exc:
            target.unlink(missing_ok=True)
            return failed_outcome(record, exc)
        except OSError as exc:
            target.unlink(missing_ok=True)
            reason = exc.strerror or str(exc)
            return FileOutcome.failed(
                record.key, record.etag, f"cannot read {url}: {reason}", retryable=True
            )
        return None

    def _publish(self, workflow: str, outcome: FileOutcome) -> FileOutcome:
        """Upload a produced output to the output prefix; the outcome names its s3:// URL."""
        if self._output is None or not outcome.ok or outcome.output is None:
            return outcome
        local = Path(outcome.output)
        try:
            key = output_relpath(workflow, outcome.key, s3_room(self._output))
            url = self._output.write_output(key, local)
        except (InvalidKeyError, OutputPathError) as exc:
            error: FileProcessingError = TerminalError(f"refused: no output key: {exc}")
            return FileOutcome.failed(outcome.key, outcome.etag, str(error), retryable=False)
        except FileProcessingError as exc:
            return FileOutcome.failed(outcome.key, outcome.etag, str(exc), retryable=exc.retryable)
        finally:
            local.unlink(missing_ok=True)
        return replace(outcome, output=url)

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            shutil.rmtree(self._staging, ignore_errors=True)
