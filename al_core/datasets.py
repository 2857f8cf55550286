"""Image data sets for active learning: built-in ones, ``.npz`` archives, image folders.

:func:`load_dataset` returns a :class:`Dataset`: an unlabeled *pool* (the training
split, whose labels stay hidden from the human annotator), a *test* split and an
optional *validation* split carved out of the training split. Every array is
C-contiguous; images are ``float32`` in ``[0, 1]`` with shape ``(N, H, W, C)``
(``C`` = 1 or 3), labels are ``int64`` class ids ``0 .. K-1``.

Sources
-------
``"digits"``
    scikit-learn's bundled 8x8 digits (1,797 images, values 0..16 divided by 16).
    Needs no download. It has no official split: a stratified test split of
    ``test_size`` images (default 360) is drawn with ``seed``; the rest is the pool.
``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``
    Through ``keras.datasets.<name>.load_data()``, which reads its cache under
    ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``) and downloads the
    files on first use. Pixels are divided by 255; ``test_size`` takes a
    stratified subset of the official test split.
``"npz:PATH"`` (or a bare existing ``PATH.npz``)
    A NumPy archive with arrays ``x_train``, ``y_train``, ``x_test``, ``y_test``
    and optionally ``class_names`` (strings; default ``"0"``, ``"1"``, ...).
    Images are ``(N, H, W)`` or ``(N, H, W, C)`` with ``C`` = 1 or 3, either
    ``uint8`` (any integer type with values 0..255 is accepted and divided by
    255) or floating point already in ``[0, 1]``: floats outside ``[0, 1]`` are
    refused, never rescaled. Labels are non-negative integers, ``(N,)`` or
    ``(N, 1)``. Pickled (object) arrays are refused. ``test_size`` takes a
    stratified subset of ``x_test``.
``"folder:PATH"`` (or a bare existing directory)
    An image folder, read with the policy below.

Options common to all sources: ``val_size`` images are carved out of the training
split first (stratified, disjoint from the pool); then ``pool_size`` takes a
stratified subset of what is left (default: all of it). Every random choice
derives from ``seed``, so a given ``(source, options, seed)`` always gives the
same arrays, and the test subset does not depend on ``pool_size``/``val_size``.

Image folder policy
-------------------
- One subfolder per class; the class names are the subfolder names, sorted.
  Files in deeper folders belong to the class folder that holds them. Files and
  folders whose name starts with ``.`` are ignored silently; files lying directly
  in the top folder belong to no class and are listed as skipped.
- Every file is opened with Pillow and fully decoded. A file that cannot be read
  (not an image, truncated, corrupt, or bigger than Pillow's decompression-bomb
  limit ``PIL.Image.MAX_IMAGE_PIXELS``) is skipped and listed in
  ``Dataset.skipped`` as ``"relative/path: reason"``; the other files load.
- The EXIF orientation of photos is applied.
- Colour: if every readable image is grayscale (Pillow modes 1, L, LA, I, I;16,
  F, or a palette image whose colours are all gray), the images are loaded as
  grayscale (1 channel); otherwise all of them are loaded as RGB (3 channels,
  grayscale ones repeated into the 3 channels). Transparency is flattened onto a
  white background (the alpha channel is dropped). 16-bit and float grayscale
  are scaled to 8 bits first.
- Size: every image is resized to one common size, the most frequent
  (width, height) among the readable images (ties go to the larger one).
  ``image_size=(height, width)`` overrides it. Shrinking uses Lanczos
  resampling, enlarging uses bilinear (``PIL.Image.Resampling``); the aspect
  ratio is not kept (no cropping, no padding).
- Pixel values are divided by 255.
- Test split: stratified by class, ``test_size`` images (default 20 % of the
  readable images, at least one per class), drawn with ``seed``; every class
  keeps at least one image in the training split, so a class with a single
  image has none in the test split.
- Refused with an error: a missing folder, fewer than 2 class subfolders, a class
  with no readable image, no readable image at all.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from al_core.errors import DatasetError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "BUILTIN_DATASETS",
    "Dataset",
    "builtin_class_names",
    "load_dataset",
    "load_images",
    "repeat_pool",
]

BUILTIN_DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist", "cifar10")

_DIGIT_NAMES = tuple(str(i) for i in range(10))
_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "digits": _DIGIT_NAMES,
    "mnist": _DIGIT_NAMES,
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "cifar10": (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ),
}
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
_FOLDER_TEST_FRACTION = 0.2
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_VALID_SOURCES = (*BUILTIN_DATASETS, "npz:PATH", "folder:PATH")
# Independent random streams, so that e.g. the test subset does not move when
# pool_size changes.
_TEST_STREAM, _VAL_STREAM, _POOL_STREAM, _REPEAT_STREAM = 1, 2, 3, 4
# (images, labels) of one split before conversion: uint8 / float, any int labels.
Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class Dataset:
    """An image classification data set split for pool-based active learning.

    Attributes
    ----------
    name : str
        Where it came from: ``"digits"``, ``"mnist"``, ``"npz:/abs/x.npz"``,
        ``"folder:/abs/dir"`` ...
    x_pool : np.ndarray
        ``(n_pool, H, W, C)`` float32 in ``[0, 1]``: the unlabeled pool.
    y_pool : np.ndarray
        ``(n_pool,)`` int64 ground-truth class ids of the pool.
    x_test, y_test : np.ndarray
        ``(n_test, H, W, C)`` float32 and ``(n_test,)`` int64.
    class_names : tuple of str
        ``K`` names; labels are ``0 .. K-1``.
    x_val, y_val : np.ndarray or None
        ``(n_val, H, W, C)`` float32 and ``(n_val,)`` int64, or None when
        ``val_size`` is 0. Disjoint from the pool.
    skipped : tuple of str
        Files skipped while loading an image folder, each ``"path: reason"``.
    pool_source : np.ndarray or None
        ``(n_pool,)`` int64: the source image each pool row was made from, for a
        redundant pool (:func:`repeat_pool`); None when every row is its own source.
    """

    name: str
    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    skipped: tuple[str, ...] = ()
    pool_source: np.ndarray | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of every image."""
        height, width, channels = self.x_pool.shape[1:]
        return int(height), int(width), int(channels)

    @property
    def num_classes(self) -> int:
        """Number of classes ``K``."""
        return len(self.class_names)

    def describe(self) -> str:
        """One-line summary, e.g. ``"mnist: 4000 pool / 400 test images, 28x28x1, 10 classes"``."""
        counts = [f"{len(self.x_pool)} pool"]
        if self.x_val is not None:
            counts.append(f"{len(self.x_val)} val")
        counts.append(f"{len(self.x_test)} test images")
        height, width, channels = self.image_shape
        text = f"{self.name}: {' / '.join(counts)}, {height}x{width}x{channels}"
        text += f", {self.num_classes} classes"
        if self.skipped:
            text += f", {len(self.skipped)} files skipped"
        return text


# --------------------------------------------------------------------------- API


def load_dataset(
    source: str,
    *,
    pool_size: int | None = None,
    test_size: int | None = None,
    val_size: int = 0,
    seed: int = 0,
    image_size: tuple[int, int] | None = None,
) -> Dataset:
    """Load a data set and split it into pool / test (/ validation).

    Parameters
    ----------
    source : str
        A name from :data:`BUILTIN_DATASETS`, ``"npz:PATH"``, ``"folder:PATH"``,
        or a bare path to an existing ``.npz`` file or folder.
    pool_size : int, optional
        Size of the pool: a stratified random subset of the training split
        (after ``val_size`` is taken out). Default: all of it.
    test_size : int, optional
        Test images: a stratified subset of the official test split (built-ins
        with one, ``.npz``), or the size of the test split drawn from the data
        (``digits``: default 360; image folder: default 20 %).
    val_size : int, default 0
        Validation images carved out of the training split before the pool.
    seed : int, default 0
        Seed of every random choice (non-negative).
    image_size : tuple of int, optional
        ``(height, width)`` to resize image-folder images to; folders only.

    Returns
    -------
    Dataset
        ``x_pool`` ``(n_pool, H, W, C)``, ``x_test`` ``(n_test, H, W, C)``,
        ``x_val`` ``(n_val, H, W, C)`` or None: float32 in ``[0, 1]``; labels int64.

    Raises
    ------
    DatasetError
        Unknown source, unreadable or malformed data, sizes out of range.
    """
    _check_count(seed, "seed", low=0)
    kind, target = _resolve_source(source)
    if image_size is not None and kind != "folder":
        raise DatasetError(
            f"image_size={image_size!r} only applies to image folders (folder:PATH); "
            f"{source!r} has a fixed image size: leave image_size unset"
        )
    name, train, test, class_names, skipped = _load_raw(
        kind, target, test_size=test_size, seed=seed, image_size=image_size
    )
    if kind in ("digits", "folder"):
        test_size = None  # already used to split the data
    return _assemble(
        name,
        train,
        test,
        class_names,
        pool_size=pool_size,
        test_size=test_size,
        val_size=val_size,
        seed=seed,
        skipped=skipped,
    )


def load_images(
    paths: Sequence[Path],
    image_size: tuple[int, int] | None = None,
    mode: str | None = None,
    *,
    root: Path | None = None,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Read image files with the image-folder policy (see the module docstring).

    Parameters
    ----------
    paths : sequence of Path
        Files to read, in order. Unreadable files are skipped, not raised.
    image_size : tuple of int, optional
        ``(height, width)``; default: the most frequent size (ties: the larger).
    mode : {"L", "RGB"}, optional
        Force 1 or 3 channels; default: ``"L"`` when every image is grayscale.
    root : Path, optional
        Name files relative to this folder instead of by their file name.

    Returns
    -------
    images : np.ndarray
        ``(N, H, W, C)`` float32 in ``[0, 1]`` for the ``N`` readable files
        (``N`` may be 0).
    kept : list of str
        Names of the ``N`` readable files, in the order of ``images``.
    skipped : list of str
        ``"name: reason"`` for every file that could not be read.

    Raises
    ------
    DatasetError
        ``image_size`` or ``mode`` is not valid (unreadable files never raise).
    """
    images, kept_index, skipped = _read_images(paths, image_size, mode, root)
    names = [_display_name(Path(paths[i]), root) for i in kept_index]
    return images, names, skipped


def builtin_class_names(name: str) -> tuple[str, ...]:
    """Class names of a built-in data set (:data:`BUILTIN_DATASETS`), without loading it."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in _CLASS_NAMES:
        raise DatasetError(
            f"unknown built-in data set {name!r}; one of {', '.join(BUILTIN_DATASETS)}"
        )
    return _CLASS_NAMES[key]


# ---------------------------------------------------------------- source routing


def _resolve_source(source: str) -> tuple[str, str]:
    """Return ``(kind, target)``: kind is a built-in name, ``"npz"`` or ``"folder"``."""
    if not isinstance(source, str | os.PathLike):
        raise DatasetError(f"data set source must be a string, got {source!r}")
    text = str(source).strip()
    key = text.lower().replace("-", "_")
    if key in BUILTIN_DATASETS:
        return key, key
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in ("npz", "folder"):
        if not rest.strip():
            raise DatasetError(f"{text!r} names no path: write {prefix.lower()}:PATH")
        return prefix.lower(), rest.strip()
    path = Path(text).expanduser()
    if text.lower().endswith(".npz") and path.is_file():
        return "npz", text
    if text and path.is_dir():
        return "folder", text
    raise DatasetError(
        f"unknown data set {text!r}: not a built-in name, an existing .npz file or a "
        f"folder. Valid choices: {', '.join(_VALID_SOURCES)}"
    )


def _load_raw(
    kind: str,
    target: str,
    *,
    test_size: int | None,
    seed: int,
    image_size: tuple[int, int] | None,
) -> tuple[str, Split, Split, tuple[str, ...], tuple[str, ...]]:
    """Dispatch to a loader; returns ``(name, train, test, class_names, skipped)``."""
    if kind == "digits":
        x, y = _load_digits()
        test_size = _DIGITS_TEST_SIZE if test_size is None else test_size
        train, test = _split_test(x, y, test_size, seed, "digits")
        return "digits", train, test, _CLASS_NAMES["digits"], ()
    if kind in BUILTIN_DATASETS:
        train, test = _load_keras(kind)
        return kind, train, test, _CLASS_NAMES[kind], ()
    path = Path(target).expanduser().resolve()
    if kind == "npz":
        train, test, class_names = _load_npz(path)
        return f"npz:{path}", train, test, class_names, ()
    x, y, class_names, skipped = _load_folder(path, image_size)
    if test_size is None:
        test_size = _default_folder_test_size(y)
    train, test = _split_test(x, y, test_size, seed, f"folder {path}")
    return f"folder:{path}", train, test, class_names, tuple(skipped)


# ----------------------------------------------------------------------- splits


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _check_count(
    value: object,
    what: str,
    *,
    low: int = 1,
    high: int | None = None,
    context: str = "",
    hint: str = "",
) -> int:
    """Return ``value`` as int after checking ``low <= value <= high``; else DatasetError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise DatasetError(f"{what} must be a whole number, got {value!r}")
    value = int(value)
    if value < low:
        extra = f" ({high} available: {context})" if high is not None else ""
        raise DatasetError(f"{what}={value} is too small: use {what} >= {low}{extra}{hint}")
    if high is not None and value > high:
        raise DatasetError(
            f"{what}={value} is too large: only {high} available ({context}); "
            f"use {what} <= {high}{hint}"
        )
    return value


def _allocate(counts: np.ndarray, n: int, *, keep_one: bool) -> np.ndarray:
    """Split ``n`` over classes in proportion to ``counts``, at least 1 each if possible.

    ``keep_one`` leaves at least one item of every class unpicked. The caller
    ensures ``n`` does not exceed what the classes can give.
    """
    cap = np.maximum(counts - 1, 0) if keep_one else counts.copy()
    quota = counts * (n / counts.sum())
    low = np.minimum(cap, 1)
    if n < low.sum():
        low = np.zeros_like(cap)
    alloc = np.clip(np.floor(quota).astype(np.int64), low, cap)
    while alloc.sum() < n:
        alloc[np.argmax(np.where(alloc < cap, quota - alloc, -np.inf))] += 1
    while alloc.sum() > n:
        alloc[np.argmax(np.where(alloc > low, alloc - quota, -np.inf))] -= 1
    return alloc


def _capacity(y: np.ndarray, *, keep_one: bool) -> int:
    counts = np.unique(y, return_counts=True)[1]
    return int(np.maximum(counts - 1, 0).sum()) if keep_one else len(y)


def _stratified_pick(
    y: np.ndarray, n: int, rng: np.random.Generator, *, keep_one: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(picked, rest)`` of ``y``: ``n`` picked per class proportion, both shuffled."""
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    alloc = _allocate(counts, n, keep_one=keep_one)
    mask = np.zeros(len(y), dtype=bool)
    for cls, k in enumerate(alloc):
        mask[rng.choice(np.flatnonzero(inverse == cls), size=int(k), replace=False)] = True
    return rng.permutation(np.flatnonzero(mask)), rng.permutation(np.flatnonzero(~mask))


def _split_test(
    x: np.ndarray, y: np.ndarray, test_size: object, seed: int, name: str
) -> tuple[Split, Split]:
    """Draw a stratified test split from data that has none: ``(train, test)``."""
    high = _capacity(y, keep_one=True)
    n = _check_count(
        test_size,
        "test_size",
        high=high,
        context=(f"out of the {len(y)} images of {name}, every class keeps one for the pool"),
    )
    test_idx, train_idx = _stratified_pick(y, n, _rng(seed, _TEST_STREAM), keep_one=True)
    return (x[train_idx], y[train_idx]), (x[test_idx], y[test_idx])


def _default_folder_test_size(y: np.ndarray) -> int:
    counts = np.unique(y, return_counts=True)[1]
    wanted = max(round(_FOLDER_TEST_FRACTION * len(y)), int((counts >= 2).sum()), 1)
    return min(wanted, max(_capacity(y, keep_one=True), 1))


def _subset(
    y: np.ndarray, size: object, seed: int, stream: int, what: str, context: str
) -> np.ndarray:
    """Indices of a stratified subset of ``size`` items, or all of them when None."""
    if size is None:
        return np.arange(len(y))
    n = _check_count(
        size, what, high=len(y), context=context, hint=f", or leave {what} unset to use them all"
    )
    return _stratified_pick(y, n, _rng(seed, stream))[0]


def _carve_val(
    y: np.ndarray, val_size: object, seed: int, name: str
) -> tuple[np.ndarray | None, np.ndarray]:
    """``(val_idx or None, rest_idx)``: validation indices out of the training split."""
    high = _capacity(y, keep_one=True)
    n = _check_count(
        val_size,
        "val_size",
        low=0,
        high=high,
        context=(
            f"out of the {len(y)} training images of {name}, every class keeps one for the pool"
        ),
    )
    if n == 0:
        return None, np.arange(len(y))
    return _stratified_pick(y, n, _rng(seed, _VAL_STREAM), keep_one=True)


def _assemble(
    name: str,
    train: Split,
    test: Split,
    class_names: Sequence[str],
    *,
    pool_size: object,
    test_size: object,
    val_size: object,
    seed: int,
    skipped: Sequence[str],
) -> Dataset:
    """Subset, convert to float32 / int64 and validate."""
    (x_train, y_train), (x_test, y_test) = train, test
    y_train, y_test = _labels(y_train), _labels(y_test)
    test_idx = _subset(y_test, test_size, seed, _TEST_STREAM, "test_size", f"test images of {name}")
    val_idx, rest = _carve_val(y_train, val_size, seed, name)
    pool_idx = rest[
        _subset(
            y_train[rest],
            pool_size,
            seed,
            _POOL_STREAM,
            "pool_size",
            f"training images of {name} left after val_size={val_size}",
        )
    ]
    dataset = Dataset(
        name=name,
        x_pool=_to_float(x_train[pool_idx]),
        y_pool=y_train[pool_idx],
        x_test=_to_float(x_test[test_idx]),
        y_test=y_test[test_idx],
        class_names=tuple(class_names),
        x_val=None if val_idx is None else _to_float(x_train[val_idx]),
        y_val=None if val_idx is None else y_train[val_idx],
        skipped=tuple(skipped),
    )
    return _validate(dataset)


# ------------------------------------------------------------------ conversions


def _labels(y: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(y).reshape(-1), dtype=np.int64)


def _to_float(x: np.ndarray) -> np.ndarray:
    """``(N, H, W[, C])`` uint8/int (0..255) or float (0..1) -> ``(N, H, W, C)`` float32."""
    if np.issubdtype(x.dtype, np.integer):
        out = x.astype(np.float32)
        out /= np.float32(255)
    else:
        out = x.astype(np.float32)
    if out.ndim == 3:
        out = out[..., np.newaxis]
    return np.ascontiguousarray(out)


def _validate(ds: Dataset) -> Dataset:
    """Check shapes, dtypes, value and label ranges of every split; return ``ds``."""
    k = ds.num_classes
    if k < 2:
        raise DatasetError(f"{ds.name}: needs at least 2 classes, found {k}")
    shape = ds.x_pool.shape[1:]
    if len(shape) != 3 or shape[2] not in (1, 3):
        raise DatasetError(f"{ds.name}: images have shape {shape}, expected (H, W, 1 or 3)")
    splits = [("pool", ds.x_pool, ds.y_pool), ("test", ds.x_test, ds.y_test)]
    if ds.x_val is not None or ds.y_val is not None:
        splits.append(("val", ds.x_val, ds.y_val))
    for split, x, y in splits:
        _validate_split(ds.name, split, x, y, shape, k)
    return ds


def _validate_split(
    name: str,
    split: str,
    x: np.ndarray | None,
    y: np.ndarray | None,
    shape: tuple[int, ...],
    k: int,
) -> None:
    problem = None
    if x is None or y is None:
        problem = "x and y must both be set"
    elif x.dtype != np.float32 or y.dtype != np.int64 or y.ndim != 1:
        problem = f"dtypes {x.dtype}/{y.dtype}, expected float32 images and int64 labels"
    elif x.shape[1:] != shape or len(x) != len(y) or len(x) == 0:
        problem = f"{x.shape} images for {y.shape} labels (pool images are {shape})"
    elif not (x.flags.c_contiguous and y.flags.c_contiguous):
        problem = "arrays are not C-contiguous"
    elif y.min() < 0 or y.max() >= k:
        problem = f"labels {y.min()}..{y.max()} outside 0..{k - 1} ({k} class names)"
    elif not (x.min() >= 0.0 and x.max() <= 1.0):
        problem = f"pixel values {x.min()}..{x.max()} outside [0, 1]"
    if problem:
        raise DatasetError(f"{name}: {split} split is inconsistent: {problem}")


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


# --------------------------------------------------------------- image folders


def _class_files(folder: Path) -> list[Path]:
    """Visible files under ``folder``, recursively, sorted; symlinked folders not followed."""
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(parent, f) for f in files if not f.startswith(".")]
    return sorted(found)


def _load_folder(
    root: Path, image_size: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], list[str]]:
    """Read an image folder: ``(x (N,H,W,C), y (N,), class_names, skipped)``."""
    if not root.is_dir():
        state = "is not a folder" if root.exists() else "does not exist"
        raise DatasetError(f"image folder {root} {state}: check the path")
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    class_dirs = [p for p in entries if p.is_dir()]
    if len(class_dirs) < 2:
        raise DatasetError(
            f"image folder {root} has {len(class_dirs)} class subfolder(s) "
            f"({', '.join(p.name for p in class_dirs) or 'none'}); it needs one subfolder "
            "per class, at least 2, each holding that class's images"
        )
    stray = [f"{p.name}: not inside a class subfolder" for p in entries if p.is_file()]
    paths, labels = [], []
    for label, folder in enumerate(class_dirs):
        files = _class_files(folder)
        paths += files
        labels += [label] * len(files)
    x, kept, skipped = _read_images(paths, image_size, None, root)
    y = np.asarray(labels, dtype=np.int64)[kept]
    _check_classes(root, class_dirs, y, len(paths), skipped)
    return x, y, tuple(p.name for p in class_dirs), stray + skipped


def _check_classes(
    root: Path, class_dirs: list[Path], y: np.ndarray, n_files: int, skipped: list[str]
) -> None:
    if len(y) == 0:
        reasons = "; ".join(skipped[:3]) or "no files"
        raise DatasetError(
            f"no readable image in {root} ({n_files} files; {reasons}); put PNG/JPEG/... "
            "images in one subfolder per class"
        )
    counts = np.bincount(y, minlength=len(class_dirs))
    empty = [class_dirs[i].name for i in np.flatnonzero(counts == 0)]
    if empty:
        theirs = [s for s in skipped if s.split("/", 1)[0] in empty]
        raise DatasetError(
            f"class folder(s) {', '.join(empty)} in {root} hold no readable image; add "
            "images or remove the folder. Skipped there:\n" + format_skipped(theirs)
        )


SKIPPED_SHOWN = 10
"""How many skipped files a message lists before "and N more"."""


def format_skipped(skipped: Sequence[str], limit: int = SKIPPED_SHOWN) -> str:
    """Skipped files (``"path: reason"``), one per indented line; past ``limit`` of
    them, a last line ``"  … and N more"``."""
    lines = [f"  {entry}" for entry in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"  … and {len(skipped) - limit} more")
    return "\n".join(lines)


def _display_name(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name


def _read_images(
    paths: Sequence[Path],
    image_size: tuple[int, int] | None,
    mode: str | None,
    root: Path | None,
) -> tuple[np.ndarray, list[int], list[str]]:
    """Images ``(N, H, W, C)``, indices of the kept paths, skipped ``"name: reason"``."""
    if mode not in (None, "L", "RGB"):
        raise DatasetError(f"mode must be None, 'L' or 'RGB', got {mode!r}")
    target = _target_size(image_size)
    images, kept, skipped = [], [], []
    for i, path in enumerate(paths):
        image_or_reason = _read_one(Path(path))
        if isinstance(image_or_reason, str):
            skipped.append(f"{_display_name(Path(path), root)}: {image_or_reason}")
        else:
            images.append(image_or_reason)
            kept.append(i)
    return _stack(images, target, mode), kept, skipped


def _target_size(image_size: object) -> tuple[int, int] | None:
    """``(height, width)`` -> Pillow's ``(width, height)``, checked."""
    if image_size is None:
        return None
    ok = (
        isinstance(image_size, tuple | list)
        and len(image_size) == 2
        and all(
            isinstance(v, int | np.integer) and not isinstance(v, bool) and v > 0
            for v in image_size
        )
    )
    if not ok:
        raise DatasetError(
            f"image_size must be (height, width) with two positive whole numbers, "
            f"got {image_size!r}"
        )
    return int(image_size[1]), int(image_size[0])


def _read_one(path: Path) -> PILImage | str:
    """A fully decoded image in mode L or RGB, or the reason it cannot be read."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                return _normalise_mode(ImageOps.exif_transpose(img))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return _bomb_reason(exc)
    except UnidentifiedImageError:
        return "not an image Pillow can read"
    except Exception as exc:  # noqa: BLE001 - untrusted files make Pillow raise many types
        text = str(exc)
        if "truncated" in text:
            return f"truncated image file ({text})"
        return f"unreadable image ({type(exc).__name__}: {text})"


def _bomb_reason(exc: Exception) -> str:
    """Reason text for a file over Pillow's ``MAX_IMAGE_PIXELS`` (warning or error)."""
    from PIL import Image

    found = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = found.group(1) if found else "too many"
    return f"decompression bomb ({pixels} pixels > limit of {Image.MAX_IMAGE_PIXELS})"


def _normalise_mode(img: PILImage) -> PILImage:
    """Return a new image in mode ``L`` (grayscale sources) or ``RGB``, alpha on white."""
    mode = img.mode
    if mode in ("1", "L"):
        return img.convert("L")
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _deep_gray_to_l(img)
    if mode in ("LA", "La"):
        return _flatten_alpha(img.convert("LA"))
    if mode in ("P", "PA"):
        flat = _flatten_alpha(img.convert("RGBA"))
        return flat.convert("L") if _is_gray(flat) else flat
    if "A" in img.getbands() or "transparency" in img.info:
        return _flatten_alpha(img.convert("RGBA"))
    return img.convert("RGB")


def _deep_gray_to_l(img: PILImage) -> PILImage:
    """16-bit / 32-bit int or float grayscale -> 8-bit ``L``."""
    from PIL import Image

    values = np.asarray(img, dtype=np.float64)
    if img.mode == "F" and values.size and values.max() <= 1.0:
        values = values * 255.0
    elif img.mode != "F" and (img.mode.startswith("I;16") or values.max(initial=0) > 255):
        values = values / 257.0
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def _flatten_alpha(img: PILImage) -> PILImage:
    """``LA``/``RGBA`` -> ``L``/``RGB`` composited onto white."""
    from PIL import Image

    base_mode = "L" if img.mode == "LA" else "RGB"
    background = Image.new(base_mode, img.size, 255 if base_mode == "L" else (255, 255, 255))
    background.paste(img.convert(base_mode), mask=img.getchannel("A"))
    return background


def _is_gray(rgb: PILImage) -> bool:
    arr = np.asarray(rgb)
    return bool((arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all())


def _common_size(images: Sequence[PILImage]) -> tuple[int, int]:
    """Most frequent Pillow ``(width, height)``; ties go to the larger image."""
    counts = Counter(img.size for img in images)
    return max(counts, key=lambda size: (counts[size], size[0] * size[1], size))


def _stack(
    images: Sequence[PILImage], target: tuple[int, int] | None, mode: str | None
) -> np.ndarray:
    """Resize and stack PIL images into ``(N, H, W, C)`` float32 in [0, 1]."""
    from PIL import Image

    channels = 3 if mode == "RGB" else 1
    if not images:
        height, width = (target[1], target[0]) if target else (0, 0)
        return np.zeros((0, height, width, channels), dtype=np.float32)
    size = target or _common_size(images)
    mode = mode or ("L" if all(img.mode == "L" for img in images) else "RGB")
    arrays = []
    for img in images:
        if img.size != size:
            shrink = size[0] * size[1] < img.size[0] * img.size[1]
            method = Image.Resampling.LANCZOS if shrink else Image.Resampling.BILINEAR
            img = img.resize(size, resample=method)
        arrays.append(np.asarray(img.convert(mode), dtype=np.uint8))
    return _to_float(np.stack(arrays))


# ------------------------------------------------------------------ redundant pool


def repeat_problem(repeats: object, noise: object) -> str | None:
    """What is wrong with a redundant pool's settings, or ``None`` when they are valid.

    The one check behind :func:`repeat_pool` and ``TrialConfig``; each caller raises
    its own error type and adds the example that fits its context (a CLI flag, a
    function argument).

    Parameters
    ----------
    repeats : object
        Copies of each pool image; valid: an integer ``>= 1``.
    noise : object
        Pixel noise standard deviation on ``[0, 1]`` pixels; valid: a finite number ``>= 0``.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        return (
            f"repeat must be an integer >= 1 (copies of each pool image; 1 = no repeat), "
            f"got {repeats!r}"
        )
    if (
        isinstance(noise, bool)
        or not isinstance(noise, (int, float, np.integer, np.floating))
        or not (np.isfinite(noise) and noise >= 0)
    ):
        return f"repeat noise must be a standard deviation >= 0 on [0, 1] pixels, got {noise!r}"
    return None


def repeat_pool(dataset: Dataset, repeats: int, noise: float, seed: int = 0) -> Dataset:
    """A redundant pool: every pool image ``repeats`` times, each copy with Gaussian noise.

    The BatchBALD paper's "Repeated MNIST" is ``repeats=3, noise=0.1``: near-copies
    that top-k acquisition picks several times per batch. Every copy (the first one
    too) gets independent noise ``N(0, noise^2)`` per pixel, clipped to ``[0, 1]``.
    Row ``j * n + i`` is copy ``j`` of pool image ``i``; ``pool_source`` records
    ``i`` (composed with an existing ``pool_source``). Test and validation images
    are unchanged. Deterministic given ``seed``. ``repeats=1, noise=0`` returns
    ``dataset`` itself.

    Parameters
    ----------
    dataset : Dataset
        Pool ``(n, H, W, C)`` float32 in ``[0, 1]``.
    repeats : int
        Copies of each image, ``>= 1``.
    noise : float
        Standard deviation of the pixel noise on ``[0, 1]`` pixels, ``>= 0``.
    seed : int
        Seed of the noise.

    Returns
    -------
    Dataset
        ``x_pool`` ``(repeats * n, H, W, C)`` float32, ``y_pool`` and
        ``pool_source`` ``(repeats * n,)`` int64; the name says ``×r, noise σ``.

    Raises
    ------
    DatasetError
        ``repeats < 1`` or not an integer, ``noise`` negative or not finite.
    """
    problem = repeat_problem(repeats, noise)
    if problem is not None:
        raise DatasetError(f"{problem}; the BatchBALD paper's Repeated MNIST uses 3 and 0.1")
    sigma = float(noise)
    if repeats == 1 and sigma == 0:
        return dataset
    n = len(dataset.x_pool)
    rng = _rng(seed, _REPEAT_STREAM)
    x = np.empty((repeats * n, *dataset.x_pool.shape[1:]), dtype=np.float32)
    for copy in range(repeats):  # one copy at a time: the noise is n float32 images at most
        rows = x[copy * n : (copy + 1) * n]
        rows[...] = dataset.x_pool
        if sigma:
            rows += np.float32(sigma) * rng.standard_normal(size=rows.shape, dtype=np.float32)
    np.clip(x, 0.0, 1.0, out=x)
    source = np.tile(
        np.arange(n, dtype=np.int64) if dataset.pool_source is None else dataset.pool_source,
        repeats,
    )
    return dataclasses.replace(
        dataset,
        name=f"{dataset.name} ×{repeats}, noise {sigma:g}",
        x_pool=x,
        y_pool=np.tile(dataset.y_pool, repeats),
        pool_source=source,
    )
