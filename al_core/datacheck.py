"""The data check: what a data set was read as, before any sweep runs on it.

:func:`check_dataset` loads a source exactly as a trial would (same loader, same
split options, same seed) and reports

- the classes with their image counts in the pool and the test split;
- the image size and the colour policy applied (for an image folder: how many
  images were resized, and whether the set is grayscale or RGB and why);
- the test split that the experiments will use, and how it was drawn;
- the files skipped while reading, with their reasons;
- duplicates: files holding the same image as an earlier one, dropped before the
  split (:attr:`DataCheck.duplicates`), near-duplicates counted but kept
  (:func:`near_duplicates`), and how many test images are also in the pool (0 for
  an image folder: that is what dropping the duplicates is for);
- a few sample images per class (the page draws them as a grid);
- a learning curve of scikit-learn's ``LogisticRegression`` on the flattened
  pixels at 20 / 50 / 100 / 200 random labels, averaged over :data:`FLOOR_SEEDS`
  random label orders, and at all of the pool (capped at :data:`FLOOR_CAP` labels,
  one order: the orders share most of those labels), scored on the test split (at
  most :data:`FLOOR_MAX_TEST` images): the linear floor a network's curve must
  clear on the same labels, and the target it suggests
  (:meth:`DataCheck.suggested_target`). It takes seconds: about 5 s for 4,000
  28x28 images on 2 cores, most of it the floor's fits and scikit-learn's import
  (``benchmarks/data_check.py``); ``progress`` reports the reading and the fits.

Pure: no UI, nothing written. The Experiments page renders a :class:`DataCheck`;
``python -m al_core data SOURCE`` prints :func:`format_check` or, with ``--json``,
:meth:`DataCheck.to_dict`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from al_core.datasets.dataset import Dataset
from al_core.errors import DatasetError

FLOOR_COUNTS: tuple[int, ...] = (20, 50, 100, 200)
"""Label counts of the logistic-regression floor (the pool's size caps them)."""
FLOOR_CAP = 2000
"""The last point of the floor: all of the pool, at most this many labels."""
FLOOR_MAX_TEST = 2000
"""The floor is scored on at most this many test images (a fixed random subset)."""
FLOOR_SEEDS = 3
"""Random label orders the floor is averaged over (its last point, at the cap, uses one:
three fits of 2,000 labels were half the check's time, for a range of a point or two)."""
SAMPLES_PER_CLASS = 8
SUGGESTION_LABELS = 200
"""The suggested target is the floor's accuracy at this many labels (or the nearest
count below it): what a linear model reaches there, so a network should reach it
within a typical budget, and random's labels to it are measured."""
NEAR_DUPLICATE_TOLERANCE = 0.02
"""Two different images are near-duplicates when their mean absolute pixel difference
(pixels in [0, 1]) is at most this: a re-encoded or lightly edited copy."""

FLOOR_MAX_ITER = 100
"""L-BFGS iterations of each floor fit at most (scikit-learn's default is 100; the
expected curves' anchor uses 300). On 4,000 Fashion-MNIST images the floor moved by
0.1 point at 50 and 200 labels and 0.7 at 2,000 (higher), digits' not at all, and the
fits took half the time."""

Progress = Callable[[float, str], None]
"""``progress(fraction done in [0, 1], what is being done)``."""


@dataclass(frozen=True)
class FloorPoint:
    """The logistic-regression floor at one label count: mean and range over orders."""

    labels: int
    accuracy: float
    low: float
    high: float


@dataclass(frozen=True, eq=False)
class DataCheck:
    """What a data set source was read as.

    Attributes
    ----------
    source : str
        The source as given (``"digits"``, ``"folder:/…"``, ``"npz:/…"``).
    name : str
        The loaded data set's name.
    class_names : tuple of str
        ``K`` class names.
    pool_counts, test_counts : tuple of int
        Images per class (``K`` each) in the pool and in the test split.
    image_shape : tuple of int
        ``(H, W, C)`` every image was converted to.
    colour : str
        The colour policy applied, in words.
    size : str
        The size policy applied, in words.
    test_split : str
        How the test split was drawn, in words.
    skipped : tuple of str
        ``"file: reason"`` for every file skipped while reading.
    duplicates : tuple of str
        ``"file: same image as other, kept once"`` for every file dropped before the
        split because an earlier one holds the same image.
    near_duplicates : int
        Pairs of different but almost identical images (:func:`near_duplicates`),
        kept; ``near_duplicates_across`` of them have one image in the pool and one in
        the test split.
    test_in_pool : int
        Test images whose pixels equal a pool image's (0 after duplicates are dropped).
    samples : tuple of np.ndarray
        Per class, ``(s, H, W, C)`` float32 in ``[0, 1]``: up to
        ``samples_per_class`` pool images (``s`` may be smaller for a small class).
    floor : tuple of FloorPoint
        The logistic-regression learning curve, by increasing label count.
    floor_test_images : int
        Test images the floor was scored on.
    seconds : float
        How long the check took.
    """

    source: str
    name: str
    class_names: tuple[str, ...]
    pool_counts: tuple[int, ...]
    test_counts: tuple[int, ...]
    image_shape: tuple[int, int, int]
    colour: str
    size: str
    test_split: str
    skipped: tuple[str, ...]
    samples: tuple[np.ndarray, ...] = field(repr=False)
    floor: tuple[FloorPoint, ...]
    floor_test_images: int
    seconds: float
    duplicates: tuple[str, ...] = ()
    near_duplicates: int = 0
    near_duplicates_across: int = 0
    test_in_pool: int = 0

    def duplicates_text(self) -> str:
        """The duplicates found, in words (what the page and the CLI say)."""
        dropped = len(self.duplicates)
        text = (
            f"{dropped} duplicate image(s) dropped, each image kept once (listed below)"
            if dropped
            else "no duplicate image"
        )
        text += (
            f"; {self.test_in_pool} test image(s) are also in the pool"
            if self.test_in_pool
            else "; no image is in both the pool and the test split"
        )
        if self.near_duplicates:
            text += (
                f"; {self.near_duplicates} pair(s) of near-duplicates kept (mean pixel "
                f"difference at most {NEAR_DUPLICATE_TOLERANCE:.0%}), "
                f"{self.near_duplicates_across} of them across pool and test"
            )
        return text

    def suggested_target(self, labels: int = SUGGESTION_LABELS) -> float | None:
        """A target accuracy from the floor: its mean accuracy at ``labels`` (or the
        largest count below), rounded down to a whole percent; None without a point."""
        below = [p for p in self.floor if p.labels <= labels] or list(self.floor[:1])
        if not below:
            return None
        value = math.floor(round(below[-1].accuracy * 100, 6)) / 100
        return value if value > 0 else None

    def suggestion_text(self, labels: int = SUGGESTION_LABELS) -> str:
        """Where :meth:`suggested_target` comes from, e.g. "75 %: the linear floor's
        accuracy at 200 labels"."""
        target = self.suggested_target(labels)
        below = [p for p in self.floor if p.labels <= labels] or list(self.floor[:1])
        if target is None or not below:
            return ""
        return (
            f"{target:.0%}: the linear floor's accuracy at {below[-1].labels} labels, rounded "
            "down (a network should reach it within a few hundred labels)"
        )

    @property
    def pool_size(self) -> int:
        return int(sum(self.pool_counts))

    @property
    def test_size(self) -> int:
        return int(sum(self.test_counts))

    def class_table(self) -> list[dict[str, Any]]:
        """One row per class: ``class``, ``pool``, ``test`` image counts."""
        return [
            {"class": name, "pool": pool, "test": test}
            for name, pool, test in zip(
                self.class_names, self.pool_counts, self.test_counts, strict=True
            )
        ]

    def warnings(self) -> list[str]:
        """Things worth a second look before a sweep: tiny classes, imbalance, skips."""
        notes = []
        small = [n for n, c in zip(self.class_names, self.pool_counts, strict=True) if c < 10]
        if small:
            notes.append(
                f"{len(small)} class(es) have fewer than 10 pool images ({', '.join(small[:5])}"
                f"{', …' if len(small) > 5 else ''}): curves on them will be noisy"
            )
        if min(self.pool_counts) and max(self.pool_counts) > 5 * min(self.pool_counts):
            notes.append(
                f"the classes are imbalanced: {max(self.pool_counts)} vs "
                f"{min(self.pool_counts)} pool images"
            )
        if self.skipped:
            notes.append(f"{len(self.skipped)} file(s) were skipped (listed below)")
        return notes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: everything but the sample images."""
        height, width, channels = self.image_shape
        return {
            "source": self.source,
            "name": self.name,
            "classes": self.class_table(),
            "pool_size": self.pool_size,
            "test_size": self.test_size,
            "image_shape": {"height": height, "width": width, "channels": channels},
            "colour": self.colour,
            "size": self.size,
            "test_split": self.test_split,
            "skipped": list(self.skipped),
            "duplicates": list(self.duplicates),
            "near_duplicates": self.near_duplicates,
            "near_duplicates_across": self.near_duplicates_across,
            "test_in_pool": self.test_in_pool,
            "suggested_target": self.suggested_target(),
            "floor": {
                "model": "LogisticRegression on flattened pixels",
                "test_images": self.floor_test_images,
                "seeds": FLOOR_SEEDS,
                "points": [
                    {"labels": p.labels, "accuracy": p.accuracy, "low": p.low, "high": p.high}
                    for p in self.floor
                ],
            },
            "warnings": self.warnings(),
            "seconds": self.seconds,
        }


def check_dataset(
    source: str,
    *,
    pool_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    extra_skipped: Sequence[str] = (),
    counts: Sequence[int] = FLOOR_COUNTS,
    cap: int = FLOOR_CAP,
    seeds: int = FLOOR_SEEDS,
    samples_per_class: int = SAMPLES_PER_CLASS,
    progress: Progress | None = None,
) -> DataCheck:
    """Load ``source`` as a trial would and describe it (see the module docstring).

    Parameters
    ----------
    source : str
        A data set source for :func:`al_core.datasets.load_dataset`.
    pool_size, test_size, seed
        As in a trial config (``seed`` is the data seed), so the split checked is
        the one the experiments will use.
    extra_skipped : sequence of str
        Files skipped before loading (e.g. corrupt zip entries of an upload).
    counts, cap, seeds
        Label counts of the floor, the cap of its last point (all of the pool), and
        the random label orders averaged.
    samples_per_class : int
        Sample images kept per class.
    progress : callable, optional
        Called as ``progress(fraction, text)`` while images are read (the first half)
        and as each fit of the floor ends (the second half).

    Returns
    -------
    DataCheck

    Raises
    ------
    DatasetError
        The source cannot be loaded (the loader's message).
    """
    from al_core.datasets import load_dataset

    started = time.perf_counter()
    report = progress or (lambda fraction, text: None)

    def reading(done: int, total: int) -> None:
        report(0.5 * done / max(total, 1), f"Reading images: {done:,} of {total:,}")

    report(0.0, "Reading the data set…")
    data = load_dataset(
        source, pool_size=pool_size, test_size=test_size, seed=seed, progress=reading
    )
    k = data.num_classes
    pool_counts = np.bincount(data.y_pool, minlength=k)
    test_counts = np.bincount(data.y_test, minlength=k)
    rng = np.random.default_rng([seed, 4242])
    samples = []
    for label in range(k):
        members = np.flatnonzero(data.y_pool == label)
        chosen = rng.choice(members, min(samples_per_class, len(members)), replace=False)
        samples.append(data.x_pool[np.sort(chosen)])
    kind = source.strip().partition(":")[0].lower() if ":" in source else ""
    colour, size = _policies(data, kind)
    report(0.5, "Looking for duplicates…")
    pairs, across = near_duplicates(data.x_pool, data.x_test)
    test_in_pool = _test_in_pool(data.x_pool, data.x_test)

    def fitting(done: int, total: int) -> None:
        report(0.5 + 0.5 * done / max(total, 1), f"Linear floor: fit {done} of {total}")

    floor, n_test = learning_floor(
        data.x_pool, data.y_pool, data.x_test, data.y_test, counts, cap, seeds, seed,
        progress=fitting,
    )  # fmt: skip
    report(1.0, "Done")
    return DataCheck(
        source=source,
        name=data.name,
        class_names=data.class_names,
        pool_counts=tuple(int(c) for c in pool_counts),
        test_counts=tuple(int(c) for c in test_counts),
        image_shape=data.image_shape,
        colour=colour,
        size=size,
        test_split=_test_split_text(data.name, kind, len(data.x_test), test_size, seed),
        skipped=(*extra_skipped, *data.skipped),
        samples=tuple(samples),
        floor=floor,
        floor_test_images=n_test,
        seconds=time.perf_counter() - started,
        duplicates=data.duplicates,
        near_duplicates=pairs,
        near_duplicates_across=across,
        test_in_pool=test_in_pool,
    )


def _test_in_pool(x_pool: np.ndarray, x_test: np.ndarray) -> int:
    """How many test images ``(m, H, W, C)`` have the same pixels as a pool image."""
    from al_core.datasets.images import image_digest

    pool = {image_digest(image) for image in x_pool}
    return sum(image_digest(image) in pool for image in x_test)


def _thumbnails(x: np.ndarray, side: int = 8) -> np.ndarray:
    """``(n, H, W, C)`` → ``(n, side·side)``: grey block means on a ``side``×``side`` grid."""
    grey = x.mean(axis=-1) if x.shape[-1] > 1 else x[..., 0]
    rows = np.linspace(0, grey.shape[1], side + 1).astype(int)
    cols = np.linspace(0, grey.shape[2], side + 1).astype(int)
    rows, cols = np.unique(rows[:-1]), np.unique(cols[:-1])
    sums = np.add.reduceat(np.add.reduceat(grey, rows, axis=1), cols, axis=2)
    heights = np.diff(np.r_[rows, grey.shape[1]])
    widths = np.diff(np.r_[cols, grey.shape[2]])
    return (sums / np.outer(heights, widths)).reshape(len(x), -1)


def near_duplicates(
    x_pool: np.ndarray, x_test: np.ndarray, tolerance: float = NEAR_DUPLICATE_TOLERANCE
) -> tuple[int, int]:
    """Pairs of different images at most ``tolerance`` apart (mean absolute pixel
    difference), and how many of them have one image in the pool and one in the test.

    ``x_pool`` ``(n, H, W, C)``, ``x_test`` ``(m, H, W, C)``, pixels in [0, 1]. Exact,
    and fast because two bounds prune the pairs without missing any: two images that
    close have mean brightnesses at most ``tolerance`` apart (so each image is compared
    only with its neighbours in brightness order), and 8x8 grey thumbnails at most
    ``tolerance`` apart (block means contract the difference); only pairs passing both
    are compared pixel by pixel.
    """
    x = np.concatenate([x_pool, x_test]) if len(x_test) else np.asarray(x_pool)
    if len(x) < 2:
        return 0, 0
    from scipy.spatial.distance import cdist

    flat = x.reshape(len(x), -1)
    thumbs = _thumbnails(x).astype(np.float64)
    brightness = flat.mean(axis=1)
    order = np.argsort(brightness, kind="stable")
    ends = np.searchsorted(brightness[order], brightness[order] + tolerance, side="right")
    found = []
    block = 256  # rows of sorted positions compared at once with their brightness window
    for start in range(0, len(order), block):
        stop = min(start + block, len(order))
        rows = np.arange(start, stop)
        cols = np.arange(start, ends[stop - 1])
        gaps = cdist(thumbs[order[rows]], thumbs[order[cols]], "cityblock") / thumbs.shape[1]
        later = (cols[None, :] > rows[:, None]) & (cols[None, :] < ends[rows][:, None])
        for r, c in zip(*np.nonzero(later & (gaps <= tolerance)), strict=True):
            i, j = sorted((int(order[rows[r]]), int(order[cols[c]])))
            gap = float(np.abs(flat[i] - flat[j]).mean())
            if 0 < gap <= tolerance:
                found.append((i, j))
    across = sum(i < len(x_pool) <= j for i, j in found)
    return len(found), across


def learning_floor(
    x_pool: np.ndarray,
    y_pool: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    counts: Sequence[int] = FLOOR_COUNTS,
    cap: int = FLOOR_CAP,
    seeds: int = FLOOR_SEEDS,
    seed: int = 0,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[tuple[FloorPoint, ...], int]:
    """Logistic regression on random labels of the pool, scored on the test split.

    ``x_pool`` is ``(n, H, W, C)`` (or ``(n, D)``), ``y_pool`` ``(n,)``; the test split
    likewise. For each of ``seeds`` random orders of the pool the first ``m`` images
    are the labels, for ``m`` in ``counts`` below the pool's size; the last point,
    ``min(n, cap)`` labels, is fitted on the first order only (the orders share most of
    its labels; it was the costliest fit). Returns the points (mean, min and max
    accuracy over the orders fitted) and the number of test images scored (at most
    :data:`FLOOR_MAX_TEST`). Each fit runs :data:`FLOOR_MAX_ITER` L-BFGS iterations at
    most. ``progress(done, total)`` is called after each fit.
    """
    from threadpoolctl import threadpool_limits

    from al_core.expected import _fit_score  # the expected curves' anchor's fit

    if seeds < 1 or cap < 1:
        raise DatasetError("the learning floor needs seeds >= 1 and a cap >= 1")
    x = np.asarray(x_pool, dtype=np.float32).reshape(len(x_pool), -1)
    y = np.asarray(y_pool)
    xt = np.asarray(x_test, dtype=np.float32).reshape(len(x_test), -1)
    yt = np.asarray(y_test)
    if len(xt) > FLOOR_MAX_TEST:
        keep = np.random.default_rng([seed, 9173]).choice(len(xt), FLOOR_MAX_TEST, replace=False)
        xt, yt = xt[keep], yt[keep]
    last = min(len(x), int(cap))
    fitted = sorted({*(int(m) for m in counts if 1 <= int(m) < last), last})
    scores = np.full((seeds, len(fitted)), np.nan)
    orders = [np.random.default_rng([seed, 7919, s]).permutation(len(x)) for s in range(seeds)]
    # (order, point): every point on every order, the last point on the first order only.
    fits = [(s, j) for s in range(seeds) for j in range(len(fitted)) if s == 0 or fitted[j] != last]
    with threadpool_limits(limits=1):  # BLAS threads only oversubscribe small fits
        for done, (s, j) in enumerate(fits, start=1):
            idx = orders[s][: fitted[j]]
            scores[s, j] = _fit_score(x[idx], y[idx], xt, yt, max_iter=FLOOR_MAX_ITER)
            if progress is not None:
                progress(done, len(fits))
    points = tuple(
        FloorPoint(
            labels=m,
            accuracy=float(np.nanmean(scores[:, j])),
            low=float(np.nanmin(scores[:, j])),
            high=float(np.nanmax(scores[:, j])),
        )
        for j, m in enumerate(fitted)
    )
    return points, len(xt)


def _policies(data: Dataset, kind: str) -> tuple[str, str]:
    """The colour and size policy applied, in words."""
    height, width, channels = data.image_shape
    if kind == "folder" or data.name.startswith("folder:"):
        stored_in_colour = sum(mode not in _GREY_MODES for *_, mode in data.originals)
        if channels == 1:
            colour = "grayscale (1 channel): every readable image is grayscale"
            if stored_in_colour:
                colour += (
                    f" by content ({stored_in_colour} file(s) are stored as colour but their "
                    "red, green and blue are equal in every pixel)"
                )
        else:
            colour = (
                "RGB (3 channels): at least one image is in colour (its red, green and blue "
                "differ), so any grayscale image was repeated into the 3 channels; "
                "transparency flattened onto white"
            )
        resized = [(n, w, h) for n, w, h, _ in data.originals if (h, w) != (height, width)]
        size = (
            f"{height}x{width} pixels, the most frequent size among the readable images; "
            f"{len(resized)} of the {len(data.originals)} images were resized to it (aspect "
            "ratio not kept, no cropping)"
        )
        shrunk = [(w * h, n, w, h) for n, w, h in resized if w * h > 4 * height * width]
        if shrunk:
            _, big_name, big_w, big_h = max(shrunk)
            size += (
                f"; {len(shrunk)} of them much larger, shrunk with their fine detail lost: "
                f"the largest, {big_name}, from {big_w}x{big_h}"
            )
        return colour, size
    colour = "grayscale (1 channel)" if channels == 1 else "RGB (3 channels)"
    return f"{colour}, as stored", f"{height}x{width} pixels, as stored (no resizing)"


_GREY_MODES = ("1", "L", "LA", "La", "I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def _test_split_text(name: str, kind: str, n_test: int, test_size: int | None, seed: int) -> str:
    """How the test split was drawn."""
    if kind == "folder" or name.startswith("folder:"):
        how = "20 % of the readable images" if test_size is None else f"{test_size} images"
        return (
            f"{n_test} images drawn from the folder, stratified by class ({how}, at least one "
            f"per class, every class keeps one for the pool), with data seed {seed}; "
            "never labeled, never in the pool"
        )
    if name == "digits":
        return (
            f"{n_test} images drawn from the 1,797 digits, stratified by class, with data "
            f"seed {seed}; never in the pool"
        )
    official = (
        "the archive's x_test / y_test" if name.startswith("npz:") else "the official test split"
    )
    if test_size is None:
        return f"{official}: all {n_test} images"
    return f"a stratified subset of {n_test} images of {official}, drawn with data seed {seed}"


def format_check(check: DataCheck) -> str:
    """The check as plain text (what ``python -m al_core data`` prints)."""
    from al_core.datasets import format_skipped

    height, width, channels = check.image_shape
    lines = [
        f"data set: {check.name}",
        f"images: {check.pool_size} pool / {check.test_size} test, "
        f"{height}x{width}x{channels}, {len(check.class_names)} classes",
        f"size: {check.size}",
        f"colour: {check.colour}",
        f"test split: {check.test_split}",
        f"duplicates: {check.duplicates_text()}",
        "",
        "classes (pool / test images):",
    ]
    wide = max(len(n) for n in check.class_names)
    lines += [
        f"  {row['class']:<{wide}}  {row['pool']:>6} / {row['test']}" for row in check.class_table()
    ]
    lines += [
        "",
        f"logistic-regression floor (flattened pixels, random labels, mean of {FLOOR_SEEDS} "
        f"orders, the last point one, scored on {check.floor_test_images} test images):",
    ]
    lines += [
        f"  {p.labels:>6} labels: {p.accuracy:6.1%}  (range {p.low:.1%}–{p.high:.1%})"
        for p in check.floor
    ]
    lines.append("  a network's curve should clear this on the same labels")
    if check.suggestion_text():
        lines.append(f"suggested target: {check.suggestion_text()}")
    if check.skipped:
        lines += ["", f"{len(check.skipped)} file(s) skipped:", format_skipped(check.skipped)]
    else:
        lines += ["", "no file skipped"]
    if check.duplicates:
        lines += [
            "",
            f"{len(check.duplicates)} duplicate(s) dropped:",
            format_skipped(check.duplicates),
        ]
    notes = check.warnings()
    if notes:
        lines += ["", *(f"note: {n}" for n in notes)]
    lines.append(f"(checked in {check.seconds:.1f} s)")
    return "\n".join(lines)


def sample_grid(
    images: np.ndarray, *, columns: int | None = None, min_side: int = 48
) -> np.ndarray:
    """Tile images into one picture for display, upscaled by pixel repetition.

    ``images`` is ``(s, H, W, C)`` float in ``[0, 1]``; returns ``(rows·H·f + gaps,
    columns·W·f + gaps, 3)`` uint8 with ``f`` the smallest integer factor that makes
    a side at least ``min_side`` pixels and a 2-pixel white gap between images.
    """
    images = np.asarray(images)
    if images.ndim != 4 or len(images) == 0:
        raise DatasetError(f"sample_grid needs (s, H, W, C) images with s >= 1, got {images.shape}")
    count, height, width, _ = images.shape
    columns = columns or count
    rows = -(-count // columns)
    factor = max(1, -(-min_side // max(1, min(height, width))))
    tiles = np.repeat(np.repeat(images, factor, axis=1), factor, axis=2)
    if tiles.shape[-1] == 1:
        tiles = np.repeat(tiles, 3, axis=-1)
    tiles = np.rint(np.clip(tiles, 0.0, 1.0) * 255).astype(np.uint8)
    gap = 2
    th, tw = height * factor, width * factor
    grid = np.full((rows * (th + gap) - gap, columns * (tw + gap) - gap, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * (th + gap) : r * (th + gap) + th, c * (tw + gap) : c * (tw + gap) + tw] = tile
    return grid
