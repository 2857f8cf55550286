# Sourced by the other scripts: make .venv with the pinned requirements (idempotent)
# and point KERAS_HOME at a writable folder whose datasets/ links the shared data.
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements-stamp
if [ ! -f "$stamp" ] || ! cmp -s <(cat requirements*.txt) "$stamp"; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r requirements-dev.txt
    cat requirements*.txt > "$stamp"
fi
if [ -z "${KERAS_HOME:-}" ]; then
    shared="${AL_SHARED_DATASETS:-$(cd .. && pwd)/shared/data/keras/datasets}"
    if [ -d "$shared" ]; then
        export KERAS_HOME="$PWD/.cache/keras-home"
        mkdir -p "$KERAS_HOME"
        ln -sfn "$shared" "$KERAS_HOME/datasets"
    fi
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
