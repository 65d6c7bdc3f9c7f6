"""Reading ingestflow.toml: overlays (`[env.<name>]`), INGESTFLOW_* overrides, validation."""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingestflow.config import cloud, sections
from ingestflow.config.alerts import parse_alerts
from ingestflow.config.known import check_known
from ingestflow.config.metrics import parse_metrics, parse_server
from ingestflow.config.overrides import apply_overrides
from ingestflow.config.sections import SECTION_KEYS, ledger_path
from ingestflow.config.settings import Settings
from ingestflow.config.transforms import parse_transforms
from ingestflow.config.values import duration, flag
from ingestflow.config.workflows import parse_workflows
from ingestflow.domain.errors import ConfigError

__all__ = ["CONFIG_NAME", "find_config", "ledger_path", "load_settings"]

CONFIG_NAME = "ingestflow.toml"
TOP_KEYS = frozenset(
    {*SECTION_KEYS, "schedule_interval", "workflows", "transforms", "env", "metrics", "alerts"}
)
# A tick shorter than this is a busy loop (listing, reaper, readiness checks back to back).
MIN_SCHEDULE_INTERVAL = 0.01


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


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config", f"cannot read {path}: {exc}") from None


def _overlay(raw: dict[str, Any], env_name: str | None) -> dict[str, Any]:
    overlays = raw.pop("env", {})
    if not isinstance(overlays, dict):
        raise ConfigError("env", "must be tables like [env.dev]")
    if not env_name:
        return raw
    if env_name not in overlays:
        known = ", ".join(sorted(overlays)) or "none defined"
        raise ConfigError(f"env.{env_name}", f"no such environment overlay ({known})")
    if not isinstance(overlays[env_name], dict):
        raise ConfigError(f"env.{env_name}", "must be a table like [env.prod]")
    return _merge(raw, overlays[env_name])


def _check_keys(raw: Mapping[str, Any]) -> None:
    check_known(raw, "", TOP_KEYS)
    for section, known in SECTION_KEYS.items():
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(section, "must be a table")
        check_known(table, section, known)


def load_settings(
    config: str | Path | None = None,
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read, overlay, override and validate the configuration. Raises ConfigError.

    Problems that should not stop ingestflow are returned in `Settings.warnings` (the caller
    shows them, see `report_warnings`)."""
    environ = os.environ if environ is None else environ
    path = find_config(config, environ)
    env_name = env or environ.get("INGESTFLOW_ENV") or None
    raw = _overlay(_read(path), env_name)
    warnings = apply_overrides(raw, environ)
    _check_keys(raw)
    base = path.parent.resolve()
    landing_t, output_t = raw.get("landing", {}), raw.get("output", {})
    engine_t = raw.get("engine", {})
    landing = sections.section_path(raw, "landing", base, "landing")
    output = sections.section_path(raw, "output", base, "output")
    url = raw.get("ledger", {}).get("url", "sqlite://.ingestflow/ledger.db")
    if not isinstance(url, str):
        raise ConfigError("ledger.url", "must be a string such as sqlite:///abs/path.db")
    ledger_t = raw.get("ledger", {})
    kind = sections.ledger_kind(url)
    # A PostgreSQL ledger keeps no local file; local state (e.g. Datadog object ids) then
    # lives in `.ingestflow/` next to the config.
    ledger = ledger_path(url, base) if kind == "sqlite" else base / ".ingestflow" / "ledger"
    engine = sections.engine_name(engine_t.get("name", "duckdb"))
    for key in ("master", "conf"):
        if key in engine_t and engine != "spark":
            raise ConfigError(f"engine.{key}", 'is a setting of the spark engine (name = "spark")')
    landing_url, output_url = _url(landing_t, "landing"), _url(output_t, "output")
    bucket = _bucket(landing_t, landing_url)
    arn, manifest = _stepfunctions(engine_t, engine, landing_url, output_url)
    queue = landing_t.get("queue_url")
    if queue is not None and landing_url is None:
        raise ConfigError("landing.queue_url", "is for an S3 landing (landing.url = s3://...)")
    password = sections.password(ledger_t)
    transforms = parse_transforms(raw.get("transforms"))
    workflows = parse_workflows(raw.get("workflows"), transforms)
    settings = Settings(
        config_path=path,
        env=env_name,
        landing_path=landing,
        landing_bucket=bucket or landing.name or "landing",
        landing_url=landing_url,
        output_url=output_url,
        landing_queue_url=None if queue is None else cloud.queue_url(queue),
        state_machine_arn=arn,
        manifest_url=manifest,
        settle=duration(landing_t.get("settle", "1s"), "landing.settle"),
        watch=flag(landing_t.get("watch", True), "landing.watch"),
        follow_symlinks=flag(landing_t.get("follow_symlinks", False), "landing.follow_symlinks"),
        reconcile_interval=duration(
            landing_t.get("reconcile_interval", "1m"), "landing.reconcile_interval", positive=True
        ),
        output_path=output,
        output_compression=sections.compression(output_t.get("compression", "snappy")),
        ledger_url=url,
        ledger_path=ledger,
        ledger_kind=kind,
        ledger_password_env=password.name if password and password.source == "env" else None,
        ledger_password=password,
        ledger_pool_size=sections.pool_size(ledger_t.get("pool_size", 4)),
        schedule_interval=duration(
            raw.get("schedule_interval", "1s"),
            "schedule_interval",
            minimum=MIN_SCHEDULE_INTERVAL,
        ),
        engine=engine,
        engine_threads=sections.threads(engine_t.get("threads")),
        engine_memory_limit=sections.memory_limit(engine_t.get("memory_limit")),
        engine_master=sections.spark_master(engine_t.get("master", "local[2]")),
        engine_conf=sections.spark_conf(engine_t.get("conf")),
        workflows=workflows,
        transforms=transforms,
        metrics=parse_metrics(raw, env_name, base),
        server=parse_server(raw),
        alerts=parse_alerts(raw),
        warnings=tuple(warnings),
    )
    sections.check_locations(landing_url or landing, output_url or output, ledger)
    return settings


def _url(table: Mapping[str, Any], section: str) -> str | None:
    """`[landing] url` / `[output] url` (an S3 location), exclusive with the local `path`."""
    if "url" not in table:
        return None
    if "path" in table:
        raise ConfigError(
            f"{section}.url", f"set either {section}.path (a local folder) or {section}.url"
        )
    return cloud.s3_url(table["url"], f"{section}.url")


def _bucket(landing: Mapping[str, Any], url: str | None) -> str | None:
    """The landing bucket's name in the ledger: an S3 landing's own bucket, else
    `[landing] bucket` (by default the landing folder's name)."""
    bucket = landing.get("bucket")
    if bucket is not None and (not isinstance(bucket, str) or not bucket):
        raise ConfigError("landing.bucket", "must be a non-empty string")
    if url is None:
        return bucket
    s3_bucket = cloud.s3_parts(url)[0]
    if bucket is not None and bucket != s3_bucket:
        raise ConfigError("landing.bucket", f"must be the bucket of landing.url ({s3_bucket})")
    return s3_bucket


def _stepfunctions(
    engine_t: Mapping[str, Any], engine: str, landing: str | None, output: str | None
) -> tuple[str | None, str | None]:
    """(state machine ARN, manifest URL) of the stepfunctions engine. Its Glue job reads the
    landing bucket and writes the output bucket, so both must be S3 locations."""
    if engine != "stepfunctions":
        for key in ("state_machine_arn", "manifest_url"):
            if key in engine_t:
                raise ConfigError(
                    f"engine.{key}",
                    'is a setting of the stepfunctions engine (name = "stepfunctions")',
                )
        return None, None
    if "state_machine_arn" not in engine_t:
        raise ConfigError("engine.state_machine_arn", "is required by the stepfunctions engine")
    arn = cloud.state_machine_arn(engine_t["state_machine_arn"])
    for section, where in (("landing", landing), ("output", output)):
        if where is None:
            raise ConfigError(
                f"{section}.url",
                "the stepfunctions engine needs an S3 location (s3://bucket/prefix)",
            )
    manifest = engine_t.get("manifest_url")
    if manifest is None:
        return arn, f"{output}_ingestflow/batches/"
    return arn, cloud.s3_url(manifest, "engine.manifest_url")
