"""``.npz`` files: size guards read from the headers before anything is
decompressed, then the arrays checked split by split."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from al_core.datasets.dataset import Split
from al_core.errors import DatasetError

_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


# ------------------------------------------------------------------------ npz


DEFAULT_MAX_NPZ_MB = 1024
"""Default limit on the arrays of an ``.npz`` archive, in MiB, as their headers declare
them. Sized for the 2-core, 23 GB machine this was built on: 1 GiB of uint8 pixels
becomes 4 GiB as float32, plus the copies of the split."""


_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def npz_size_limit() -> int:
    """The largest total array size (bytes) an ``.npz`` archive may declare:
    ``$AL_MAX_NPZ_MB`` MiB when set, else :data:`DEFAULT_MAX_NPZ_MB`."""
    text = os.environ.get("AL_MAX_NPZ_MB", "").strip()
    if not text:
        return DEFAULT_MAX_NPZ_MB * 2**20
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if not megabytes > 0:
        raise DatasetError(f"AL_MAX_NPZ_MB must be a number of megabytes > 0, got {text!r}")
    return int(megabytes * 2**20)


def npz_declared_arrays(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array in an ``.npz`` archive, read from the ``.npy``
    headers of its members without loading any array data.

    Raises
    ------
    DatasetError
        A member is not a ``.npy`` file or its header is unreadable.
    """
    declared = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    raise DatasetError(
                        f"{path} holds {info.filename!r}, not a NumPy array; save the "
                        "archive with numpy.savez"
                    )
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version not in _NPY_HEADER_READERS:
                        raise DatasetError(
                            f"{path}: {info.filename} is a .npy file of version {version}, "
                            "which this program does not read; save it with numpy.savez"
                        )
                    shape, _, dtype = _NPY_HEADER_READERS[version](member)
                declared[info.filename[: -len(".npy")]] = (tuple(shape), dtype)
    except DatasetError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(f"{path} is a corrupt .npz archive ({exc}); save it again") from exc
    return declared


def _check_npz_size(path: Path, limit: int) -> None:
    """Refuse an archive whose arrays would take more than ``limit`` bytes once loaded."""
    declared = npz_declared_arrays(path)
    sizes = {
        name: int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        for name, (shape, dtype) in declared.items()
    }
    total = sum(sizes.values())
    if total > limit:
        biggest = max(sizes, key=sizes.__getitem__)
        shape, dtype = declared[biggest]
        raise DatasetError(
            f"{path} declares {total / 2**20:,.0f} MiB of arrays ({biggest}: {shape} "
            f"{dtype}), over the limit of {limit / 2**20:,.4g} MiB; nothing was loaded. "
            "Use a smaller archive, or raise the limit with AL_MAX_NPZ_MB if this machine "
            "has the memory."
        )


def _load_npz(path: Path, max_bytes: int | None = None) -> tuple[Split, Split, tuple[str, ...]]:
    """Read and check an ``.npz`` archive: ``(train, test, class_names)``.

    The arrays' sizes are checked from the archive's headers first, against
    ``max_bytes`` (default :func:`npz_size_limit`).
    """
    if not path.is_file():
        raise DatasetError(f"npz file {path} does not exist: check the path")
    if not zipfile.is_zipfile(path):
        raise DatasetError(
            f"{path} is not an .npz archive (not a zip file): save it with numpy.savez"
        )
    _check_npz_size(path, npz_size_limit() if max_bytes is None else max_bytes)
    arrays = _read_npz_arrays(path)
    x_train, y_train = _check_npz_split(arrays["x_train"], arrays["y_train"], "train", path)
    x_test, y_test = _check_npz_split(arrays["x_test"], arrays["y_test"], "test", path)
    if _image_shape(x_train) != _image_shape(x_test):
        raise DatasetError(
            f"{path}: x_train images are {_image_shape(x_train)} but x_test images are "
            f"{_image_shape(x_test)}: both splits need the same (H, W, C)"
        )
    top = int(max(y_train.max(), y_test.max()))
    class_names = _npz_class_names(arrays.get("class_names"), top, path)
    return (x_train, y_train), (x_test, y_test), class_names


def _read_npz_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            present = list(archive.files)
            missing = [key for key in _NPZ_KEYS if key not in present]
            if missing:
                raise DatasetError(
                    f"{path} lacks the arrays {', '.join(missing)} (it has: "
                    f"{', '.join(present) or 'none'}); save x_train, y_train, x_test, "
                    "y_test (and optionally class_names) with numpy.savez"
                )
            wanted = [*_NPZ_KEYS, *(["class_names"] if "class_names" in present else [])]
            return {key: archive[key] for key in wanted}
    except DatasetError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise DatasetError(
                f"{path} contains object arrays (pickled data), refused for safety; "
                "save plain numeric arrays (and class_names as an array of str)"
            ) from exc
        raise DatasetError(f"{path} is not a readable .npz archive ({exc})") from exc
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as exc:
        raise DatasetError(f"{path} is a corrupt .npz archive ({exc}); save it again") from exc


def _image_shape(x: np.ndarray) -> tuple[int, ...]:
    return (*x.shape[1:3], x.shape[3] if x.ndim == 4 else 1)


def _check_npz_split(x: np.ndarray, y: np.ndarray, split: str, path: Path) -> Split:
    """Check one split's images and labels; return them with labels flattened."""
    where = f"{path}: x_{split}/y_{split}"
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] not in (1, 3)):
        raise DatasetError(
            f"{where}: images have shape {x.shape}; expected (N, H, W) or (N, H, W, C) "
            "with C = 1 (grayscale) or 3 (RGB), channels last"
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1 or len(y) != len(x) or len(x) == 0:
        raise DatasetError(
            f"{where}: {x.shape[0]} images but labels of shape {y.shape}; expected one "
            "label per image, shape (N,), and at least one image"
        )
    if not np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        raise DatasetError(f"{where}: labels are {y.dtype}; save integer class ids 0..K-1")
    if y.min() < 0:
        raise DatasetError(f"{where}: negative label {y.min()}; class ids must be 0..K-1")
    _check_pixels(x, f"{path}: x_{split}")
    return x, y


def _check_pixels(x: np.ndarray, what: str) -> None:
    """Accept 0..255 integers or floats in [0, 1]; raise otherwise."""
    if x.dtype == np.bool_ or not (
        np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
    ):
        raise DatasetError(f"{what}: pixels are {x.dtype}; save uint8 (0..255) or float in [0, 1]")
    low, high = x.min(), x.max()
    if np.issubdtype(x.dtype, np.integer) and (low < 0 or high > 255):
        raise DatasetError(
            f"{what}: integer pixels span {low}..{high}; they must be 0..255 (save uint8)"
        )
    if np.issubdtype(x.dtype, np.floating) and not (low >= 0.0 and high <= 1.0):
        raise DatasetError(
            f"{what}: float pixels span {low}..{high}; floats must lie in [0, 1] (they are "
            "not rescaled): divide 0..255 values by 255, or save uint8"
        )


def _npz_class_names(names: np.ndarray | None, top_label: int, path: Path) -> tuple[str, ...]:
    if names is None:
        if top_label < 1:
            raise DatasetError(
                f"{path}: every label is 0, so there is a single class; a classifier needs "
                "at least 2 classes (labels 0..K-1)"
            )
        return tuple(str(i) for i in range(top_label + 1))
    names = np.asarray(names)
    if names.ndim != 1:
        raise DatasetError(f"{path}: class_names has shape {names.shape}; save a 1-D array of str")
    decoded = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist())
    if len(decoded) <= top_label:
        raise DatasetError(
            f"{path}: labels go up to {top_label} but class_names has only {len(decoded)} "
            "names; give one name per class id"
        )
    return decoded
