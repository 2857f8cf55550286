#!/usr/bin/env bash
# Run Active Learning Lab on a fresh machine: installs what it needs into .venv,
# then serves the Streamlit app on http://localhost:8501 (no download needed: it
# opens on the embedded digits data set). Usage: ./scripts/app.sh [streamlit options]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec .venv/bin/python -m streamlit run app.py --server.headless=true --server.port=8501 \
    --browser.gatherUsageStats=false "$@"
