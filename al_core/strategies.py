"""Uncertainty scores and batch selection over predicted class probabilities.

Pure NumPy, in the style of scikit-learn / modAL: small functions of arrays.

Convention
----------
Every uncertainty score is **higher = more uncertain**. A scorer takes a
probability matrix ``probs`` of shape ``(n, k)`` -- one row per pool sample, one
column per class, rows summing to 1 (a softmax output) -- and returns a float64
array of shape ``(n,)``:

========================  ====================================  =====================
name                      score                                 picks first
========================  ====================================  =====================
``least_confidence``      ``1 - p_top1``                        smallest max prob.
``margin``                ``1 - (p_top1 - p_top2)``             smallest top-2 margin
``ratio``                 ``p_top2 / p_top1``                   top-2 closest to tie
``entropy``               ``-sum_j p_j log p_j`` (0 log 0 = 0)  largest entropy
========================  ====================================  =====================

The criteria disagree: on the rows ``[0.5, 0.49, 0.01]``, ``[0.4, 0.3, 0.3]`` and
``[0.6, 0.2, 0.2]`` least confidence and entropy pick the second row while
margin (and ratio) pick the first.

Sweep protocol
--------------
:func:`select_batch` implements the uncertainty-fraction sweep: of a batch of
``batch_size`` rows, ``n_unc = floor(fraction * batch_size + 0.5)`` (round half
up, so ``0.5 * 10 -> 5`` and ``0.35 * 10 -> 4``) are the rows with the highest
score under the strategy, and the other ``batch_size - n_unc`` are drawn
uniformly at random, without replacement, from the rows not already picked.
``fraction = 0`` is the random baseline, ``fraction = 1`` pure uncertainty
sampling; strategy ``"random"`` draws the whole batch at random.

Selection is deterministic given the state of the ``numpy.random.Generator``
passed in; ties in a score are broken by the lower row index. Everything is
vectorised (``np.partition`` / ``np.argpartition``, no full sort of the pool,
no Python loop over rows), so 100k-row pools take milliseconds.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from al_core.errors import ConfigError

__all__ = [
    "SCORERS",
    "STRATEGIES",
    "Selection",
    "entropy",
    "least_confidence",
    "margin",
    "most_confident",
    "n_uncertain_for",
    "normalize_strategy",
    "ratio",
    "select_batch",
    "top_k",
    "uncertainty_scores",
]


# --------------------------------------------------------------------------- validation


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


SCORERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "least_confidence": least_confidence,
    "margin": margin,
    "ratio": ratio,
    "entropy": entropy,
}
"""Uncertainty scorers by name; each maps ``(n, k)`` probabilities to ``(n,)`` scores."""

STRATEGIES: tuple[str, ...] = (*SCORERS, "random")
"""Every strategy name :func:`select_batch` accepts (canonical spelling)."""


def normalize_strategy(name: str) -> str:
    """Canonical strategy name: case-insensitive, hyphens and spaces read as underscores.

    Parameters
    ----------
    name : str
        E.g. ``"least-confidence"``, ``"Least confidence"``, ``"margin"``.

    Returns
    -------
    str
        One of :data:`STRATEGIES`.

    Raises
    ------
    ConfigError
        When the name is not a known strategy; the message lists the valid names.
    """
    if not isinstance(name, str):
        raise ConfigError(
            f"strategy must be a string, one of {', '.join(STRATEGIES)}; got {name!r}"
        )
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; valid strategies: {', '.join(STRATEGIES)}")
    return key


def uncertainty_scores(probs: np.ndarray, strategy: str) -> np.ndarray:
    """Score every row of ``probs`` with the named strategy (higher = more uncertain).

    Parameters
    ----------
    probs : array of shape (n, k)
        Predicted class probabilities.
    strategy : str
        A key of :data:`SCORERS` (hyphens or underscores, any case).

    Returns
    -------
    ndarray of float64, shape (n,)

    Raises
    ------
    ConfigError
        Unknown name, ``"random"`` (it has no score), or invalid ``probs``.
    """
    key = normalize_strategy(strategy)
    if key == "random":
        raise ConfigError(
            f"strategy 'random' has no uncertainty score; scored strategies: {', '.join(SCORERS)}"
        )
    return SCORERS[key](probs)


# --------------------------------------------------------------------------- ranking


def _as_count(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be an integer; got {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(f"{what} must be an integer; got {value!r}") from None


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


# --------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Selection:
    """One batch chosen by :func:`select_batch`.

    Attributes
    ----------
    indices : ndarray of int64, shape (batch_size,)
        Row indices into ``probs`` (or values of ``candidates``). The
        uncertainty picks come first, highest score first, then the random picks
        in draw order. All distinct.
    scores : ndarray of float64, shape (batch_size,)
        Score of each selected row under the strategy (also for the random part,
        for inspection); NaN for strategy ``"random"`` or when no
        probabilities were given.
    by_uncertainty : ndarray of bool, shape (batch_size,)
        True for rows picked by uncertainty, False for rows drawn at random.

    The arrays are read-only.
    """

    indices: np.ndarray
    scores: np.ndarray
    by_uncertainty: np.ndarray

    def __post_init__(self) -> None:
        for name in ("indices", "scores", "by_uncertainty"):
            arr = np.array(getattr(self, name), copy=True)
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    @property
    def n_uncertain(self) -> int:
        """How many rows were picked by uncertainty."""
        return int(np.count_nonzero(self.by_uncertainty))

    @property
    def n_random(self) -> int:
        """How many rows were drawn at random."""
        return len(self) - self.n_uncertain


def n_uncertain_for(fraction: float, batch_size: int) -> int:
    """Number of uncertainty picks in a batch: ``floor(fraction * batch_size + 0.5)``.

    Round half up, with a 1e-9 tolerance so that binary rounding of the
    product cannot flip a half (``0.29 * 50`` is ``14.499999999999998`` in
    binary floating point; it gives 15, as ``14.5`` would). ``0.5 * 10 -> 5``,
    ``0.35 * 10 -> 4``, ``0.1 * 10 -> 1``.
    """
    n = int(np.floor(fraction * batch_size + 0.5 + 1e-9))
    return min(max(n, 0), batch_size)


def _candidates(candidates: object, n_rows: int | None) -> np.ndarray:
    """Sorted unique int64 row indices from an index array or a boolean mask."""
    arr = np.asarray(candidates)
    if arr.ndim != 1:
        raise ConfigError(f"candidates must be 1-D (indices or a boolean mask); got {arr.shape}")
    if arr.dtype == np.bool_:
        if n_rows is not None and arr.shape[0] != n_rows:
            raise ConfigError(
                f"candidates mask has length {arr.shape[0]} but probs has {n_rows} rows"
            )
        return np.flatnonzero(arr).astype(np.int64)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(f"candidates must hold integer row indices; got dtype {arr.dtype}")
    idx = arr.astype(np.int64)
    uniq = np.unique(idx)
    if uniq.size != idx.size:
        raise ConfigError(f"candidates holds {idx.size - uniq.size} duplicate index(es)")
    if uniq.size and uniq[0] < 0:
        raise ConfigError(f"candidates holds a negative index ({int(uniq[0])})")
    if n_rows is not None and uniq.size and uniq[-1] >= n_rows:
        raise ConfigError(
            f"candidates holds index {int(uniq[-1])} but probs has only {n_rows} rows"
        )
    return uniq


def select_batch(
    probs_or_none: np.ndarray | None,
    batch_size: int,
    *,
    strategy: str,
    fraction: float,
    rng: np.random.Generator,
    candidates: np.ndarray | None = None,
) -> Selection:
    """Choose a batch: the top ``n_unc`` rows by uncertainty plus the rest at random.

    ``n_unc = floor(fraction * batch_size + 0.5)`` rows are the highest-scoring
    under ``strategy`` (ties to the lower row index); the remaining
    ``batch_size - n_unc`` are drawn uniformly without replacement from the
    rows not already picked. See the module docstring for the protocol.

    Parameters
    ----------
    probs_or_none : array of shape (n, k), or None
        Predicted class probabilities of the pool. May be None for strategy
        ``"random"``, and for any strategy when ``n_unc == 0`` (e.g.
        ``fraction=0``: the caller can skip predicting on the pool); then
        ``candidates`` must say which rows exist and ``scores`` is NaN.
    batch_size : int
        Rows to select, ``1 <= batch_size <=`` number of rows available.
    strategy : str
        One of :data:`STRATEGIES` (hyphens or underscores accepted).
    fraction : float
        Uncertainty fraction ``u`` in ``[0, 1]``.
    rng : numpy.random.Generator
        Source of randomness for the random part; consumed only when
        ``batch_size - n_unc > 0``.
    candidates : array of shape (m,) of int, or bool mask of shape (n,), optional
        Restrict the choice to these rows (e.g. the unlabeled pool). Order does
        not matter (they are sorted). Returned indices are row indices into
        ``probs``, i.e. values of ``candidates``.

    Returns
    -------
    Selection

    Raises
    ------
    ConfigError
        ``fraction`` outside ``[0, 1]``, ``batch_size < 1`` or larger than the
        rows available, unknown strategy, missing or invalid ``probs``, bad
        ``candidates``.
    """
    key = normalize_strategy(strategy)
    try:
        frac = float(fraction)
    except (TypeError, ValueError):
        raise ConfigError(f"fraction must be a number in [0, 1]; got {fraction!r}") from None
    if not (0.0 <= frac <= 1.0):  # also rejects NaN
        raise ConfigError(f"fraction = {fraction!r} is out of range: it must be in [0, 1]")
    batch_size = _as_count(batch_size, "batch_size")
    if batch_size < 1:
        raise ConfigError(f"batch_size = {batch_size} is out of range: it must be at least 1")
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)); got {type(rng)}"
        )

    n_unc = 0 if key == "random" else n_uncertain_for(frac, batch_size)

    probs = None if probs_or_none is None else _as_probs(probs_or_none)
    if probs is None:
        if n_unc > 0:
            raise ConfigError(
                f"strategy {key!r} with fraction {frac} needs probabilities; probs is None"
            )
        if candidates is None:
            raise ConfigError("probs is None: pass candidates (the row indices to draw from)")
        rows = _candidates(candidates, None)
    else:
        n_rows = probs.shape[0]
        rows = (
            np.arange(n_rows, dtype=np.int64)
            if candidates is None
            else _candidates(candidates, n_rows)
        )
    if batch_size > rows.size:
        raise ConfigError(
            f"batch_size = {batch_size} is larger than the {rows.size} rows available; "
            f"lower it to at most {rows.size}"
        )

    # Scores of the candidate rows (NaN when there is no score to give).
    if probs is None or key == "random":
        cand_scores = None
    else:
        sub = probs if candidates is None else probs[rows]
        cand_scores = SCORERS[key](sub)

    local_unc = (
        top_k(cand_scores, n_unc) if cand_scores is not None and n_unc else np.empty(0, np.int64)
    )
    n_rand = batch_size - n_unc
    if n_rand:
        free = np.ones(rows.size, dtype=bool)
        free[local_unc] = False
        local_rand = rng.choice(np.flatnonzero(free), size=n_rand, replace=False).astype(np.int64)
    else:
        local_rand = np.empty(0, np.int64)

    local = np.concatenate([local_unc, local_rand])
    scores = (
        np.full(batch_size, np.nan) if cand_scores is None else cand_scores[local].astype(float)
    )
    by_unc = np.zeros(batch_size, dtype=bool)
    by_unc[:n_unc] = True
    return Selection(indices=rows[local], scores=scores, by_uncertainty=by_unc)
