"""The CLI contract of the README: init, status, files, history, workflows, unrouted, query,
retry usage, configuration errors, `--env` overlays and INGESTFLOW_* overrides."""

from __future__ import annotations

import csv
import io
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_support import (
    CLI,
    STATUSES,
    Project,
    assert_output_matches,
    clean_env,
    expected_rows,
    ohlcv_csv,
    parse_iso,
    workflow,
    write_config,
    write_file,
)

EURUSD = "ohlcv/2024/eurusd.csv"


def test_init_creates_a_working_project(tmp_path: Path) -> None:
    root = tmp_path / "myproject"
    result = subprocess.run(
        [*CLI, "init", str(root)], capture_output=True, text=True, env=clean_env(), check=False
    )
    assert result.returncode == 0, result.stderr
    for folder in ("landing", "landing/ohlcv", "output"):
        assert (root / folder).is_dir(), folder
    project = Project(root)
    template = project.config.read_text()

    # a second init does not overwrite the config
    again = subprocess.run(
        [*CLI, "init", str(root)], capture_output=True, text=True, env=clean_env(), check=False
    )
    assert again.returncode != 0
    assert project.config.read_text() == template

    content = ohlcv_csv(random.Random(1), 20)
    write_file(project.landing / EURUSD, content)
    write_file(project.landing / "notes.txt", b"not data\n")
    # from the project folder, without --config: ./ingestflow.toml is the default
    run = subprocess.run(
        [*CLI, "run", "--once"],
        cwd=root,
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert run.returncode == 0, run.stderr
    # one file of a batch of 10, younger than max_wait (30s): it waits
    assert project.json("status") == {
        "counts": {"TODO": 1, "PROCESSING": 0, "DONE": 0, "FAILED": 0},
        "unrouted": 1,
    }
    (ohlcv,) = project.json("workflows")
    assert (ohlcv["name"], ohlcv["prefix"], ohlcv["batch_size"]) == ("ohlcv", "ohlcv/", 10)
    assert ohlcv["backlog"] == 1

    # INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE overrides the file; INGESTFLOW_CONFIG names it
    env = {"INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE": "1", "INGESTFLOW_CONFIG": str(project.config)}
    (ohlcv,) = project.json("workflows", env=env)
    assert ohlcv["batch_size"] == 1
    run = subprocess.run(
        [*CLI, "run", "--once"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(env),
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert project.counts() == {"TODO": 0, "PROCESSING": 0, "DONE": 1, "FAILED": 0}
    assert_output_matches(project.output_for("ohlcv", EURUSD), content)
    _, rows = expected_rows(content)
    got = project.json("query", "SELECT count(*) AS n FROM ohlcv")
    assert got == [{"n": len(rows)}]


def test_the_console_script_is_the_same_cli(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "ingestflow"
    if not script.exists():
        pytest.skip("no console script next to this interpreter")
    result = subprocess.run(
        [str(script), "init", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x" / "ingestflow.toml").is_file()


@pytest.fixture
def populated(tmp_path: Path) -> tuple[Project, dict[str, bytes]]:
    """Two workflows, DONE and FAILED files, a file still waiting, unrouted and ignored files;
    upload times (mtimes) set so that the oldest-first order is known."""
    project = write_config(
        tmp_path / "p",
        [
            workflow("ohlcv", "ohlcv/", batch_size=3, max_wait="1h"),
            workflow("markets", "markets/", batch_size=1, max_wait="0s"),
            workflow("later", "later/", batch_size=5, max_wait="1h"),
        ],
    )
    rng = random.Random(2)
    data = {
        "ohlcv/x/1.csv": ohlcv_csv(rng, 10),
        "ohlcv/x/2.csv": ohlcv_csv(rng, 10, variant=1),
        "ohlcv/y/3.csv": b"Date,Open\n2024-01-01,1\n",
        "markets/fx/eurusd.csv": ohlcv_csv(rng, 10, variant=2),
        "markets/fx/broken.csv": b"Date,Open,High,Low,Close,Volume\nyesterday,1,1,1,1,1\n",
        "later/waits.csv": ohlcv_csv(rng, 5),
    }
    base = int(time.time()) - 2000  # all younger than the 1h max_wait
    for i, (key, content) in enumerate(data.items()):
        path = write_file(project.landing / key, content)
        os.utime(path, (base + 100 * (len(data) - i), base + 100 * (len(data) - i)))
    write_file(project.landing / "notes.txt", b"hello\n")  # under no prefix
    write_file(project.landing / "ohlcv/README.md", b"# about\n")  # no include pattern
    write_file(project.landing / "ohlcv/z.csv.part", b"Date\n")  # temporary name: ignored
    write_file(project.landing / "ohlcv/.hidden.csv", b"Date\n")  # hidden: ignored
    project.run_once(expect=1)
    return project, data


def test_status_files_unrouted_and_workflows(populated: tuple[Project, dict[str, bytes]]) -> None:
    project, data = populated
    status = project.json("status")
    assert set(status) == {"counts", "unrouted"}
    assert set(status["counts"]) == set(STATUSES)
    assert status["counts"] == {"TODO": 1, "PROCESSING": 0, "DONE": 3, "FAILED": 2}
    assert status["unrouted"] == 2

    unrouted = {u["key"]: u for u in project.json("unrouted")}
    assert set(unrouted) == {"notes.txt", "ohlcv/README.md"}
    assert all(u["reason"] for u in unrouted.values())
    assert unrouted["notes.txt"]["size"] == 6

    files = project.files()
    assert [f["key"] for f in files] == list(reversed(list(data)))  # oldest upload first
    uploads = [parse_iso(f["upload_time"]) for f in files]
    assert uploads == sorted(uploads)
    assert [f["key"] for f in project.files("--status", "TODO")] == ["later/waits.csv"]
    failed = project.files("--status", "FAILED")
    assert {f["key"] for f in failed} == {"ohlcv/y/3.csv", "markets/fx/broken.csv"}
    assert all(f["status"] == "FAILED" and f["error"] for f in failed)
    done = project.files("--status", "DONE", "--prefix", "ohlcv/")
    assert {f["key"] for f in done} == {"ohlcv/x/1.csv", "ohlcv/x/2.csv"}
    assert {f["key"] for f in project.files("--prefix", "markets/")} == {
        "markets/fx/eurusd.csv",
        "markets/fx/broken.csv",
    }
    assert {f["key"] for f in project.files("--workflow", "markets", "--status", "DONE")} == {
        "markets/fx/eurusd.csv"
    }
    bogus = project.cli("files", "--status", "LOST", "--json", expect=None)
    assert bogus.returncode == 2, bogus

    workflows = {w["name"]: w for w in project.json("workflows")}
    assert list(workflows) == ["ohlcv", "markets", "later"]
    assert workflows["later"]["backlog"] == 1
    assert workflows["later"]["batch_size"] == 5
    assert workflows["ohlcv"]["backlog"] == 0
    assert workflows["markets"]["prefix"] == "markets/"


def test_history(populated: tuple[Project, dict[str, bytes]]) -> None:
    project, _ = populated
    history = project.history("markets/fx/broken.csv")
    assert [(t["from"], t["to"]) for t in history] == [
        (None, "TODO"),
        ("TODO", "PROCESSING"),
        ("PROCESSING", "FAILED"),
    ]
    times = [parse_iso(t["at"]) for t in history]
    assert times == sorted(times)
    assert "Date" in history[-1]["error"] and "yesterday" in history[-1]["error"]
    # a key the ledger never saw has no history
    assert project.history("ohlcv/nope.csv") == []
    plain = project.cli("history", "ohlcv/nope.csv", expect=None)
    assert plain.returncode != 0
    assert "ohlcv/nope.csv" in plain.stderr


def test_query_json_and_csv(populated: tuple[Project, dict[str, bytes]]) -> None:
    project, data = populated
    expected = []
    for key in ("ohlcv/x/1.csv", "ohlcv/x/2.csv"):
        expected += expected_rows(data[key])[1]
    sql = "SELECT count(*) AS n, sum(volume) AS v, max(timestamp) AS t FROM ohlcv"
    (got,) = project.json("query", sql)
    assert got["n"] == len(expected)
    assert got["v"] == pytest.approx(sum(r["volume"] for r in expected))
    assert got["t"] == max(r["timestamp"] for r in expected).isoformat()

    sql = "SELECT open_price, close_price, price_change FROM markets ORDER BY timestamp"
    text = project.cli("query", sql, "--csv").stdout
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["open_price", "close_price", "price_change"]
    want = sorted(expected_rows(data["markets/fx/eurusd.csv"])[1], key=lambda r: r["timestamp"])
    assert len(rows) == len(want) + 1
    for row, w in zip(rows[1:], want, strict=True):
        assert [float(v) for v in row] == [w["open_price"], w["close_price"], w["price_change"]]

    bad = project.cli("query", "SELECT * FROM nowhere", "--json", expect=None)
    assert bad.returncode != 0


def test_retry_needs_keys_or_failed(populated: tuple[Project, dict[str, bytes]]) -> None:
    project, _ = populated
    result = project.cli("retry", expect=None)
    assert result.returncode == 2, result
    assert "--failed" in result.stderr
    assert project.counts()["FAILED"] == 2  # nothing changed


BASE = """
schedule_interval = "1s"
[landing]
path = "landing"
settle = "0s"
[[workflows]]
name = "ohlcv"
prefix = "ohlcv/"
batch_size = 10
"""


@pytest.mark.parametrize(
    ("toml", "env", "key"),
    [
        (BASE.replace("batch_size = 10", "batch_size = -1"), {}, "batch_size"),
        (BASE.replace("batch_size = 10", "batch_sise = 10"), {}, "batch_sise"),
        (BASE.replace('settle = "0s"', 'settle = "0s"\ncolour = "red"'), {}, "colour"),
        (BASE + 'max_wait = "soon"\n', {}, "max_wait"),
        (BASE + 'transform = "nope"\n', {}, "transform"),
        ("verbose = true\n" + BASE, {}, "verbose"),
        (BASE + '[ledger]\nurl = "mysql://db/x"\n', {}, "ledger.url"),
        (BASE, {"INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE": "-5"}, "batch_size"),
        (BASE, {"INGESTFLOW_WORKFLOWS__OHLCV__MAX_WAIT": "later"}, "max_wait"),
    ],
)
@pytest.mark.parametrize("command", [["status", "--json"], ["run", "--once"]])
def test_config_errors_exit_2_and_name_the_key(
    tmp_path: Path, toml: str, env: dict[str, str], key: str, command: list[str]
) -> None:
    project = Project(tmp_path)
    project.config.write_text(toml, encoding="utf-8")
    result = project.cli(*command, env=env, expect=None)
    assert result.returncode == 2, result
    assert key in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_and_unknown_env_exit_2(tmp_path: Path) -> None:
    project = Project(tmp_path)
    result = project.cli("status", "--json", expect=None)
    assert result.returncode == 2 and "ingestflow.toml" in result.stderr, result
    project.config.write_text(BASE, encoding="utf-8")
    result = project.cli("status", "--json", "--env", "staging", expect=None)
    assert result.returncode == 2 and "staging" in result.stderr, result


OVERLAYS = """
[env.prod]
schedule_interval = "5s"
ledger = { url = "sqlite://prod/ledger.db" }
[[env.prod.workflows]]
name = "ohlcv"
batch_size = 2
max_wait = "1h"
"""


def test_env_overlay_and_environment_overrides(tmp_path: Path) -> None:
    project = write_config(
        tmp_path / "p",
        [workflow("ohlcv", "ohlcv/", batch_size=10, max_wait="1h")],
        extra=OVERLAYS,
    )
    rng = random.Random(6)
    data = {f"ohlcv/{i}.csv": ohlcv_csv(rng, 8) for i in range(2)}
    for key, content in data.items():
        write_file(project.landing / key, content)

    (plain,) = project.json("workflows")
    (prod,) = project.json("workflows", "--env", "prod")
    (via_env,) = project.json("workflows", env={"INGESTFLOW_ENV": "prod"})
    assert plain["batch_size"] == 10
    assert prod["batch_size"] == via_env["batch_size"] == 2
    assert prod["max_wait"] == 3600
    # precedence: file < overlay < environment variable
    (over,) = project.json(
        "workflows", "--env", "prod", env={"INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE": "50"}
    )
    assert over["batch_size"] == 50

    # without the overlay the two files are a partial batch; with it they are a full one,
    # recorded in the prod ledger only
    project.cli("run", "--once")
    assert project.counts()["TODO"] == 2
    project.cli("run", "--once", "--env", "prod")
    prod_status = project.json("status", "--env", "prod")
    assert prod_status["counts"] == {"TODO": 0, "PROCESSING": 0, "DONE": 2, "FAILED": 0}
    assert project.counts() == {"TODO": 2, "PROCESSING": 0, "DONE": 0, "FAILED": 0}
    assert (project.root / "prod" / "ledger.db").is_file()
    for key, content in data.items():
        assert_output_matches(project.output_for("ohlcv", key), content)

    # INGESTFLOW_<SECTION>__<KEY>: another ledger
    other = tmp_path / "other.db"
    env = {"INGESTFLOW_LEDGER__URL": f"sqlite://{other}"}
    empty = project.json("status", env=env)
    assert empty["counts"] == {"TODO": 0, "PROCESSING": 0, "DONE": 0, "FAILED": 0}
    assert other.is_file()


def test_querying_a_workflow_without_outputs_says_so(
    populated: tuple[Project, dict[str, bytes]],
) -> None:
    project, _ = populated
    result = project.cli("query", "SELECT count(*) FROM later", expect=1)
    assert result.stderr == "error: workflow 'later' has no outputs yet\n"
    # The other workflows' tables are still there.
    assert project.json("query", "SELECT count(*) AS n FROM markets") == [{"n": 10}]


def test_path_problems_are_one_line_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    for args, problem in [
        (["init", str(blocker / "project")], "Not a directory"),
        (["demo", "--dir", str(blocker), "--files", "1"], "File exists"),
    ]:
        result = subprocess.run(
            [*CLI, *args], capture_output=True, text=True, env=clean_env(), check=False
        )
        assert result.returncode == 1, result
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: ") and str(blocker) in line and problem in line, line
