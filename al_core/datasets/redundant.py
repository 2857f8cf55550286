"""A redundant pool: every pool image repeated with pixel noise (the BatchBALD
paper's "Repeated MNIST")."""

from __future__ import annotations

import dataclasses

import numpy as np

from al_core.datasets.dataset import Dataset
from al_core.datasets.splits import _REPEAT_STREAM, _rng
from al_core.errors import DatasetError

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

    The BatchBALD paper's "Repeated MNIST" is ``repeats=3, noise=0.031`` (its N(0, 0.1)
    noise is added after normalising by MNIST's standard deviation 0.3081): near-copies
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
        raise DatasetError(f"{problem}; the BatchBALD paper's Repeated MNIST uses 3 and 0.031")
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
