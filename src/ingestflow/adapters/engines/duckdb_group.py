"""Many small files, one DuckDB query: read them together, write one Parquet file per input.

Per-query overhead (planning, reader set-up, Parquet writer) dominates small files; a single
multi-file read partitioned by input file costs about a third of one query per file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from ingestflow.adapters.engines import duckdb_sql as sql
from ingestflow.adapters.engines.inputs import CsvInput
from ingestflow.domain.transform import TransformSpec

SOURCE_COLUMN = "__ingestflow_source"
ID_COLUMN = "__ingestflow_fid"


def convert_group(
    con: duckdb.DuckDBPyConnection,
    inputs: Sequence[CsvInput],
    spec: TransformSpec,
    tmp_dir: Path,
    compression: str = "zstd",
) -> dict[int, tuple[Path, int]]:
    """Convert files sharing one header and compression. Returns input index -> (written Parquet
    file, rows) for every input that produced exactly one output file; inputs missing from the
    result (no rows, or split output) must be converted on their own. Raises duckdb.Error when
    any input is bad; the caller then converts each file separately to find which."""
    header, codec = inputs[0].header, inputs[0].compression
    paths = [str(i.path) for i in inputs]
    types = sql.reader_types(spec, header)
    source = sql.read_csv_sql(paths, header, codec, spec.delimiter, types, filename=SOURCE_COLUMN)
    query = sql.select_sql(spec, source, header, extra=(SOURCE_COLUMN,))
    ids = ", ".join(f"({sql.literal(p)}, {n})" for n, p in enumerate(paths))
    con.execute(
        f"COPY (SELECT q.* EXCLUDE ({sql.ident(SOURCE_COLUMN)}), ids.{ID_COLUMN} "
        f"FROM ({query}) AS q JOIN (VALUES {ids}) AS ids(path, {ID_COLUMN}) "
        f"ON q.{sql.ident(SOURCE_COLUMN)} = ids.path) "
        f"TO {sql.literal(str(tmp_dir))} "
        f"(FORMAT parquet, COMPRESSION {compression}, PARTITION_BY ({ID_COLUMN}))"
    )
    written: dict[int, tuple[Path, int]] = {}
    parts: dict[int, Path] = {}
    for n in range(len(paths)):
        found = list((tmp_dir / f"{ID_COLUMN}={n}").glob("*.parquet"))
        if len(found) == 1:
            parts[n] = found[0]
    if not parts:
        return written
    listing = "[" + ", ".join(sql.literal(str(p)) for p in parts.values()) + "]"
    rows = dict(
        con.execute(f"SELECT file_name, num_rows FROM parquet_file_metadata({listing})").fetchall()
    )
    for n, part in parts.items():
        written[n] = (part, int(rows.get(str(part), 0)))
    return written
