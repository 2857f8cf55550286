#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: creates .venv, installs the pinned
# requirements, checks lint, then runs every test. Usage: ./scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check .
echo "== pytest"
.venv/bin/python -m pytest "$@"
