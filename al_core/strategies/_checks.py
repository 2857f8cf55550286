"""Input checks shared by the strategy modules: arrays in, :class:`ConfigError` out."""

from __future__ import annotations

import operator

import numpy as np

from al_core.errors import ConfigError


def _as_probs(probs: object) -> np.ndarray:
    """Return ``probs`` as a float64 ``(n, k)`` array, or raise :class:`ConfigError`.

    Checks: 2-D, at least two classes, every value finite and non-negative.
    Row sums are not checked (float32 softmax outputs are off by rounding).
    """
    try:
        arr = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"probs must be a numeric (n, k) array of class probabilities: {exc}"
        ) from None
    if arr.ndim != 2:
        raise ConfigError(
            f"probs must be 2-D of shape (n_samples, n_classes); got shape {arr.shape}. "
            "Pass the model's predicted probabilities, one row per sample."
        )
    if arr.shape[1] < 2:
        raise ConfigError(
            f"probs needs at least 2 class columns; got shape {arr.shape}. "
            "Uncertainty is undefined for a single class."
        )
    if not np.isfinite(arr).all():
        bad = int(np.count_nonzero(~np.isfinite(arr).all(axis=1)))
        raise ConfigError(
            f"probs holds NaN or infinite values in {bad} row(s); "
            "check the model output (diverged training?)."
        )
    if (arr < 0).any():
        raise ConfigError("probs holds negative values; pass probabilities (softmax output).")
    return arr


def _as_mc_probs(mc_probs: object) -> np.ndarray:
    """Return ``mc_probs`` as a ``(T, n, K)`` array (dtype kept), or raise :class:`ConfigError`."""
    arr = np.asarray(mc_probs)
    if arr.ndim != 3:
        raise ConfigError(
            f"mc_probs must be 3-D of shape (T passes, n_samples, n_classes); got shape "
            f"{arr.shape}. Pass Classifier.predict_mc(x, T)."
        )
    if arr.shape[0] < 1 or arr.shape[2] < 2:
        raise ConfigError(f"mc_probs needs at least 1 pass and 2 classes; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ConfigError("mc_probs holds NaN or infinite values; check the model output")
    if (arr < 0).any():
        raise ConfigError("mc_probs holds negative values; pass softmax probabilities")
    return arr


def _as_embeddings(embeddings: object, what: str = "embeddings") -> np.ndarray:
    """Return ``embeddings`` as a finite float64 ``(n, d)`` array, or raise."""
    try:
        arr = np.asarray(embeddings, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} must be a numeric (n, d) array: {exc}") from None
    if arr.ndim != 2:
        raise ConfigError(
            f"{what} must be 2-D of shape (n_samples, n_features); got shape {arr.shape}. "
            "Pass Classifier.embed(x)."
        )
    if not np.isfinite(arr).all():
        raise ConfigError(f"{what} hold NaN or infinite values; check the model output")
    return arr


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)); got {type(rng)}"
        )
    return rng


def _as_count(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be an integer; got {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(f"{what} must be an integer; got {value!r}") from None
