"""Secrets from SSM Parameter Store and Secrets Manager on a moto server over HTTP: resolved,
cached for the process (a second resolution makes no call), and every failure one ConfigError
line naming the config key and the parameter, never the value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto_server import MotoServer
from smtp_capture import SmtpCapture

from ingestflow.adapters.secrets import aws, resolve_secret
from ingestflow.bootstrap import _ledger_password
from ingestflow.bootstrap_alerts import build_notifier
from ingestflow.bootstrap_metrics import datadog_api_key
from ingestflow.config.loader import load_settings
from ingestflow.config.secrets import SecretRef
from ingestflow.domain.alerts import Digest
from ingestflow.domain.errors import ConfigError

VALUE = "dd-api-key-0123456789abcdef"  # what must never appear in an error or a repr
KEY = "metrics.datadog.api_key_ssm"


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    aws.clear_cache()  # a process keeps its secrets: each test is a new "process"
    yield
    aws.clear_cache()


def ssm_ref(name: str) -> SecretRef:
    return SecretRef(KEY, "ssm", name)


def secret_ref(name: str) -> SecretRef:
    return SecretRef("metrics.datadog.api_key_secret", "secret", name)


def test_an_ssm_securestring_is_read_decrypted(aws_env: MotoServer) -> None:
    aws_env.client("ssm").put_parameter(Name="/ingestflow/dd", Value=VALUE, Type="SecureString")

    secret = resolve_secret(ssm_ref("/ingestflow/dd"))

    assert secret.reveal() == VALUE
    assert VALUE not in repr(secret) and VALUE not in str(secret)


def test_a_resolved_parameter_is_cached_so_a_second_resolution_makes_no_call(
    aws_env: MotoServer,
) -> None:
    ssm = aws_env.client("ssm")
    ssm.put_parameter(Name="/ingestflow/dd", Value=VALUE, Type="SecureString")
    first = resolve_secret(ssm_ref("/ingestflow/dd"))
    ssm.delete_parameter(Name="/ingestflow/dd")

    again = resolve_secret(ssm_ref("/ingestflow/dd"))

    assert again == first
    aws.clear_cache()
    with pytest.raises(ConfigError):  # it really is gone: the value came from the cache
        resolve_secret(ssm_ref("/ingestflow/dd"))


def test_a_parameter_arn_is_read_in_its_own_region(aws_env: MotoServer) -> None:
    aws_env.session().client(
        "ssm", region_name="eu-west-1", endpoint_url=aws_env.endpoint_url
    ).put_parameter(Name="/eu/key", Value=VALUE, Type="SecureString")
    arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/eu/key"

    assert resolve_secret(ssm_ref(arn)).reveal() == VALUE


def test_a_missing_parameter_is_one_config_error_line_naming_the_key_and_the_name(
    aws_env: MotoServer,
) -> None:
    with pytest.raises(ConfigError) as raised:
        resolve_secret(ssm_ref("/ingestflow/nope"))

    assert raised.value.key == KEY
    assert str(raised.value) == (
        f"config error at '{KEY}': SSM parameter '/ingestflow/nope': not found (ParameterNotFound)"
    )


def test_access_denied_is_one_config_error_line_without_the_value(
    aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_env.client("ssm").put_parameter(Name="/ingestflow/dd", Value=VALUE, Type="SecureString")
    aws_env.client("secretsmanager").create_secret(Name="ingestflow/dd", SecretString=VALUE)
    iam = aws_env.client("iam")
    iam.create_user(UserName="no-rights")
    key = iam.create_access_key(UserName="no-rights")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    aws_env.enforce_iam()

    with pytest.raises(ConfigError) as ssm:
        resolve_secret(ssm_ref("/ingestflow/dd"))
    with pytest.raises(ConfigError) as manager:
        resolve_secret(secret_ref("ingestflow/dd"))

    for raised in (ssm, manager):
        message = str(raised.value)
        assert "access denied" in message and "\n" not in message and VALUE not in message
    assert "'/ingestflow/dd'" in str(ssm.value)
    assert "secret 'ingestflow/dd'" in str(manager.value)


def test_a_secrets_manager_secret_is_read_plain_or_as_a_field_of_its_json(
    aws_env: MotoServer,
) -> None:
    manager = aws_env.client("secretsmanager")
    manager.create_secret(Name="ingestflow/plain", SecretString=VALUE)
    document = json.dumps({"api_key": VALUE, "app_key": "other", "port": 5432})
    arn = manager.create_secret(Name="ingestflow/keys", SecretString=document)["ARN"]

    assert resolve_secret(secret_ref("ingestflow/plain")).reveal() == VALUE
    assert resolve_secret(secret_ref("ingestflow/keys#api_key")).reveal() == VALUE
    assert resolve_secret(secret_ref(f"{arn}#app_key")).reveal() == "other"
    assert resolve_secret(secret_ref("ingestflow/keys#port")).reveal() == "5432"


def test_fields_of_one_secret_share_one_read(aws_env: MotoServer) -> None:
    manager = aws_env.client("secretsmanager")
    manager.create_secret(Name="ingestflow/keys", SecretString=json.dumps({"a": "1", "b": "2"}))
    assert resolve_secret(secret_ref("ingestflow/keys#a")).reveal() == "1"
    manager.delete_secret(SecretId="ingestflow/keys", ForceDeleteWithoutRecovery=True)

    assert resolve_secret(secret_ref("ingestflow/keys#b")).reveal() == "2"


@pytest.mark.parametrize(
    ("stored", "ref", "problem"),
    [
        (
            None,
            "ingestflow/none",
            "secret 'ingestflow/none': not found (ResourceNotFoundException)",
        ),
        ('{"api_key": "x"}', "ingestflow/s#app_key", "secret 'ingestflow/s' has no text field"),
        (VALUE, "ingestflow/s#api_key", "secret 'ingestflow/s' is not a JSON object"),
    ],
)
def test_a_missing_secret_or_field_is_one_config_error_line_naming_the_key(
    aws_env: MotoServer, stored: str | None, ref: str, problem: str
) -> None:
    if stored is not None:
        aws_env.client("secretsmanager").create_secret(Name="ingestflow/s", SecretString=stored)

    with pytest.raises(ConfigError) as raised:
        resolve_secret(secret_ref(ref))

    assert raised.value.key == "metrics.datadog.api_key_secret"
    assert problem in raised.value.problem
    assert VALUE not in str(raised.value)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ingestflow.toml"
    path.write_text('[[workflows]]\nname = "ohlcv"\nprefix = "ohlcv/"\n' + text, encoding="utf-8")
    return path


def test_the_datadog_api_key_comes_from_ssm_when_the_config_says_so(
    aws_env: MotoServer, tmp_path: Path
) -> None:
    aws_env.client("ssm").put_parameter(Name="/ingestflow/dd", Value=VALUE, Type="SecureString")
    settings = load_settings(write(tmp_path, '[metrics.datadog]\napi_key_ssm = "/ingestflow/dd"\n'))

    assert datadog_api_key(settings, environ={"DD_API_KEY": "not-this-one"}).reveal() == VALUE


def test_the_ledger_password_comes_from_secrets_manager(
    aws_env: MotoServer, tmp_path: Path
) -> None:
    aws_env.client("secretsmanager").create_secret(
        Name="prod/ledger", SecretString=json.dumps({"password": "pg-pass"})
    )
    settings = load_settings(
        write(
            tmp_path,
            '[ledger]\nurl = "postgresql://ingest@db/ledger"\n'
            'password_secret = "prod/ledger#password"\n',
        )
    )

    password = _ledger_password(settings, environ={})

    assert password is not None and password.reveal() == "pg-pass"


def test_the_smtp_password_from_secrets_manager_logs_in(
    aws_env: MotoServer, tmp_path: Path
) -> None:
    aws_env.client("secretsmanager").create_secret(Name="smtp", SecretString="mail-pass")
    with SmtpCapture(users={"ingestflow": "mail-pass"}, auth_require_tls=False) as smtp:
        settings = load_settings(
            write(
                tmp_path,
                f'[[alerts.notifiers]]\nname = "mail"\ntype = "smtp"\nhost = "{smtp.host}"\n'
                f'port = {smtp.port}\nsecurity = "none"\nusername = "ingestflow"\n'
                'password_secret = "smtp"\nfrom = "a@example.com"\nto = ["b@example.com"]\n',
            )
        )
        (notifier_settings,) = settings.alerts.notifiers
        notifier = build_notifier(notifier_settings, environ={})

        notifier.send(Digest("ingestflow alerts", (), 0.0, "prod"))

        assert len(smtp.wait_for_messages(1)) == 1
