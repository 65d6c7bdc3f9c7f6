"""Reading ingestflow.toml: defaults, paths, overlays, environment overrides, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestflow.config import load_settings
from ingestflow.domain.errors import ConfigError
from ingestflow.entrypoints.cli.init_template import TEMPLATE

BASE = """
[landing]
path = "in"
[output]
path = "out"
[ledger]
url = "sqlite://state/ledger.db"

[[workflows]]
name = "ohlcv"
prefix = "ohlcv"
batch_size = 5
max_wait = "30s"

[env.prod]
schedule_interval = "10s"
[[env.prod.workflows]]
name = "ohlcv"
batch_size = 50
[[env.prod.workflows]]
name = "trades"
prefix = "trades/"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf" / "ingestflow.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, BASE), environ={})
    folder = (tmp_path / "conf").resolve()
    assert settings.landing_path == folder / "in"
    assert settings.output_path == folder / "out"
    assert settings.ledger_path == folder / "state" / "ledger.db"
    assert settings.landing_bucket == "in"


def test_defaults_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, BASE), environ={})
    wf = settings.workflows[0]
    assert wf.prefix == "ohlcv/"  # a folder, not any key starting with 'ohlcv'
    assert (wf.batch_size, wf.max_wait, wf.max_attempts) == (5, 30.0, 3)
    assert wf.include == ("*.csv", "*.csv.gz")
    assert settings.schedule_interval == 1.0
    assert settings.output_compression == "snappy"


def test_an_absolute_sqlite_url_is_used_as_is(tmp_path: Path) -> None:
    text = BASE.replace("sqlite://state/ledger.db", f"sqlite:///{tmp_path}/abs.db")
    assert load_settings(write(tmp_path, text), environ={}).ledger_path == tmp_path / "abs.db"


def test_an_overlay_merges_tables_and_workflows_by_name(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, BASE), env="prod", environ={})
    assert settings.schedule_interval == 10.0
    by_name = {w.name: w for w in settings.workflows}
    assert by_name["ohlcv"].batch_size == 50
    assert by_name["ohlcv"].max_wait == 30.0  # kept from the base file
    assert by_name["trades"].prefix == "trades/"


def test_the_overlay_can_come_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, BASE), environ={"INGESTFLOW_ENV": "prod"})
    assert settings.env == "prod"
    assert settings.schedule_interval == 10.0


def test_environment_variables_override_single_values_last(tmp_path: Path) -> None:
    environ = {
        "INGESTFLOW_SCHEDULE_INTERVAL": "3s",
        "INGESTFLOW_LEDGER__URL": f"sqlite:///{tmp_path}/env.db",
        "INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE": "7",
    }
    settings = load_settings(write(tmp_path, BASE), env="prod", environ=environ)
    assert settings.schedule_interval == 3.0
    assert settings.ledger_path == tmp_path / "env.db"
    assert settings.workflow("ohlcv").batch_size == 7  # type: ignore[union-attr]


def test_a_declarative_transform_is_parsed_and_workflow_options_apply(tmp_path: Path) -> None:
    text = (
        BASE.replace('max_wait = "30s"', 'max_wait = "30s"\ntransform = "trades"')
        + """
[[workflows]]
name = "fx"
prefix = "fx/"
[workflows.options]
timestamp_format = "%d/%m/%Y"

[[transforms]]
name = "trades"
drop = ["comment"]
[[transforms.columns]]
source = "Price"
target = "price"
type = "float64"
[[transforms.columns]]
source = "When"
type = "timestamp"
format = "%d/%m/%Y %H:%M"
[[transforms.derived]]
name = "double_price"
expr = "price * 2"
type = "double"
"""
    )
    settings = load_settings(write(tmp_path, text), environ={})
    spec = settings.spec_for(settings.workflows[0])
    assert [(c.source, c.target, c.type) for c in spec.columns] == [
        ("Price", "price", "double"),
        ("When", "When", "timestamp"),
    ]
    assert spec.columns[1].formats == ("%d/%m/%Y %H:%M",)
    assert spec.drop == ("comment",)
    fx = settings.spec_for(settings.workflows[1])
    assert next(c for c in fx.columns if c.source == "Date").formats == ("%d/%m/%Y",)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("batch_size = 5", "batch_size = -1"), "workflows.ohlcv.batch_size"),
        (("batch_size = 5", "batch_size = 5\ncolour = 1"), "workflows.ohlcv.colour"),
        (('max_wait = "30s"', 'max_wait = "soon"'), "workflows.ohlcv.max_wait"),
        (('max_wait = "30s"', 'max_wait = "30s"\ntransform = "nope"'), "workflows.ohlcv.transform"),
        (('max_wait = "30s"', 'max_wait = "30s"\ninclude = []'), "workflows.ohlcv.include"),
        (('name = "ohlcv"', 'name = "has space"'), "workflows[0].name"),
        (("[landing]", "surprise = 1\n[landing]"), "surprise"),
        (('path = "out"', 'path = "out"\ncompression = "brotli"'), "output.compression"),
        (("sqlite://state/ledger.db", "postgresql://db/x"), "ledger.url"),
        (("[landing]", "[landing]\nsettle = []"), "landing.settle"),
    ],
)
def test_every_config_error_names_its_key(
    tmp_path: Path, change: tuple[str, str], key: str
) -> None:
    text = BASE.replace(*change, 1)
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, text), environ={})
    assert raised.value.key == key
    assert key in str(raised.value)


def test_a_workflow_name_used_twice_is_an_error(tmp_path: Path) -> None:
    text = BASE + '\n[[workflows]]\nname = "ohlcv"\nprefix = "x/"\n'
    with pytest.raises(ConfigError, match="used twice"):
        load_settings(write(tmp_path, text), environ={})


def test_an_unknown_environment_is_an_error_not_a_silent_default(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, BASE), env="staging", environ={})
    assert raised.value.key == "env.staging"


def test_invalid_toml_and_a_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[landing\n"), environ={})
    with pytest.raises(ConfigError, match="no config file"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_the_init_template_is_a_working_config(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, TEMPLATE), environ={})
    assert [(w.name, w.prefix, w.transform) for w in settings.workflows] == [
        ("ohlcv", "ohlcv/", "ohlcv")
    ]
    for env in ("dev", "prod"):
        load_settings(write(tmp_path, TEMPLATE), env=env, environ={})
