"""Fixtures for the unit tests: config files written into a folder under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from unit_support import WriteConfig


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """The folder holding the config file: a sub-folder, so it differs from tmp_path and cwd."""
    folder = tmp_path / "conf"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def write_config(config_dir: Path) -> WriteConfig:
    """Write TOML text to <config_dir>/ingestflow.toml and return its path."""

    def write(text: str) -> Path:
        path = config_dir / "ingestflow.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
