#!/usr/bin/env bash
# One command on a fresh Debian machine: install what is needed, start the embedded default
# (private slapd + SMTP and SMS sinks under ./var/), then run the short demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "==> apexdir dev up"
.venv/bin/apexdir dev up
bash scripts/demo.sh
