"""Engine-free checks on transform specs."""

from __future__ import annotations

import pytest

from ingestflow.domain.transform import ColumnRule, DerivedColumn, TransformSpec
from ingestflow.domain.validation import transform_problems


def _spec(*targets: str, derived: tuple[DerivedColumn, ...] = ()) -> TransformSpec:
    columns = tuple(ColumnRule(f"src{i}", t, "double") for i, t in enumerate(targets))
    return TransformSpec("t", columns=columns, derived=derived)


def test_a_sound_spec_has_no_problems() -> None:
    spec = _spec("price", "traded_at", derived=(DerivedColumn("notional", "price * 2", "double"),))
    assert transform_problems(spec) == []


def test_an_output_column_defined_twice_is_a_problem() -> None:
    assert transform_problems(_spec("price", "price")) == ["output column 'price' is defined twice"]


def test_a_derived_column_clashing_with_a_mapped_column_is_a_problem() -> None:
    spec = _spec("price", derived=(DerivedColumn("price", "1"),))
    assert transform_problems(spec) == ["output column 'price' is defined twice"]


@pytest.mark.parametrize("name", ["price", "_hidden", "open price", "p2", "P_2 x"])
def test_output_names_of_letters_digits_underscores_and_spaces_are_fine(name: str) -> None:
    assert transform_problems(_spec(name)) == []


@pytest.mark.parametrize(
    "name", ["2price", "a-b", "a.b", "", " price", 'a"b', "a;b", "prix€", "a\tb"], ids=repr
)
def test_output_names_with_other_characters_are_a_problem(name: str) -> None:
    problems = transform_problems(_spec(name))
    assert problems == [f"output column name {name!r} must be letters, digits, '_' or ' '"]


def test_an_output_name_with_a_trailing_newline_is_a_problem() -> None:
    # `$` in a Python regex also matches just before a final newline.
    assert transform_problems(_spec("price\n")) != []


@pytest.mark.parametrize("expr", ["", "   ", "\n\t"])
def test_a_derived_column_with_an_empty_expression_is_a_problem(expr: str) -> None:
    spec = _spec(derived=(DerivedColumn("d", expr),))
    assert transform_problems(spec) == ["derived column 'd' has an empty expression"]


def test_a_source_column_mapped_twice_is_a_problem() -> None:
    spec = TransformSpec(
        "t", columns=(ColumnRule("Price", "a", "double"), ColumnRule("Price", "b", "varchar"))
    )
    assert transform_problems(spec) == ["a source column is mapped twice"]


def test_every_problem_is_reported_not_just_the_first() -> None:
    spec = TransformSpec(
        "t",
        columns=(ColumnRule("A", "x"), ColumnRule("A", "x")),
        derived=(DerivedColumn("1bad", " "),),
    )
    problems = transform_problems(spec)
    assert len(problems) == 4
    assert any("defined twice" in p for p in problems)
    assert any("'1bad' must be" in p for p in problems)
    assert any("empty expression" in p for p in problems)
    assert any("mapped twice" in p for p in problems)
