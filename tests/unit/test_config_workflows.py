"""`[[workflows]]` tables: prefixes, durations and sizes, include, options, every error's key."""

from __future__ import annotations

import pytest
from unit_support import OHLCV_WORKFLOW, WriteConfig, config_error

from ingestflow.config import load_settings
from ingestflow.domain.workflow import Workflow, route


def _workflow(write_config: WriteConfig, extra: str = "", prefix: str = "ohlcv/") -> Workflow:
    text = f'[[workflows]]\nname = "ohlcv"\nprefix = "{prefix}"\n{extra}'
    (workflow,) = load_settings(write_config(text), environ={}).workflows
    return workflow


def test_a_workflow_with_only_name_and_prefix_gets_the_defaults(write_config: WriteConfig) -> None:
    wf = _workflow(write_config)
    assert wf == Workflow(
        name="ohlcv",
        prefix="ohlcv/",
        transform="ohlcv",
        batch_size=10,
        max_wait=60.0,
        max_batch_files=1000,
        max_batch_bytes=2 * 1024**3,
        max_attempts=3,
        lease=300.0,
        retry_backoff=5.0,
        stale_after=5 * 3600.0,
        include=("*.csv", "*.csv.gz"),
    )


def test_every_documented_workflow_key_is_read(write_config: WriteConfig) -> None:
    extra = """
transform = "ohlcv"
batch_size = 7
max_wait = "30s"
max_batch_files = 20
max_batch_bytes = "512MB"
max_attempts = 5
lease = "5m"
retry_backoff = "250ms"
stale_after = "1.5h"
include = ["*.csv", "*.txt"]
[workflows.options]
timestamp_format = "%d/%m/%Y %H:%M"
delimiter = ";"
"""
    wf = _workflow(write_config, extra)
    assert (wf.batch_size, wf.max_batch_files, wf.max_attempts) == (7, 20, 5)
    assert (wf.max_wait, wf.lease, wf.retry_backoff, wf.stale_after) == (30.0, 300.0, 0.25, 5400.0)
    assert wf.max_batch_bytes == 512 * 1024**2
    assert wf.include == ("*.csv", "*.txt")
    assert dict(wf.options) == {"timestamp_format": "%d/%m/%Y %H:%M", "delimiter": ";"}


def test_numbers_are_accepted_for_durations_and_sizes(write_config: WriteConfig) -> None:
    wf = _workflow(write_config, "max_wait = 90\nlease = 12.5\nmax_batch_bytes = 4096\n")
    assert (wf.max_wait, wf.lease, wf.max_batch_bytes) == (90.0, 12.5, 4096)


def test_zero_max_wait_and_zero_retry_backoff_are_allowed(write_config: WriteConfig) -> None:
    wf = _workflow(write_config, 'max_wait = "0s"\nretry_backoff = 0\n')
    assert (wf.max_wait, wf.retry_backoff) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("prefix", "normalised"),
    [
        ("ohlcv", "ohlcv/"),
        ("ohlcv/", "ohlcv/"),
        ("/ohlcv", "ohlcv/"),
        (" ohlcv/2024 ", "ohlcv/2024/"),
        ("a/b/c", "a/b/c/"),
        ("", ""),
        ("/", ""),
    ],
)
def test_a_prefix_is_normalised_to_a_folder(
    write_config: WriteConfig, prefix: str, normalised: str
) -> None:
    assert _workflow(write_config, prefix=prefix).prefix == normalised


def test_a_prefix_without_a_slash_does_not_capture_a_sibling_folder(
    write_config: WriteConfig,
) -> None:
    wf = _workflow(write_config, prefix="ohlcv")
    assert route("ohlcv/a.csv", [wf])[0] == wf
    assert route("ohlcv2/a.csv", [wf])[0] is None


def test_a_single_include_string_is_one_pattern(write_config: WriteConfig) -> None:
    assert _workflow(write_config, 'include = "*.txt"\n').include == ("*.txt",)


def test_the_engine_options_are_kept_as_given(write_config: WriteConfig) -> None:
    extra = "[workflows.options]\ndelimiter = '|'\ndate_format = '%d.%m.%Y'\n"
    assert dict(_workflow(write_config, extra).options) == {
        "delimiter": "|",
        "date_format": "%d.%m.%Y",
    }


def test_an_unknown_option_is_a_config_error_listing_the_known_ones(
    write_config: WriteConfig,
) -> None:
    # It used to be kept and silently ignored: a misspelt `timestamp_fromat` did nothing.
    error = config_error(write_config(OHLCV_WORKFLOW + "[workflows.options]\nskip = 2\n"))
    assert error.key == "workflows.ohlcv.options.skip"
    assert error.problem == (
        "unknown key 'skip' (known: date_format, delimiter, marker_required, ready_marker, "
        "timestamp_format)"
    )


def test_a_workflow_may_use_a_declared_transform(write_config: WriteConfig) -> None:
    text = (
        OHLCV_WORKFLOW
        + 'transform = "trades"\n[[transforms]]\nname = "trades"\n'
        + '[[transforms.columns]]\nsource = "Price"\ntype = "double"\n'
    )
    assert load_settings(write_config(text), environ={}).workflows[0].transform == "trades"


def test_workflows_keep_the_order_of_the_file(write_config: WriteConfig) -> None:
    text = "".join(f'[[workflows]]\nname = "w{i}"\nprefix = "p{i}"\n' for i in (3, 1, 2))
    settings = load_settings(write_config(text), environ={})
    assert [w.name for w in settings.workflows] == ["w3", "w1", "w2"]
    assert settings.workflow("w1") == settings.workflows[1]
    assert settings.workflow("nope") is None


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("batch_size = -1\n", "workflows.ohlcv.batch_size"),
        ("batch_size = 0\n", "workflows.ohlcv.batch_size"),
        ("batch_size = 'ten'\n", "workflows.ohlcv.batch_size"),
        ("batch_size = true\n", "workflows.ohlcv.batch_size"),
        ("batch_size = nan\n", "workflows.ohlcv.batch_size"),
        ("max_batch_files = 0\n", "workflows.ohlcv.max_batch_files"),
        ("max_attempts = 0\n", "workflows.ohlcv.max_attempts"),
        ("max_wait = 'soon'\n", "workflows.ohlcv.max_wait"),
        ("max_wait = '-5s'\n", "workflows.ohlcv.max_wait"),
        ("max_wait = -5\n", "workflows.ohlcv.max_wait"),
        ("max_wait = false\n", "workflows.ohlcv.max_wait"),
        ("lease = '0s'\n", "workflows.ohlcv.lease"),
        ("lease = 'forever'\n", "workflows.ohlcv.lease"),
        ("retry_backoff = '-1s'\n", "workflows.ohlcv.retry_backoff"),
        ("stale_after = 0\n", "workflows.ohlcv.stale_after"),
        ("max_batch_bytes = '0'\n", "workflows.ohlcv.max_batch_bytes"),
        ("max_batch_bytes = 'lots'\n", "workflows.ohlcv.max_batch_bytes"),
        ("max_batch_bytes = -1\n", "workflows.ohlcv.max_batch_bytes"),
        ("colour = 'red'\n", "workflows.ohlcv.colour"),
        ("batchsize = 5\n", "workflows.ohlcv.batchsize"),
        ("transform = 'nope'\n", "workflows.ohlcv.transform"),
        ("include = []\n", "workflows.ohlcv.include"),
        ("include = [1]\n", "workflows.ohlcv.include"),
        ("include = 5\n", "workflows.ohlcv.include"),
        ("options = 'x'\n", "workflows.ohlcv.options"),
    ],
)
def test_every_invalid_workflow_value_is_a_config_error_naming_its_key(
    write_config: WriteConfig, extra: str, key: str
) -> None:
    error = config_error(write_config(OHLCV_WORKFLOW + extra))
    assert error.key == key
    assert f"config error at '{key}'" in str(error)


def test_an_unknown_transform_error_lists_the_known_ones(write_config: WriteConfig) -> None:
    error = config_error(write_config(OHLCV_WORKFLOW + "transform = 'nope'\n"))
    assert "'nope'" in error.problem
    assert "ohlcv" in error.problem


def test_an_infinite_batch_size_is_a_config_error(write_config: WriteConfig) -> None:
    # TOML allows `inf`; int(inf) raises OverflowError, which the CLI would not report as a
    # configuration error (exit 2) but as a crash.
    error = config_error(write_config(OHLCV_WORKFLOW + "batch_size = inf\n"))
    assert error.key == "workflows.ohlcv.batch_size"


def test_a_fractional_batch_size_is_refused_not_truncated(write_config: WriteConfig) -> None:
    error = config_error(write_config(OHLCV_WORKFLOW + "batch_size = 2.5\n"))
    assert error.key == "workflows.ohlcv.batch_size"


def test_a_nan_max_wait_is_a_config_error(write_config: WriteConfig) -> None:
    error = config_error(write_config(OHLCV_WORKFLOW + "max_wait = nan\n"))
    assert error.key == "workflows.ohlcv.max_wait"


@pytest.mark.parametrize(
    ("prefix_line", "key"),
    [
        ("", "workflows.ohlcv.prefix"),
        ("prefix = 5\n", "workflows.ohlcv.prefix"),
        ("prefix = 'a/../b'\n", "workflows.ohlcv.prefix"),
        ("prefix = '../b'\n", "workflows.ohlcv.prefix"),
        ("prefix = './a'\n", "workflows.ohlcv.prefix"),
    ],
)
def test_a_missing_or_escaping_prefix_is_a_config_error(
    write_config: WriteConfig, prefix_line: str, key: str
) -> None:
    assert config_error(write_config(f'[[workflows]]\nname = "ohlcv"\n{prefix_line}')).key == key


@pytest.mark.parametrize("name", ["has space", "1abc", "a-b", "", "ohl.cv", "é"])
def test_a_workflow_name_that_is_not_an_identifier_is_a_config_error(
    write_config: WriteConfig, name: str
) -> None:
    text = OHLCV_WORKFLOW + f'[[workflows]]\nname = "{name}"\nprefix = "x/"\n'
    assert config_error(write_config(text)).key == "workflows[1].name"


def test_a_workflow_without_a_name_is_a_config_error(write_config: WriteConfig) -> None:
    assert config_error(write_config('[[workflows]]\nprefix = "x/"\n')).key == "workflows[0].name"


def test_a_workflow_name_with_a_trailing_newline_is_a_config_error(
    write_config: WriteConfig,
) -> None:
    # The name becomes a table name in `query` and a folder under the output path.
    text = '[[workflows]]\nname = "ohlcv\\n"\nprefix = "x/"\n'
    assert config_error(write_config(text)).key == "workflows[0].name"


def test_a_workflow_name_used_twice_is_a_config_error(write_config: WriteConfig) -> None:
    text = OHLCV_WORKFLOW + '[[workflows]]\nname = "ohlcv"\nprefix = "other/"\n'
    error = config_error(write_config(text))
    assert error.key == "workflows.ohlcv"
    assert "used twice" in error.problem


def test_a_workflows_table_instead_of_an_array_is_a_config_error(
    write_config: WriteConfig,
) -> None:
    assert config_error(write_config('[workflows]\nname = "ohlcv"\n')).key == "workflows"


def test_a_workflow_entry_that_is_not_a_table_is_a_config_error(
    write_config: WriteConfig,
) -> None:
    assert config_error(write_config("workflows = [1]\n")).key == "workflows[0]"
