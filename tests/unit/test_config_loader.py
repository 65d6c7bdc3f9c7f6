"""Reading ingestflow.toml: defaults, paths, the ledger URL, overlays, INGESTFLOW_* overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from unit_support import OHLCV_WORKFLOW, WriteConfig, config_error

from ingestflow.config import find_config, load_settings
from ingestflow.domain.transform import OHLCV

# --- defaults and paths ---------------------------------------------------------------------


def test_an_empty_file_gives_the_embedded_defaults(
    write_config: WriteConfig, config_dir: Path
) -> None:
    path = write_config("")
    settings = load_settings(path, environ={})
    assert settings.config_path == path
    assert settings.env is None
    assert settings.landing_path == config_dir / "landing"
    assert settings.landing_bucket == "landing"
    assert settings.settle == 1.0
    assert settings.watch is True
    assert settings.output_path == config_dir / "output"
    assert settings.output_compression == "snappy"
    assert settings.ledger_url == "sqlite://.ingestflow/ledger.db"
    assert settings.ledger_path == config_dir / ".ingestflow" / "ledger.db"
    assert settings.schedule_interval == 1.0
    assert (settings.engine, settings.engine_threads, settings.engine_memory_limit) == (
        "duckdb",
        None,
        None,
    )
    assert settings.workflows == ()
    assert settings.transforms == {"ohlcv": OHLCV}


def test_relative_paths_resolve_against_the_config_files_folder_not_the_cwd(
    write_config: WriteConfig, config_dir: Path, tmp_path: Path
) -> None:
    text = """
[landing]
path = "data/incoming"
[output]
path = "../shared/out"
[ledger]
url = "sqlite://state/ledger.db"
"""
    settings = load_settings(write_config(text), environ={})
    assert Path.cwd() != config_dir
    assert settings.landing_path == config_dir / "data" / "incoming"
    assert settings.output_path == tmp_path.resolve() / "shared" / "out"
    assert settings.ledger_path == config_dir / "state" / "ledger.db"


def test_absolute_paths_are_kept(write_config: WriteConfig, tmp_path: Path) -> None:
    landing, output = tmp_path / "abs-in", tmp_path / "abs-out"
    text = f'[landing]\npath = "{landing}"\n[output]\npath = "{output}"\n'
    settings = load_settings(write_config(text), environ={})
    assert (settings.landing_path, settings.output_path) == (landing, output)


def test_a_path_starting_with_a_tilde_is_under_the_home_folder(write_config: WriteConfig) -> None:
    settings = load_settings(write_config('[landing]\npath = "~/drop"\n'), environ={})
    assert settings.landing_path == Path.home() / "drop"


def test_the_bucket_defaults_to_the_landing_folders_name(write_config: WriteConfig) -> None:
    settings = load_settings(write_config('[landing]\npath = "data/incoming"\n'), environ={})
    assert settings.landing_bucket == "incoming"


def test_an_explicit_bucket_wins(write_config: WriteConfig) -> None:
    text = '[landing]\npath = "data/incoming"\nbucket = "raw"\n'
    assert load_settings(write_config(text), environ={}).landing_bucket == "raw"


def test_settle_watch_compression_and_engine_values_are_read(write_config: WriteConfig) -> None:
    text = """
schedule_interval = "250ms"
[landing]
settle = "5s"
watch = false
[output]
compression = "ZSTD"
[engine]
name = "duckdb"
threads = 4
memory_limit = "4GB"
"""
    settings = load_settings(write_config(text), environ={})
    assert settings.schedule_interval == 0.25
    assert settings.settle == 5.0
    assert settings.watch is False
    assert settings.output_compression == "zstd"
    assert (settings.engine_threads, settings.engine_memory_limit) == (4, "4GB")


@pytest.mark.parametrize("compression", ["snappy", "zstd", "gzip", "lz4", "none"])
def test_every_documented_compression_is_accepted(
    write_config: WriteConfig, compression: str
) -> None:
    text = f'[output]\ncompression = "{compression}"\n'
    assert load_settings(write_config(text), environ={}).output_compression == compression


def test_a_number_of_seconds_is_a_duration(write_config: WriteConfig) -> None:
    text = "schedule_interval = 2\n[landing]\nsettle = 0.5\n"
    settings = load_settings(write_config(text), environ={})
    assert (settings.schedule_interval, settings.settle) == (2.0, 0.5)


# --- the ledger URL -------------------------------------------------------------------------


def test_a_three_slash_sqlite_url_is_an_absolute_path(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    url = f"sqlite://{tmp_path}/abs/ledger.db"  # tmp_path starts with '/': sqlite:///...
    assert url.startswith("sqlite:///")
    settings = load_settings(write_config(f'[ledger]\nurl = "{url}"\n'), environ={})
    assert settings.ledger_path == tmp_path / "abs" / "ledger.db"
    assert settings.ledger_url == url


def test_a_four_slash_sqlite_url_is_also_an_absolute_path(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/l.db"
    settings = load_settings(write_config(f'[ledger]\nurl = "{url}"\n'), environ={})
    assert settings.ledger_path == tmp_path / "l.db"


def test_a_two_slash_sqlite_url_is_relative_to_the_config_folder(
    write_config: WriteConfig, config_dir: Path, tmp_path: Path
) -> None:
    settings = load_settings(write_config('[ledger]\nurl = "sqlite://db/l.db"\n'), environ={})
    assert settings.ledger_path == config_dir / "db" / "l.db"
    settings = load_settings(write_config('[ledger]\nurl = "sqlite://../l.db"\n'), environ={})
    assert settings.ledger_path == tmp_path.resolve() / "l.db"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("mysql://host/db", "'mysql'"),
        ("redis://x", "'redis'"),
        ("ledger.db", "'ledger.db'"),
        ("sqlite:/x.db", "sqlite:/x.db"),
        ("sqlite://", "'sqlite'"),
    ],
)
def test_an_unsupported_ledger_url_is_a_config_error_naming_the_scheme(
    write_config: WriteConfig, url: str, named: str
) -> None:
    error = config_error(write_config(f'[ledger]\nurl = "{url}"\n'))
    assert error.key == "ledger.url"
    assert named in error.problem


def test_a_ledger_url_that_is_not_a_string_is_a_config_error(write_config: WriteConfig) -> None:
    assert config_error(write_config("[ledger]\nurl = 5\n")).key == "ledger.url"


# --- invalid values name their key ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("surprise = 1\n", "surprise"),
        ("[database]\nurl = 'x'\n", "database"),
        ("[landing]\ncolour = 'red'\n", "landing.colour"),
        ("[output]\nformat = 'csv'\n", "output.format"),
        ("[ledger]\npath = 'x'\n", "ledger.path"),
        ("[engine]\ngpu = true\n", "engine.gpu"),
        ("landing = 'in'\n", "landing"),
        ("[landing]\npath = ''\n", "landing.path"),
        ("[landing]\npath = 5\n", "landing.path"),
        ("[output]\npath = ['a']\n", "output.path"),
        ("[landing]\nsettle = 'soon'\n", "landing.settle"),
        ("[landing]\nsettle = '-1s'\n", "landing.settle"),
        ("[landing]\nsettle = []\n", "landing.settle"),
        ("schedule_interval = 'often'\n", "schedule_interval"),
        ("schedule_interval = -1\n", "schedule_interval"),
        ("[output]\ncompression = 'brotli'\n", "output.compression"),
        ("[output]\ncompression = 1\n", "output.compression"),
        ("[engine]\nname = 'flink'\n", "engine.name"),
        ("[engine]\nthreads = 0\n", "engine.threads"),
        ("[engine]\nthreads = '2'\n", "engine.threads"),
        ("[engine]\nthreads = 1.5\n", "engine.threads"),
        ("env = 'prod'\n", "env"),
        ("workflows = 5\n", "workflows"),
        ("transforms = 5\n", "transforms"),
    ],
)
def test_every_invalid_value_is_a_config_error_naming_its_key(
    write_config: WriteConfig, text: str, key: str
) -> None:
    error = config_error(write_config(text))
    assert error.key == key
    assert f"config error at '{key}'" in str(error)


def test_a_quoted_false_is_not_taken_as_true_for_watch(write_config: WriteConfig) -> None:
    # bool("false") is True: a string must be refused (or read as false), never flip to true.
    path = write_config('[landing]\nwatch = "false"\n')
    assert config_error(path).key == "landing.watch"


def test_a_boolean_is_not_a_thread_count(write_config: WriteConfig) -> None:
    assert config_error(write_config("[engine]\nthreads = true\n")).key == "engine.threads"


def test_a_nan_schedule_interval_is_a_config_error(write_config: WriteConfig) -> None:
    assert config_error(write_config("schedule_interval = nan\n")).key == "schedule_interval"


def test_invalid_toml_is_a_config_error_on_the_config(write_config: WriteConfig) -> None:
    error = config_error(write_config("[landing\npath = 'x'\n"))
    assert error.key == "config"
    assert "not valid TOML" in error.problem


def test_a_file_that_is_not_utf8_is_a_config_error(write_config: WriteConfig) -> None:
    path = write_config("")
    path.write_bytes(b"schedule_interval = '\xff\xfe'\n")
    error = config_error(path)
    assert error.key == "config"
    assert "cannot read" in error.problem


def test_a_missing_file_is_a_config_error_on_the_config(tmp_path: Path) -> None:
    error = config_error(tmp_path / "missing.toml")
    assert error.key == "config"
    assert "no config file" in error.problem


def test_a_folder_is_not_a_config_file(tmp_path: Path) -> None:
    assert config_error(tmp_path).key == "config"


def test_ingestflow_config_names_the_file_when_no_path_is_given(
    write_config: WriteConfig,
) -> None:
    path = write_config("schedule_interval = '7s'\n")
    settings = load_settings(None, environ={"INGESTFLOW_CONFIG": str(path)})
    assert settings.config_path == path
    assert settings.schedule_interval == 7.0


def test_an_explicit_path_beats_ingestflow_config(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    path = write_config("")
    environ = {"INGESTFLOW_CONFIG": str(tmp_path / "elsewhere.toml")}
    assert find_config(path, environ) == path
    assert load_settings(path, environ=environ).config_path == path


# --- [env.<name>] overlays ------------------------------------------------------------------

OVERLAID = """
schedule_interval = "2s"
[landing]
path = "in"
settle = "1s"
[ledger]
url = "sqlite://state/ledger.db"

[[workflows]]
name = "ohlcv"
prefix = "ohlcv"
batch_size = 5
max_wait = "30s"
include = ["*.csv"]
[workflows.options]
timestamp_format = "%d/%m/%Y %H:%M"

[env.dev]
schedule_interval = "250ms"

[env.prod]
schedule_interval = "10s"
[env.prod.landing]
settle = "5s"
[[env.prod.workflows]]
name = "ohlcv"
batch_size = 50
[env.prod.workflows.options]
delimiter = ";"
[[env.prod.workflows]]
name = "trades"
prefix = "trades/"
"""


def test_without_an_env_no_overlay_applies(write_config: WriteConfig) -> None:
    settings = load_settings(write_config(OVERLAID), environ={})
    assert settings.env is None
    assert settings.schedule_interval == 2.0
    assert [w.name for w in settings.workflows] == ["ohlcv"]
    assert settings.workflows[0].batch_size == 5


def test_an_overlay_replaces_top_level_values(write_config: WriteConfig) -> None:
    settings = load_settings(write_config(OVERLAID), env="dev", environ={})
    assert settings.env == "dev"
    assert settings.schedule_interval == 0.25
    assert settings.settle == 1.0


def test_an_overlay_is_deep_merged_into_tables(write_config: WriteConfig, config_dir: Path) -> None:
    settings = load_settings(write_config(OVERLAID), env="prod", environ={})
    assert settings.settle == 5.0
    assert settings.landing_path == config_dir / "in"  # kept from the base [landing]
    assert settings.ledger_path == config_dir / "state" / "ledger.db"


def test_overlay_workflows_are_merged_by_name_and_new_ones_appended(
    write_config: WriteConfig,
) -> None:
    settings = load_settings(write_config(OVERLAID), env="prod", environ={})
    assert [w.name for w in settings.workflows] == ["ohlcv", "trades"]
    ohlcv, trades = settings.workflows
    assert ohlcv.batch_size == 50
    assert (ohlcv.prefix, ohlcv.max_wait, ohlcv.include) == ("ohlcv/", 30.0, ("*.csv",))
    assert dict(ohlcv.options) == {"timestamp_format": "%d/%m/%Y %H:%M", "delimiter": ";"}
    assert trades.prefix == "trades/"


def test_overlay_workflows_are_used_when_the_base_has_none(write_config: WriteConfig) -> None:
    text = '[env.prod]\n[[env.prod.workflows]]\nname = "fx"\nprefix = "fx"\n'
    settings = load_settings(write_config(text), env="prod", environ={})
    assert [(w.name, w.prefix) for w in settings.workflows] == [("fx", "fx/")]


def test_ingestflow_env_chooses_the_overlay(write_config: WriteConfig) -> None:
    settings = load_settings(write_config(OVERLAID), environ={"INGESTFLOW_ENV": "prod"})
    assert settings.env == "prod"
    assert settings.schedule_interval == 10.0


def test_the_env_argument_beats_ingestflow_env(write_config: WriteConfig) -> None:
    settings = load_settings(write_config(OVERLAID), env="dev", environ={"INGESTFLOW_ENV": "prod"})
    assert settings.env == "dev"
    assert settings.schedule_interval == 0.25


def test_an_unknown_env_name_is_an_error_listing_the_known_ones(
    write_config: WriteConfig,
) -> None:
    error = config_error(write_config(OVERLAID), env="staging")
    assert error.key == "env.staging"
    assert "dev, prod" in error.problem


def test_an_env_name_with_no_overlays_defined_is_an_error(write_config: WriteConfig) -> None:
    error = config_error(write_config(""), environ={"INGESTFLOW_ENV": "prod"})
    assert error.key == "env.prod"
    assert "none defined" in error.problem


def test_an_overlay_with_an_unknown_key_is_a_config_error(write_config: WriteConfig) -> None:
    error = config_error(write_config("[env.prod]\nsurprise = 1\n"), env="prod")
    assert error.key == "surprise"


def test_an_overlay_with_an_invalid_value_names_the_key(write_config: WriteConfig) -> None:
    text = OHLCV_WORKFLOW + '[env.prod]\n[[env.prod.workflows]]\nname = "ohlcv"\nbatch_size = 0\n'
    assert config_error(write_config(text), env="prod").key == "workflows.ohlcv.batch_size"


def test_an_overlay_that_is_not_a_table_is_a_config_error(write_config: WriteConfig) -> None:
    path = write_config('[env]\nprod = "x"\n')
    assert config_error(path, env="prod").key == "env.prod"


# --- INGESTFLOW_* environment overrides -----------------------------------------------------


def test_ingestflow_ledger_url_overrides_the_ledger(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    environ = {"INGESTFLOW_LEDGER__URL": f"sqlite://{tmp_path}/env.db"}
    settings = load_settings(write_config(OVERLAID), environ=environ)
    assert settings.ledger_url == f"sqlite://{tmp_path}/env.db"
    assert settings.ledger_path == tmp_path / "env.db"


def test_ingestflow_schedule_interval_overrides_a_top_level_duration(
    write_config: WriteConfig,
) -> None:
    environ = {"INGESTFLOW_SCHEDULE_INTERVAL": "5s"}
    assert load_settings(write_config(OVERLAID), environ=environ).schedule_interval == 5.0


def test_a_workflow_value_is_overridden_by_name(write_config: WriteConfig) -> None:
    environ = {"INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE": "50"}
    settings = load_settings(write_config(OVERLAID), environ=environ)
    assert settings.workflows[0].batch_size == 50
    assert settings.workflows[0].max_wait == 30.0


def test_a_workflow_override_matches_the_name_case_insensitively(
    write_config: WriteConfig,
) -> None:
    text = '[[workflows]]\nname = "FxRates"\nprefix = "fx/"\n'
    environ = {"INGESTFLOW_WORKFLOWS__FXRATES__MAX_WAIT": "2m"}
    assert load_settings(write_config(text), environ=environ).workflows[0].max_wait == 120.0


def test_an_override_reaches_a_section_the_file_does_not_have(
    write_config: WriteConfig,
) -> None:
    environ = {"INGESTFLOW_ENGINE__THREADS": "3", "INGESTFLOW_LANDING__WATCH": "false"}
    settings = load_settings(write_config(""), environ=environ)
    assert settings.engine_threads == 3
    assert settings.watch is False


def test_override_values_are_read_as_toml_values_when_they_parse(
    write_config: WriteConfig,
) -> None:
    environ = {
        "INGESTFLOW_WORKFLOWS__OHLCV__INCLUDE": '["*.txt", "*.tsv"]',
        "INGESTFLOW_WORKFLOWS__OHLCV__MAX_WAIT": "90",
        "INGESTFLOW_OUTPUT__COMPRESSION": "gzip",
    }
    settings = load_settings(write_config(OVERLAID), environ=environ)
    assert settings.workflows[0].include == ("*.txt", "*.tsv")
    assert settings.workflows[0].max_wait == 90.0
    assert settings.output_compression == "gzip"


def test_overrides_apply_to_workflows_defined_only_in_the_overlay(
    write_config: WriteConfig,
) -> None:
    environ = {"INGESTFLOW_WORKFLOWS__TRADES__BATCH_SIZE": "3"}
    settings = load_settings(write_config(OVERLAID), env="prod", environ=environ)
    assert settings.workflow("trades").batch_size == 3  # type: ignore[union-attr]


def test_an_override_for_an_unknown_workflow_names_the_variable(
    write_config: WriteConfig,
) -> None:
    environ = {"INGESTFLOW_WORKFLOWS__NOPE__BATCH_SIZE": "1"}
    error = config_error(write_config(OVERLAID), environ=environ)
    assert error.key == "INGESTFLOW_WORKFLOWS__NOPE__BATCH_SIZE"
    assert "'nope'" in error.problem


def test_an_override_of_an_unknown_key_in_a_known_section_names_the_variable(
    write_config: WriteConfig,
) -> None:
    error = config_error(write_config(""), environ={"INGESTFLOW_LANDING__COLOUR": "red"})
    assert error.key == "INGESTFLOW_LANDING__COLOUR"
    assert error.problem.startswith("unknown key 'colour' (known: bucket, follow_symlinks, ")


def test_an_override_below_a_plain_value_names_the_variable(write_config: WriteConfig) -> None:
    environ = {"INGESTFLOW_SCHEDULE_INTERVAL__UNIT": "s"}
    error = config_error(write_config(OVERLAID), environ=environ)
    assert error.key == "INGESTFLOW_SCHEDULE_INTERVAL__UNIT"


def test_an_invalid_override_value_names_the_config_key(write_config: WriteConfig) -> None:
    environ = {"INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE": "-1"}
    error = config_error(write_config(OVERLAID), environ=environ)
    assert error.key == "workflows.ohlcv.batch_size"


def test_variables_outside_the_ingestflow_prefix_are_ignored(write_config: WriteConfig) -> None:
    environ = {"SCHEDULE_INTERVAL": "9s", "INGESTFLOWX_SCHEDULE_INTERVAL": "9s", "HOME": "/x"}
    assert load_settings(write_config(OVERLAID), environ=environ).schedule_interval == 2.0


def test_ingestflow_env_and_ingestflow_config_are_not_overrides(
    write_config: WriteConfig,
) -> None:
    path = write_config(OVERLAID)
    environ = {"INGESTFLOW_ENV": "dev", "INGESTFLOW_CONFIG": str(path)}
    settings = load_settings(None, environ=environ)
    assert settings.schedule_interval == 0.25


@pytest.mark.parametrize(
    ("env", "environ", "batch_size", "interval"),
    [
        (None, {}, 5, 2.0),
        ("prod", {}, 50, 10.0),
        (
            "prod",
            {
                "INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE": "500",
                "INGESTFLOW_SCHEDULE_INTERVAL": "1m",
            },
            500,
            60.0,
        ),
        (
            None,
            {
                "INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE": "500",
                "INGESTFLOW_SCHEDULE_INTERVAL": "1m",
            },
            500,
            60.0,
        ),
    ],
    ids=["file", "file<overlay", "file<overlay<env-var", "file<env-var"],
)
def test_precedence_is_file_then_overlay_then_environment_variable(
    write_config: WriteConfig,
    env: str | None,
    environ: dict[str, str],
    batch_size: int,
    interval: float,
) -> None:
    settings = load_settings(write_config(OVERLAID), env=env, environ=environ)
    assert settings.workflows[0].batch_size == batch_size
    assert settings.schedule_interval == interval
