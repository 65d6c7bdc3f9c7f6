"""`ingestflow run --once` on the Spark engine (`[engine] name = "spark"`, a local master and
`[engine.conf]`) through the real CLI: a bad file fails alone with its column and row, and the
outputs equal those of a project on the DuckDB engine given the same files."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from e2e_support import (
    Project,
    assert_output_matches,
    drop_ohlcv_files,
    toml_value,
    workflow,
    write_config,
    write_file,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WORKFLOW = workflow("ohlcv", "ohlcv/", batch_size=10, max_wait="0s")
DUCKDB_ENGINE = '[engine]\nname = "duckdb"\n'
SPARK_ENGINE = (
    '[engine]\nname = "spark"\nmaster = "local[2]"\n\n[engine.conf]\n"spark.local.dir" = {}\n'
)
GOOD_KEYS = ["ohlcv/a/eurusd.csv", "ohlcv/a/btcusd.csv.gz", "ohlcv/b/xauusd.csv", "ohlcv/c.csv"]
BAD_KEY = "ohlcv/bad/volume.csv"
BAD_ROW = 7  # data row (1 = the first after the header)
BAD_LINES = ["Date,Open,High,Low,Close,Volume"] + [
    f"2024-01-02 10:{i:02d}:00,1.5,2,1,1.75,{'12x' if i == BAD_ROW else i}" for i in range(1, 13)
]


def spark_project(root: Path) -> Project:
    """A project on the Spark engine: write_config's `[engine]` table, replaced in place (a
    second `[engine]` table would be invalid TOML). `spark.local.dir` (Spark's scratch folder,
    created by the session) shows that Spark ran with the `[engine.conf]` settings."""
    project = write_config(root, [WORKFLOW], engine_threads=None)
    text = project.config.read_text(encoding="utf-8")
    assert text.count(DUCKDB_ENGINE) == 1, text
    project.config.write_text(
        text.replace(DUCKDB_ENGINE, SPARK_ENGINE.format(toml_value(str(root / "spark-local")))),
        encoding="utf-8",
    )
    return project


def land(project: Project) -> dict[str, bytes]:
    files = drop_ohlcv_files(project.landing, GOOD_KEYS, seed=21, rows=30)
    bad = ("\n".join(BAD_LINES) + "\n").encode()
    write_file(project.landing / BAD_KEY, bad)
    return {**files, BAD_KEY: bad}


def test_a_spark_run_fails_the_bad_file_alone_and_gives_the_duckdb_outputs(
    tmp_path: Path,
) -> None:
    spark = spark_project(tmp_path / "spark")
    duck = write_config(tmp_path / "duckdb", [WORKFLOW])
    assert 'name = "spark"' in spark.config.read_text(encoding="utf-8")
    files = land(spark)
    assert land(duck) == files

    assert not (spark.root / "spark-local").exists()
    spark.cli("run", "--once", expect=1, timeout=600)  # exit 1: a file ended FAILED
    assert (spark.root / "spark-local").is_dir()
    duck.cli("run", "--once", expect=1)

    want = {"TODO": 0, "PROCESSING": 0, "DONE": len(GOOD_KEYS), "FAILED": 1}
    assert spark.counts() == want
    assert duck.counts() == want
    failed = spark.files("--status", "FAILED")
    assert [f["key"] for f in failed] == [BAD_KEY]
    error = failed[0]["error"]
    assert error == f"column 'Volume', row {BAD_ROW}: cannot parse '12x' as double", error
    assert duck.by_key()[BAD_KEY]["error"] == error
    assert failed[0]["output"] is None
    assert not spark.output_for("ohlcv", BAD_KEY).exists()

    records = spark.by_key()
    for key in GOOD_KEYS:
        assert records[key]["status"] == "DONE", records[key]
        mine, theirs = spark.output_for("ohlcv", key), duck.output_for("ohlcv", key)
        assert records[key]["output"] is not None
        assert Path(records[key]["output"]).resolve() == mine.resolve()
        assert_output_matches(mine, files[key])
        table, reference = pq.read_table(mine), pq.read_table(theirs)
        assert table.schema.equals(reference.schema), (key, table.schema, reference.schema)
        assert table.to_pylist() == reference.to_pylist(), key
    assert spark.outputs("ohlcv") == [spark.output_for("ohlcv", k) for k in sorted(GOOD_KEYS)]
