#!/usr/bin/env bash
# Run Active Learning Lab on a fresh machine: installs what it needs into .venv,
# then serves the Streamlit app on http://localhost:8501 (no download needed: it
# opens on the embedded digits data set). Usage: ./scripts/app.sh [streamlit options]
#
# Server settings come from .streamlit/config.toml: it listens on 127.0.0.1 only.
# AL_HOST=0.0.0.0 ./scripts/app.sh listens on every interface instead, and then the app
# asks for a password (al_core/access.py): $AL_PASSWORD, or else one generated at start
# and printed once below with a link that opens the app (al_core/serve.py). Whoever has
# it uses the app with your rights: launches background training, reads image folders
# under $AL_DATA_DIR, labels. AL_PASSWORD set on loopback applies there too.
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
fi
# python -m al_core.serve execs `streamlit run asgi.py`: app.py behind the lock's HTTP guard
# (al_core/http_guard.py); this pid stays the server's.
exec .venv/bin/python -m al_core.serve "${options[@]}" "$@"
