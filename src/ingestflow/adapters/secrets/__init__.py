"""Secret stores: a `SecretRef` of the configuration -> the `Secret` itself.

`env` and `file` are read with `ingestflow.config.secrets.read_secret` on every call (as
before); `ssm` (Parameter Store, decrypted: SecureString) and `secret` (Secrets Manager) go
through `aws.py`, which reads each one once per process and caches it (a Lambda function reads
its secrets at cold start, not per invocation). Every failure is one ConfigError line at the
config key that named the secret, naming the variable, file, parameter or secret, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ingestflow.config.secrets import Secret, SecretRef, read_secret


def resolve_secret(ref: SecretRef, environ: Mapping[str, str] | None = None) -> Secret:
    """The secret `ref` points at. Raises ConfigError at `ref.key`."""
    environ = os.environ if environ is None else environ
    if ref.source == "file":
        return read_secret(ref.key, "", Path(ref.name), environ)
    if ref.source == "env":
        return read_secret(ref.key, ref.name, None, environ)
    from ingestflow.adapters.secrets import aws

    if ref.source == "ssm":
        return aws.ssm_parameter(ref.key, ref.name)
    return aws.secrets_manager_secret(ref.key, ref.name)
