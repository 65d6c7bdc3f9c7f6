"""`ingestflow query`: SQL over the outputs, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from itertools import chain, islice
from typing import Annotated, Any

import typer

from ingestflow.entrypoints.cli import render
from ingestflow.entrypoints.cli.options import (
    ConfigOpt,
    EnvOpt,
    JsonOpt,
    LimitOpt,
    handles_errors,
    settings,
    table_limit,
)


@handles_errors
def query(
    sql: Annotated[str, typer.Argument(help="SQL; each workflow's outputs are a table.")],
    limit: LimitOpt = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Query the Parquet outputs with SQL (DuckDB); tables are named after workflows.
    JSON and CSV are streamed (any number of rows); a table shows the first rows."""
    from ingestflow.bootstrap import open_query

    with open_query(settings(config, env), sql) as result:
        rows: Iterator[tuple[Any, ...]] = chain.from_iterable(result.batches())
        if as_json:
            columns = result.columns
            items = (dict(zip(columns, r, strict=True)) for r in islice(rows, limit or None))
            render.write_json_array(items)
        elif as_csv:
            _write_csv(result.columns, islice(rows, limit or None))
        else:
            shown = table_limit(limit)
            first = list(islice(rows, shown and shown + 1))
            render.console().print(render.table(None, result.columns, first[:shown]))
            if shown is not None and len(first) > shown:
                alternatives = "--limit N, --json or --csv"
                render.line(render.more_rows(shown, None, "rows", alternatives))


def _write_csv(columns: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
    """CSV as it is for files and pipes; on a terminal, control characters are made visible
    like everywhere else (a CSV value must not drive the terminal)."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    clean = sys.stdout.isatty()
    writer.writerow([render.safe(c) for c in columns] if clean else columns)
    for row in rows:
        writer.writerow([render.safe(v) if clean and v is not None else v for v in row])
