"""``weights="imagenet"`` for the transfer model: Keras' own download and cache.

No machine here reaches the internet, so Keras' download fails: the error must name
the file Keras expects and where (``$KERAS_HOME/models/<Keras' file name>``). A file
made in the test and put exactly there is then what the model loads, through Keras'
cache, with no download. Runs in a child process with its own ``KERAS_HOME`` (Keras
reads it once, at import), so the shared test cache is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXPECTED_NAME = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"

SCRIPT = r"""
import json, sys
import h5py, keras, numpy as np
from keras.src.legacy.saving import legacy_h5_format
from al_core.cli import main
from al_core.errors import ConfigError
from al_core.models import TRANSFER_BASE, build_model, imagenet_weights_file, transfer_base

out = {"target": str(imagenet_weights_file((8, 8, 1))),
       "target_96": str(imagenet_weights_file((96, 96, 3)))}
target = imagenet_weights_file((8, 8, 1))
out["existed"] = target.exists()
try:
    build_model("transfer", (8, 8, 1), 10, weights="imagenet")
    out["offline_error"] = None
except ConfigError as exc:
    out["offline_error"] = str(exc)
out["cli_status"] = main(["run", "--dataset", "digits", "--model", "transfer", "--weights",
                          "imagenet", "--initial", "10", "--batch", "10", "--rounds", "1",
                          "--no-store"])
# A small weights file made here, in Keras' own (HDF5) format, where the error said.
keras.utils.set_random_seed(7)
placed = transfer_base((8, 8, 1))
target.parent.mkdir(parents=True, exist_ok=True)
with h5py.File(target, "w") as handle:
    legacy_h5_format.save_weights_to_hdf5_group(handle, placed)
model = build_model("transfer", (8, 8, 1), 10, weights="imagenet")
loaded = model.get_layer(TRANSFER_BASE).get_weights()
out["loaded_equal"] = all(
    np.array_equal(a, b) for a, b in zip(loaded, placed.get_weights(), strict=True)
)
fresh = build_model("transfer", (8, 8, 1), 10).get_layer(TRANSFER_BASE).get_weights()
out["fresh_differs"] = not all(
    np.array_equal(a, b) for a, b in zip(fresh, placed.get_weights(), strict=True)
)
out["model_ok"] = model.predict(np.zeros((2, 8, 8, 1), np.float32), verbose=0).shape == (2, 10)
print("RESULT " + json.dumps(out))
"""


def test_imagenet_offline_error_names_the_file_then_the_placed_file_loads(
    tmp_path: Path,
) -> None:
    home = tmp_path / "keras-home"
    home.mkdir()
    env = {**os.environ, "KERAS_HOME": str(home), "AL_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    out = json.loads(lines[0][len("RESULT ") :])
    target = home / "models" / EXPECTED_NAME
    assert out["target"] == str(target)
    assert out["target_96"].endswith("_0.35_96_no_top.h5")
    assert out["existed"] is False
    message = out["offline_error"]
    assert message is not None
    assert f"put it at {target}" in message
    assert "$KERAS_HOME/models/" in message
    assert (
        f"https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/{EXPECTED_NAME}"
        in message
    )
    assert out["cli_status"] == 2
    assert "error: the ImageNet weights" in done.stderr and str(target) in done.stderr
    assert out["loaded_equal"] is True and out["fresh_differs"] is True
    assert out["model_ok"] is True
