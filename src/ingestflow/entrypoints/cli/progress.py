"""A progress bar for long runs, shown only on a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ingestflow.domain.records import FileOutcome


@contextmanager
def progress_callback(enabled: bool) -> Iterator[Callable[[FileOutcome], None] | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("files processed", total=None)

        def advance(outcome: FileOutcome) -> None:
            progress.update(task, advance=1, description=f"last: {outcome.key}")

        yield advance
