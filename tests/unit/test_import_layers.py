"""Imports point inward: the domain is pure, services know ports but no adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "ingestflow"
OUTWARD = ("ingestflow.adapters", "ingestflow.services", "ingestflow.entrypoints",
           "ingestflow.bootstrap", "ingestflow.config")  # fmt: skip
VENDORS = ("duckdb", "sqlite3", "typer", "rich", "watchdog", "pyarrow", "polars", "boto3")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("path", modules("domain"), ids=lambda p: p.name)
def test_the_domain_imports_nothing_outward_and_no_vendor(path: Path) -> None:
    bad = {n for n in imported(path) if n.startswith(OUTWARD) or n.split(".")[0] in VENDORS}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("services"), ids=lambda p: p.name)
def test_services_use_ports_not_adapters(path: Path) -> None:
    bad = {
        n
        for n in imported(path)
        if n.startswith(("ingestflow.adapters", "ingestflow.entrypoints", "ingestflow.bootstrap"))
        or n.split(".")[0] in VENDORS
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"
