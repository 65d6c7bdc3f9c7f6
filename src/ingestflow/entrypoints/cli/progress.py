"""A progress bar for long runs, shown only on a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ingestflow.domain.records import FileOutcome
from ingestflow.entrypoints.cli import render


@contextmanager
def progress_callback(enabled: bool) -> Iterator[Callable[[FileOutcome], None] | None]:
    if not enabled:
        yield None
        return
    columns = (
        # The description holds a key: plain text, never markup.
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("files processed", total=None)

        def advance(outcome: FileOutcome) -> None:
            progress.update(task, advance=1, description=f"last: {render.safe(outcome.key)}")

        yield advance
