"""Configuration: one TOML file, environment overlays, INGESTFLOW_* overrides -> Settings."""

from ingestflow.config.loader import find_config, load_settings
from ingestflow.config.notices import report_warnings
from ingestflow.config.settings import Settings

__all__ = ["Settings", "find_config", "load_settings", "report_warnings"]
