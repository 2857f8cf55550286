"""Stratified splits (test, validation, pool subsets), conversion to float32
``(N, H, W, C)``, and the final consistency check of a :class:`Dataset`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from al_core.datasets.dataset import Dataset, Split
from al_core.errors import DatasetError

_FOLDER_TEST_FRACTION = 0.2
# Independent random streams, so that e.g. the test subset does not move when
# pool_size changes.
_TEST_STREAM, _VAL_STREAM, _POOL_STREAM, _REPEAT_STREAM = 1, 2, 3, 4


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
    duplicates: Sequence[str] = (),
    originals: Sequence[tuple[str, int, int, str]] = (),
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
        duplicates=tuple(duplicates),
        originals=tuple(originals),
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
