"""Load-time validation (issue 7): limits, layouts, engine settings, formats, delimiters,
markers, unrelated INGESTFLOW_* variables, and one shape for every unknown-key message."""

from __future__ import annotations

import io
import string
from pathlib import Path

import pytest
from unit_support import OHLCV_WORKFLOW, WriteConfig, config_error

from ingestflow.config import load_settings, notices, report_warnings
from ingestflow.config.formats import DIRECTIVES, UNPADDED, check_delimiter
from ingestflow.domain.errors import ConfigError
from ingestflow.domain.workflow import Workflow

DAY = 86400.0


def _workflow(write_config: WriteConfig, extra: str) -> Workflow:
    (workflow,) = load_settings(write_config(OHLCV_WORKFLOW + extra), environ={}).workflows
    return workflow


# --- unrelated INGESTFLOW_* variables -------------------------------------------------------


def test_an_unrelated_ingestflow_variable_is_a_warning_naming_it_not_an_error(
    write_config: WriteConfig,
) -> None:
    environ = {"INGESTFLOW_HOME": "/opt/x", "INGESTFLOW_LOG_LEVEL": "debug"}
    settings = load_settings(write_config(OHLCV_WORKFLOW), environ=environ)
    assert [w.split(":")[0] for w in settings.warnings] == [
        "ignoring INGESTFLOW_HOME",
        "ignoring INGESTFLOW_LOG_LEVEL",
    ]
    assert "'home' is not an ingestflow setting" in settings.warnings[0]


def test_a_config_without_stray_variables_has_no_warnings(write_config: WriteConfig) -> None:
    environ = {"INGESTFLOW_ENV": "", "INGESTFLOW_SCHEDULE_INTERVAL": "2s", "HOME": "/x"}
    assert load_settings(write_config(""), environ=environ).warnings == ()


def test_warnings_are_written_once_per_process_as_plain_lines(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notices, "_shown", set())
    path = write_config("")
    environ = {"INGESTFLOW_HOME": "/opt/[red]x"}
    first, second = io.StringIO(), io.StringIO()
    report_warnings(load_settings(path, environ=environ), first)
    report_warnings(load_settings(path, environ=environ), second)
    assert first.getvalue().startswith("warning: ignoring INGESTFLOW_HOME: ")
    assert first.getvalue().count("\n") == 1
    assert second.getvalue() == ""


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("INGESTFLOW_LANDING__COLOUR", "unknown key 'colour' (known: bucket, follow_symlinks"),
        (
            "INGESTFLOW_ENGINE__GPU",
            "unknown key 'gpu' (known: conf, manifest_url, master, memory_limit, name,"
            " state_machine_arn, threads)",
        ),
        ("INGESTFLOW_LANDING", "expected INGESTFLOW_LANDING__<KEY>"),
        ("INGESTFLOW_LEDGER__URL__X", "expected INGESTFLOW_LEDGER__<KEY>"),
        ("INGESTFLOW_WORKFLOWS__OHLCV__BATCHSIZE", "unknown key 'batchsize' (known: batch_size"),
        ("INGESTFLOW_WORKFLOWS__OHLCV__NAME", "unknown key 'name'"),
        ("INGESTFLOW_WORKFLOWS__OHLCV__OPTIONS__SKIP", "unknown key 'skip' (known: "),
        ("INGESTFLOW_WORKFLOWS__NOPE__BATCH_SIZE", "no workflow named 'nope'"),
        ("INGESTFLOW_WORKFLOWS__OHLCV", "expected INGESTFLOW_WORKFLOWS__<NAME>__<KEY>"),
        ("INGESTFLOW_TRANSFORMS__TRADES", "transforms cannot be set from the environment"),
    ],
)
def test_a_variable_aimed_at_a_known_section_or_workflow_with_a_bad_key_names_the_variable(
    write_config: WriteConfig, name: str, problem: str
) -> None:
    error = config_error(write_config(OHLCV_WORKFLOW), environ={name: "1"})
    assert error.key == name
    assert problem in error.problem


def test_the_new_keys_can_be_set_from_the_environment(write_config: WriteConfig) -> None:
    environ = {
        "INGESTFLOW_LANDING__FOLLOW_SYMLINKS": "true",
        "INGESTFLOW_LANDING__RECONCILE_INTERVAL": "5m",
        "INGESTFLOW_WORKFLOWS__OHLCV__READY_MARKER": "_SUCCESS",
        "INGESTFLOW_WORKFLOWS__OHLCV__MARKER_REQUIRED": "true",
        "INGESTFLOW_WORKFLOWS__OHLCV__OPTIONS__DELIMITER": ";",
    }
    settings = load_settings(write_config(OHLCV_WORKFLOW), environ=environ)
    assert (settings.follow_symlinks, settings.reconcile_interval) == (True, 300.0)
    wf = settings.workflows[0]
    assert (wf.ready_marker, wf.marker_required) == ("_SUCCESS", True)
    assert dict(wf.options) == {"delimiter": ";"}


def test_a_text_setting_from_the_environment_stays_text(write_config: WriteConfig) -> None:
    environ = {
        "INGESTFLOW_LANDING__BUCKET": "2024",
        "INGESTFLOW_WORKFLOWS__OHLCV__READY_MARKER": "1",
    }
    settings = load_settings(write_config(OHLCV_WORKFLOW), environ=environ)
    assert settings.landing_bucket == "2024"
    assert settings.workflows[0].ready_marker == "1"


def test_a_marker_variable_wins_over_a_marker_in_the_options_table(
    write_config: WriteConfig,
) -> None:
    text = OHLCV_WORKFLOW + "[workflows.options]\nready_marker = '_DONE'\n"
    environ = {"INGESTFLOW_WORKFLOWS__OHLCV__READY_MARKER": "_SUCCESS"}
    assert load_settings(write_config(text), environ=environ).workflows[0].ready_marker == (
        "_SUCCESS"
    )


# --- absurd numbers and durations -----------------------------------------------------------

DURATION_KEYS = [
    ("schedule_interval = {v}\n", "schedule_interval"),
    ("[landing]\nsettle = {v}\n", "landing.settle"),
    ("[landing]\nreconcile_interval = {v}\n", "landing.reconcile_interval"),
    (OHLCV_WORKFLOW + "max_wait = {v}\n", "workflows.ohlcv.max_wait"),
    (OHLCV_WORKFLOW + "lease = {v}\n", "workflows.ohlcv.lease"),
    (OHLCV_WORKFLOW + "retry_backoff = {v}\n", "workflows.ohlcv.retry_backoff"),
    (OHLCV_WORKFLOW + "stale_after = {v}\n", "workflows.ohlcv.stale_after"),
]


@pytest.mark.parametrize(("template", "key"), DURATION_KEYS)
@pytest.mark.parametrize(
    "value", ["'99999999999999999999d'", "'366d'", "31536001", "1e300", "1" + "0" * 400]
)
def test_a_duration_beyond_365_days_is_a_config_error(
    write_config: WriteConfig, template: str, key: str, value: str
) -> None:
    error = config_error(write_config(template.format(v=value)))
    assert error.key == key
    assert "at most 365d" in error.problem


@pytest.mark.parametrize(("template", "key"), DURATION_KEYS)
def test_a_duration_of_exactly_365_days_is_accepted(
    write_config: WriteConfig, template: str, key: str
) -> None:
    load_settings(write_config(template.format(v="'365d'")), environ={})


@pytest.mark.parametrize(
    ("extra", "key", "maximum"),
    [
        ("batch_size = 1_000_001\n", "batch_size", "1,000,000"),
        ("max_batch_files = 99999999999999999999\n", "max_batch_files", "1,000,000"),
        ("batch_size = 1e300\n", "batch_size", "1,000,000"),
        ("batch_size = '9999999999999999999999'\n", "batch_size", "1,000,000"),
        ("max_attempts = 1001\n", "max_attempts", "1,000"),
        ("max_batch_bytes = '1025TB'\n", "max_batch_bytes", "1 PiB"),
        ("max_batch_bytes = '" + "9" * 400 + "GB'\n", "max_batch_bytes", "1 PiB"),
        ("max_batch_bytes = 1e300\n", "max_batch_bytes", "1 PiB"),
    ],
)
def test_a_number_above_its_documented_maximum_is_a_config_error(
    write_config: WriteConfig, extra: str, key: str, maximum: str
) -> None:
    error = config_error(write_config(OHLCV_WORKFLOW + extra))
    assert error.key == f"workflows.ohlcv.{key}"
    assert f"at most {maximum}" in error.problem


def test_the_documented_maxima_themselves_are_accepted(write_config: WriteConfig) -> None:
    extra = (
        "batch_size = 1_000_000\nmax_batch_files = 1_000_000\nmax_attempts = 1000\n"
        "max_batch_bytes = '1024TB'\n"
    )
    wf = _workflow(write_config, extra)
    assert (wf.batch_size, wf.max_batch_files, wf.max_attempts) == (1_000_000, 1_000_000, 1000)
    assert wf.max_batch_bytes == 1024**5


@pytest.mark.parametrize("value", ["0", "'0s'", "'5ms'", "0.001"])
def test_a_schedule_interval_below_10ms_is_a_busy_loop_and_refused(
    write_config: WriteConfig, value: str
) -> None:
    error = config_error(write_config(f"schedule_interval = {value}\n"))
    assert error.key == "schedule_interval"
    assert "at least 0.01s" in error.problem


def test_a_schedule_interval_of_10ms_is_accepted(write_config: WriteConfig) -> None:
    assert load_settings(
        write_config("schedule_interval = '10ms'\n"), environ={}
    ).schedule_interval == (0.01)


def test_reconcile_interval_and_follow_symlinks_are_read_with_their_defaults(
    write_config: WriteConfig,
) -> None:
    default = load_settings(write_config(""), environ={})
    assert (default.follow_symlinks, default.reconcile_interval) == (False, 60.0)
    text = "[landing]\nfollow_symlinks = true\nreconcile_interval = '10m'\n"
    settings = load_settings(write_config(text), environ={})
    assert (settings.follow_symlinks, settings.reconcile_interval) == (True, 600.0)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[landing]\nreconcile_interval = 0\n", "landing.reconcile_interval"),
        ("[landing]\nreconcile_interval = 'often'\n", "landing.reconcile_interval"),
        ("[landing]\nfollow_symlinks = 'true'\n", "landing.follow_symlinks"),
        ("[landing]\nfollow_symlinks = 1\n", "landing.follow_symlinks"),
        ("[landing]\nbucket = 5\n", "landing.bucket"),
    ],
)
def test_invalid_landing_values_are_config_errors(
    write_config: WriteConfig, text: str, key: str
) -> None:
    assert config_error(write_config(text)).key == key


# --- engine settings ------------------------------------------------------------------------

VALID_MEMORY = ["4GB", "4 GB", "4gb", "512MiB", "4GiB", "1.5GB", "16MiB", "80%", "0.5%", "100%"]


@pytest.mark.parametrize("value", VALID_MEMORY)
def test_memory_limits_duckdb_understands_are_accepted(
    write_config: WriteConfig, value: str
) -> None:
    text = f'[engine]\nmemory_limit = "{value}"\n'
    assert load_settings(write_config(text), environ={}).engine_memory_limit == value


def test_every_accepted_memory_limit_is_accepted_by_duckdb() -> None:
    duckdb = pytest.importorskip("duckdb")
    for value in VALID_MEMORY:
        duckdb.connect(config={"memory_limit": value}).close()


@pytest.mark.parametrize(
    "value", ["'lots'", "'0GB'", "'0%'", "'101%'", "'1KB'", "'-1'", "'4'", "'2000TB'", "4", "'4PB'"]
)
def test_an_invalid_memory_limit_is_a_config_error(write_config: WriteConfig, value: str) -> None:
    assert config_error(write_config(f"[engine]\nmemory_limit = {value}\n")).key == (
        "engine.memory_limit"
    )


def test_threads_are_bounded(write_config: WriteConfig) -> None:
    assert load_settings(write_config("[engine]\nthreads = 1024\n"), environ={}).engine_threads == (
        1024
    )
    error = config_error(write_config("[engine]\nthreads = 1025\n"))
    assert (error.key, error.problem) == ("engine.threads", "must be a whole number from 1 to 1024")


# --- delimiters and strptime formats --------------------------------------------------------


@pytest.mark.parametrize("value", ["", ";;", '"', "\n", "\r", "\r\n"])
def test_an_unusable_delimiter_is_a_config_error_in_options_and_in_transforms(
    write_config: WriteConfig, value: str
) -> None:
    toml = '"' + value.encode("unicode_escape").decode().replace('"', '\\"') + '"'
    error = config_error(
        write_config(OHLCV_WORKFLOW + f"[workflows.options]\ndelimiter = {toml}\n")
    )
    assert error.key == "workflows.ohlcv.options.delimiter"
    error = config_error(write_config(f"[[transforms]]\nname = 't'\ndelimiter = {toml}\n"))
    assert error.key == "transforms[0].delimiter"


def test_a_nul_delimiter_is_refused() -> None:
    # TOML cannot hold NUL, but the check is the engine's contract, not the file format's.
    with pytest.raises(ConfigError, match="cannot separate fields"):
        check_delimiter("\0", "options.delimiter")


@pytest.mark.parametrize("value", [";", "|", "\\t", " ", "§"])
def test_a_single_character_delimiter_is_accepted(write_config: WriteConfig, value: str) -> None:
    wf = _workflow(write_config, f'[workflows.options]\ndelimiter = "{value}"\n')
    assert len(wf.options["delimiter"]) == 1


GOOD_FORMATS = [
    "%d/%m/%Y %H:%M",
    "%-d.%-m.%Y %-H:%-M:%-S",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%b %d %Y %I:%M %p",
    "%A %B %j %y %Z",
    "%Y%m%d 100%%",
]
BAD_FORMATS = ["%Q", "%e", "%Y-%m-%D", "%-Y", "%Y%", "abc", "%%", "", "%Y %E"]


@pytest.mark.parametrize("fmt", GOOD_FORMATS)
def test_formats_duckdb_parses_are_accepted_everywhere(write_config: WriteConfig, fmt: str) -> None:
    wf = _workflow(write_config, f"[workflows.options]\ntimestamp_format = '{fmt}'\n")
    assert wf.options["timestamp_format"] == fmt
    text = f"[[transforms]]\nname = 't'\n[[transforms.columns]]\nsource = 'x'\nformat = '{fmt}'\n"
    assert load_settings(write_config(text), environ={}).transforms["t"].columns[0].formats == (
        fmt,
    )


@pytest.mark.parametrize("fmt", BAD_FORMATS)
@pytest.mark.parametrize(
    ("template", "key"),
    [
        (OHLCV_WORKFLOW + "[workflows.options]\ntimestamp_format = '{f}'\n",
         "workflows.ohlcv.options.timestamp_format"),
        (OHLCV_WORKFLOW + "[workflows.options]\ndate_format = '{f}'\n",
         "workflows.ohlcv.options.date_format"),
        ("[[transforms]]\nname = 't'\n[[transforms.columns]]\nsource = 'x'\nformat = '{f}'\n",
         "transforms[0].columns[0].format"),
        ("[[transforms]]\nname = 't'\n[[transforms.columns]]\nsource = 'x'\n"
         "formats = ['%Y', '{f}']\n", "transforms[0].columns[0].formats[1]"),
    ],
)  # fmt: skip
def test_an_invalid_strptime_format_is_a_config_error_naming_its_key(
    write_config: WriteConfig, fmt: str, template: str, key: str
) -> None:
    assert config_error(write_config(template.format(f=fmt))).key == key


def test_an_unsupported_directive_is_named_with_the_supported_ones(
    write_config: WriteConfig,
) -> None:
    error = config_error(
        write_config(OHLCV_WORKFLOW + "[workflows.options]\ndate_format = '%d.%e'\n")
    )
    assert "unsupported directive '%e'" in error.problem
    assert "%Y" in error.problem and "%-d" in error.problem


def test_the_supported_directives_are_exactly_those_duckdb_accepts() -> None:
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()

    def accepted(fmt: str) -> bool:
        try:
            con.execute("SELECT strptime('x', ?)", [fmt]).fetchall()
        except duckdb.Error as exc:
            return "format specifier" not in str(exc) or "Could not parse" in str(exc)
        return True

    for letter in string.ascii_letters:
        assert accepted(f"%{letter}") == (letter in DIRECTIVES), letter
        assert accepted(f"%-{letter}") == (letter in UNPADDED), f"-{letter}"


def test_format_and_formats_together_are_a_config_error(write_config: WriteConfig) -> None:
    text = (
        "[[transforms]]\nname = 't'\n[[transforms.columns]]\nsource = 'x'\n"
        "format = '%Y'\nformats = ['%Y']\n"
    )
    assert config_error(write_config(text)).key == "transforms[0].columns[0].formats"


@pytest.mark.parametrize(
    ("lines", "key"),
    [
        ("columns = 5\n", "transforms[0].columns"),
        ("derived = 'x'\n", "transforms[0].derived"),
        ("[[transforms.columns]]\nsource = 'x'\nrequired = 'false'\n",
         "transforms[0].columns[0].required"),
    ],
)  # fmt: skip
def test_malformed_transform_tables_are_config_errors(
    write_config: WriteConfig, lines: str, key: str
) -> None:
    assert config_error(write_config(f"[[transforms]]\nname = 't'\n{lines}")).key == key


# --- ready_marker and marker_required -------------------------------------------------------


def test_a_ready_marker_is_a_workflow_key(write_config: WriteConfig) -> None:
    wf = _workflow(write_config, "ready_marker = '_SUCCESS'\nmarker_required = true\n")
    assert (wf.ready_marker, wf.marker_required) == ("_SUCCESS", True)
    assert _workflow(write_config, "").ready_marker is None


def test_a_ready_marker_written_as_an_option_becomes_the_workflow_key(
    write_config: WriteConfig,
) -> None:
    extra = "[workflows.options]\nready_marker = '_SUCCESS'\ndelimiter = ';'\n"
    wf = _workflow(write_config, extra)
    assert (wf.ready_marker, wf.marker_required) == ("_SUCCESS", False)
    assert dict(wf.options) == {"delimiter": ";"}


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("marker_required = true\n", "workflows.ohlcv.marker_required"),
        ("[workflows.options]\nmarker_required = true\n",
         "workflows.ohlcv.options.marker_required"),
        ("ready_marker = '_S'\nmarker_required = 'yes'\n", "workflows.ohlcv.marker_required"),
        ("ready_marker = '_S'\n[workflows.options]\nready_marker = '_S'\n",
         "workflows.ohlcv.options.ready_marker"),
    ],
)  # fmt: skip
def test_marker_required_needs_a_marker_and_a_boolean(
    write_config: WriteConfig, extra: str, key: str
) -> None:
    assert config_error(write_config(OHLCV_WORKFLOW + extra)).key == key


@pytest.mark.parametrize(
    "value",
    ["''", "'a/b'", "'/x'", "'.'", "'..'", "'a\\u0001'", "'.done'", "'x.tmp'", "'a\\\\b'", "5",
     "'" + "x" * 256 + "'"],
)  # fmt: skip
def test_a_ready_marker_that_is_not_a_plain_visible_file_name_is_a_config_error(
    write_config: WriteConfig, value: str
) -> None:
    error = config_error(write_config(OHLCV_WORKFLOW + f"ready_marker = {value}\n"))
    assert error.key == "workflows.ohlcv.ready_marker"


# --- prefixes and folder layout -------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"), [("ohlcv/", "ohlcv/"), ("ohlcv", "/ohlcv/"), ("", "/")]
)
def test_two_workflows_with_the_same_prefix_are_a_config_error_naming_both(
    write_config: WriteConfig, first: str, second: str
) -> None:
    text = (
        f'[[workflows]]\nname = "a"\nprefix = "{first}"\n'
        f'[[workflows]]\nname = "b"\nprefix = "{second}"\ninclude = ["*.json"]\n'
    )
    error = config_error(write_config(text))
    assert error.key == "workflows.b.prefix"
    assert "'a' and 'b'" in error.problem


def test_nested_prefixes_are_allowed(write_config: WriteConfig) -> None:
    text = '[[workflows]]\nname = "a"\nprefix = "x/"\n[[workflows]]\nname = "b"\nprefix = "x/y/"\n'
    assert len(load_settings(write_config(text), environ={}).workflows) == 2


@pytest.mark.parametrize(
    ("landing", "output", "key", "problem"),
    [
        ("data", "data", "output.path", "is the landing folder"),
        ("data", "data/out", "output.path", "is inside the landing folder"),
        (".", "output", "output.path", "is inside the landing folder"),
        ("out/in", "out", "landing.path", "is inside the output folder"),
        ("data", "data/../data/", "output.path", "is the landing folder"),
    ],
)
def test_outputs_inside_the_landing_folder_or_around_it_are_refused(
    write_config: WriteConfig, landing: str, output: str, key: str, problem: str
) -> None:
    error = config_error(
        write_config(f"[landing]\npath = '{landing}'\n[output]\npath = '{output}'\n")
    )
    assert error.key == key
    assert problem in error.problem
    assert "ingested again" in error.problem


def test_a_symlinked_output_into_the_landing_folder_is_refused(
    write_config: WriteConfig, config_dir: Path
) -> None:
    (config_dir / "landing" / "sub").mkdir(parents=True)
    (config_dir / "out").symlink_to(config_dir / "landing" / "sub")
    error = config_error(write_config("[output]\npath = 'out'\n"))
    assert error.key == "output.path"


@pytest.mark.parametrize(
    ("setup", "text", "key"),
    [
        ("landing", "", "landing.path"),
        ("output", "", "output.path"),
        ("afile", "[landing]\npath = 'afile/landing'\n", "landing.path"),
        ("afile", "[ledger]\nurl = 'sqlite://afile/ledger.db'\n", "ledger.url"),
    ],
)
def test_a_path_that_is_or_sits_under_a_file_is_one_readable_error(
    write_config: WriteConfig, config_dir: Path, setup: str, text: str, key: str
) -> None:
    (config_dir / setup).write_text("not a folder\n")
    error = config_error(write_config(text))
    assert error.key == key
    assert str(config_dir) in error.problem
    assert "is a file" in error.problem
    assert "\n" not in str(error)


def test_a_ledger_path_that_is_a_folder_is_a_config_error(
    write_config: WriteConfig, config_dir: Path
) -> None:
    (config_dir / ".ingestflow" / "ledger.db").mkdir(parents=True)
    error = config_error(write_config(""))
    assert error.key == "ledger.url"
    assert "is a folder" in error.problem


# --- one shape for every unknown key --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "known"),
    [
        ("surprise = 1\n", "surprise",
         "engine, env, landing, ledger, metrics, output, schedule_interval, server, transforms,"
         " workflows"),
        ("[output]\nformat = 'csv'\n", "output.format", "compression, path"),
        (OHLCV_WORKFLOW + "colour = 1\n", "workflows.ohlcv.colour",
         "batch_size, expect_cron, expect_min_files, expect_window, include"),
        (OHLCV_WORKFLOW + "[workflows.options]\nskip = 1\n", "workflows.ohlcv.options.skip",
         "date_format, delimiter"),
        ("[[transforms]]\nname = 't'\ncolour = 1\n", "transforms[0].colour",
         "columns, delimiter, derived, drop, keep_others, name"),
        ("[[transforms]]\nname = 't'\n[[transforms.columns]]\nsource = 'x'\ncolour = 1\n",
         "transforms[0].columns[0].colour", "format, formats, required, source, target, type"),
        ("[[transforms]]\nname = 't'\n[[transforms.derived]]\nname = 'd'\nexpr = '1'\nx = 1\n",
         "transforms[0].derived[0].x", "expr, name, type"),
    ],
)  # fmt: skip
def test_every_unknown_key_message_has_the_same_shape(
    write_config: WriteConfig, text: str, key: str, known: str
) -> None:
    error = config_error(write_config(text))
    name = key.rsplit(".", 1)[-1]
    assert error.key == key
    assert error.problem.startswith(f"unknown key '{name}' (known: ")
    assert known in error.problem
    assert error.problem.endswith(")")


def test_a_landing_path_that_is_a_broken_symlink_is_a_config_error(
    write_config: WriteConfig, config_dir: Path
) -> None:
    # An absolute path is kept as written (a relative one is resolved, link and all).
    (config_dir / "in").symlink_to(config_dir / "gone")
    error = config_error(write_config(f"[landing]\npath = '{config_dir / 'in'}'\n"))
    assert error.key == "landing.path"
    assert "broken symbolic link" in error.problem
