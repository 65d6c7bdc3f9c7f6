"""`ingestflow query`: SQL over the Parquet outputs, one view per workflow."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from ingestflow.adapters.engines.duckdb_sql import ident, literal
from ingestflow.domain.errors import IngestflowError


def run_query(
    output_root: Path, workflows: Sequence[str], sql: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run `sql` with a view per workflow over `<output>/<workflow>/**/*.parquet`.
    A workflow without outputs yet is not a table (DuckDB cannot read an empty glob)."""
    con = duckdb.connect(":memory:")
    # DuckDB expands glob characters anywhere in a path; a plain-named link to the output
    # root keeps an output folder such as 'exports[2024]' literal.
    links = tempfile.TemporaryDirectory(prefix="ingestflow-query-")
    root = Path(links.name) / "output"
    root.symlink_to(output_root.resolve(), target_is_directory=True)
    try:
        for name in workflows:
            folder = output_root / name
            if any(folder.rglob("*.parquet")):
                pattern = literal(str(root / name / "**" / "*.parquet"))
                con.execute(
                    f"CREATE VIEW {ident(name)} AS SELECT * FROM "
                    f"read_parquet({pattern}, union_by_name = true)"
                )
        try:
            cursor = con.execute(sql)
        except duckdb.Error as exc:
            raise IngestflowError(f"query failed: {exc}") from None
        if cursor.description is None:
            return [], []
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()
    finally:
        con.close()
        links.cleanup()
