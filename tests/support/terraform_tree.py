"""deploy/terraform as data, parsed with python-hcl2 (no terraform binary, no network).

`modules()` finds every directory holding `.tf` files; `load(path)` gives its blocks:
variables, locals, outputs, resources and data sources by (type, name), and module calls.
Expressions stay the strings hcl2 makes of them (`"${var.x}"`); `references` lists the
`var.`, `local.`, `module.`, `data.` and resource references they contain, and `Renderer`
substitutes the simple ones (variables, locals, the account/region/partition data sources)
so a test can read what Terraform would compute from sample inputs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "deploy" / "terraform"
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
META_ARGUMENTS = frozenset({"source", "version", "count", "for_each", "providers", "depends_on"})
RESOURCE_PREFIXES = ("aws_", "datadog_")

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
# A reference starts an expression token: not after a letter, digit, ".", "/", ":" or "-"
# (so "/var/task", "arn:aws:..." and "ingestflow.entrypoints.aws_lambda" are not references).
_START = r"(?<![A-Za-z0-9_./:-])"
VAR_REF = re.compile(_START + rf"var\.({_NAME})")
LOCAL_REF = re.compile(_START + rf"local\.({_NAME})")
MODULE_REF = re.compile(_START + rf"module\.({_NAME})\.({_NAME})")
DATA_REF = re.compile(_START + rf"data\.({_NAME})\.({_NAME})")
RESOURCE_REF = re.compile(_START + rf"((?:aws|datadog)_[a-z0-9_]+)\.({_NAME})")
INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
SKIP_COMMENT = re.compile(r"#checkov:skip=([A-Z0-9_]+):(.*)$", re.MULTILINE)


def parse(path: Path) -> dict[str, Any]:
    """One .tf (or .tfvars) file as hcl2's dict, quotes stripped."""
    with path.open(encoding="utf-8") as handle:
        parsed: dict[str, Any] = hcl2.load(handle, serialization_options=OPTIONS)
    return parsed


def modules() -> list[Path]:
    """Every directory of deploy/terraform that holds .tf files (modules and roots)."""
    return sorted({p.parent for p in TERRAFORM.rglob("*.tf")})


def tf_files() -> list[Path]:
    return sorted(TERRAFORM.rglob("*.tf"))


def strings(value: Any) -> Iterator[str]:
    """Every string in a parsed value (dict keys too: object keys may be expressions)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def expressions(value: Any) -> Iterator[str]:
    """The strings of a parsed value that hold Terraform expressions (`${...}`)."""
    return (s for s in strings(value) if "${" in s)


@dataclass
class Module:
    path: Path
    files: dict[Path, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.relative_to(TERRAFORM).as_posix()

    def text(self) -> str:
        return "\n".join(p.read_text(encoding="utf-8") for p in sorted(self.files))

    def resources_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: body for (t, name), body in self.resources.items() if t == kind}

    def called(self, call: str) -> Module:
        """The module a `module "<call>"` block of this one calls (local sources only)."""
        return load(Path(self.path / self.calls[call]["source"]).resolve())

    def expressions(self) -> Iterator[str]:
        for parsed in self.files.values():
            yield from expressions(parsed)


@functools.cache
def load(path: Path) -> Module:
    """The blocks of the module in `path` (cached: the tree does not change during a run)."""
    module = Module(path)
    for file in sorted(path.glob("*.tf")):
        parsed = parse(file)
        module.files[file] = parsed
        for block in parsed.get("variable", []):
            module.variables.update(block)
        for block in parsed.get("locals", []):
            module.locals.update(block)
        for block in parsed.get("output", []):
            module.outputs.update(block)
        for block in parsed.get("module", []):
            module.calls.update(block)
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    module.resources[(kind, name)] = body
        for block in parsed.get("data", []):
            for kind, named in block.items():
                for name, body in named.items():
                    module.data[(kind, name)] = body
        module.terraform.extend(parsed.get("terraform", []))
    return module


def module_named(name: str) -> Module:
    """`module_named("modules/functions")`, `module_named("envs/prod")`."""
    return load((TERRAFORM / name).resolve())


def references(expression: str) -> dict[str, set[Any]]:
    """The references in one expression string, by kind."""
    return {
        "var": set(VAR_REF.findall(expression)),
        "local": set(LOCAL_REF.findall(expression)),
        "module": set(MODULE_REF.findall(expression)),
        "data": set(DATA_REF.findall(expression)),
        "resource": set(RESOURCE_REF.findall(expression)),
    }


def blocks(body: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """The nested blocks `name` of a block body (hcl2 gives a list of dicts)."""
    found = body.get(name, [])
    return list(found) if isinstance(found, list) else [found]


def policy_statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The statement blocks of a `data "aws_iam_policy_document"` body."""
    return blocks(document, "statement")


def checkov_skips() -> set[tuple[str, str]]:
    """(check id, reason) of every inline `#checkov:skip=ID:reason` comment of the tree."""
    found: set[tuple[str, str]] = set()
    for path in tf_files():
        for check, reason in SKIP_COMMENT.findall(path.read_text(encoding="utf-8")):
            found.add((check, reason.strip()))
    return found


def skips_file() -> set[tuple[str, str]]:
    """(check id, reason) of each `ID  reason` line of deploy/terraform/checkov-skips.txt."""
    entries: set[tuple[str, str]] = set()
    for line in (TERRAFORM / "checkov-skips.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            check, reason = line.split(None, 1)
            entries.add((check, reason.strip()))
    return entries


SAMPLE_DATA = {
    "data.aws_partition.current.partition": "aws",
    "data.aws_region.current.region": "eu-west-1",
    "data.aws_caller_identity.current.account_id": "123456789012",
}


class Renderer:
    """Computes the simple string expressions of a module: `${var.x}`, `${local.y}` (itself
    rendered), the account/region/partition data sources and any extra names given. Anything
    else (a function call, a conditional) raises, so a test never reads a guess."""

    def __init__(self, module: Module, variables: Mapping[str, Any], **names: Any) -> None:
        self.module = module
        self.names: dict[str, Any] = {f"var.{k}": v for k, v in variables.items()}
        self.names.update(SAMPLE_DATA)
        self.names.update(names)

    def value(self, expression: Any) -> Any:
        if isinstance(expression, dict):
            return {k: self.value(v) for k, v in expression.items()}
        if isinstance(expression, list):
            return [self.value(v) for v in expression]
        if not isinstance(expression, str):
            return expression
        whole = re.fullmatch(r"\$\{([^{}]*)\}", expression)
        if whole:
            return self._lookup(whole.group(1).strip())
        return INTERPOLATION.sub(lambda m: str(self._lookup(m.group(1).strip())), expression)

    def _lookup(self, name: str) -> Any:
        if name in self.names:
            return self.names[name]
        if name.startswith("local.") and name[6:] in self.module.locals:
            return self.value(self.module.locals[name[6:]])
        raise KeyError(f"{self.module.name}: cannot render ${{{name}}}")
