"""The output path rule: `<workflow>/<key>.parquet`, collision-free and within name limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestflow.domain.errors import InvalidKeyError
from ingestflow.domain.outputs import OutputPathError, output_relpath


def test_an_ordinary_key_maps_to_its_path_with_parquet_appended() -> None:
    assert output_relpath("ohlcv", "ohlcv/2024/eurusd.csv") == "ohlcv/ohlcv/2024/eurusd.csv.parquet"


def test_a_folder_named_like_an_output_file_never_meets_that_output() -> None:
    file_out = output_relpath("w", "a.csv")
    folder_out = output_relpath("w", "a.csv.parquet/b.csv")
    assert file_out == "w/a.csv.parquet"
    assert folder_out == "w/a.csv.parquet.d/b.csv.parquet"
    # The escape is itself escaped: a real 'a.csv.parquet.d' folder maps elsewhere.
    assert output_relpath("w", "a.csv.parquet.d/b.csv") == "w/a.csv.parquet.d.d/b.csv.parquet"


def test_a_name_over_the_name_limit_is_shortened_with_a_hash_and_stays_distinct() -> None:
    long_a, long_b = "a" * 250 + "1.csv", "a" * 250 + "2.csv"
    out_a, out_b = output_relpath("w", long_a), output_relpath("w", long_b)
    assert out_a != out_b
    for out in (out_a, out_b):
        name = out.rsplit("/", 1)[1]
        assert len(name.encode()) <= 255 and name.endswith(".parquet")
    # A short name that looks like a shortened one is hashed too, so it cannot collide.
    lookalike = out_a.rsplit("/", 1)[1].removesuffix(".parquet")
    assert output_relpath("w", lookalike) != out_a


def test_multibyte_names_are_cut_on_whole_characters() -> None:
    name = output_relpath("w", "é" * 200 + ".csv").rsplit("/", 1)[1]
    assert len(name.encode()) <= 255
    name.encode("utf-8").decode("utf-8")


def test_a_key_too_long_for_the_path_limit_is_refused_with_the_reason() -> None:
    with pytest.raises(OutputPathError, match="over the limit of 100"):
        output_relpath("w", "x" * 120 + ".csv", max_path_bytes=100)


def test_a_key_breaking_the_key_rules_is_refused() -> None:
    with pytest.raises(InvalidKeyError):
        output_relpath("w", "../x/a.csv")


segment = st.text(st.sampled_from("ab.~0f-parquetd"), min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..")
)


@given(st.lists(st.lists(segment, min_size=1, max_size=3), min_size=2, max_size=8, unique_by=tuple))
def test_distinct_keys_never_share_an_output_path_or_a_folder_of_one(
    keys: list[list[str]],
) -> None:
    outputs = {"/".join(k): output_relpath("w", "/".join(k)) for k in keys}
    assert len(set(outputs.values())) == len(outputs)
    folders = {o.rsplit("/", i)[0] for o in outputs.values() for i in range(1, o.count("/"))}
    assert not folders & set(outputs.values())
