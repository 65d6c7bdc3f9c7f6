#!/usr/bin/env bash
# System packages the test suite drives, installed with apt when missing (Debian/Ubuntu):
# - openssl: the SMTP notifier's TLS tests make their certificate with the CLI;
# - chromium: the dashboard's browser tests (Playwright's Python API with
#   executable_path=/usr/bin/chromium; browsers are never downloaded by `playwright install`);
# - postgresql: the PostgreSQL ledger's tests start their own server (initdb + pg_ctl from
#   /usr/lib/postgresql/*/bin, as the package's `postgres` user, on a free 127.0.0.1 port).
set -euo pipefail
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
[ "${#missing[@]}" -eq 0 ] && exit 0
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install these packages first: ${missing[*]} (chromium at /usr/bin/chromium)" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
