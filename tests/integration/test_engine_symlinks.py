"""The engine's open-time symbolic-link policy: nothing outside the landing root is ever read.

The listing and the watcher refuse links too, but a registered file can be swapped for a link
before its batch runs, so the engine checks again when it opens the file, on the descriptor it
then reads. Real files, real links, real DuckDB."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.adapters.engines.landing_files import LandingFiles
from ingestflow.domain.errors import TerminalError
from ingestflow.domain.records import FileOutcome, FileRecord
from ingestflow.domain.status import Status
from ingestflow.domain.transform import OHLCV

WF = "wf"
HEADER = "Date,Open,High,Low,Close,Volume"
GOOD = f"{HEADER}\n2024-01-01 10:00:00,1.5,2,1,1.75,10\n"
SECRET = f"{HEADER}\n2024-12-31 23:59:59,666.5,667,666,666.25,13\n"
HINT = "(set [landing] follow_symlinks = true to follow links inside the landing folder)"
PATHS = ["grouped", "one-by-one"]


def make_engine(tmp_path: Path, path: str, follow: bool = False) -> DuckDBEngine:
    (tmp_path / "landing").mkdir(exist_ok=True)
    small = 0 if path == "one-by-one" else 4 * 1024 * 1024
    return DuckDBEngine(
        tmp_path / "landing", tmp_path / "output", small_file_bytes=small, follow_symlinks=follow
    )


@pytest.fixture(params=PATHS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DuckDBEngine]:
    eng = make_engine(tmp_path, request.param)
    yield eng
    eng.close()


@pytest.fixture(params=PATHS)
def following(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DuckDBEngine]:
    eng = make_engine(tmp_path, request.param, follow=True)
    yield eng
    eng.close()


@pytest.fixture
def secret_csv(tmp_path: Path) -> Path:
    """A CSV outside the landing root whose content must never be read."""
    path = tmp_path / "elsewhere" / "secret.csv"
    path.parent.mkdir()
    path.write_text(SECRET)
    return path


def record(engine: DuckDBEngine, key: str) -> FileRecord:
    return FileRecord("landing", key, WF, "", 100, "e", 0.0, Status.PROCESSING)


def land(engine: DuckDBEngine, key: str, text: str = GOOD) -> FileRecord:
    path = engine.landing_root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return record(engine, key)


def link(engine: DuckDBEngine, key: str, target: Path | str) -> FileRecord:
    path = engine.landing_root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return record(engine, key)


def convert(engine: DuckDBEngine, records: list[FileRecord]) -> dict[str, FileOutcome]:
    """A batch with four good files around `records` (so the grouped engine groups them)."""
    good = [land(engine, f"ok/{i}.csv") for i in range(4)]
    batch = [*good[:2], *records, *good[2:]]
    outcomes = [o for chunk in engine.run(WF, batch, OHLCV) for o in chunk]
    assert sorted(o.key for o in outcomes) == sorted(r.key for r in batch)
    by_key = {o.key: o for o in outcomes}
    assert all(by_key[r.key].ok for r in good), outcomes
    return by_key


def written(engine: DuckDBEngine) -> set[str]:
    root = engine.output_root / WF
    return {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")}


def assert_refused(outcome: FileOutcome, reason: str) -> None:
    assert not outcome.ok and outcome.retryable is False
    assert outcome.error == reason
    assert "666" not in reason and "root:" not in reason  # no content from outside
    assert outcome.output is None


def test_a_link_to_etc_passwd_is_refused_and_nothing_is_written(engine: DuckDBEngine) -> None:
    key = "in/passwd.csv"
    outcomes = convert(engine, [link(engine, key, "/etc/passwd")])
    assert_refused(outcomes[key], f"refused: {key} is a symbolic link {HINT}")
    assert written(engine) == {f"ok/{i}.csv.parquet" for i in range(4)}
    assert_refused(engine.process_file(WF, record(engine, key), OHLCV), outcomes[key].error or "")


def test_a_link_to_a_csv_outside_the_root_is_refused_and_nothing_is_written(
    engine: DuckDBEngine, secret_csv: Path
) -> None:
    key = "in/secret.csv"
    outcomes = convert(engine, [link(engine, key, secret_csv)])
    assert_refused(outcomes[key], f"refused: {key} is a symbolic link {HINT}")
    assert "in/secret.csv.parquet" not in written(engine)


def test_a_folder_link_on_the_way_is_refused_too(engine: DuckDBEngine, secret_csv: Path) -> None:
    link(engine, "in/linked", secret_csv.parent)
    key = "in/linked/secret.csv"
    outcomes = convert(engine, [record(engine, key)])
    assert_refused(
        outcomes[key], f"refused: {key} is a symbolic link (through the folder in/linked) {HINT}"
    )


def test_with_follow_symlinks_links_inside_the_root_convert(following: DuckDBEngine) -> None:
    engine = following
    real = land(engine, "real/a.csv", SECRET)
    file_link = link(engine, "links/a.csv", engine.landing_root / real.key)
    link(engine, "links/folder", engine.landing_root / "real")
    relative = link(engine, "links/relative.csv", "../real/a.csv")
    through_folder = record(engine, "links/folder/a.csv")
    outcomes = convert(engine, [real, file_link, relative, through_folder])
    for key in ["links/a.csv", "links/relative.csv", "links/folder/a.csv"]:
        assert outcomes[key].ok, outcomes[key].error
        assert outcomes[key].output == str(engine.output_root / WF / f"{key}.parquet")
        assert pq.read_table(str(outcomes[key].output)).column("open_price").to_pylist() == [666.5]


def test_with_follow_symlinks_links_leading_outside_are_refused(
    following: DuckDBEngine, secret_csv: Path
) -> None:
    engine = following
    direct = link(engine, "in/secret.csv", secret_csv)
    passwd = link(engine, "in/passwd.csv", "/etc/passwd")
    dotdot = link(engine, "in/up.csv", f"../../elsewhere/{secret_csv.name}")
    link(engine, "in/folder", secret_csv.parent)
    through = record(engine, "in/folder/secret.csv")
    outcomes = convert(engine, [direct, passwd, dotdot, through])
    for r in (direct, passwd, dotdot, through):
        assert_refused(outcomes[r.key], f"refused: {r.key} links outside the landing folder")
    assert written(engine) == {f"ok/{i}.csv.parquet" for i in range(4)}


def test_a_file_swapped_for_a_link_after_registration_is_refused_at_open_time(
    engine: DuckDBEngine, secret_csv: Path
) -> None:
    registered = land(engine, "in/swapped.csv")  # the ledger record exists
    path = engine.landing_root / registered.key
    path.unlink()
    path.symlink_to(secret_csv)
    outcomes = convert(engine, [registered])
    assert_refused(outcomes[registered.key], f"refused: {registered.key} is a symbolic link {HINT}")
    assert "in/swapped.csv.parquet" not in written(engine)


def test_the_reader_reads_the_checked_file_even_if_the_path_is_swapped_after_the_check(
    tmp_path: Path, secret_csv: Path
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "a.csv").write_text(GOOD)
    files = LandingFiles(landing)
    fd = files.open("a.csv")
    try:
        (landing / "a.csv").unlink()
        (landing / "a.csv").symlink_to(secret_csv)  # swapped between the check and the read
        path = files.reader_path(fd, "a.csv")
        with duckdb.connect() as con:
            rows = con.execute(f"SELECT * FROM read_csv('{path}', header = true)").fetchall()
        assert rows[0][1] == 1.5  # the original file, not the secret
    finally:
        os.close(fd)
    with pytest.raises(TerminalError, match="is a symbolic link"):
        files.open("a.csv")  # and a new open refuses the link


def test_a_fifo_in_the_landing_folder_is_refused_without_blocking(engine: DuckDBEngine) -> None:
    fifo = engine.landing_root / "in" / "pipe.csv"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    result: dict[str, FileOutcome] = {}
    worker = threading.Thread(
        target=lambda: result.update(convert(engine, [record(engine, "in/pipe.csv")]))
    )
    worker.start()
    worker.join(timeout=30)
    if worker.is_alive():  # unblock the engine before failing
        with open(fifo, "wb"):
            pass
        worker.join()
        pytest.fail("opening a FIFO blocked the engine")
    assert_refused(result["in/pipe.csv"], "refused: in/pipe.csv is not a regular file")


@pytest.mark.parametrize("follow", [False, True], ids=["default", "follow_symlinks"])
def test_a_key_with_a_dot_dot_segment_never_walks_out_of_the_root(
    tmp_path: Path, secret_csv: Path, follow: bool
) -> None:
    engine = make_engine(tmp_path, "one-by-one", follow=follow)
    try:
        key = "../elsewhere/secret.csv"
        outcome = engine.process_file(WF, record(engine, key), OHLCV)
        assert not outcome.ok and outcome.retryable is False
        assert str(outcome.error).startswith("refused: ")
        assert "666" not in str(outcome.error)
    finally:
        engine.close()
