"""The built-in sets: scikit-learn's 8x8 digits, and the Keras data sets read from
the Keras cache (``$KERAS_HOME/datasets``), with a fix-naming error when missing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from al_core.datasets.dataset import Split
from al_core.errors import DatasetError

# Files keras.datasets.<name>.load_data() expects under $KERAS_HOME/datasets, and
# where they come from. Keras stores the CIFAR-10 tarball under its own name.
_KERAS_FILES: dict[str, tuple[tuple[str, ...], str]] = {
    "mnist": (
        ("mnist.npz",),
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    ),
    "fashion_mnist": (
        tuple(
            f"fashion-mnist/{name}"
            for name in (
                "train-labels-idx1-ubyte.gz",
                "train-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz",
            )
        ),
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/fashion-mnist/",
    ),
    "cifar10": (
        ("cifar-10-batches-py-target_archive",),
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    ),
}
_DIGITS_TEST_SIZE = 360


# ----------------------------------------------------------------- built-ins


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: ``(1797, 8, 8)`` float in [0, 1] and ``(1797,)`` labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images / 16.0, bunch.target


def _keras_cache_dir() -> Path:
    """The folder ``keras.utils.get_file`` uses for data sets (``$KERAS_HOME/datasets``)."""
    try:
        from keras.src.backend.config import keras_home

        base = os.path.expanduser(keras_home())
    except (ImportError, AttributeError):  # pragma: no cover - other Keras layouts
        base = os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))
    if not os.access(base, os.W_OK):  # get_file falls back to /tmp/.keras then
        base = os.path.join("/tmp", ".keras")
    return Path(base) / "datasets"


def _load_keras(name: str) -> tuple[Split, Split]:
    """``keras.datasets.<name>.load_data()`` as ``((x_train, y_train), (x_test, y_test))``."""
    try:
        import keras
    except ImportError as exc:
        raise DatasetError(
            f"{name} is loaded through Keras, which cannot be imported ({exc}); "
            "install keras and tensorflow, or use 'digits', npz:PATH or folder:PATH"
        ) from exc
    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as exc:  # noqa: BLE001 - Keras raises bare Exception on failed downloads
        raise _keras_error(name, exc) from exc
    return (x_train, y_train), (x_test, y_test)


def _keras_error(name: str, exc: Exception) -> DatasetError:
    cache = _keras_cache_dir()
    files, origin = _KERAS_FILES[name]
    missing = [str(cache / f) for f in files if not (cache / f).is_file()]
    if missing:
        return DatasetError(
            f"{name}: {', '.join(missing)} is not in the Keras cache $KERAS_HOME/datasets "
            f"({cache}) and this machine cannot download it ({exc}). Fix: download "
            f"{origin} on a machine with internet and put it there under that name, or set "
            "KERAS_HOME (before starting) to a folder whose datasets/ holds it"
        )
    return DatasetError(
        f"{name}: Keras could not read its files in {cache} ({exc}). They may be corrupt or "
        "not the official ones (Keras checks their SHA-256 and then tries to download "
        "them again): replace them with the official files"
    )
