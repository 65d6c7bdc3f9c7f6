"""The Lambda image (Dockerfile, .dockerignore) and the GitHub Actions workflows (.github/):
clean under hadolint, actionlint, zizmor and checkov, run offline from .venv-iac
(`bash scripts/bootstrap-iac.sh`; a missing tool is a failure, never a skip), and holding the
properties the deployment relies on: every action pinned to a commit, OIDC roles only, each
AWS job in its environment, prod after staging, CI running the README's test command, and an
image whose handlers exist.

The linters are shown to bite too: a careless Dockerfile fails hadolint, a tag-pinned action
is reported by the pinning check.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestflow.bootstrap_lambda import PACKAGED_CONFIG

pytestmark = [pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
IAC_BIN = ROOT / ".venv-iac" / "bin"
DOCKERFILE = ROOT / "Dockerfile"
WORKFLOWS = ROOT / ".github" / "workflows"
HANDLERS = ("register", "schedule", "finish", "alerts", "forward_metrics")
HANDLER_PATH = re.compile(r"ingestflow\.entrypoints\.aws_lambda\.(\w+)\.handler")
BASE_IMAGE = "public.ecr.aws/lambda/python:3.11"
LAMBDA_REQUIREMENTS = "deploy/lambda/requirements.txt"
STATIC_KEYS = ("aws-access-key-id", "aws-secret-access-key")
STATIC_KEY_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
ENVIRONMENTS = ("dev", "staging", "prod")

# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`; local actions (./...) and docker:// by digest.
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)(?P<rest>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s*v\d+\.\d+\.\d+\b")
DOCKER_BY_DIGEST = re.compile(r"^docker://\S+@sha256:[0-9a-f]{64}$")


# --- helpers -------------------------------------------------------------------------------


def tool(name: str) -> Path:
    """A checker from .venv-iac; a missing one fails the test with how to install it."""
    path = IAC_BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"{path} is missing: run `bash scripts/bootstrap-iac.sh` (it installs checkov, "
            "hadolint, actionlint and zizmor into .venv-iac)",
            pytrace=False,
        )
    return path


def run(*command: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def workflow_files() -> list[Path]:
    files = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    assert files, f"no workflow under {WORKFLOWS}"
    return files


def github_yaml_files() -> list[Path]:
    """Workflows and any local composite actions: every file that may hold a `uses:`."""
    github = ROOT / ".github"
    return sorted(p for p in github.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def load_workflow(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path} is not a YAML mapping"
    # YAML 1.1 reads the bare key `on` as the boolean true.
    if True in loaded:
        loaded["on"] = loaded.pop(True)
    return loaded


def workflow(name: str) -> dict[str, Any]:
    return load_workflow(WORKFLOWS / name)


def jobs(wf: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    found = wf.get("jobs")
    assert isinstance(found, dict) and found, "a workflow without jobs"
    return found


def steps(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def environment_of(job: Mapping[str, Any]) -> str | None:
    env = job.get("environment")
    if isinstance(env, dict):
        env = env.get("name")
    return env if isinstance(env, str) else None


def needs_of(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def assumes_aws_role(job: Mapping[str, Any]) -> bool:
    return any(str(s.get("uses", "")).startswith(f"{CREDENTIALS_ACTION}@") for s in steps(job))


def uses_in_yaml(node: Any) -> Iterator[str]:
    """Every `uses:` value of a parsed workflow or action, wherever it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uses" and isinstance(value, str):
                yield value
            else:
                yield from uses_in_yaml(value)
    elif isinstance(node, list):
        for item in node:
            yield from uses_in_yaml(item)


def unpinned_uses(text: str) -> list[str]:
    """The `uses:` lines of a workflow that are not a full commit SHA with a `# vX.Y.Z`."""
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = USES_LINE.match(line)
        if match is None:
            continue
        ref, rest = match["ref"].strip("'\""), match["rest"]
        if ref.startswith("./") or DOCKER_BY_DIGEST.match(ref):
            continue
        if not PINNED.match(ref):
            problems.append(f"line {number}: {ref} is not pinned to a 40-hex commit SHA")
        elif not VERSION_COMMENT.match(rest):
            problems.append(f"line {number}: {ref} has no `# vX.Y.Z` comment")
    return problems


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Whether Docker leaves `path` out of the build context: the last pattern matching it,
    or one of its parent folders, decides (`!` re-includes; `**` spans folders)."""

    def regex(pattern: str) -> re.Pattern[str]:
        out = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                out, i = out + pattern[i : end + 1], end + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out + r"\Z")

    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = os.path.normpath(pattern.lstrip("!").strip()).lstrip("/")
        if any(regex(body).match(p) for p in prefixes):
            excluded = not negated
    return excluded


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def readme_test_command() -> str:
    """The test command of the README's Quick start: its one `bash scripts/test...` line."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Quick start")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else None]
    blocks: list[str] = re.findall(r"```(?:bash|sh)?\n(.*?)```", section, flags=re.S)
    commands = [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("bash scripts/test")
    ]
    assert len(commands) == 1, f"the Quick start names {len(commands)} test commands: {commands}"
    return commands[0]


# --- the linters ---------------------------------------------------------------------------


def test_hadolint_reports_nothing_on_the_dockerfile() -> None:
    result = run(tool("hadolint"), "--format", "json", DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout or "[]") == []


def test_hadolint_fails_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text(
        "FROM python:latest\nRUN apt-get update\nRUN apt-get install curl\nRUN pip install boto3\n",
        encoding="utf-8",
    )
    result = run(tool("hadolint"), "--format", "json", careless, cwd=tmp_path)
    assert result.returncode != 0
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    # latest tag, unpinned apt package, no -y, apt lists left behind, unpinned pip package.
    assert {"DL3007", "DL3008", "DL3014", "DL3009", "DL3013"} <= codes, codes


def test_actionlint_passes_on_the_workflows() -> None:
    result = run(tool("actionlint"), "-no-color", *workflow_files())
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_reports_no_findings_offline() -> None:
    # .github/ rather than only its workflows: dependabot.yml is audited too (cooldown).
    result = run(tool("zizmor"), "--offline", "--format", "json", WORKFLOWS.parent)
    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:5000]
    assert result.returncode == 0, result.stderr


def checkov_failures(framework: str, *files: Path) -> list[str]:
    targets = [arg for f in files for arg in ("-f", str(f))]
    result = run(
        tool("checkov"),
        "--framework",
        framework,
        "--skip-download",
        "--compact",
        "--quiet",
        "-o",
        "json",
        *targets,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    assert reports and all(r["check_type"] == framework for r in reports), result.stdout[:2000]
    for r in reports:
        assert r["summary"]["parsing_errors"] == 0, r["summary"]
        assert r["summary"]["passed"] > 0, r["summary"]  # it really checked something
    return [
        f"{c['check_id']} {c['check_name']} ({c['file_path']}:{c['file_line_range']})"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]


def test_checkov_finds_no_failed_check_in_the_workflows() -> None:
    assert checkov_failures("github_actions", *workflow_files()) == []


def test_checkov_finds_no_failed_check_in_the_dockerfile() -> None:
    assert checkov_failures("dockerfile", DOCKERFILE) == []


# --- the workflows -------------------------------------------------------------------------


def test_every_action_is_pinned_to_a_commit_sha_with_a_version_comment() -> None:
    for path in github_yaml_files():
        text = path.read_text(encoding="utf-8")
        assert unpinned_uses(text) == [], path
        # The line scan sees every `uses:` the YAML holds (none hides in a flow mapping).
        scanned = [m["ref"].strip("'\"") for m in map(USES_LINE.match, text.splitlines()) if m]
        assert sorted(scanned) == sorted(uses_in_yaml(yaml.safe_load(text))), path


def test_the_pinning_check_reports_tags_and_missing_version_comments(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch.yml"
    scratch.write_text(
        "jobs:\n"
        "  x:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8\n"
        "      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n"
        "      - uses: ./.github/actions/local\n",
        encoding="utf-8",
    )
    problems = unpinned_uses(scratch.read_text(encoding="utf-8"))
    assert problems == [
        "line 5: actions/checkout@v4 is not pinned to a 40-hex commit SHA",
        "line 6: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 has no "
        "`# vX.Y.Z` comment",
    ]


def test_no_workflow_holds_static_aws_keys() -> None:
    for path in github_yaml_files():
        text = path.read_text(encoding="utf-8")
        for needle in (*STATIC_KEYS, *STATIC_KEY_VARIABLES):
            assert needle.lower() not in text.lower(), f"{path} mentions {needle}"


def test_every_job_that_assumes_an_aws_role_has_an_id_token_and_an_environment() -> None:
    assuming = []
    for path in workflow_files():
        wf = load_workflow(path)
        for name, job in jobs(wf).items():
            permissions = job.get("permissions", wf.get("permissions"))
            granted = permissions if isinstance(permissions, dict) else {}
            if not assumes_aws_role(job):
                # Least privilege: no OIDC token where no role is assumed.
                assert granted.get("id-token") != "write", f"{path.name}:{name}"
                continue
            assuming.append(name)
            assert granted == {"id-token": "write", "contents": "read"}, f"{path.name}:{name}"
            assert environment_of(job) in ENVIRONMENTS, f"{path.name}:{name}"
            for step in steps(job):
                if str(step.get("uses", "")).startswith(f"{CREDENTIALS_ACTION}@"):
                    assert step["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
                    assert step["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
    assert sorted(assuming) == ["build", "deploy-dev", "deploy-prod", "deploy-staging"]


def test_workflows_grant_only_reading_by_default_and_every_job_has_a_timeout() -> None:
    assert workflow("ci.yml")["permissions"] == {"contents": "read"}
    assert workflow("deploy.yml")["permissions"] == {}
    for path in workflow_files():
        for name, job in jobs(load_workflow(path)).items():
            assert isinstance(job.get("timeout-minutes"), int), f"{path.name}:{name}"


def test_prod_is_deployed_in_the_prod_environment_after_staging() -> None:
    deploy = jobs(workflow("deploy.yml"))
    by_environment = {environment_of(job): name for name, job in deploy.items()}
    assert by_environment["prod"] == "deploy-prod"
    prod, staging = deploy["deploy-prod"], deploy["deploy-staging"]
    assert environment_of(prod) == "prod"
    assert "deploy-staging" in needs_of(prod)
    assert environment_of(staging) == "staging" and "deploy-dev" in needs_of(staging)
    assert environment_of(deploy["deploy-dev"]) == "dev" and "build" in needs_of(
        deploy["deploy-dev"]
    )
    assert workflow("deploy.yml")["on"]["push"] == {"branches": ["main"]}
    assert deploy["build"]["if"] == "github.ref == 'refs/heads/main'"


def test_each_deploy_job_plans_and_applies_its_environment_with_the_built_digest() -> None:
    deploy = jobs(workflow("deploy.yml"))
    for env in ENVIRONMENTS:
        job = deploy[f"deploy-{env}"]
        assert job["env"]["TF_ROOT"] == f"deploy/terraform/envs/{env}"
        assert job["concurrency"] == {"group": f"terraform-{env}", "cancel-in-progress": False}
        uses = [str(s.get("uses", "")).split("@")[0] for s in steps(job)]
        assert "hashicorp/setup-terraform" in uses and "aws-actions/amazon-ecr-login" in uses
        # The image built once, pushed into this environment's repository under its digest.
        image = next(s for s in steps(job) if s.get("id") == "image")
        assert image["env"]["DIGEST"] == "${{ needs.build.outputs.digest }}"
        assert image["env"]["REPOSITORY"] == "${{ vars.ECR_REPOSITORY }}"
        assert "skopeo copy --preserve-digests" in image["run"]
        assert '[ "$pushed" != "$DIGEST" ]' in image["run"]
        assert '"uri=${target}@${DIGEST}"' in image["run"]
        runs = {s.get("name"): s for s in steps(job) if "run" in s}
        assert "backend.hcl" in runs["Write backend.hcl"]["run"]
        assert (
            f'key          = "ingestflow/{env}/terraform.tfstate"'
            in runs["Write backend.hcl"]["run"]
        )
        init = runs["terraform init"]["run"]
        assert 'terraform -chdir="$TF_ROOT" init' in init and "-backend-config=backend.hcl" in init
        plan = runs["terraform plan"]
        assert plan["env"]["IMAGE_URI"] == "${{ steps.image.outputs.uri }}"
        assert "plan -input=false -out=tfplan" in plan["run"]
        assert '-var "image_uri=${IMAGE_URI}"' in plan["run"]
        assert runs["terraform apply"]["run"].endswith("apply -input=false tfplan")
        # Nothing from the event or the variables is spliced into a shell script.
        for step in runs.values():
            assert "${{" not in step["run"], step["run"]


def test_the_build_pushes_one_amd64_image_without_attestations_and_outputs_its_digest() -> None:
    build = jobs(workflow("deploy.yml"))["build"]
    by_action = {str(s["uses"]).split("@")[0]: s for s in steps(build) if "uses" in s}
    for needed in (
        "actions/checkout",
        CREDENTIALS_ACTION,
        "aws-actions/amazon-ecr-login",
        "docker/setup-buildx-action",
        "docker/build-push-action",
        "actions/upload-artifact",
    ):
        assert needed in by_action, needed
    push = by_action["docker/build-push-action"]["with"]
    assert push["provenance"] is False and push["sbom"] is False
    assert push["platforms"] == "linux/amd64" and push["push"] is True
    assert push["tags"].endswith(":${{ github.sha }}")
    assert build["outputs"] == {
        "digest": "${{ steps.image.outputs.digest }}",
        "image_uri": "${{ steps.image.outputs.uri }}",
    }
    image = next(s for s in steps(build) if s.get("id") == "image")
    assert image["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert '"uri=${REGISTRY}/${REPOSITORY}@${DIGEST}"' in image["run"]
    artifacts = [s["with"]["name"] for s in steps(build) if "upload-artifact" in s.get("uses", "")]
    assert artifacts == ["ingestflow-wheel", "lambda-image"]
    for env in ENVIRONMENTS:
        downloads = [
            s["with"]["name"]
            for s in steps(jobs(workflow("deploy.yml"))[f"deploy-{env}"])
            if "download-artifact" in s.get("uses", "")
        ]
        assert downloads == artifacts, env


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = readme_test_command()
    assert command == "bash scripts/test.sh"
    ci = workflow("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    assert ci["concurrency"]["cancel-in-progress"] is True
    runs = [s["run"].strip() for job in jobs(ci).values() for s in steps(job) if "run" in s]
    assert runs == [command]
    for job in jobs(ci).values():
        assert not assumes_aws_role(job)


def test_nothing_is_built_or_deployed_before_the_readme_tests_pass_on_that_commit() -> None:
    deploy = jobs(workflow("deploy.yml"))
    test = deploy["test"]
    runs = [s["run"].strip() for s in steps(test) if "run" in s]
    assert runs == [readme_test_command()]
    assert test["permissions"] == {"contents": "read"} and not assumes_aws_role(test)
    assert environment_of(test) is None  # no environment: it holds no deployment variables
    assert test["if"] == deploy["build"]["if"]
    assert needs_of(deploy["build"]) == ["test"]

    def upstream(name: str) -> set[str]:
        found = set(needs_of(deploy[name]))
        return found.union(*(upstream(n) for n in found)) if found else found

    for name, job in deploy.items():
        if assumes_aws_role(job):
            assert "test" in upstream(name), name


# --- the image -----------------------------------------------------------------------------


def test_the_image_default_command_is_one_of_the_five_handlers_and_every_handler_exists() -> None:
    cmds = [args for keyword, args in final_stage(dockerfile_instructions()) if keyword == "CMD"]
    assert len(cmds) == 1
    command = json.loads(cmds[0])
    assert isinstance(command, list) and len(command) == 1
    match = HANDLER_PATH.fullmatch(command[0])
    assert match is not None and match[1] in HANDLERS, command
    for name in HANDLERS:
        module = importlib.import_module(f"ingestflow.entrypoints.aws_lambda.{name}")
        assert callable(getattr(module, "handler", None)), name
    module_path, _, attribute = command[0].rpartition(".")
    assert callable(getattr(importlib.import_module(module_path), attribute))


def test_the_image_installs_the_wheel_with_no_dependencies_but_the_handlers_ones() -> None:
    instructions = dockerfile_instructions()
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(froms) == 2 and all(f.startswith(BASE_IMAGE) for f in froms), froms
    assert froms[0].endswith(" AS builder")
    builder = instructions[: instructions.index(("FROM", froms[1]))]
    assert ("COPY", f"{LAMBDA_REQUIREMENTS} /wheels/requirements.txt") in builder
    assert any(
        k == "RUN"
        and "pip wheel" in a
        and "--no-deps" in a
        and "'ingestflow @ file://%s\\n' /wheels/ingestflow-*.whl > /wheels/ingestflow.txt" in a
        for k, a in builder
    ), builder
    final = final_stage(instructions)
    runs = [a for k, a in final if k == "RUN" and "pip install" in a]
    assert len(runs) == 1
    assert "--mount=type=bind,from=builder,source=/wheels,target=/wheels" in runs[0]
    installs = [f"pip install{part}" for part in runs[0].split("pip install")[1:]]
    assert len(installs) == 2, installs
    for install in installs:
        assert "--no-cache-dir" in install and '--target "${LAMBDA_TASK_ROOT}"' in install
    # The handlers' requirements with their dependencies, then the wheel without its own.
    requirements, wheel = installs
    assert "--requirement /wheels/requirements.txt" in requirements
    assert "--no-deps" not in requirements
    assert "--no-deps" in wheel and "--requirement /wheels/ingestflow.txt" in wheel
    # No extra at all: no `lambda`, Spark, PostgreSQL, polars or `all` resolved in the image.
    extras = re.findall(r"ingestflow\[([^\]]*)\]", " ".join(a for _, a in instructions))
    assert extras == [], extras
    assert ("COPY", f"{PACKAGED_CONFIG} ${{LAMBDA_TASK_ROOT}}/ingestflow.toml") in final
    assert ("ENV", "INGESTFLOW_CONFIG=${LAMBDA_TASK_ROOT}/ingestflow.toml") in final
    assert (ROOT / PACKAGED_CONFIG).is_file() and (ROOT / LAMBDA_REQUIREMENTS).is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = pyproject["project"]["optional-dependencies"]["lambda"]
    assert any(dep.startswith("aws-lambda-powertools") for dep in extra), extra
    users = [a for k, a in final if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_the_build_context_leaves_out_venvs_tests_git_and_caches() -> None:
    patterns = dockerignore_patterns()
    for left_out in (
        ".git/HEAD",
        ".venv/bin/python",
        ".venv-iac/bin/checkov",
        "tests/unit/test_status.py",
        "benchmarks/results/data/ohlcv.csv",
        "artifacts/dashboard.png",
        ".pytest_cache/v/cache/lastfailed",
        "src/ingestflow/__pycache__/ports.cpython-311.pyc",
        "src/ingestflow.egg-info/PKG-INFO",
        "ingestflow.toml",
    ):
        assert dockerignore_excludes(patterns, left_out), left_out
    copied = [
        source
        for keyword, args in dockerfile_instructions()
        if keyword == "COPY" and "--from=" not in args
        for source in args.split()[:-1]
    ]
    assert copied, "the Dockerfile copies nothing from the build context"
    for source in copied:
        path = ROOT / source
        assert path.exists(), source
        files = (
            [path]
            if path.is_file()
            else [p for p in path.rglob("*.py") if "__pycache__" not in p.parts]
        )
        assert files, source
        for file in files:
            inside = file.relative_to(ROOT).as_posix()
            assert not dockerignore_excludes(patterns, inside), (
                f"{inside} is left out of the context"
            )
