"""Helpers the unit tests import (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from ingestflow.config import load_settings
from ingestflow.domain.errors import ConfigError
from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status

WriteConfig = Callable[[str], Path]

# One workflow, as small as the loader accepts; tests append keys to it.
OHLCV_WORKFLOW = """
[[workflows]]
name = "ohlcv"
prefix = "ohlcv/"
"""


def config_error(
    path: Path, *, env: str | None = None, environ: Mapping[str, str] | None = None
) -> ConfigError:
    """Load `path` expecting a ConfigError (and nothing else); return it."""
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env=env, environ=environ or {})
    return raised.value


def make_record(
    status: Status,
    *,
    upload_time: float = 0.0,
    lease_until: float | None = None,
) -> FileRecord:
    return FileRecord(
        bucket="landing",
        key="ohlcv/a.csv",
        workflow="ohlcv",
        prefix="ohlcv/",
        size=10,
        etag="e1",
        upload_time=upload_time,
        status=status,
        lease_until=lease_until,
    )
