"""`[ledger] url = "postgresql://..."`: accepted without a password, with `password_env` and
`pool_size`; a password in the URL, a URL without a database and bad values are refused."""

from __future__ import annotations

import pytest
from unit_support import OHLCV_WORKFLOW, WriteConfig, config_error

from ingestflow.config.loader import load_settings


def test_a_postgresql_url_selects_the_postgresql_ledger(write_config: WriteConfig) -> None:
    path = write_config(
        '[ledger]\nurl = "postgresql://ingest@db.internal:5433/ledger"\n'
        'password_env = "LEDGER_PASSWORD"\npool_size = 8\n' + OHLCV_WORKFLOW
    )
    settings = load_settings(path, environ={})
    assert settings.ledger_kind == "postgresql"
    assert settings.ledger_url == "postgresql://ingest@db.internal:5433/ledger"
    assert settings.ledger_password_env == "LEDGER_PASSWORD"
    assert settings.ledger_pool_size == 8
    assert settings.ledger_path == path.parent.resolve() / ".ingestflow" / "ledger"


def test_the_sqlite_ledger_stays_the_default(write_config: WriteConfig) -> None:
    settings = load_settings(write_config(OHLCV_WORKFLOW), environ={})
    assert settings.ledger_kind == "sqlite"
    assert settings.ledger_password_env is None
    assert settings.ledger_pool_size == 4


def test_the_postgres_scheme_alias_is_accepted(write_config: WriteConfig) -> None:
    path = write_config('[ledger]\nurl = "postgres://u@h/db"\n' + OHLCV_WORKFLOW)
    assert load_settings(path, environ={}).ledger_kind == "postgresql"


def test_a_password_in_the_url_is_refused_without_showing_it(write_config: WriteConfig) -> None:
    path = write_config('[ledger]\nurl = "postgresql://u:s3cret-pw@h/db"\n' + OHLCV_WORKFLOW)
    error = config_error(path)
    assert error.key == "ledger.url"
    assert "PGPASSWORD" in error.problem and "password_env" in error.problem
    assert "s3cret-pw" not in str(error)


def test_a_url_without_a_database_is_refused(write_config: WriteConfig) -> None:
    error = config_error(write_config('[ledger]\nurl = "postgresql://u@h:5432"\n' + OHLCV_WORKFLOW))
    assert error.key == "ledger.url"
    assert "database" in error.problem


@pytest.mark.parametrize("value", ["0", "65", "true", '"4"', "2.5"])
def test_a_pool_size_outside_1_to_64_is_refused(write_config: WriteConfig, value: str) -> None:
    path = write_config(f'[ledger]\nurl = "postgresql://u@h/db"\npool_size = {value}\n')
    error = config_error(path)
    assert error.key == "ledger.pool_size"


def test_a_password_env_that_is_not_a_variable_name_is_refused(write_config: WriteConfig) -> None:
    path = write_config('[ledger]\nurl = "postgresql://u@h/db"\npassword_env = "not a name"\n')
    assert config_error(path).key == "ledger.password_env"
