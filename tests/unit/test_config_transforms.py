"""`[[transforms]]` tables into TransformSpecs; `Settings.spec_for` applies workflow options."""

from __future__ import annotations

import pytest
from unit_support import WriteConfig, config_error

from ingestflow.config import Settings, load_settings
from ingestflow.domain.transform import OHLCV, ColumnRule, DerivedColumn, TransformSpec

# The README's example, verbatim.
TRADES = """
[[transforms]]
name = "trades"
keep_others = true
drop = ["comment"]
[[transforms.columns]]
source = "Price"
target = "price"
type = "double"
[[transforms.columns]]
source = "When"
target = "traded_at"
type = "timestamp"
format = "%d/%m/%Y %H:%M:%S"
[[transforms.derived]]
name = "notional"
expr = "price * CAST(Qty AS DOUBLE)"
type = "double"
"""


def _transform(write_config: WriteConfig, text: str, name: str = "t") -> TransformSpec:
    return load_settings(write_config(text), environ={}).transforms[name]


def _one_column(column_lines: str) -> str:
    return f'[[transforms]]\nname = "t"\n[[transforms.columns]]\n{column_lines}'


def test_the_readme_transform_is_parsed(write_config: WriteConfig) -> None:
    spec = _transform(write_config, TRADES, "trades")
    assert spec == TransformSpec(
        name="trades",
        columns=(
            ColumnRule("Price", "price", "double"),
            ColumnRule("When", "traded_at", "timestamp", formats=("%d/%m/%Y %H:%M:%S",)),
        ),
        derived=(DerivedColumn("notional", "price * CAST(Qty AS DOUBLE)", "double"),),
        drop=("comment",),
        keep_others=True,
        delimiter=",",
    )


def test_declared_transforms_sit_beside_the_presets(write_config: WriteConfig) -> None:
    transforms = load_settings(write_config(TRADES), environ={}).transforms
    assert set(transforms) == {"ohlcv", "trades"}
    assert transforms["ohlcv"] == OHLCV


def test_a_column_defaults_to_its_source_name_as_text(write_config: WriteConfig) -> None:
    spec = _transform(write_config, _one_column('source = "Venue"\n'))
    assert spec.columns == (ColumnRule("Venue", "Venue", "varchar", (), True),)


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("float64", "double"),
        ("Double", "double"),
        ("real", "float"),
        ("long", "bigint"),
        ("int64", "bigint"),
        ("int", "integer"),
        ("int32", "integer"),
        ("STRING", "varchar"),
        ("text", "varchar"),
        ("bool", "boolean"),
        ("date", "date"),
        ("timestamp", "timestamp"),
    ],
)
def test_type_aliases_are_accepted(write_config: WriteConfig, alias: str, canonical: str) -> None:
    spec = _transform(write_config, _one_column(f'source = "x"\ntype = "{alias}"\n'))
    assert spec.columns[0].type == canonical


def test_formats_are_tried_in_the_given_order(write_config: WriteConfig) -> None:
    lines = 'source = "d"\ntype = "timestamp"\nformats = ["%d/%m/%Y %H:%M", "%Y%m%d"]\n'
    spec = _transform(write_config, _one_column(lines))
    assert spec.columns[0].parse_formats() == ("%d/%m/%Y %H:%M", "%Y%m%d")


def test_a_single_format_is_one_parse_format(write_config: WriteConfig) -> None:
    spec = _transform(
        write_config, _one_column('source = "d"\ntype = "date"\nformat = "%d.%m.%Y"\n')
    )
    assert spec.columns[0].formats == ("%d.%m.%Y",)


def test_a_column_may_be_optional(write_config: WriteConfig) -> None:
    spec = _transform(write_config, _one_column('source = "x"\nrequired = false\n'))
    assert spec.columns[0].required is False
    assert spec.missing_columns(()) == []


def test_keep_others_drop_delimiter_and_untyped_derived_columns_are_read(
    write_config: WriteConfig,
) -> None:
    text = """
[[transforms]]
name = "t"
keep_others = false
drop = "comment"
delimiter = ";"
[[transforms.derived]]
name = "one"
expr = "1"
"""
    spec = _transform(write_config, text)
    assert (spec.keep_others, spec.drop, spec.delimiter) == (False, ("comment",), ";")
    assert spec.derived == (DerivedColumn("one", "1", None),)


def test_a_transform_with_no_columns_keeps_every_column(write_config: WriteConfig) -> None:
    spec = _transform(write_config, '[[transforms]]\nname = "t"\n')
    assert spec.output_columns(("a", "b")) == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[transforms]\nname = 't'\n", "transforms"),
        ("transforms = [1]\n", "transforms[0]"),
        ("[[transforms]]\ncolumns = []\n", "transforms[0].name"),
        ("[[transforms]]\nname = 't'\ncolour = 1\n", "transforms[0].colour"),
        ("[[transforms]]\nname = 't'\nkeep_others = 'yes'\n", "transforms[0].keep_others"),
        ("[[transforms]]\nname = 't'\ndrop = [1]\n", "transforms[0].drop"),
        ("[[transforms]]\nname = 't'\ndelimiter = ''\n", "transforms[0].delimiter"),
        ("[[transforms]]\nname = 't'\ncolumns = [1]\n", "transforms[0].columns[0]"),
        (_one_column("target = 'x'\n"), "transforms[0].columns[0].source"),
        (_one_column("source = 'x'\ntype = 'decimal'\n"), "transforms[0].columns[0].type"),
        (_one_column("source = 'x'\nformat = [1]\n"), "transforms[0].columns[0].format"),
        (_one_column("source = 'x'\ntarget = ''\n"), "transforms[0].columns[0].target"),
        ("[[transforms]]\nname = 't'\n[[transforms.derived]]\nexpr = '1'\n",
         "transforms[0].derived[0].name"),
        ("[[transforms]]\nname = 't'\n[[transforms.derived]]\nname = 'd'\n",
         "transforms[0].derived[0].expr"),
        ("[[transforms]]\nname = 't'\n[[transforms.derived]]\nname = 'd'\nexpr = '1'\n"
         "type = 'money'\n", "transforms[0].derived[0].type"),
        ("[[transforms]]\nname = 't'\nderived = [1]\n", "transforms[0].derived[0]"),
    ],
)  # fmt: skip
def test_every_invalid_transform_value_is_a_config_error_naming_its_key(
    write_config: WriteConfig, text: str, key: str
) -> None:
    error = config_error(write_config(text))
    assert error.key == key
    assert f"config error at '{key}'" in str(error)


def test_an_unknown_type_error_lists_the_accepted_types(write_config: WriteConfig) -> None:
    error = config_error(write_config(_one_column("source = 'x'\ntype = 'decimal'\n")))
    assert "unknown type 'decimal'" in error.problem
    assert "timestamp" in error.problem


def test_an_output_column_defined_twice_is_a_config_error(write_config: WriteConfig) -> None:
    text = """
[[transforms]]
name = "t"
[[transforms.columns]]
source = "A"
target = "x"
[[transforms.columns]]
source = "B"
target = "x"
"""
    error = config_error(write_config(text))
    assert error.key == "transforms[0]"
    assert "'x' is defined twice" in error.problem


def test_a_derived_column_reusing_an_output_name_is_a_config_error(
    write_config: WriteConfig,
) -> None:
    text = TRADES + '[[transforms.derived]]\nname = "price"\nexpr = "1"\n'
    error = config_error(write_config(text))
    assert error.key == "transforms[0]"
    assert "'price' is defined twice" in error.problem


def test_the_second_transform_is_named_by_its_index(write_config: WriteConfig) -> None:
    text = TRADES + _one_column("source = 'x'\ntype = 'decimal'\n")
    assert config_error(write_config(text)).key == "transforms[1].columns[0].type"


def test_an_unknown_key_in_a_column_is_a_config_error(write_config: WriteConfig) -> None:
    # Every other table refuses unknown keys; a misspelt `type` must not silently become varchar.
    error = config_error(write_config(_one_column("source = 'x'\ntyp = 'double'\n")))
    assert error.key == "transforms[0].columns[0].typ"


# --- Settings.spec_for ----------------------------------------------------------------------


def _settings_with_workflows(write_config: WriteConfig, workflows: str) -> Settings:
    return load_settings(write_config(TRADES + workflows), environ={})


def test_spec_for_applies_the_workflows_options_to_its_transform(
    write_config: WriteConfig,
) -> None:
    settings = _settings_with_workflows(
        write_config,
        """
[[workflows]]
name = "trades"
prefix = "trades/"
transform = "trades"
[workflows.options]
timestamp_format = "%Y%m%d %H%M"
delimiter = "|"
""",
    )
    spec = settings.spec_for(settings.workflows[0])
    assert spec.name == "trades"
    assert spec.delimiter == "|"
    assert next(c for c in spec.columns if c.target == "traded_at").formats == ("%Y%m%d %H%M",)
    assert next(c for c in spec.columns if c.target == "price").formats == ()
    assert settings.transforms["trades"].delimiter == ","  # the shared spec is untouched


def test_spec_for_applies_options_to_the_ohlcv_preset(write_config: WriteConfig) -> None:
    settings = _settings_with_workflows(
        write_config,
        """
[[workflows]]
name = "ohlcv"
prefix = "ohlcv/"
[workflows.options]
timestamp_format = "%d/%m/%Y %H:%M"
""",
    )
    spec = settings.spec_for(settings.workflows[0])
    date_rule = next(c for c in spec.columns if c.source == "Date")
    assert date_rule.parse_formats() == ("%d/%m/%Y %H:%M",)
    assert settings.transforms["ohlcv"] == OHLCV


def test_spec_for_a_workflow_without_options_is_its_transform(write_config: WriteConfig) -> None:
    settings = _settings_with_workflows(
        write_config,
        '[[workflows]]\nname = "a"\nprefix = "a/"\n'
        '[[workflows]]\nname = "b"\nprefix = "b/"\ntransform = "trades"\n',
    )
    assert settings.spec_for(settings.workflows[0]) == OHLCV
    assert settings.spec_for(settings.workflows[1]) == settings.transforms["trades"]


def test_two_workflows_on_one_transform_get_their_own_options(write_config: WriteConfig) -> None:
    settings = _settings_with_workflows(
        write_config,
        """
[[workflows]]
name = "eu"
prefix = "eu/"
[workflows.options]
timestamp_format = "%d/%m/%Y %H:%M"
[[workflows]]
name = "us"
prefix = "us/"
[workflows.options]
timestamp_format = "%m/%d/%Y %H:%M"
""",
    )
    eu, us = (settings.spec_for(w) for w in settings.workflows)
    assert next(c for c in eu.columns if c.source == "Date").formats == ("%d/%m/%Y %H:%M",)
    assert next(c for c in us.columns if c.source == "Date").formats == ("%m/%d/%Y %H:%M",)
