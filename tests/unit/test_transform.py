"""Transforms as data: types, parse formats, workflow options, output columns, the OHLCV preset."""

from __future__ import annotations

import pytest

from ingestflow.domain.transform import (
    OHLCV,
    PRESETS,
    TYPE_ALIASES,
    ColumnRule,
    DerivedColumn,
    TransformSpec,
    normalise_type,
)
from ingestflow.domain.validation import transform_problems

CANONICAL = {"double", "float", "bigint", "integer", "varchar", "boolean", "date", "timestamp"}

TRADES = TransformSpec(
    name="trades",
    columns=(
        ColumnRule("Price", "price", "double"),
        ColumnRule("When", "traded_at", "timestamp", formats=("%d/%m/%Y %H:%M:%S",)),
        ColumnRule("Day", "day", "date"),
        ColumnRule("Seen", "seen_at", "timestamp"),
        ColumnRule("Note", "note", "varchar", required=False),
    ),
    derived=(
        DerivedColumn("notional", "price * CAST(Qty AS DOUBLE)", "double"),
        DerivedColumn("flag", "true"),
    ),
    drop=("comment",),
)


def _formats(spec: TransformSpec) -> dict[str, tuple[str, ...]]:
    return {c.target: c.parse_formats() for c in spec.columns}


# --- types ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("double", "double"),
        ("float64", "double"),
        ("float", "float"),
        ("real", "float"),
        ("bigint", "bigint"),
        ("long", "bigint"),
        ("int64", "bigint"),
        ("integer", "integer"),
        ("int", "integer"),
        ("int32", "integer"),
        ("varchar", "varchar"),
        ("string", "varchar"),
        ("text", "varchar"),
        ("boolean", "boolean"),
        ("bool", "boolean"),
        ("date", "date"),
        ("timestamp", "timestamp"),
        (" Float64 ", "double"),
        ("STRING", "varchar"),
    ],
)
def test_type_aliases_normalise_to_the_engine_types(alias: str, canonical: str) -> None:
    assert normalise_type(alias) == canonical


def test_every_alias_maps_to_one_of_the_documented_types() -> None:
    assert set(TYPE_ALIASES.values()) == CANONICAL


@pytest.mark.parametrize("name", ["decimal", "money", "", "doubles", "timestamptz"])
def test_an_unknown_type_is_refused_listing_the_accepted_ones(name: str) -> None:
    with pytest.raises(ValueError, match="unknown type") as raised:
        normalise_type(name)
    assert all(t in str(raised.value) for t in CANONICAL)


# --- parse formats and workflow options -----------------------------------------------------


def test_columns_without_formats_get_the_default_parse_formats() -> None:
    assert ColumnRule("d", "d", "timestamp").parse_formats() == ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
    assert ColumnRule("d", "d", "date").parse_formats() == ("%Y-%m-%d",)


def test_explicit_formats_are_kept_in_order() -> None:
    rule = ColumnRule("d", "d", "timestamp", formats=("%d/%m/%Y", "%Y%m%d"))
    assert rule.parse_formats() == ("%d/%m/%Y", "%Y%m%d")


def test_timestamp_format_option_replaces_the_formats_of_every_timestamp_column_only() -> None:
    spec = TRADES.with_options({"timestamp_format": "%d.%m.%Y %H:%M"})
    formats = _formats(spec)
    assert formats["traded_at"] == ("%d.%m.%Y %H:%M",)
    assert formats["seen_at"] == ("%d.%m.%Y %H:%M",)
    assert formats["day"] == ("%Y-%m-%d",)
    assert spec.delimiter == ","


def test_date_format_option_replaces_the_formats_of_date_columns_only() -> None:
    spec = TRADES.with_options({"date_format": "%d/%m/%Y"})
    formats = _formats(spec)
    assert formats["day"] == ("%d/%m/%Y",)
    assert formats["traded_at"] == ("%d/%m/%Y %H:%M:%S",)
    assert formats["seen_at"] == ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def test_delimiter_option_replaces_the_field_separator() -> None:
    spec = TRADES.with_options({"delimiter": ";"})
    assert spec.delimiter == ";"
    assert spec.columns == TRADES.columns


def test_all_options_apply_together() -> None:
    spec = OHLCV.with_options(
        {"timestamp_format": "%d/%m/%Y %H:%M", "date_format": "%d/%m/%Y", "delimiter": "\t"}
    )
    date_rule = next(c for c in spec.columns if c.source == "Date")
    assert date_rule.parse_formats() == ("%d/%m/%Y %H:%M",)
    assert spec.delimiter == "\t"
    assert [c.type for c in spec.columns] == [c.type for c in OHLCV.columns]


def test_options_leave_the_original_spec_untouched() -> None:
    OHLCV.with_options({"timestamp_format": "%d/%m/%Y %H:%M", "delimiter": ";"})
    date_rule = next(c for c in OHLCV.columns if c.source == "Date")
    assert date_rule.formats == ()
    assert OHLCV.delimiter == ","


@pytest.mark.parametrize(
    "options", [{}, {"timestamp_format": ""}, {"delimiter": ""}, {"date_format": ""}]
)
def test_no_or_empty_options_change_nothing(options: dict[str, str]) -> None:
    assert TRADES.with_options(options) == TRADES


# --- output and missing columns -------------------------------------------------------------


def test_output_columns_follow_the_input_order_with_derived_columns_last() -> None:
    header = ("Qty", "When", "comment", "Price", "Venue", "Day", "Seen")
    assert TRADES.output_columns(header) == [
        "Qty",
        "traded_at",
        "price",
        "Venue",
        "day",
        "seen_at",
        "notional",
        "flag",
    ]


def test_keep_others_false_drops_every_unmapped_column() -> None:
    spec = TransformSpec(
        "t", columns=(ColumnRule("A", "a", "double"),), derived=(DerivedColumn("b", "a + 1"),),
        keep_others=False,
    )  # fmt: skip
    assert spec.output_columns(("X", "A", "Y")) == ["a", "b"]


def test_dropped_columns_are_removed_even_when_others_are_kept() -> None:
    spec = TransformSpec("t", drop=("comment", "internal"))
    assert spec.output_columns(("a", "comment", "b", "internal")) == ["a", "b"]


def test_rule_columns_absent_from_the_header_are_not_output() -> None:
    assert TRADES.output_columns(("Price",)) == ["price", "notional", "flag"]


def test_missing_columns_lists_required_sources_absent_from_the_header_in_rule_order() -> None:
    assert TRADES.missing_columns(("Price", "Day")) == ["When", "Seen"]
    assert TRADES.missing_columns(("Price", "When", "Day", "Seen")) == []


def test_an_optional_column_is_never_missing() -> None:
    assert "Note" not in TRADES.missing_columns(())


def test_missing_columns_match_names_exactly_before_binding() -> None:
    assert OHLCV.missing_columns(("date", "open", "high", "low", "close", "volume")) == [
        "Open",
        "High",
        "Low",
        "Close",
        "Volume",
        "Date",
    ]


def test_binding_matches_columns_case_insensitively_when_there_is_no_exact_match() -> None:
    header = ("date", "OPEN", "High", "low", "close", "Volume")
    bound = OHLCV.bound_to(header)
    assert bound.missing_columns(header) == []
    assert [c.source for c in bound.columns] == ["OPEN", "High", "low", "close", "Volume", "date"]
    assert bound.output_columns(header)[:2] == ["timestamp", "open_price"]


def test_binding_prefers_an_exact_match_over_a_case_insensitive_one() -> None:
    bound = OHLCV.bound_to(("date", "Date", "Open", "High", "Low", "Close", "Volume"))
    assert next(c for c in bound.columns if c.target == "timestamp").source == "Date"


def test_binding_leaves_an_ambiguous_name_unmatched() -> None:
    header = ("date", "DATE", "Open", "High", "Low", "Close", "Volume")
    assert OHLCV.bound_to(header).missing_columns(header) == ["Date"]


def test_binding_also_matches_dropped_names() -> None:
    spec = TransformSpec("t", drop=("Comment",))
    assert spec.bound_to(("a", "COMMENT")).output_columns(("a", "COMMENT")) == ["a"]


# --- the OHLCV preset -----------------------------------------------------------------------


def test_the_ohlcv_preset_maps_the_documented_columns() -> None:
    assert PRESETS["ohlcv"] is OHLCV
    assert [(c.source, c.target, c.type) for c in OHLCV.columns] == [
        ("Open", "open_price", "double"),
        ("High", "high_price", "double"),
        ("Low", "low_price", "double"),
        ("Close", "close_price", "double"),
        ("Volume", "volume", "double"),
        ("Date", "timestamp", "timestamp"),
    ]
    assert all(c.required for c in OHLCV.columns)
    assert OHLCV.derived == (DerivedColumn("price_change", "close_price - open_price", "double"),)
    assert (OHLCV.keep_others, OHLCV.drop, OHLCV.delimiter) == (True, (), ",")


def test_the_ohlcv_preset_parses_full_timestamps_and_plain_dates() -> None:
    date_rule = next(c for c in OHLCV.columns if c.source == "Date")
    assert date_rule.parse_formats() == ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def test_ohlcv_output_keeps_other_columns_replaces_date_and_adds_price_change() -> None:
    header = ("Symbol", "Date", "Open", "High", "Low", "Close", "Volume", "Exchange")
    assert OHLCV.output_columns(header) == [
        "Symbol", "timestamp", "open_price", "high_price", "low_price", "close_price", "volume",
        "Exchange", "price_change",
    ]  # fmt: skip
    assert "Date" not in OHLCV.output_columns(header)


def test_the_ohlcv_preset_passes_validation() -> None:
    assert transform_problems(OHLCV) == []
