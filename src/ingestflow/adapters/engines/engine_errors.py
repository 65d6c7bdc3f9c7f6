"""Engine error text -> one readable line, cause first.

DuckDB's CSV errors open with the offending line in full ("Original Line: ..."), which can be
megabytes long and span several lines, then give the cause, then pages of hints and reader
settings. `summarise` keeps what a data engineer acts on, in this order: the cause, the line
number, the start of the offending line (about 100 characters). Every engine error that becomes
a file error goes through it, so no message is cut before its cause.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_LINE_NUMBER = re.compile(r"CSV Error on Line: (\d+)")
_ORIGINAL = "Original Line: "
# The causes DuckDB reports after the offending line. The last match wins: the offending line
# comes first, so text in it that looks like a cause cannot hide the real one.
_CAUSES = re.compile(
    r"^(?:Error when converting column .*|Expected Number of Columns.*|Maximum line size.*"
    r"|Invalid unicode.*|Value with unterminated quote.*|.*not utf-8 encoded.*)$",
    re.MULTILINE,
)
_ERROR_CLASS = re.compile(r"^(?:[A-Z][A-Za-z]*\s)*Error:\s*")
CONTENT_CHARS = 100
CAUSE_CHARS = 300


def cut(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters (an ellipsis marks a cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summarise(message: str, replace: Mapping[str, str] | None = None) -> str:
    """One line: the cause first, then for CSV errors `(Line: N: 'start of the line')`.

    `replace` maps internal names to what the user knows (e.g. `/proc/self/fd/7` -> the key)."""
    for internal, shown in (replace or {}).items():
        message = message.replace(internal, shown)
    text = message.strip()
    number = _LINE_NUMBER.search(text)
    if number and _ORIGINAL in text:
        after = text.split(_ORIGINAL, 1)[1]
        content = after.split("\n", 1)[0]
        causes = _CAUSES.findall(after)
        if causes:
            cause = causes[-1]
        else:  # an unknown cause: the first line after the offending one
            cause = next((line for line in after.splitlines()[1:] if line.strip()), "")
        content = content if len(content) <= CONTENT_CHARS else content[:CONTENT_CHARS] + "..."
        return f"{cut(cause, CAUSE_CHARS)} (Line: {number.group(1)}: {content!r})"
    first = text.splitlines()[0] if text else "unknown engine error"
    return cut(_ERROR_CLASS.sub("", first), CAUSE_CHARS)


_FLOAT_MAX = 3.4028234663852886e38


def range_note(rule_type: str, value: str) -> str:
    """Why a number the engine can parse was refused anyway (finite values only, in range of
    their type): appended to a refused value's error, "" when there is nothing to add."""
    if rule_type not in ("double", "float"):
        return ""
    try:
        number = float(value.strip())
    except ValueError:
        return ""
    if math.isnan(number) or (math.isinf(number) and "inf" in value.casefold()):
        return " (not a finite number: inf and nan are refused)"
    if math.isinf(number) or (rule_type == "float" and abs(number) > _FLOAT_MAX):
        return f" (outside the range of {rule_type})"
    return ""
