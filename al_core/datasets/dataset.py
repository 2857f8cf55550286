"""The :class:`Dataset` every loader returns, and the built-in sets' names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from al_core.errors import DatasetError

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
    duplicates : tuple of str
        Image-folder files dropped before the split because an earlier file holds the
        same image (``"path: same image as other, kept once"``): no picture is in both
        the pool and the test split.
    originals : tuple of (str, int, int, str)
        Image folders: ``(relative name, width, height, Pillow mode)`` of every image
        kept, as stored before conversion (what the data check reports sizes and
        colour modes from, without opening the files again).
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
    duplicates: tuple[str, ...] = ()
    originals: tuple[tuple[str, int, int, str], ...] = ()
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


def builtin_class_names(name: str) -> tuple[str, ...]:
    """Class names of a built-in data set (:data:`BUILTIN_DATASETS`), without loading it."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in _CLASS_NAMES:
        raise DatasetError(
            f"unknown built-in data set {name!r}; one of {', '.join(BUILTIN_DATASETS)}"
        )
    return _CLASS_NAMES[key]
