"""The AWS locations of the configuration: s3:// landing/output URLs, the dynamodb:// ledger,
the SQS notification queue and the stepfunctions engine (issue 12)."""

from __future__ import annotations

import pytest
from unit_support import OHLCV_WORKFLOW, WriteConfig, config_error

from ingestflow.config import load_settings

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:ingestflow-batch"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/ingestflow-landing"


def test_s3_landing_and_output_urls_are_read_with_the_bucket_as_the_landing_bucket(
    write_config: WriteConfig,
) -> None:
    path = write_config(
        '[landing]\nurl = "s3://raw-data/incoming"\n[output]\nurl = "s3://curated/parquet/"\n'
        + OHLCV_WORKFLOW
    )
    settings = load_settings(path, environ={})
    assert settings.landing_url == "s3://raw-data/incoming/"
    assert settings.output_url == "s3://curated/parquet/"
    assert settings.landing_bucket == "raw-data"
    assert settings.output_location == "s3://curated/parquet/"


def test_a_local_path_stays_the_default_with_no_urls(write_config: WriteConfig) -> None:
    settings = load_settings(write_config(OHLCV_WORKFLOW), environ={})
    assert settings.landing_url is None and settings.output_url is None
    assert settings.landing_path.name == "landing"
    assert settings.output_location == str(settings.output_path)


def test_a_bucket_alone_is_an_s3_url_without_a_prefix(write_config: WriteConfig) -> None:
    settings = load_settings(write_config('[landing]\nurl = "s3://raw"\n'), environ={})
    assert settings.landing_url == "s3://raw/"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        ("s3://bucket/in?versionId=1", "no query string"),
        ("s3://bucket/in#x", "no query string"),
        ("gs://bucket/in", "unsupported scheme 'gs'"),
        ("/data/landing", "not a URL"),
        ("s3://Not_A_Bucket/in", "not a valid S3 bucket name"),
        ("s3://bucket/a//b", "empty segments"),
        ("s3://bucket/a/../b", "'..' segments"),
        ("", "non-empty"),
    ],
)
def test_a_bad_landing_url_is_a_config_error_saying_why(
    write_config: WriteConfig, url: str, problem: str
) -> None:
    error = config_error(write_config(f'[landing]\nurl = "{url}"\n'))
    assert error.key == "landing.url"
    assert problem in error.problem


def test_an_output_url_that_is_not_text_is_a_config_error(write_config: WriteConfig) -> None:
    assert config_error(write_config("[output]\nurl = 3\n")).key == "output.url"


def test_a_url_and_a_path_in_one_section_are_exclusive(write_config: WriteConfig) -> None:
    error = config_error(write_config('[output]\npath = "out"\nurl = "s3://bkt/out"\n'))
    assert error.key == "output.url"
    assert "either" in error.problem


def test_an_s3_output_inside_the_s3_landing_is_refused(write_config: WriteConfig) -> None:
    error = config_error(
        write_config('[landing]\nurl = "s3://bkt/in"\n[output]\nurl = "s3://bkt/in/out"\n')
    )
    assert error.key == "output.url"
    assert "ingested again" in error.problem


def test_a_landing_prefix_that_only_shares_its_start_with_the_output_is_fine(
    write_config: WriteConfig,
) -> None:
    path = write_config('[landing]\nurl = "s3://bkt/in"\n[output]\nurl = "s3://bkt/inbox"\n')
    assert load_settings(path, environ={}).output_url == "s3://bkt/inbox/"


def test_a_landing_bucket_other_than_the_urls_bucket_is_refused(
    write_config: WriteConfig,
) -> None:
    error = config_error(write_config('[landing]\nurl = "s3://raw/in"\nbucket = "other"\n'))
    assert error.key == "landing.bucket"


def test_an_s3_landing_with_a_local_output_checks_only_the_local_folder(
    write_config: WriteConfig,
) -> None:
    config = write_config("")
    (config.parent / "blocker").write_text("x")
    error = config_error(
        write_config('[landing]\nurl = "s3://raw/in"\n[output]\npath = "blocker/out"\n')
    )
    assert error.key == "output.path"


def test_a_dynamodb_ledger_url_selects_the_dynamodb_ledger(write_config: WriteConfig) -> None:
    path = write_config('[ledger]\nurl = "dynamodb://ingestflow-prod?region=eu-west-1"\n')
    settings = load_settings(path, environ={})
    assert settings.ledger_kind == "dynamodb"
    assert settings.ledger_url == "dynamodb://ingestflow-prod?region=eu-west-1"


def test_a_dynamodb_ledger_url_needs_no_region(write_config: WriteConfig) -> None:
    path = write_config('[ledger]\nurl = "dynamodb://ingestflow"\n')
    assert load_settings(path, environ={}).ledger_kind == "dynamodb"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("dynamodb://", "table prefix"),
        ("dynamodb://bad prefix", "table prefix"),
        ("dynamodb://t/x", "table prefix"),
        ("dynamodb://t?region=Mars", "region"),
        ("dynamodb://t?endpoint=http://x", "unknown parameter 'endpoint'"),
    ],
)
def test_a_bad_dynamodb_ledger_url_is_a_config_error(
    write_config: WriteConfig, url: str, problem: str
) -> None:
    error = config_error(write_config(f'[ledger]\nurl = "{url}"\n'))
    assert error.key == "ledger.url"
    assert problem in error.problem


def test_the_ledger_url_can_be_overridden_from_the_environment(
    write_config: WriteConfig,
) -> None:
    path = write_config(OHLCV_WORKFLOW)
    environ = {"INGESTFLOW_LEDGER__URL": "dynamodb://from-env?region=us-east-1"}
    assert load_settings(path, environ=environ).ledger_kind == "dynamodb"


def test_s3_urls_can_be_overridden_from_the_environment(write_config: WriteConfig) -> None:
    environ = {"INGESTFLOW_LANDING__URL": "s3://env-landing", "INGESTFLOW_OUTPUT__URL": "s3://outs"}
    settings = load_settings(write_config(""), environ=environ)
    assert (settings.landing_url, settings.output_url) == ("s3://env-landing/", "s3://outs/")


def test_the_stepfunctions_engine_reads_its_arn_and_defaults_the_manifest_url(
    write_config: WriteConfig,
) -> None:
    path = write_config(
        '[landing]\nurl = "s3://raw/in"\n[output]\nurl = "s3://cur/out"\n'
        f'[engine]\nname = "stepfunctions"\nstate_machine_arn = "{ARN}"\n'
    )
    settings = load_settings(path, environ={})
    assert settings.engine == "stepfunctions"
    assert settings.state_machine_arn == ARN
    assert settings.manifest_url == "s3://cur/out/_ingestflow/batches/"


def test_the_stepfunctions_manifest_url_can_be_set(write_config: WriteConfig) -> None:
    path = write_config(
        '[landing]\nurl = "s3://raw/in"\n[output]\nurl = "s3://cur/out"\n'
        f'[engine]\nname = "stepfunctions"\nstate_machine_arn = "{ARN}"\n'
        'manifest_url = "s3://ops/manifests"\n'
    )
    assert load_settings(path, environ={}).manifest_url == "s3://ops/manifests/"


@pytest.mark.parametrize(
    ("engine", "key"),
    [
        ('name = "stepfunctions"', "engine.state_machine_arn"),
        ('name = "stepfunctions"\nstate_machine_arn = "arn:nope"', "engine.state_machine_arn"),
        (f'state_machine_arn = "{ARN}"', "engine.state_machine_arn"),
        ('manifest_url = "s3://m/x"', "engine.manifest_url"),
    ],
)
def test_stepfunctions_settings_are_checked(
    write_config: WriteConfig, engine: str, key: str
) -> None:
    error = config_error(
        write_config(
            f'[landing]\nurl = "s3://raw/in"\n[output]\nurl = "s3://cur/out"\n[engine]\n{engine}\n'
        )
    )
    assert error.key == key


def test_the_stepfunctions_engine_needs_s3_locations(write_config: WriteConfig) -> None:
    error = config_error(
        write_config(f'[engine]\nname = "stepfunctions"\nstate_machine_arn = "{ARN}"\n')
    )
    assert error.key == "landing.url"


def test_a_queue_url_is_read_for_an_s3_landing(write_config: WriteConfig) -> None:
    path = write_config(f'[landing]\nurl = "s3://raw/in"\nqueue_url = "{QUEUE}"\n')
    assert load_settings(path, environ={}).landing_queue_url == QUEUE


@pytest.mark.parametrize(
    "text",
    [f'queue_url = "{QUEUE}"', 'url = "s3://raw/in"\nqueue_url = "sqs://q"'],
)
def test_a_queue_url_needs_an_s3_landing_and_an_sqs_url(
    write_config: WriteConfig, text: str
) -> None:
    assert config_error(write_config(f"[landing]\n{text}\n")).key == "landing.queue_url"
