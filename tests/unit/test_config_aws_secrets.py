"""The AWS keys of the configuration: `type = "sns"` notifiers (`topic_arn`), and secrets from
SSM (`*_ssm`) or Secrets Manager (`*_secret`) beside `*_env` / `*_file`: exactly one source per
secret, names checked, nothing read from AWS while the configuration is loaded."""

from __future__ import annotations

import pytest
from unit_support import OHLCV_WORKFLOW, WriteConfig, config_error

from ingestflow.config.loader import load_settings
from ingestflow.config.secrets import SecretRef

ARN = "arn:aws:sns:eu-west-1:123456789012:ingestflow-alerts"
SMTP = (
    '[[alerts.notifiers]]\nname = "mail"\ntype = "smtp"\nhost = "h"\nusername = "u"\n'
    'from = "a@example.com"\nto = ["b@example.com"]\n'
)
HOOK = '[[alerts.notifiers]]\nname = "chat"\ntype = "webhook"\nformat = "slack"\n'


def test_an_sns_notifier_is_declared_like_the_others(write_config: WriteConfig) -> None:
    path = write_config(
        OHLCV_WORKFLOW + f'[[alerts.notifiers]]\nname = "aws"\ntype = "sns"\ntopic_arn = "{ARN}"\n'
    )

    (notifier,) = load_settings(path, environ={}).alerts.notifiers

    assert (notifier.name, notifier.type, dict(notifier.options)) == (
        "aws",
        "sns",
        {"topic_arn": ARN},
    )


@pytest.mark.parametrize(
    ("arn", "problem"),
    [
        ("arn:aws:sqs:eu-west-1:123456789012:q", "is not an SNS topic ARN"),
        ("arn:aws:sns:eu-west-1:12345:t", "is not an SNS topic ARN"),
        ("ingestflow-alerts", "is not an SNS topic ARN"),
        (f"{ARN}.fifo", "FIFO topics are not supported"),
        ("", "must be a non-empty string"),
    ],
)
def test_an_sns_topic_arn_that_is_not_one_is_refused_naming_the_key(
    write_config: WriteConfig, arn: str, problem: str
) -> None:
    path = write_config(
        OHLCV_WORKFLOW + f'[[alerts.notifiers]]\nname = "aws"\ntype = "sns"\ntopic_arn = "{arn}"\n'
    )

    error = config_error(path)

    assert error.key == "alerts.notifiers.aws.topic_arn"
    assert problem in error.problem


def test_an_sns_notifier_without_a_topic_or_with_other_keys_is_refused(
    write_config: WriteConfig,
) -> None:
    bare = OHLCV_WORKFLOW + '[[alerts.notifiers]]\nname = "aws"\ntype = "sns"\n'
    assert config_error(write_config(bare)).key == "alerts.notifiers.aws.topic_arn"
    extra = bare + f'topic_arn = "{ARN}"\nendpoint = "http://x"\n'
    assert config_error(write_config(extra)).key == "alerts.notifiers.aws.endpoint"


@pytest.mark.parametrize(
    ("keys", "ref"),
    [
        (
            'api_key_ssm = "/ingestflow/dd"',
            SecretRef("metrics.datadog.api_key_ssm", "ssm", "/ingestflow/dd"),
        ),
        (
            'api_key_secret = "prod/datadog#api_key"',
            SecretRef("metrics.datadog.api_key_secret", "secret", "prod/datadog#api_key"),
        ),
        ('api_key_env = "MY_KEY"', SecretRef("metrics.datadog.api_key_env", "env", "MY_KEY")),
        ("", SecretRef("metrics.datadog.api_key_env", "env", "DD_API_KEY")),
    ],
)
def test_the_datadog_api_key_source_is_the_one_the_config_names(
    write_config: WriteConfig, keys: str, ref: SecretRef
) -> None:
    path = write_config(OHLCV_WORKFLOW + f"[metrics.datadog]\n{keys}\n")

    datadog = load_settings(path, environ={}).metrics.datadog

    assert datadog is not None and datadog.api_key == ref


def test_an_api_key_file_resolves_against_the_config_folder(write_config: WriteConfig) -> None:
    path = write_config(OHLCV_WORKFLOW + '[metrics.datadog]\napi_key_file = "dd.key"\n')

    datadog = load_settings(path, environ={}).metrics.datadog

    assert datadog is not None
    assert datadog.api_key == SecretRef(
        "metrics.datadog.api_key_file", "file", str(path.parent / "dd.key")
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            '[metrics.datadog]\napi_key_env = "DD"\napi_key_ssm = "/dd"\n',
            "metrics.datadog.api_key_ssm",
        ),
        (
            '[metrics.datadog]\napi_key_file = "k"\napi_key_secret = "dd"\n',
            "metrics.datadog.api_key_secret",
        ),
        ('[ledger]\npassword_env = "PW"\npassword_ssm = "/pw"\n', "ledger.password_ssm"),
        (
            SMTP + 'password_env = "PW"\npassword_secret = "pw"\n',
            "alerts.notifiers.mail.password_secret",
        ),
        (HOOK + 'url_env = "U"\nurl_ssm = "/u"\n', "alerts.notifiers.chat.url"),
        (
            HOOK + 'url = "https://h/x"\nsecret_env = "S"\nsecret_ssm = "/s"\n',
            "alerts.notifiers.chat.secret_ssm",
        ),
    ],
)
def test_two_sources_for_one_secret_are_refused(
    write_config: WriteConfig, text: str, key: str
) -> None:
    error = config_error(write_config(OHLCV_WORKFLOW + text))

    assert error.key == key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[metrics.datadog]\napi_key_ssm = "has space"\n', "metrics.datadog.api_key_ssm"),
        ('[metrics.datadog]\napi_key_ssm = ""\n', "metrics.datadog.api_key_ssm"),
        ('[metrics.datadog]\napi_key_secret = "a#b#c"\n', "metrics.datadog.api_key_secret"),
        ('[metrics.datadog]\napi_key_secret = "x y"\n', "metrics.datadog.api_key_secret"),
        ("[ledger]\npassword_ssm = 5\n", "ledger.password_ssm"),
        ('[ledger]\npassword_file = "pw"\n', "ledger.password_file"),
    ],
)
def test_a_parameter_or_secret_name_that_cannot_be_one_is_refused(
    write_config: WriteConfig, text: str, key: str
) -> None:
    assert config_error(write_config(OHLCV_WORKFLOW + text)).key == key


def test_the_ledger_and_smtp_passwords_may_come_from_aws(write_config: WriteConfig) -> None:
    path = write_config(
        OHLCV_WORKFLOW + '[ledger]\nurl = "postgresql://u@db/ledger"\n'
        'password_ssm = "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/ledger"\n'
        + SMTP
        + 'password_secret = "prod/smtp#password"\n'
    )

    settings = load_settings(path, environ={})

    assert settings.ledger_password == SecretRef(
        "ledger.password_ssm", "ssm", "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/ledger"
    )
    assert settings.ledger_password_env is None
    (mail,) = settings.alerts.notifiers
    assert mail.options["password"] == SecretRef(
        "alerts.notifiers.mail.password_secret", "secret", "prod/smtp#password"
    )


def test_a_username_without_any_password_source_is_refused(write_config: WriteConfig) -> None:
    error = config_error(write_config(OHLCV_WORKFLOW + SMTP))

    assert error.key == "alerts.notifiers.mail.password_env"
    assert "password_ssm" in error.problem
