"""Secrets from AWS: SSM Parameter Store and Secrets Manager, read once per process.

- `ssm_parameter(key, name)`: GetParameter with WithDecryption=True, so a SecureString comes
  back decrypted (a String parameter works too). `name` is a parameter name (`/ingestflow/dd`),
  optionally with a `:version` or `:label` selector, or the parameter's ARN.
- `secrets_manager_secret(key, ref)`: GetSecretValue of `ref`, a secret name or ARN, for its
  SecretString. `name#field` reads one field of a SecretString that is a JSON object (the shape
  the console writes: `{"api_key": "..."}`); secret names and ARNs cannot hold '#', so the
  split is unambiguous. A binary-only secret is refused.

Each parameter and secret is fetched at most once per process and cached (a Lambda function
resolves its secrets at cold start; a warm invocation makes no call): rotate by restarting.
Endpoint, credentials and region come from the standard AWS configuration (`AWS_ENDPOINT_URL`,
profiles, roles, `AWS_REGION`), except that an ARN's own region is used for it (a secret is
read in its region). Every failure is a ConfigError at `key` naming the parameter or secret and
the reason (not found, access denied, cannot be decrypted, no credentials...), never its value.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, cast

from ingestflow.adapters.aws_errors import error_parts, transport_problem
from ingestflow.config.secrets import Secret
from ingestflow.domain.errors import ConfigError, MissingExtraError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
    from mypy_boto3_ssm.client import SSMClient

_PROBLEMS = {
    "ParameterNotFound": "not found",
    "ParameterVersionNotFound": "no such version",
    "ResourceNotFoundException": "not found",
    "AccessDeniedException": "access denied",
    "AccessDenied": "access denied",
    "403": "access denied",
    "DecryptionFailure": "cannot be decrypted (KMS)",
    "InvalidKeyId": "cannot be decrypted (KMS key)",
    "KMSAccessDeniedException": "cannot be decrypted (KMS access denied)",
    "ThrottlingException": "throttled by AWS (try again)",
    "UnrecognizedClientException": "the AWS credentials are not valid",
    "InvalidClientTokenId": "the AWS credentials are not valid",
    "ExpiredTokenException": "the AWS credentials have expired",
}
_lock = threading.RLock()  # _cached holds it while _client takes it
_cache: dict[tuple[str, str], Secret] = {}
_clients: dict[tuple[str, str | None], Any] = {}


def ssm_parameter(key: str, name: str) -> Secret:
    """The decrypted value of the SSM parameter `name` (cached for the process)."""
    return _cached(("ssm", name), lambda: _read_ssm(key, name))


def secrets_manager_secret(key: str, ref: str) -> Secret:
    """The SecretString of `ref` (`name-or-arn` or `name-or-arn#field`), cached per secret."""
    secret_id, _, field = ref.partition("#")
    raw = _cached(("secretsmanager", secret_id), lambda: _read_secret(key, secret_id))
    if not field:
        return raw
    where = f"secret {secret_id!r}"
    try:
        document = json.loads(raw.reveal())
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ConfigError(key, f"{where} is not a JSON object, so #{field} cannot be read")
    value = document.get(field)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConfigError(key, f"{where} has no text field {field!r}")
    if not str(value).strip():
        raise ConfigError(key, f"{where}: field {field!r} is empty")
    return Secret(str(value).strip())


def clear_cache() -> None:
    """Forget every cached secret and client (tests; a process otherwise keeps them)."""
    with _lock:
        _cache.clear()
        _clients.clear()


def _cached(slot: tuple[str, str], read: Callable[[], Secret]) -> Secret:
    with _lock:  # one read per secret even when threads resolve it at once
        if slot not in _cache:
            _cache[slot] = read()
        return _cache[slot]


def _read_ssm(key: str, name: str) -> Secret:
    client = cast("SSMClient", _client("ssm", _arn_region(name, "ssm"), key))
    where = f"SSM parameter {name!r}"
    try:
        answer = client.get_parameter(Name=name, WithDecryption=True)
    except Exception as exc:
        raise ConfigError(key, f"{where}: {_problem(exc)}") from None
    value = answer.get("Parameter", {}).get("Value", "").strip()
    if not value:
        raise ConfigError(key, f"{where} is empty")
    return Secret(value)


def _read_secret(key: str, secret_id: str) -> Secret:
    region = _arn_region(secret_id, "secretsmanager")
    client = cast("SecretsManagerClient", _client("secretsmanager", region, key))
    where = f"secret {secret_id!r}"
    try:
        answer = client.get_secret_value(SecretId=secret_id)
    except Exception as exc:
        raise ConfigError(key, f"{where}: {_problem(exc)}") from None
    if "SecretString" not in answer:
        raise ConfigError(key, f"{where} holds binary data, not text (SecretString)")
    value = answer["SecretString"].strip()
    if not value:
        raise ConfigError(key, f"{where} is empty")
    return Secret(value)


def _arn_region(name: str, service: str) -> str | None:
    """The region of an ARN of `service` (`arn:aws:ssm:eu-west-1:...`), else None."""
    parts = name.split(":")
    if len(parts) > 4 and parts[0] == "arn" and parts[2] == service and parts[3]:
        return parts[3]
    return None


def _client(service: Literal["ssm", "secretsmanager"], region: str | None, key: str) -> Any:
    with _lock:
        if (service, region) in _clients:
            return _clients[service, region]
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MissingExtraError("aws", f"{key} (an AWS secret store)") from None
    config = Config(user_agent_extra="ingestflow", connect_timeout=10, read_timeout=20)
    try:
        session = boto3.session.Session()
        client: Any = (
            session.client("ssm", region_name=region, config=config)
            if service == "ssm"
            else session.client("secretsmanager", region_name=region, config=config)
        )
    except Exception as exc:  # no region configured, a broken profile
        raise ConfigError(key, f"cannot reach {service}: {_problem(exc)}") from None
    with _lock:
        return _clients.setdefault((service, region), client)


def _problem(exc: BaseException) -> str:
    """One line for a botocore error, from its code (AWS messages can be long; none holds a
    secret's value, but only codes we know are named, others are cut)."""
    parts = error_parts(exc)
    if parts is not None:
        code = parts[0]
        if code in _PROBLEMS:
            return f"{_PROBLEMS[code]} ({code})"
        message = parts[1][:200]
        return f"{code}: {message}" if message else code or "request failed"
    return transport_problem(exc) or " ".join(str(exc).split())[:200] or type(exc).__name__
