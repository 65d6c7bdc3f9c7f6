"""Secrets (API keys, tokens) read from the environment or a file at the edge, never stored in
the configuration, never shown: `Secret` hides its value from repr, str and logs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ingestflow.domain.errors import ConfigError


class Secret:
    """A secret value; `reveal()` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def read_secret(key: str, env_name: str, file: Path | None, environ: Mapping[str, str]) -> Secret:
    """The secret from `file` when given, else from the variable `env_name`. Raises a
    ConfigError at `key` naming where it looked (never the value)."""
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(key, f"cannot read {file}: {exc.strerror or exc}") from None
        if not value:
            raise ConfigError(key, f"{file} is empty")
        return Secret(value)
    value = environ.get(env_name, "").strip()
    if not value:
        raise ConfigError(key, f"the environment variable {env_name} is not set")
    return Secret(value)
