#!/usr/bin/env bash
# Fresh-machine demo: installs ingestflow into .venv and runs `ingestflow demo`.
# Extra arguments are passed to `ingestflow demo` (e.g. --dir demo-run --files 60).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap-venv.sh
exec .venv/bin/ingestflow demo "$@"
