"""Per-row uncertainty scores of class probabilities, and top-k ranking."""

from __future__ import annotations

import numpy as np

from al_core.errors import ConfigError
from al_core.strategies._checks import _as_count, _as_probs


def _top2(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest and second-largest probability of each row, via ``np.partition``."""
    k = probs.shape[1]
    part = np.partition(probs, (k - 2, k - 1), axis=1)
    return part[:, k - 1], part[:, k - 2]


# --------------------------------------------------------------------------- scorers


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """Least-confidence score ``1 - max_j p_j``.

    Parameters
    ----------
    probs : array of shape (n, k)
        Predicted class probabilities, rows summing to 1, ``k >= 2``.

    Returns
    -------
    ndarray of float64, shape (n,)
        Higher = less confident in the predicted class.
    """
    p = _as_probs(probs)
    return 1.0 - p.max(axis=1)


def margin(probs: np.ndarray) -> np.ndarray:
    """Margin score ``1 - (p_top1 - p_top2)``: smallest top-2 margin scores highest.

    Parameters
    ----------
    probs : array of shape (n, k)
        Predicted class probabilities, rows summing to 1, ``k >= 2``.

    Returns
    -------
    ndarray of float64, shape (n,)
        In ``[0, 1]``; 1 when the two best classes tie.
    """
    top1, top2 = _top2(_as_probs(probs))
    return 1.0 - (top1 - top2)


def ratio(probs: np.ndarray) -> np.ndarray:
    """Ratio score ``p_top2 / p_top1``: 1 when the two best classes tie.

    Parameters
    ----------
    probs : array of shape (n, k)
        Predicted class probabilities, rows summing to 1, ``k >= 2``.

    Returns
    -------
    ndarray of float64, shape (n,)
        In ``[0, 1]``. A row of all zeros (not a valid distribution, ``p_top1 = 0``)
        scores 1, the maximum, instead of dividing by zero.
    """
    top1, top2 = _top2(_as_probs(probs))
    out = np.ones_like(top1)
    np.divide(top2, top1, out=out, where=top1 > 0)
    return out


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy ``-sum_j p_j log p_j`` in nats, with ``0 log 0 = 0``.

    Parameters
    ----------
    probs : array of shape (n, k)
        Predicted class probabilities, rows summing to 1, ``k >= 2``.

    Returns
    -------
    ndarray of float64, shape (n,)
        In ``[0, log k]``; highest for the uniform distribution.
    """
    p = _as_probs(probs)
    logp = np.zeros_like(p)
    np.log(p, out=logp, where=p > 0)
    h = -np.einsum("ij,ij->i", p, logp)
    # -0.0 (a one-hot row) reads oddly; entropy is never negative.
    return np.maximum(h, 0.0)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, highest first; ties go to the lower index.

    Uses ``np.partition`` to find the k-th largest value, so the cost is
    ``O(n + k log k)``, not a full sort. Deterministic: among equal scores the
    lower index comes first, both in choosing which rows make the cut and in
    the order returned.

    Parameters
    ----------
    scores : array of shape (n,)
        Real scores; NaN is rejected.
    k : int
        How many indices to return, ``0 <= k <= n``.

    Returns
    -------
    ndarray of int64, shape (k,)

    Raises
    ------
    ConfigError
        ``k`` negative or larger than ``n``, ``scores`` not 1-D, or NaN scores.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ConfigError(f"scores must be 1-D of shape (n,); got shape {s.shape}")
    k = _as_count(k, "k")
    n = s.shape[0]
    if k < 0 or k > n:
        raise ConfigError(f"k = {k} is out of range: it must be between 0 and n = {n}")
    if np.isnan(s).any():
        raise ConfigError("scores hold NaN; cannot rank them")
    if k == 0:
        return np.empty(0, dtype=np.int64)
    kth = n - k
    threshold = np.partition(s, kth)[kth]  # the k-th largest value
    above = np.flatnonzero(s > threshold)
    ties = np.flatnonzero(s == threshold)[: k - above.size]
    idx = np.concatenate([above, ties])
    order = np.lexsort((idx, -s[idx]))  # primary: score descending; secondary: index
    return idx[order].astype(np.int64, copy=False)


def most_confident(probs: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` rows with the highest max-probability, most confident first.

    Used for auto-labeling (add the model's surest predictions with its own labels).
    Ties go to the lower index.

    Parameters
    ----------
    probs : array of shape (n, k_classes)
        Predicted class probabilities.
    k : int
        How many rows, ``0 <= k <= n``.

    Returns
    -------
    ndarray of int64, shape (k,)
    """
    return top_k(_as_probs(probs).max(axis=1), k)
