# Sourced by the other scripts: make .venv with the pinned requirements and the project
# itself (al_core, installed editable so it imports from any folder, e.g. in a Dask
# worker); idempotent. Then point KERAS_HOME at a writable folder whose datasets/
# links the shared data.
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$PYTHON" --version 2>&1)" >&2
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements-stamp
if [ ! -f "$stamp" ] || ! cmp -s <(cat requirements*.txt pyproject.toml) "$stamp"; then
    echo "setup: installing the pinned requirements into .venv (first run: a few minutes," \
        "about 1 GB, TensorFlow is the largest)" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip >&2
    .venv/bin/python -m pip install --progress-bar on -r requirements-dev.txt >&2
    echo "setup: installing al_core (editable) into .venv" >&2
    .venv/bin/python -m pip install --quiet --no-deps -e . >&2
    cat requirements*.txt pyproject.toml > "$stamp"
    echo "setup: done" >&2
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
