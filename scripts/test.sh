#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: creates .venv, installs the pinned
# requirements, checks lint, then runs every test. Usage: ./scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
# Missing, it is installed system-wide with apt-get (sudo when not root): the one thing
# these scripts install outside .venv (README, "The two commands").
if ! command -v chromium >/dev/null; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
    echo "setup: chromium is missing; installing Debian's chromium package system-wide" \
        "(${sudo:-as root} apt-get install chromium, ~120 packages) for the browser tests" >&2
    $sudo apt-get update && $sudo apt-get install -y chromium
fi
echo "== ruff"
.venv/bin/ruff check .
echo "== pytest"
.venv/bin/python -m pytest "$@"
