"""Imports point inward: the domain is pure, services know ports but no adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "ingestflow"
OUTWARD = (
    "ingestflow.adapters",
    "ingestflow.services",
    "ingestflow.entrypoints",
    "ingestflow.bootstrap",
    "ingestflow.config",
)
VENDORS = {"duckdb", "sqlite3", "typer", "rich", "watchdog", "pyarrow", "polars", "boto3"}
NOT_FOR_SERVICES = ("ingestflow.adapters", "ingestflow.entrypoints", "ingestflow.bootstrap")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(
    source: str, module: str = "ingestflow.x", is_package: bool = False
) -> set[str]:
    """Every module `source` imports, relative imports resolved against `module`, including
    imports nested in functions or `if TYPE_CHECKING:` and `importlib.import_module("...")`."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (
                    isinstance(node.func, ast.Name)
                    and node.func.id in ("__import__", "import_module")
                )
            )
        ):
            names.add(node.args[0].value)
    return names


def _imports_of(path: Path) -> set[str]:
    return imported_modules(
        path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py"
    )


def _layer(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def _outward(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith(OUTWARD) or n.split(".")[0] in VENDORS}


def _adapters(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith(NOT_FOR_SERVICES) or n.split(".")[0] in VENDORS}


def test_the_layers_exist_where_the_checks_look() -> None:
    domain = {p.name for p in _layer("domain")}
    assert {"status.py", "keys.py", "workflow.py", "batching.py", "transform.py"} <= domain
    assert {"pipeline.py", "discovery.py"} <= {p.name for p in _layer("services")}


@pytest.mark.parametrize("path", _layer("domain"), ids=lambda p: p.name)
def test_the_domain_imports_no_outer_layer_and_no_io_library(path: Path) -> None:
    bad = _outward(_imports_of(path))
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _layer("services"), ids=lambda p: p.name)
def test_services_use_ports_not_adapters(path: Path) -> None:
    bad = _adapters(_imports_of(path))
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _layer("entrypoints"), ids=lambda p: p.name)
def test_entrypoints_reach_the_query_engine_through_the_composition_root(path: Path) -> None:
    bad = {n for n in _imports_of(path) if n.startswith("ingestflow.adapters.engines.duckdb_query")}
    assert not bad, f"{path.name} imports {sorted(bad)}: use bootstrap.open_query"


# The checks above only mean something if the import scanner sees every form of import.


@pytest.mark.parametrize(
    ("source", "module", "found"),
    [
        ("import duckdb", "ingestflow.domain.keys", "duckdb"),
        ("import sqlite3 as db", "ingestflow.domain.keys", "sqlite3"),
        ("from rich.console import Console", "ingestflow.domain.keys", "rich.console"),
        ("from ingestflow.adapters.state import sqlite", "ingestflow.domain.keys",
         "ingestflow.adapters.state"),
        ("from ingestflow import config", "ingestflow.domain.keys", "ingestflow.config"),
        ("import ingestflow.bootstrap", "ingestflow.domain.keys", "ingestflow.bootstrap"),
        ("from ..adapters.engines import duckdb", "ingestflow.domain.keys",
         "ingestflow.adapters.engines"),
        ("from .. import services", "ingestflow.domain.keys", "ingestflow.services"),
        ("from ...entrypoints import cli", "ingestflow.domain.sub.mod", "ingestflow.entrypoints"),
        ("from ..config import loader", "ingestflow.domain", "ingestflow.config"),
        ("def f():\n    import watchdog\n", "ingestflow.domain.keys", "watchdog"),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import typer\n",
         "ingestflow.domain.keys", "typer"),
        ("import importlib\nimportlib.import_module('duckdb')", "ingestflow.domain.keys",
         "duckdb"),
        ("__import__('sqlite3')", "ingestflow.domain.keys", "sqlite3"),
    ],
)  # fmt: skip
def test_the_scanner_finds_every_form_of_a_forbidden_import(
    source: str, module: str, found: str
) -> None:
    is_package = module == "ingestflow.domain"
    names = imported_modules(source, module, is_package)
    assert found in names
    assert _outward(names)


def test_the_scanner_allows_the_domain_its_own_modules_and_the_standard_library() -> None:
    source = (
        "from __future__ import annotations\nimport re\nfrom dataclasses import dataclass\n"
        "from ingestflow.domain.errors import ConfigError\nfrom .status import Status\n"
        "from ingestflow import ports\n"
    )
    names = imported_modules(source, "ingestflow.domain.keys")
    assert "ingestflow.domain.status" in names
    assert not _outward(names)


def test_the_scanner_lets_services_import_the_domain_and_ports_but_not_adapters() -> None:
    allowed = imported_modules(
        "from ingestflow.ports import StatusStore\nfrom ingestflow.domain import keys\n",
        "ingestflow.services.pipeline",
    )
    assert not _adapters(allowed)
    refused = imported_modules(
        "from ..adapters.storage.local import LocalStore\n", "ingestflow.services.pipeline"
    )
    assert _adapters(refused) == {"ingestflow.adapters.storage.local",
                                  "ingestflow.adapters.storage.local.LocalStore"}  # fmt: skip
