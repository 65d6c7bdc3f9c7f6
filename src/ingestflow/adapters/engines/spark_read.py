"""Reading CSV inputs on Spark (text columns, explicit schema) and splitting a multi-file
result back into its files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestflow.adapters.engines import spark_compile as sc
from ingestflow.adapters.engines.inputs import MAX_COLUMNS
from ingestflow.domain.transform import TransformSpec

FILE_COLUMN = "__file"
OK_COLUMN = "__ok"
CORRUPT_COLUMN = "__corrupt"


def ref(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def read_csv(
    session: Any,
    paths: list[str],
    header: tuple[str, ...],
    spec: TransformSpec,
    *,
    permissive: bool = False,
    splittable: bool = False,
) -> Any:
    """Every column as text under a positional name (no inference), header lines skipped.
    FAILFAST (a record with the wrong number of fields fails the job) unless `permissive`,
    which keeps such records' text in CORRUPT_COLUMN instead (for diagnosis). `splittable`:
    the files hold no quote character, so no field can hold a line break: Spark may split
    each file across tasks (a multi-line read cannot be split)."""
    from pyspark.sql import types as T

    fields = [T.StructField(n, T.StringType()) for n in sc.reader_names(header)]
    options: dict[str, str] = {"mode": "FAILFAST"}
    if permissive:
        fields.append(T.StructField(CORRUPT_COLUMN, T.StringType()))
        options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN}
    return session.read.csv(
        paths,
        schema=T.StructType(fields),
        header=True,
        multiLine=not splittable,  # quoted fields may hold line breaks (then: no split)
        sep=spec.delimiter,
        quote='"',
        escape='"',
        encoding="UTF-8",
        ignoreLeadingWhiteSpace=False,
        ignoreTrailingWhiteSpace=False,
        maxColumns=MAX_COLUMNS,
        **options,
    )


def converted(
    session: Any,
    paths: list[str],
    header: tuple[str, ...],
    spec: TransformSpec,
    *,
    splittable: bool = False,
) -> tuple[Any, int]:
    """The spec's outputs, then FILE_COLUMN (the file a row came from) and OK_COLUMN (every
    check passed); with the number of output columns."""
    from pyspark.sql import functions as F

    frame = read_csv(session, paths, header, spec, splittable=splittable)
    frame = frame.withColumn(FILE_COLUMN, F.input_file_name())
    out, checks = sc.outputs(spec, header, frame, extra=(FILE_COLUMN,))
    ok = F.lit(True)
    for n in range(len(checks)):
        ok = ok & F.col(f"__ok{n}")
    count = len(out.columns) - 1 - len(checks)
    body = [F.col(ref(c)) for c in out.columns[:count]]
    return out.select(*body, F.col(FILE_COLUMN), ok.alias(OK_COLUMN)), count


def _member(name: str, index: dict[str, int]) -> int:
    return index[name.rsplit("/", 1)[-1]]


def bad_members(table: pa.Table, links: list[str]) -> set[int]:
    """Indexes (into `links`) of the files with at least one row failing a check."""
    index = {Path(link).name: i for i, link in enumerate(links)}
    failing = table.filter(pc.invert(table.column(OK_COLUMN)))
    return {_member(n, index) for n in set(failing.column(FILE_COLUMN).to_pylist())}


def split_by_file(
    table: pa.Table, links: list[str], count: int
) -> tuple[pa.Table, dict[int, tuple[int, int]]]:
    """The output columns, ordered by file (a stable sort: rows keep their order within a
    file), and index -> (offset, length) for every file with rows."""
    index = {Path(link).name: i for i, link in enumerate(links)}
    table = table.take(pc.sort_indices(table.column(FILE_COLUMN)))
    runs = pc.run_end_encode(table.column(FILE_COLUMN).combine_chunks())
    slices: dict[int, tuple[int, int]] = {}
    start = 0
    for name, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
        slices[_member(name, index)] = (start, end - start)
        start = end
    return table.select(list(range(count))), slices
