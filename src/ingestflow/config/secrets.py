"""Secrets (API keys, tokens, passwords) read at the edge, never stored in the configuration,
never shown: `Secret` hides its value from repr, str and logs. The configuration only says
where a secret lives (`SecretRef`): an environment variable, a file, an SSM parameter or a
Secrets Manager secret; `ingestflow.adapters.secrets.resolve_secret` reads it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestflow.config.values import env_name, text
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


# Where a secret may come from: `<stem>_env`, `<stem>_file`, `<stem>_ssm` (SSM Parameter Store,
# decrypted) or `<stem>_secret` (Secrets Manager; `name#field` picks a field of a JSON secret).
SOURCES = ("env", "file", "ssm", "secret")
_SSM_NAME = re.compile(
    r"^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter)?[A-Za-z0-9_.\-/]+(:\w+)?$"
)
_SECRET_ID = re.compile(r"^[A-Za-z0-9/_+=.@:\-]+(#[^#\s]+)?$")


@dataclass(frozen=True)
class SecretRef:
    """Where one secret lives, never the secret: `key` is the config key that named it (e.g.
    `metrics.datadog.api_key_ssm`, used in every error), `source` one of SOURCES and `name`
    the variable, the file's path, the SSM parameter or the Secrets Manager id (`id#field`)."""

    key: str
    source: str
    name: str


def secret_ref(
    table: Mapping[str, Any],
    stem: str,
    where: str,
    base: Path,
    default_env: str | None = None,
    sources: tuple[str, ...] = SOURCES,
) -> SecretRef | None:
    """The one source of `table`'s secret `stem` (`<stem>_env`, `_file`, `_ssm`, `_secret`,
    as far as `sources` allows), `default_env` when none is given (else None). Two sources
    for one secret are a ConfigError: which one wins would be a guess."""
    given = [s for s in sources if f"{stem}_{s}" in table]
    if len(given) > 1:
        keys = " and ".join(f"{stem}_{s}" for s in given)
        raise ConfigError(f"{where}.{stem}_{given[1]}", f"{keys} both name the secret: keep one")
    if not given:
        return SecretRef(f"{where}.{stem}_env", "env", default_env) if default_env else None
    source = given[0]
    key = f"{where}.{stem}_{source}"
    name = text(table[f"{stem}_{source}"], key)
    if source == "env":
        name = env_name(name, key)
    elif source == "file":
        path = Path(name).expanduser()
        name = str(path if path.is_absolute() else base / path)
    elif source == "ssm" and not _SSM_NAME.match(name):
        raise ConfigError(key, f"{name!r} is not an SSM parameter name such as '/ingestflow/key'")
    elif source == "secret" and not _SECRET_ID.match(name):
        raise ConfigError(key, f"{name!r} is not a Secrets Manager name or ARN (optionally #field)")
    return SecretRef(key, source, name)
