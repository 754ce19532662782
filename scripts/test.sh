#!/usr/bin/env bash
# Runs the whole test suite against real slapd instances and real SMTP/SMS sinks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --browser
# The house's habits are checked with the tests (issue 20): lint, format, and types of the
# library and its three edges.
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
# mypy runs beside the tests, on what the workers leave of the two cores: from a fresh clone
# (no cache) it takes ≈ 10 s of one core, which it spent alone before the tests started.
# Its verdict is kept: a type error fails the command as before, after the tests.
mypy_log="$(mktemp)"
trap 'rm -f "$mypy_log"' EXIT
.venv/bin/mypy apexdir cli daemon portal >"$mypy_log" 2>&1 &
mypy_pid=$!
# pytest keeps the test modules it rewrote (assertions) in __pycache__ only when bytecode may
# be written: with PYTHONDONTWRITEBYTECODE set (the development containers, CI) every worker
# rewrote all of them at every run (≈ 4 s of CPU each, 7.1 s → 2.8 s for a collection).
# Two workers per core, stealing work from each other: a test spends a third of its time
# waiting for slapd, the browser or the mail sink, and one long module left at the end kept a
# core idle (2 cores: -n 2 4 min 13 s, -n 4 with worksteal 3 min 30 s, same run, issue 20).
workers="${APEXDIR_TEST_WORKERS:-$(($(nproc) * 2))}"
status=0
env -u PYTHONDONTWRITEBYTECODE .venv/bin/pytest -n "$workers" --dist worksteal -q "$@" || status=$?
if ! wait "$mypy_pid"; then
    cat "$mypy_log" >&2
    [ "$status" -ne 0 ] || status=1
fi
exit "$status"
