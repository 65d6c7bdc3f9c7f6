"""`[engine] name = "spark"` with `master` and `[engine.conf]`; the spark keys are refused on
the duckdb engine, and a master or setting of the wrong form is a config error."""

from __future__ import annotations

import pytest
from unit_support import OHLCV_WORKFLOW, WriteConfig, config_error

from ingestflow.config.loader import load_settings


def test_the_spark_engine_takes_a_master_and_session_settings(write_config: WriteConfig) -> None:
    path = write_config(
        '[engine]\nname = "spark"\nmaster = "spark://10.0.0.5:7077"\n\n[engine.conf]\n'
        '"spark.executor.memory" = "2g"\nspark.sql.shuffle.partitions = 8\n'
        '"spark.speculation" = false\n' + OHLCV_WORKFLOW
    )
    settings = load_settings(path, environ={})
    assert settings.engine == "spark"
    assert settings.engine_master == "spark://10.0.0.5:7077"
    assert settings.engine_conf == {
        "spark.executor.memory": "2g",
        "spark.sql.shuffle.partitions": "8",
        "spark.speculation": "false",
    }


def test_the_spark_master_defaults_to_two_local_cores(write_config: WriteConfig) -> None:
    settings = load_settings(
        write_config('[engine]\nname = "spark"\n' + OHLCV_WORKFLOW), environ={}
    )
    assert settings.engine_master == "local[2]"
    assert settings.engine_conf == {}


@pytest.mark.parametrize("master", ["local[*]", "local[4]", "local"])
def test_local_masters_are_accepted(write_config: WriteConfig, master: str) -> None:
    path = write_config(f'[engine]\nname = "spark"\nmaster = "{master}"\n' + OHLCV_WORKFLOW)
    assert load_settings(path, environ={}).engine_master == master


@pytest.mark.parametrize("master", ["local[two]", "http://host:7077", ""])
def test_a_master_of_another_form_is_refused(write_config: WriteConfig, master: str) -> None:
    path = write_config(f'[engine]\nname = "spark"\nmaster = "{master}"\n' + OHLCV_WORKFLOW)
    assert config_error(path).key == "engine.master"


def test_spark_settings_on_the_duckdb_engine_are_refused(write_config: WriteConfig) -> None:
    path = write_config('[engine]\nname = "duckdb"\nmaster = "local[2]"\n' + OHLCV_WORKFLOW)
    error = config_error(path)
    assert error.key == "engine.master"
    assert "spark" in error.problem


def test_an_unknown_engine_names_the_available_ones(write_config: WriteConfig) -> None:
    error = config_error(write_config('[engine]\nname = "flink"\n' + OHLCV_WORKFLOW))
    assert error.key == "engine.name"
    assert "duckdb" in error.problem and "spark" in error.problem
