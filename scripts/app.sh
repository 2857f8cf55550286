#!/usr/bin/env bash
# Run Active Learning Lab on a fresh machine: installs what it needs into .venv.
# Until the Streamlit app lands, this runs the engine's demo on the embedded
# digits data set and prints its learning curve. Usage: ./scripts/app.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec .venv/bin/python -m al_core run --dataset digits --strategy margin --initial 20 \
    --batch 10 --rounds 15 --target 0.9 --seed 0 "$@"
