"""Checks on text the engine interprets: strptime formats and CSV delimiters."""

from __future__ import annotations

import re

from ingestflow.domain.errors import ConfigError

# The directives DuckDB's strptime accepts (checked against DuckDB 2.0.1: every other letter
# is refused with "Unrecognized format"); `%-x` is the unpadded form of the listed ones.
DIRECTIVES = frozenset("aAbBcdfgGhHIjmMnpSTuUVwWxXyYzZ%")
UNPADDED = frozenset("djmyHIMS")
_DIRECTIVE = re.compile(r"%(-?)(.?)", re.DOTALL)


def format_problem(fmt: str) -> str | None:
    """Why `fmt` is not a usable strptime format, or None when it is."""
    fields = 0
    for match in _DIRECTIVE.finditer(fmt):
        dash, letter = match.groups()
        directive = match.group(0)
        if not letter:
            return f"{fmt!r} ends with a lone '{directive}'"
        if letter not in (UNPADDED if dash else DIRECTIVES):
            known = " ".join(f"%{c}" for c in sorted(DIRECTIVES))
            unpadded = " ".join(f"%-{c}" for c in sorted(UNPADDED))
            return f"{fmt!r}: unsupported directive '{directive}' (supported: {known} {unpadded})"
        fields += letter != "%"
    if not fields:
        return f"{fmt!r} has no directive such as %Y, %m, %d, %H"
    return None


def check_format(value: object, key: str) -> str:
    """`value` as a strptime format, or a ConfigError at `key`."""
    if not isinstance(value, str) or not value:
        raise ConfigError(key, "must be a non-empty strftime format such as '%Y-%m-%d %H:%M:%S'")
    problem = format_problem(value)
    if problem:
        raise ConfigError(key, problem)
    return value


def check_delimiter(value: object, key: str) -> str:
    """`value` as a CSV field separator: one character, not the quote, not a line break."""
    if not isinstance(value, str) or len(value) != 1:
        raise ConfigError(key, f"must be exactly one character such as ',' or ';', got {value!r}")
    if value in ('"', "\r", "\n", "\0"):
        raise ConfigError(
            key, f"{value!r} cannot separate fields (it is the quote, a line break or NUL)"
        )
    return value
