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
- Every file is opened with Pillow; its header is read first, and an image of
  more than :data:`~al_core.datasets.images.MAX_DECODED_PIXELS` (40 million)
  pixels is skipped before it is decoded. The others are fully decoded. A file
  that cannot be read (not an image, truncated, corrupt, too many pixels) is
  skipped and listed in ``Dataset.skipped`` as ``"relative/path: reason"``; the
  other files load.
- The EXIF orientation of photos is applied.
- Colour, decided by content, not by file mode: an image is grayscale when its
  mode is 1, L, LA, I, I;16 or F, or when its red, green and blue channels are
  equal in every pixel (a grey picture saved as RGB or as a palette). If every
  readable image is grayscale, the images are loaded as
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
- Duplicates: files whose converted images are identical (the same picture,
  whatever its bytes) are kept once, the first in path order, before the split,
  so no picture is both in the pool and in the test split; the others are listed
  in ``Dataset.duplicates``.
- Test split: stratified by class, ``test_size`` images (default 20 % of the
  readable images, at least one per class), drawn with ``seed``; every class
  keeps at least one image in the training split, so a class with a single
  image has none in the test split.
- Refused with an error: a missing folder, fewer than 2 class subfolders (the
  message names files lying loose at the top), a class with no readable image, no
  readable image at all, no class with 2 images (nothing for the test split).

Modules: :mod:`~al_core.datasets.dataset` (:class:`Dataset`, built-in names),
:mod:`~al_core.datasets.builtin` (digits, the Keras cache), :mod:`~al_core.datasets.npz`,
:mod:`~al_core.datasets.images` (image folders and files),
:mod:`~al_core.datasets.splits` (stratified splits, conversion, checks) and
:mod:`~al_core.datasets.redundant` (:func:`repeat_pool`). This package routes a
source to its loader (:func:`load_dataset`) and re-exports the public names.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from al_core.datasets.builtin import _DIGITS_TEST_SIZE, _load_digits, _load_keras
from al_core.datasets.dataset import (
    _CLASS_NAMES,
    BUILTIN_DATASETS,
    Dataset,
    Split,
    builtin_class_names,
)
from al_core.datasets.images import (
    SKIPPED_SHOWN,
    _load_folder,
    common_image_size,
    format_skipped,
    load_images,
)
from al_core.datasets.npz import (
    DEFAULT_MAX_NPZ_MB,
    _load_npz,
    npz_declared_arrays,
    npz_size_limit,
)
from al_core.datasets.redundant import repeat_pool, repeat_problem
from al_core.datasets.splits import (
    _assemble,
    _check_count,
    _default_folder_test_size,
    _split_test,
)
from al_core.errors import DatasetError

__all__ = [
    "BUILTIN_DATASETS",
    "DEFAULT_MAX_NPZ_MB",
    "SKIPPED_SHOWN",
    "Dataset",
    "builtin_class_names",
    "common_image_size",
    "format_skipped",
    "load_dataset",
    "load_images",
    "npz_declared_arrays",
    "npz_size_limit",
    "repeat_pool",
    "repeat_problem",
]

_VALID_SOURCES = (*BUILTIN_DATASETS, "npz:PATH", "folder:PATH")


# --------------------------------------------------------------------------- API


def load_dataset(
    source: str,
    *,
    pool_size: int | None = None,
    test_size: int | None = None,
    val_size: int = 0,
    seed: int = 0,
    image_size: tuple[int, int] | None = None,
    progress: Callable[[int, int], None] | None = None,
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
    progress : callable, optional
        ``progress(files read, files in all)`` while an image folder is read (every
        few hundred files); other sources load at once.

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
    name, train, test, class_names, skipped, duplicates, originals = _load_raw(
        kind, target, test_size=test_size, seed=seed, image_size=image_size, progress=progress
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
        duplicates=duplicates,
        originals=originals,
    )


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
    progress: Callable[[int, int], None] | None = None,
) -> tuple[str, Split, Split, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple]:
    """Dispatch to a loader; returns ``(name, train, test, class_names, skipped,
    duplicates, originals)`` (the last three for image folders only)."""
    if kind == "digits":
        x, y = _load_digits()
        test_size = _DIGITS_TEST_SIZE if test_size is None else test_size
        train, test = _split_test(x, y, test_size, seed, "digits")
        return "digits", train, test, _CLASS_NAMES["digits"], (), (), ()
    if kind in BUILTIN_DATASETS:
        train, test = _load_keras(kind)
        return kind, train, test, _CLASS_NAMES[kind], (), (), ()
    path = Path(target).expanduser().resolve()
    if kind == "npz":
        train, test, class_names = _load_npz(path)
        return f"npz:{path}", train, test, class_names, (), (), ()
    x, y, class_names, skipped, duplicates, originals = _load_folder(path, image_size, progress)
    _check_folder_classes_can_split(y, class_names, path)
    if test_size is None:
        test_size = _default_folder_test_size(y)
    train, test = _split_test(x, y, test_size, seed, f"folder {path}")
    return (
        f"folder:{path}",
        train,
        test,
        class_names,
        tuple(skipped),
        tuple(duplicates),
        tuple(originals),
    )


def _check_folder_classes_can_split(
    y: np.ndarray, class_names: tuple[str, ...], path: Path
) -> None:
    """Refuse a folder none of whose classes can give an image to the test split.

    The test split is drawn from the folder and every class keeps one image for the
    pool, so at least one class needs 2 readable images. Said in images per class,
    not as a ``test_size`` the person never typed.
    """
    counts = np.bincount(y, minlength=len(class_names))
    if (counts >= 2).any():
        return
    held = ", ".join(f"{n}: {int(c)}" for n, c in zip(class_names, counts, strict=True))
    raise DatasetError(
        f"image folder {path} has too few images to split into a pool and a test set "
        f"(readable images per class, after duplicates: {held}). Every class needs at "
        "least 2 images, one for the pool and one for the test split (20 % of the images "
        "are tested); for curves worth reading, give each class 20 or more"
    )
