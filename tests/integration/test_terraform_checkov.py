"""checkov 3.3.30 (from .venv-iac: it pins an old boto3) over deploy/terraform, offline.

Every root passes with no failed check. The checks it skips are exactly the inline
`#checkov:skip` comments listed in deploy/terraform/checkov-skips.txt. In a scratch copy with
every skip removed and a `s3:*` on `*` statement added to a function's policy, each skipped
check fails again (so no skip is stale) and checkov catches the wildcard. There the modules'
log retention defaults to dev's: checkov cannot follow a value through env -> stack -> module,
so CKV_AWS_338 shows only when a module is scanned on its own (the "mutated module" run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import terraform_tree as tf

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

CHECKOV = tf.REPO / ".venv-iac" / "bin" / "checkov"
ROOTS = ("tree", "envs/dev", "envs/staging", "envs/prod")
# What checkov reports for an IAM statement granting a whole service on every resource:
# 3.3.30 gives CKV_AWS_108/109/111/356 for an aws_iam_policy_document, and 288/289/290/355
# for a policy written as JSON (aws_iam_policy, aws_iam_role_policy).
WILDCARD_CHECKS = frozenset(
    {"CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_111", "CKV_AWS_356",
     "CKV_AWS_288", "CKV_AWS_289", "CKV_AWS_290", "CKV_AWS_355"}
)  # fmt: skip
MUTATED_POLICY = "aws_iam_policy_document.register"
MUTATION = """
  statement {
    sid       = "TestWildcard"
    actions   = ["s3:*"]
    resources = ["*"]
  }
"""


def run_checkov(directory: Path, *extra: str) -> dict[str, Any]:
    command = [
        str(CHECKOV), "-d", str(directory), "--framework", "terraform", "--skip-download",
        "-o", "json", "--compact", *extra,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    # 0: every check passed; 1: some failed. Anything else is checkov itself failing.
    assert done.returncode in (0, 1), f"checkov {directory}: rc {done.returncode}\n{done.stderr}"
    report: dict[str, Any] = json.loads(done.stdout)
    assert report.get("check_type") == "terraform", f"checkov found nothing in {directory}"
    assert report["summary"]["parsing_errors"] == 0, report["results"].get("parsing_errors")
    assert report["summary"]["resource_count"] > 0
    return report


def scratch_tree(base: Path) -> Path:
    """A copy of the tree (with the files its modules read) without any checkov skip, with a
    wildcard statement in the register policy, and dev's log retention as the modules'
    default."""
    shutil.copytree(tf.REPO / "deploy", base / "deploy",
                    ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))  # fmt: skip
    datadog = Path("src") / "ingestflow" / "resources" / "datadog"
    shutil.copytree(tf.REPO / datadog, base / datadog)
    tree = base / "deploy" / "terraform"
    for path in tree.rglob("*.tf"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"^[ \t]*#checkov:skip=.*\n", "", text, flags=re.M), "utf-8")
    functions = tree / "modules" / "functions" / "main.tf"
    anchor = 'data "aws_iam_policy_document" "register" {\n  count = var.create ? 1 : 0\n'
    text = functions.read_text(encoding="utf-8")
    assert anchor in text
    functions.write_text(text.replace(anchor, anchor + MUTATION), "utf-8")
    retention = tf.parse(tf.TERRAFORM / "envs" / "dev" / "terraform.tfvars")["log_retention_days"]
    for module in ("functions", "orchestration"):
        variables = tree / "modules" / module / "variables.tf"
        text = variables.read_text(encoding="utf-8")
        block = re.compile(r'(variable "log_retention_days" \{[^}]*?default\s*=\s*)\d+')
        assert block.search(text), variables
        variables.write_text(block.sub(rf"\g<1>{retention}", text), "utf-8")
    return tree


@pytest.fixture(scope="session")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """checkov's report of every root and of the scratch copy (the whole tree, and its functions
    module on its own), run in parallel."""
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV} is missing: run `bash scripts/bootstrap-iac.sh` to install checkov")
    jobs: dict[str, tuple[Path, tuple[str, ...]]] = {"tree": (tf.TERRAFORM, ())}
    for root in ROOTS[1:]:
        directory = tf.TERRAFORM / root
        jobs[root] = (directory, ("--var-file", str(directory / "terraform.tfvars")))
    scratch = scratch_tree(tmp_path_factory.mktemp("checkov"))
    jobs["mutated"] = (scratch, ())
    jobs["mutated module"] = (scratch / "modules" / "functions", ())
    with ThreadPoolExecutor(max_workers=max(2, min(len(jobs), os.cpu_count() or 2))) as pool:
        futures = {name: pool.submit(run_checkov, d, *extra) for name, (d, extra) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def findings(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = report["results"].get(kind, [])
    return found


@pytest.mark.parametrize("root", ROOTS)
def test_checkov_passes_every_check_of_each_root(
    root: str, reports: dict[str, dict[str, Any]]
) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in findings(reports[root], "failed_checks")
    ]
    assert failed == []
    assert reports[root]["summary"]["passed"] > 0


def test_the_skipped_checks_are_exactly_those_of_checkov_skips_txt(
    reports: dict[str, dict[str, Any]],
) -> None:
    skipped = {
        (c["check_id"], (c["check_result"].get("suppress_comment") or "").strip())
        for root in ROOTS
        for c in findings(reports[root], "skipped_checks")
    }
    assert skipped == tf.skips_file()


def test_a_wildcard_s3_statement_in_a_function_policy_fails_checkov(
    reports: dict[str, dict[str, Any]],
) -> None:
    caught = {
        c["check_id"]
        for c in findings(reports["mutated"], "failed_checks")
        if c["resource"].endswith(MUTATED_POLICY)
    }
    assert caught & WILDCARD_CHECKS, f"checkov reported {caught or 'nothing'} for s3:* on *"


def test_every_skip_hides_a_finding_and_nothing_else_is_hidden(
    reports: dict[str, dict[str, Any]],
) -> None:
    failed = {
        c["check_id"]
        for run in ("mutated", "mutated module")
        for c in findings(reports[run], "failed_checks")
    }
    skip_ids = {check for check, _ in tf.skips_file()}
    assert skip_ids - failed == set(), "skips that no longer hide a finding"
    assert failed - skip_ids - WILDCARD_CHECKS == set(), "findings that only the skips hid"
