"""ISO timestamps on the Polars fast path (`iso_timestamps`), against DuckDB's `strptime`.

Contract: for formats among its ISO_FORMATS, `iso_timestamp` gives DuckDB's value for text that is
exactly one of the formats (fixed-width digits, its separators, a real calendar date, seconds
0-59) and null for a batch holding any other text; for any other format it gives None.
"""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pyarrow as pa
import pytest

from ingestflow.adapters.engines.iso_timestamps import iso_timestamp

pl = pytest.importorskip("polars")

SPACE, T, DATE = "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"
_DIGITS = {"%Y": "[0-9]{4}", "%m": "[0-9]{2}", "%d": "[0-9]{2}", "%H": "[0-9]{2}",
           "%M": "[0-9]{2}", "%S": "[0-5][0-9]"}  # fmt: skip


def canonical(text: str, formats: tuple[str, ...]) -> bool:
    """The text one of `formats` writes: each directive's fixed-width digits, its literals."""
    for fmt in formats:
        parts = [p for p in re.split(r"(%.)", fmt) if p]
        if re.fullmatch("".join(_DIGITS.get(p, re.escape(p)) for p in parts), text):
            return True
    return False


def duckdb_values(texts: list[str], formats: tuple[str, ...]) -> list[int | None]:
    """DuckDB's `try_strptime` of each text with `formats`, in order (the strict path's parse),
    in microseconds since 1970 (Python's datetime has no year 0)."""
    table = pa.table({"t": pa.array(texts, pa.string())})
    listed = ", ".join(f"'{f}'" for f in formats)
    with duckdb.connect() as con:
        con.register("texts", table)
        rows = con.execute(f"SELECT epoch_us(try_strptime(t, [{listed}])) FROM texts").fetchall()
    return [r[0] for r in rows]


def fast_values(texts: list[str | None], formats: tuple[str, ...], streaming: bool = False) -> list:
    expr = iso_timestamp(pl, pl.col("t"), formats).cast(pl.Int64)
    frame = pl.LazyFrame({"t": pl.Series(texts, dtype=pl.String)}).select(expr.alias("v"))
    return frame.collect(engine="streaming" if streaming else "in-memory")["v"].to_list()


def micros(*fields: int) -> int:
    return (dt.datetime(*fields) - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


def one_each(texts: list[str], formats: tuple[str, ...]) -> list:
    """Each text alone in its batch (a batch is refused as a whole)."""
    expr = iso_timestamp(pl, pl.col("t"), formats).cast(pl.Int64).alias("v")
    return [pl.DataFrame({"t": [t]}, schema={"t": pl.String}).select(expr).item() for t in texts]


def test_every_day_of_years_1_to_9999_and_days_of_year_0_read_as_duckdb_reads_them() -> None:
    days = pl.date_range(dt.date(1, 1, 1), dt.date(9999, 12, 31), "1d", eager=True)
    seconds = pl.int_range(0, len(days), eager=True) * 7919 % 86_400
    stamps = days.cast(pl.Datetime("us")) + (seconds * 1_000_000).cast(pl.Duration("us"))
    texts = stamps.dt.strftime(SPACE).to_list()
    texts += ["0000-01-01 00:00:00", "0000-02-29 23:59:59", "0000-12-31 12:00:00"]
    got = fast_values(texts, (SPACE, DATE), streaming=True)
    assert None not in got
    assert got == duckdb_values(texts, (SPACE, DATE))


@pytest.mark.parametrize("formats", [(SPACE, DATE), (T,), (DATE,), (SPACE, T, DATE)])
def test_a_byte_changed_added_or_dropped_is_read_only_if_still_canonical(
    formats: tuple[str, ...],
) -> None:
    seeds = ["2024-02-29 23:59:59", "1999-12-31T00:00:09", "0400-03-01", "2023-02-28 12:34:56"]
    alphabet = [chr(c) for c in range(1, 128)] + ["\u00a0", "\u2003", "é", "٣"]
    texts = set(seeds)
    for seed in seeds:
        for i in range(len(seed) + 1):
            texts.add(seed[:i] + seed[i + 1 :])
            for ch in alphabet:
                texts.add(seed[:i] + ch + seed[i + 1 :])
                texts.add(seed[:i] + ch + seed[i:])
    texts |= {"2024-02-30", "2023-02-29 00:00:00", "2024-01-05 24:00:00", "2024-01-05 10:60:00",
              "2024-01-05 10:00:60", "2024-13-01", "2024-00-10", "2024-01-00", "+2024-01-05",
              "-024-01-05", "2024-01-05 10:00", "2024-01-05 10", "2024-01-05 10:00:00Z",
              "2024-01-05 10:00:00.5", "2024-01-05 10+01:00", "20240105", "2024-1-5"}  # fmt: skip
    ordered = sorted(texts)
    expected = [v if canonical(t, formats) else None for t, v in
                zip(ordered, duckdb_values(ordered, formats), strict=True)]  # fmt: skip
    assert one_each(ordered, formats) == expected
    assert sum(v is not None for v in expected) > len(seeds)  # the seeds, and canonical edits


def test_one_value_other_than_canonical_refuses_its_whole_batch() -> None:
    texts = ["2024-01-05 10:00:00", "2024-01-05T10:00:00", "2024-01-06"]
    assert fast_values(texts, (SPACE, DATE)) == [None, None, None]
    assert fast_values(texts[::2], (SPACE, DATE)) == [micros(2024, 1, 5, 10), micros(2024, 1, 6)]
    assert fast_values(["2024-01-05 10:00:00", None, "2024-02-30"], (SPACE, DATE)) == [None] * 3


def test_nulls_stay_null_and_do_not_refuse_the_batch() -> None:
    assert fast_values([None, "2024-01-05", None], (DATE,)) == [None, micros(2024, 1, 5), None]


@pytest.mark.parametrize("formats", [("%d/%m/%Y",), (SPACE, "%Y%m%d"), ()])
def test_a_format_outside_the_iso_layouts_is_left_to_the_caller(formats: tuple[str, ...]) -> None:
    assert iso_timestamp(pl, pl.col("t"), formats) is None
