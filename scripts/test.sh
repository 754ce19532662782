#!/usr/bin/env bash
# Runs the whole test suite against real slapd instances and real SMTP/SMS sinks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --browser
exec .venv/bin/pytest -n "${APEXDIR_TEST_WORKERS:-2}" -q "$@"
