"""The `[landing]`, `[output]`, `[ledger]` and `[engine]` tables: their keys and checks."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingestflow.config.cloud import check_dynamodb_url, overlapping
from ingestflow.config.secrets import SecretRef, secret_ref
from ingestflow.domain.errors import ConfigError
from ingestflow.domain.workflow import MAX_SIZE

SECTION_KEYS: dict[str, frozenset[str]] = {
    "landing": frozenset(
        {
            "path",
            "url",
            "queue_url",
            "bucket",
            "settle",
            "watch",
            "follow_symlinks",
            "reconcile_interval",
        }
    ),
    "output": frozenset({"path", "url", "compression"}),
    "ledger": frozenset({"url", "password_env", "password_ssm", "password_secret", "pool_size"}),
    "engine": frozenset(
        {"name", "threads", "memory_limit", "master", "conf", "state_machine_arn", "manifest_url"}
    ),
    "server": frozenset({"host", "port", "token_env"}),
}
COMPRESSIONS = ("snappy", "zstd", "gzip", "lz4", "none")
MAX_THREADS = 1024
MIN_MEMORY = 16 * 1024**2
# What DuckDB's memory_limit accepts, less its spellings nobody writes ("4 gigabytes").
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(k|m|g|t)(i?b)?\s*$", re.IGNORECASE)
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def section_path(raw: Mapping[str, Any], section: str, base: Path, default: str) -> Path:
    value = raw.get(section, {}).get("path", default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{section}.path", "must be a non-empty path string")
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else (base / path).resolve()


def ledger_kind(url: str) -> str:
    """ "sqlite", "postgresql" or "dynamodb", from the URL's scheme (ConfigError for any
    other)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else url
    if scheme == "sqlite":
        return "sqlite"
    if scheme == "dynamodb":
        check_dynamodb_url(url)
        return "dynamodb"
    if scheme in ("postgresql", "postgres"):
        check_postgres_url(url)
        return "postgresql"
    raise ConfigError(
        "ledger.url",
        f"unsupported ledger {scheme!r}; expected sqlite:///path/to/ledger.db,"
        " postgresql://user@host:port/database or dynamodb://TABLE_PREFIX?region=REGION",
    )


def check_postgres_url(url: str) -> None:
    """A PostgreSQL URL names a database and holds no password: URLs end up in logs and
    process listings, so the password comes from PGPASSWORD, ~/.pgpass or
    `[ledger] password_env`."""
    parts = urlsplit(url)
    if parts.password is not None:
        raise ConfigError(
            "ledger.url",
            "must not hold a password (URLs end up in logs); set PGPASSWORD, use ~/.pgpass,"
            " or name an environment variable in [ledger] password_env",
        )
    if not parts.path.strip("/") and "dbname=" not in parts.query:
        raise ConfigError("ledger.url", "must name a database: postgresql://user@host:port/db")


def ledger_path(url: str, base: Path) -> Path:
    """`sqlite:///abs/path.db` (absolute) or `sqlite://rel/path.db` (relative to the config)."""
    match = re.match(r"^sqlite://(/?)(.+)$", url)
    if not match:
        ledger_kind(url)  # the error for another scheme
        raise ConfigError(
            "ledger.url",
            f"the 'sqlite' ledger URL {url!r} names no file; expected sqlite:///path/to/ledger.db",
        )
    rest = match.group(2)
    path = Path("/" + rest.lstrip("/")) if match.group(1) else base / rest
    return path if match.group(1) else path.resolve()


def password(ledger: Mapping[str, Any]) -> SecretRef | None:
    """Where a PostgreSQL ledger's password lives: `[ledger] password_env` (a variable),
    `password_ssm` or `password_secret` (one of them); None: libpq's PGPASSWORD / ~/.pgpass."""
    return secret_ref(ledger, "password", "ledger", Path("."), sources=("env", "ssm", "secret"))


ENGINES = ("duckdb", "spark", "stepfunctions")
_MASTER = re.compile(r"^(local(\[(\d+|\*)(,\s*\d+)?\])?|(spark|yarn|k8s|mesos)://\S+|yarn)$")


def engine_name(value: Any) -> str:
    if value not in ENGINES:
        raise ConfigError(
            "engine.name", f"unknown engine {value!r} (available: {', '.join(ENGINES)})"
        )
    return str(value)


def spark_master(value: Any) -> str:
    """`[engine] master`: `local[N]`, `local[*]` or a cluster URL such as `spark://host:7077`."""
    if not isinstance(value, str) or not _MASTER.match(value.strip()):
        raise ConfigError(
            "engine.master", "must be local[N], local[*] or a cluster URL such as spark://host:7077"
        )
    return value.strip()


def spark_conf(value: Any) -> dict[str, str]:
    """`[engine.conf]`: Spark settings passed to the session (`"spark.executor.memory" = "2g"`)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError("engine.conf", "must be a table of Spark settings")
    conf = {}
    for key, item in value.items():
        if isinstance(item, dict):  # a dotted key written unquoted: spark.executor.memory
            for sub, leaf in spark_conf(item).items():
                conf[f"{key}.{sub}"] = leaf
            continue
        if isinstance(item, bool):
            conf[key] = "true" if item else "false"
        elif isinstance(item, int | float | str):
            conf[key] = str(item)
        else:
            raise ConfigError(f"engine.conf.{key}", "must be a string, number or boolean")
    return conf


def pool_size(value: Any) -> int:
    """`[ledger] pool_size`: connections a process keeps to a PostgreSQL ledger (1-64)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
        raise ConfigError("ledger.pool_size", "must be a whole number from 1 to 64")
    return value


def compression(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in COMPRESSIONS:
        raise ConfigError("output.compression", f"must be one of {', '.join(COMPRESSIONS)}")
    return value.lower()


def threads(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_THREADS:
        raise ConfigError("engine.threads", f"must be a whole number from 1 to {MAX_THREADS}")
    return value


def memory_limit(value: Any) -> str | None:
    """'4GB', '512MiB' (DuckDB: KB/MB/GB/TB are powers of 1000, KiB.. of 1024) or '80%'."""
    if value is None:
        return None
    key, hint = "engine.memory_limit", "such as '4GB', '512MiB' or '80%'"
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a text {hint}, got {value!r}")
    percent = _PERCENT.match(value)
    if percent:
        if not 0 < float(percent.group(1)) <= 100:
            raise ConfigError(key, f"a percentage must be above 0 and at most 100: {value!r}")
        return value.strip()
    match = _MEMORY.match(value)
    if not match:
        raise ConfigError(key, f"must be a memory size {hint}, got {value!r}")
    number, unit, suffix = match.groups()
    base = 1024 if suffix and suffix.lower() == "ib" else 1000
    amount = float(number) * base ** ("kmgt".index(unit.lower()) + 1)
    if amount < MIN_MEMORY:
        raise ConfigError(key, f"{value!r} is too little for the engine (at least 16MiB)")
    if amount > MAX_SIZE:
        raise ConfigError(key, f"{value!r} is more than 1 PiB")
    return value.strip()


def check_locations(landing: Path | str, output: Path | str, ledger: Path) -> None:
    """`check_paths` for any mix of local folders (Path) and S3 URLs (str): only local paths
    are checked on disk; two S3 locations must not hold one another. `ledger` is the local
    ledger file (or, for another ledger, where local state lives)."""
    if isinstance(landing, Path) and isinstance(output, Path):
        check_paths(landing, output, ledger)
        return
    for key, where in (("landing.path", landing), ("output.path", output)):
        if isinstance(where, Path):
            _folder_possible(key, where)
    _check_ledger(ledger)
    if isinstance(landing, str) and isinstance(output, str) and overlapping(landing, output):
        raise ConfigError(
            "output.url",
            f"{output} and the landing {landing} hold one another: outputs would be ingested again",
        )


def _check_ledger(ledger: Path) -> None:
    _folder_possible("ledger.url", ledger.parent)
    if os.path.isdir(ledger):
        raise ConfigError("ledger.url", f"{ledger} is a folder, not a ledger file")


def check_paths(landing: Path, output: Path, ledger: Path) -> None:
    """Refuse layouts that cannot work: outputs inside the landing folder would be ingested
    again (and the landing folder inside the output folder is the same loop); a path that
    is (or sits under) a file cannot be created. Compared resolved, so links do not hide it."""
    for key, path in (("landing.path", landing), ("output.path", output)):
        _folder_possible(key, path)
    _check_ledger(ledger)
    real_landing, real_output = landing.resolve(), output.resolve()
    if real_output == real_landing:
        raise ConfigError(
            "output.path",
            f"{output} is the landing folder: outputs would be ingested again",
        )
    if real_output.is_relative_to(real_landing):
        raise ConfigError(
            "output.path",
            f"{output} is inside the landing folder {landing}: outputs would be ingested again",
        )
    if real_landing.is_relative_to(real_output):
        raise ConfigError(
            "landing.path",
            f"{landing} is inside the output folder {output}: outputs would be ingested again",
        )


def _folder_possible(key: str, path: Path) -> None:
    """`path` is a folder, or can become one: its nearest existing ancestor is a folder.
    (os.path functions: a folder we may not search reads as missing, never as a traceback.)"""
    probe = path
    while not os.path.exists(probe) and probe != probe.parent:
        if os.path.islink(probe):  # a dangling link: nothing can be created through it
            raise ConfigError(key, f"{probe} is a broken symbolic link")
        probe = probe.parent
    if not os.path.isdir(probe):
        what = "is a file, not a folder" if probe == path else f"is under {probe}, which is a file"
        raise ConfigError(key, f"{path} {what}")
