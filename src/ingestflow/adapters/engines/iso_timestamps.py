"""Timestamps in the ISO layouts read by Arrow's strict parser, for the Polars fast path.

Polars' `str.to_datetime` is exact only for canonical text: what its fixed-width parser
refuses goes to a lenient one (a space before any field, one-digit fields, signed years, no
separator at all) that DuckDB's `strptime` disagrees with. Proving canonical text with a
pattern costs as much as the parse itself. Arrow's string-to-timestamp cast parses ISO 8601
positionally (4-digit year, 2-digit fields, fixed separators, the calendar and 0-59 seconds
checked) and refuses anything else, so for the formats below a value it parses, of the
format's width and without the other layout's separator, *is* that format's canonical text;
its value is the proleptic Gregorian one both engines give. The cast runs per batch of the
streaming pass: a batch Arrow refuses (one bad value is enough) comes back all null, which the
fast path counts as refused values and leaves to its careful pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

SPACE, T = "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"
ISO_FORMATS = {SPACE: 19, T: 19, "%Y-%m-%d": 10}  # format -> width of its text in bytes


def iso_timestamp(pl: Any, col: Any, formats: tuple[str, ...]) -> Any:
    """`col` (text) parsed as one of `formats`, each one of ISO_FORMATS, as microseconds;
    null where the text is not one of them exactly (see the module doc). None when a format
    is not in ISO_FORMATS (the caller checks the text another way)."""
    if not formats or any(f not in ISO_FORMATS for f in formats):
        return None
    # Arrow reads a date and time separated by a space or a T: with one of the two layouts
    # allowed, text holding the other's separator is refused.
    layouts = {SPACE: b"T", T: b" "}
    seps = {layouts[f] for f in formats if f in layouts}
    refused = seps.pop() if len(seps) == 1 else None
    widths = sorted({ISO_FORMATS[f] for f in formats})
    parse = _parser(pl, refused)
    values = col.map_batches(parse, return_dtype=pl.Datetime("us"), is_elementwise=True)
    return pl.when(col.str.len_bytes().is_in(widths)).then(values)


def _parser(pl: Any, refused: bytes | None) -> Callable[[Any], Any]:
    def parse(text: Any) -> Any:
        array = text.to_arrow().cast(pa.large_string())  # Polars' own type: no copy
        chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
        if refused is None or not any(_holds(chunk, refused) for chunk in chunks):
            try:
                return pl.from_arrow(pc.cast(array, pa.timestamp("us"))).alias(text.name)
            except pa.ArrowInvalid:
                pass  # a value that is not ISO text: the whole batch is refused
        return pl.repeat(None, len(text), dtype=pl.Datetime("us"), eager=True).alias(text.name)

    return parse


def _holds(chunk: pa.Array, byte: bytes) -> bool:
    """Whether the text of `chunk` (large_string) holds `byte`: one search of its data."""
    if len(chunk) == 0 or chunk.buffers()[2] is None:
        return False
    offsets = memoryview(chunk.buffers()[1]).cast("B").cast("q")
    start, end = offsets[chunk.offset], offsets[chunk.offset + len(chunk)]
    return bytes(memoryview(chunk.buffers()[2])[start:end]).find(byte) != -1
