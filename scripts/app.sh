#!/usr/bin/env bash
# Run Active Learning Lab on a fresh machine: installs what it needs into .venv,
# then serves the Streamlit app on http://localhost:8501 (no download needed: it
# opens on the embedded digits data set). Usage: ./scripts/app.sh [streamlit options]
#
# Server settings come from .streamlit/config.toml: it listens on 127.0.0.1 only.
# AL_HOST=0.0.0.0 ./scripts/app.sh listens on every interface instead: anyone who can
# reach this machine's port 8501 then uses the app with your rights (no login): they
# can launch background training, read image folders under $AL_DATA_DIR and label.
# AL_PORT changes the port (8501); AL_MAX_UPLOAD_MB the upload limit (200).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
host="${AL_HOST:-127.0.0.1}"
options=(--server.address="$host" --server.port="${AL_PORT:-8501}")
if [ -n "${AL_MAX_UPLOAD_MB:-}" ]; then
    options+=(--server.maxUploadSize="$AL_MAX_UPLOAD_MB")
fi
if [ "$host" != 127.0.0.1 ] && [ "$host" != localhost ]; then
    shown="$host"
    if [ "$host" = 0.0.0.0 ] || [ "$host" = "::" ]; then shown="$(hostname)"; fi
    options+=(--browser.serverAddress="$shown")  # the URL printed for other machines
    echo "warning: listening on $host: the app has no login; anyone who reaches this" \
        "port can use it" >&2
fi
exec .venv/bin/python -m streamlit run app.py "${options[@]}" "$@"
