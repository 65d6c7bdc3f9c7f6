"""Reading ingestflow.toml: overlays (`[env.<name>]`), INGESTFLOW_* overrides, validation."""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingestflow.config.settings import Settings
from ingestflow.config.transforms import parse_transforms
from ingestflow.config.workflows import parse_workflows
from ingestflow.domain.errors import ConfigError
from ingestflow.domain.workflow import parse_duration

CONFIG_NAME = "ingestflow.toml"
ENV_PREFIX = "INGESTFLOW_"
_RESERVED_ENV = {"INGESTFLOW_ENV", "INGESTFLOW_CONFIG"}
_TOP_KEYS = {
    "landing",
    "output",
    "ledger",
    "engine",
    "schedule_interval",
    "workflows",
    "transforms",
    "env",
}
_SECTION_KEYS = {
    "landing": {"path", "bucket", "settle", "watch"},
    "output": {"path", "compression"},
    "ledger": {"url"},
    "engine": {"name", "threads", "memory_limit"},
}


def find_config(explicit: str | Path | None, environ: Mapping[str, str]) -> Path:
    """The config file: `--config`, else INGESTFLOW_CONFIG, else ./ingestflow.toml."""
    chosen = explicit or environ.get("INGESTFLOW_CONFIG")
    path = Path(chosen) if chosen else Path.cwd() / CONFIG_NAME
    if not path.is_file():
        hint = "" if chosen else " (run `ingestflow init` to create one, or pass --config)"
        raise ConfigError("config", f"no config file at {path}{hint}")
    return path


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if key == "workflows" and isinstance(value, list) and isinstance(out.get(key), list):
            merged = [dict(w) for w in out[key]]
            for w in value:
                same = next((m for m in merged if m.get("name") == w.get("name")), None)
                if same is None:
                    merged.append(dict(w))
                else:
                    same.update(_merge(same, w))
            out[key] = merged
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _parse_env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in _RESERVED_ENV:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        value = _parse_env_value(text)
        if path[0] == "workflows" and len(path) == 3:
            workflows = raw.setdefault("workflows", [])
            target = next((w for w in workflows if str(w.get("name")).lower() == path[1]), None)
            if target is None:
                raise ConfigError(name, f"no workflow named {path[1]!r} to override")
            target[path[2]] = value
            continue
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(name, f"'{part}' is not a table")
        node[path[-1]] = value
    return raw


def _check_keys(raw: Mapping[str, Any]) -> None:
    for key in raw:
        if key not in _TOP_KEYS:
            raise ConfigError(key, f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})")
    for section, known in _SECTION_KEYS.items():
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(section, "must be a table")
        for key in table:
            if key not in known:
                raise ConfigError(f"{section}.{key}", f"unknown key (known: {sorted(known)})")


def _path(raw: Mapping[str, Any], section: str, base: Path, default: str) -> Path:
    value = raw.get(section, {}).get("path", default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{section}.path", "must be a non-empty path string")
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else (base / path).resolve()


def ledger_path(url: str, base: Path) -> Path:
    """`sqlite:///abs/path.db` (absolute) or `sqlite://rel/path.db` (relative to the config)."""
    match = re.match(r"^sqlite://(/?)(.+)$", url)
    if not match:
        scheme = url.split("://", 1)[0] if "://" in url else url
        raise ConfigError(
            "ledger.url", f"unsupported ledger {scheme!r}; expected sqlite:///path/to/ledger.db"
        )
    rest = match.group(2)
    path = Path("/" + rest.lstrip("/")) if match.group(1) else base / rest
    return path if match.group(1) else path.resolve()


def _number(raw: Any, key: str, default: Any, parse: Any) -> Any:
    try:
        return parse(raw if raw is not None else default)
    except (TypeError, ValueError) as exc:
        raise ConfigError(key, str(exc)) from None


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {value!r}")
    return value


COMPRESSIONS = ("snappy", "zstd", "gzip", "lz4", "none")


def _compression(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in COMPRESSIONS:
        raise ConfigError("output.compression", f"must be one of {', '.join(COMPRESSIONS)}")
    return value.lower()


def load_settings(
    config: str | Path | None = None,
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read, overlay, override and validate the configuration. Raises ConfigError."""
    environ = os.environ if environ is None else environ
    path = find_config(config, environ)
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config", f"cannot read {path}: {exc}") from None
    env_name = env or environ.get("INGESTFLOW_ENV") or None
    overlays = raw.pop("env", {})
    if not isinstance(overlays, dict):
        raise ConfigError("env", "must be tables like [env.dev]")
    if env_name:
        if env_name not in overlays:
            known = ", ".join(sorted(overlays)) or "none defined"
            raise ConfigError(f"env.{env_name}", f"no such environment overlay ({known})")
        if not isinstance(overlays[env_name], dict):
            raise ConfigError(f"env.{env_name}", "must be a table like [env.prod]")
        raw = _merge(raw, overlays[env_name])
    raw = _apply_overrides(raw, environ)
    _check_keys(raw)
    base = path.parent.resolve()
    landing = _path(raw, "landing", base, "landing")
    landing_t, engine_t = raw.get("landing", {}), raw.get("engine", {})
    url = raw.get("ledger", {}).get("url", "sqlite://.ingestflow/ledger.db")
    if not isinstance(url, str):
        raise ConfigError("ledger.url", "must be a string such as sqlite:///abs/path.db")
    engine = engine_t.get("name", "duckdb")
    if engine != "duckdb":
        raise ConfigError("engine.name", f"unknown engine {engine!r} (available: duckdb)")
    transforms = parse_transforms(raw.get("transforms"))
    threads = engine_t.get("threads")
    if threads is not None and (
        not isinstance(threads, int) or isinstance(threads, bool) or threads < 1
    ):
        raise ConfigError("engine.threads", "must be a positive integer")
    return Settings(
        config_path=path,
        env=env_name,
        landing_path=landing,
        landing_bucket=str(landing_t.get("bucket") or landing.name or "landing"),
        settle=_number(landing_t.get("settle"), "landing.settle", "1s", parse_duration),
        watch=_flag(landing_t.get("watch", True), "landing.watch"),
        output_path=_path(raw, "output", base, "output"),
        output_compression=_compression(raw.get("output", {}).get("compression", "snappy")),
        ledger_url=url,
        ledger_path=ledger_path(url, base),
        schedule_interval=_number(
            raw.get("schedule_interval"), "schedule_interval", "1s", parse_duration
        ),
        engine=engine,
        engine_threads=threads,
        engine_memory_limit=engine_t.get("memory_limit"),
        workflows=parse_workflows(raw.get("workflows"), transforms),
        transforms=transforms,
    )
