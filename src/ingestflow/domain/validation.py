"""Checks on transform specs that do not need an engine."""

from __future__ import annotations

import re

from ingestflow.domain.transform import TransformSpec

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ]*$")


def transform_problems(spec: TransformSpec) -> list[str]:
    """Human-readable problems with a spec; empty when it is usable."""
    problems: list[str] = []
    targets = [c.target for c in spec.columns] + [d.name for d in spec.derived]
    seen: set[str] = set()
    for name in targets:
        if name in seen:
            problems.append(f"output column {name!r} is defined twice")
        seen.add(name)
        if not IDENTIFIER.fullmatch(name):
            problems.append(f"output column name {name!r} must be letters, digits, '_' or ' '")
    for derived in spec.derived:
        if not derived.expr.strip():
            problems.append(f"derived column {derived.name!r} has an empty expression")
    sources = [c.source for c in spec.columns]
    if len(set(sources)) != len(sources):
        problems.append("a source column is mapped twice")
    return problems
