"""Many small files, one DuckDB query: read them together, write one Parquet file per input.

Per-query overhead (planning, reader set-up, Parquet writer) dominates small files. One
multi-file read into Arrow, then one Parquet write per file's slice, costs about a quarter of one
query per file. (DuckDB's own PARTITION_BY writer is not used: it does not keep row order.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestflow.adapters.engines import duckdb_sql as sql
from ingestflow.adapters.engines.inputs import MAX_LINE_BYTES, CsvInput
from ingestflow.domain.transform import TransformSpec

SOURCE_COLUMN = "__ingestflow_source"


def convert_group(
    con: duckdb.DuckDBPyConnection,
    inputs: Sequence[CsvInput],
    spec: TransformSpec,
    tmp_dir: Path,
    compression: str = "snappy",
    paths: Sequence[str] | None = None,
) -> dict[int, tuple[Path, int]]:
    """Convert files sharing one header and compression. Returns input index -> (written Parquet
    file, rows) for every input whose rows came back as one contiguous run; inputs missing from
    the result (e.g. no rows) must be converted on their own. Raises duckdb.Error when any input
    is bad; the caller then splits the group to find which. `paths` (distinct) are what the
    reader opens, one per input (default: the inputs' own paths). Plain inputs must have a
    last line within DuckDB's default limit (`CsvInput.final_line_bytes`): longer ones go
    alone."""
    header, codec = inputs[0].header, inputs[0].compression
    paths = list(paths) if paths is not None else [str(i.path) for i in inputs]
    spec = spec.bound_to(header)
    types = sql.reader_types(spec, header)
    # gzip: the last lines' lengths are unknown (see inputs), so read with the raised limit.
    max_line = MAX_LINE_BYTES if codec == "gzip" else None
    source = sql.read_csv_sql(
        paths, header, codec, spec.delimiter, types, SOURCE_COLUMN, max_line_size=max_line
    )
    query = sql.select_sql(spec, source, header, extra=(SOURCE_COLUMN,))
    table = con.sql(query).to_arrow_table()  # the reader keeps file order and row order
    data = table.drop_columns([SOURCE_COLUMN])
    runs = pc.run_end_encode(table.column(SOURCE_COLUMN).combine_chunks())
    ends = runs.run_ends.to_pylist()
    names = runs.values.to_pylist()
    if len(set(names)) != len(names):
        return {}  # a file's rows are not contiguous: convert one by one instead
    index = {p: n for n, p in enumerate(paths)}
    tmp_dir.mkdir(parents=True, exist_ok=True)
    codec = "none" if compression == "uncompressed" else compression
    # Dictionary encoding pays off for repetitive text, not for prices; skipping it for the
    # other columns halves the cost of writing many small files.
    text_columns = [f.name for f in data.schema if pa.types.is_string(f.type)]
    written: dict[int, tuple[Path, int]] = {}
    start = 0
    for name, end in zip(names, ends, strict=True):
        n = index[name]
        part = tmp_dir / f"{n}.parquet"
        pq.write_table(
            data.slice(start, end - start),
            part,
            compression=codec,
            use_dictionary=text_columns or False,
        )
        written[n] = (part, end - start)
        start = end
    return written
