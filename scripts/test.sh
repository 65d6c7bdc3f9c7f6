#!/usr/bin/env bash
# The whole check: install system packages and dev extras, format check, lint, type check,
# every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/bootstrap-venv.sh dev
bash scripts/bootstrap-iac.sh
.venv/bin/python -m ruff format --check src tests benchmarks
.venv/bin/python -m ruff check src tests benchmarks
.venv/bin/python -m mypy
.venv/bin/python -m pytest "$@"
