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

Beyond the probability scorers
------------------------------
The "fraction" protocol applies to every strategy: the ``n_unc`` strategy picks
come from the strategy below, the rest at random. What each one needs
(:func:`inputs_needed` tells the loop what to compute):

====================  ==============================================  =====================
name                  picks                                           needs
====================  ==============================================  =====================
``bald``              largest mutual information (MC dropout)         ``mc_probs`` (T, n, K)
``variation_ratios``  smallest share of MC passes voting the mode     ``mc_probs``
``density_weighted``  base score x (mean cosine similarity)^beta      base score, embeddings
``kcenter``           farthest-first from the labeled set (core-set)  embeddings (+ labeled)
``kmeans``            images nearest the k-means centroids            embeddings
``hybrid``            top-m by base score, then k-center among them   base score, embeddings
``hybrid_cluster``    top-m by base score, then cluster round-robin   base score, embeddings
====================  ==============================================  =====================

The *base score* of the combined strategies is any per-row score
(:data:`BASE_SCORES`, default ``margin``). Embeddings are the penultimate layer
of the classifier, shape ``(n, d)``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from al_core.errors import ConfigError

__all__ = [
    "BASE_SCORES",
    "HYBRID_METHODS",
    "HYBRID_TOP_M_FACTOR",
    "MC_SCORERS",
    "SCORERS",
    "STRATEGIES",
    "Selection",
    "bald",
    "check_base_score",
    "density_weighted",
    "entropy",
    "hybrid",
    "inputs_needed",
    "k_center_greedy",
    "kmeans_sample",
    "least_confidence",
    "margin",
    "most_confident",
    "n_uncertain_for",
    "normalize_strategy",
    "ratio",
    "select_batch",
    "top_k",
    "uncertainty_scores",
    "variation_ratios",
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


# --------------------------------------------------------------------------- MC dropout

#: Rows per block when reducing (T, n, K) Monte-Carlo samples: bounds the float64
#: working copy to T x 16384 x K values.
_MC_BLOCK = 16384


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


def _plogp_sum(p: np.ndarray) -> np.ndarray:
    """``sum_k p log p`` over the last axis, with ``0 log 0 = 0``."""
    logp = np.zeros_like(p)
    np.log(p, out=logp, where=p > 0)
    return np.einsum("...k,...k->...", p, logp)


def bald(mc_probs: np.ndarray) -> np.ndarray:
    """BALD: mutual information between the prediction and the model weights.

    ``H[mean_t p_t] - mean_t H[p_t]``: the entropy of the averaged prediction
    minus the average entropy of the T Monte-Carlo dropout passes. High when
    the passes are each confident but disagree with one another; 0 when they
    all agree (whatever their confidence).

    Parameters
    ----------
    mc_probs : array of shape (T, n, K)
        Softmax outputs of T stochastic forward passes (dropout on).

    Returns
    -------
    ndarray of float64, shape (n,)
        In ``[0, log K]`` nats; higher = more informative.
    """
    arr = _as_mc_probs(mc_probs)
    n = arr.shape[1]
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, _MC_BLOCK):
        block = arr[:, start : start + _MC_BLOCK].astype(np.float64)
        mean = block.mean(axis=0)
        info = _plogp_sum(block).mean(axis=0) - _plogp_sum(mean)
        # The mean of T equal floats need not equal them: rounding would leave
        # +-1e-16 where the passes agree exactly. Their information is 0.
        info[(block == block[0]).all(axis=(0, 2))] = 0.0
        out[start : start + _MC_BLOCK] = info
    # Information is never negative; clip what rounding leaves below 0.
    return np.maximum(out, 0.0)


def variation_ratios(mc_probs: np.ndarray) -> np.ndarray:
    """Variation ratio ``1 - (votes for the modal class) / T`` over T MC passes.

    Each pass votes for its arg-max class (ties to the lower class index).

    Parameters
    ----------
    mc_probs : array of shape (T, n, K)

    Returns
    -------
    ndarray of float64, shape (n,)
        In ``[0, 1 - 1/K]``; 0 when every pass predicts the same class.
    """
    arr = _as_mc_probs(mc_probs)
    passes, n, k = arr.shape
    votes = arr.argmax(axis=2)  # (T, n)
    flat = (votes + k * np.arange(n)[None, :]).ravel()
    counts = np.bincount(flat, minlength=n * k).reshape(n, k)
    return 1.0 - counts.max(axis=1) / passes


# --------------------------------------------------------------------------- embeddings


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


def _sq_dist_to_nearest(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of each of ``points`` (n, d) to its nearest of ``centers`` (m, d).

    Computed in blocks of centers so memory stays at ``n x 256`` floats.
    """
    best = np.full(points.shape[0], np.inf)
    sq_points = np.einsum("ij,ij->i", points, points)
    for start in range(0, centers.shape[0], 256):
        block = centers[start : start + 256]
        d2 = (
            sq_points[:, None] + np.einsum("ij,ij->i", block, block)[None, :] - 2 * points @ block.T
        )
        np.minimum(best, d2.min(axis=1), out=best)
    return np.maximum(best, 0.0)


def k_center_greedy(
    embeddings: np.ndarray, labeled_embeddings: np.ndarray | None, k: int
) -> np.ndarray:
    """Core-set selection: k-center greedy (farthest-first traversal).

    Repeatedly picks the pool point farthest (Euclidean) from every labeled
    point and every point picked so far, so the batch covers the embedding
    space. With no labeled points the first pick is the point nearest the
    pool's mean. Ties go to the lower index.

    Cost: ``O(n (m + k) d)`` time for n pool rows, m labeled rows, d features
    (one distance pass against the labeled set, then one per pick);
    ``O(n)`` extra memory besides a ``n x 256`` block.

    Parameters
    ----------
    embeddings : array of shape (n, d)
        Pool embeddings.
    labeled_embeddings : array of shape (m, d), or None
        Embeddings of the labeled set (``m`` may be 0).
    k : int
        Points to pick, ``0 <= k <= n``.

    Returns
    -------
    ndarray of int64, shape (k,)
        Row indices into ``embeddings`` in pick order, all distinct.
    """
    pool = _as_embeddings(embeddings)
    k = _as_count(k, "k")
    n = pool.shape[0]
    if k < 0 or k > n:
        raise ConfigError(f"k = {k} is out of range: it must be between 0 and n = {n}")
    if labeled_embeddings is None or len(labeled_embeddings) == 0:
        labeled = np.empty((0, pool.shape[1]))
    else:
        labeled = _as_embeddings(labeled_embeddings, "labeled_embeddings")
        if labeled.shape[1] != pool.shape[1]:
            raise ConfigError(
                f"labeled_embeddings have {labeled.shape[1]} features but embeddings have "
                f"{pool.shape[1]}; take both from the same model"
            )
    picks = np.empty(k, dtype=np.int64)
    if k == 0:
        return picks
    if labeled.shape[0]:
        min_d2 = _sq_dist_to_nearest(pool, labeled)
        first = 0
    else:
        first = 1
        picks[0] = int(np.argmin(_sq_dist_to_nearest(pool, pool.mean(axis=0, keepdims=True))))
        min_d2 = _sq_dist_to_nearest(pool, pool[picks[:1]])
    for i in range(first, k):
        picks[i] = int(np.argmax(min_d2))
        diff = pool - pool[picks[i]]
        np.minimum(min_d2, np.einsum("ij,ij->i", diff, diff), out=min_d2)
    return picks


#: k-means fits its centroids on at most this many rows (a random sample):
#: the centroids of 60k-row pools barely move beyond it, and time stays bounded.
_KMEANS_FIT_ROWS = 10_000


def _kmeans(
    points: np.ndarray, k: int, rng: np.random.Generator, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding: ``(centroids (k, d), labels (n,))``.

    An empty cluster keeps its previous centroid. Stops when no label changes
    or after ``max_iter`` iterations. Memory ``O(n k)`` for the distance matrix.
    Callers with more than ``_KMEANS_FIT_ROWS`` rows pass a sample.
    """
    n = points.shape[0]
    centroids = np.empty((k, points.shape[1]))
    centroids[0] = points[rng.integers(n)]
    d2 = _sq_dist_to_nearest(points, centroids[:1])
    for j in range(1, k):
        total = d2.sum()
        index = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
        centroids[j] = points[index]
        diff = points - centroids[j]
        np.minimum(d2, np.einsum("ij,ij->i", diff, diff), out=d2)
    labels = np.full(n, -1, dtype=np.int64)
    sq_points = np.einsum("ij,ij->i", points, points)
    for _ in range(max_iter):
        dist = (
            sq_points[:, None]
            + np.einsum("ij,ij->i", centroids, centroids)[None, :]
            - 2 * points @ centroids.T
        )
        new = dist.argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        # One-hot (k, n) @ points (n, d): a BLAS product, far faster than np.add.at.
        one_hot = np.zeros((k, n))
        one_hot[labels, np.arange(n)] = 1.0
        sums = one_hot @ points
        counts = np.bincount(labels, minlength=k)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids, labels


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)); got {type(rng)}"
        )
    return rng


def kmeans_sample(embeddings: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster sampling: k-means into ``k`` clusters, then the image nearest each centroid.

    The centroids are fitted on a random sample of at most 10,000 rows (the
    nearest images are then searched in the whole pool). Representative picks
    (one per region of the pool); also the cold-start
    seeding of a labeling session, where there is no model yet (pass pixels
    flattened to ``(n, H*W*C)`` as the embeddings). Deterministic given ``rng``.

    Parameters
    ----------
    embeddings : array of shape (n, d)
    k : int
        Clusters and picks, ``0 <= k <= n``.
    rng : numpy.random.Generator
        Seeds k-means++.

    Returns
    -------
    ndarray of int64, shape (k,)
        Distinct row indices, one per cluster in cluster order. When two
        centroids share a nearest image, the later one takes its next nearest.
    """
    pool = _as_embeddings(embeddings)
    k = _as_count(k, "k")
    n = pool.shape[0]
    if k < 0 or k > n:
        raise ConfigError(f"k = {k} is out of range: it must be between 0 and n = {n}")
    _check_rng(rng)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    fit_rows = pool
    if n > max(_KMEANS_FIT_ROWS, k):
        fit_rows = pool[np.sort(rng.choice(n, size=_KMEANS_FIT_ROWS, replace=False))]
    centroids, _ = _kmeans(fit_rows, k, rng)
    dist = (
        np.einsum("ij,ij->i", pool, pool)[:, None]
        + np.einsum("ij,ij->i", centroids, centroids)[None, :]
        - 2 * pool @ centroids.T
    )
    picks = np.empty(k, dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    for j in range(k):
        column = np.where(taken, np.inf, dist[:, j])
        picks[j] = int(np.argmin(column))
        taken[picks[j]] = True
    return picks


def density_weighted(scores: np.ndarray, embeddings: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """Information density: ``score x density^beta`` (Settles & Craven).

    The density of a row is its mean cosine similarity to every pool row
    (itself included), clipped at 0; it is computed exactly in ``O(n d)`` as the
    dot product of the unit-normalised row with the mean unit vector. Outliers
    (low density) are pushed down, typical uncertain images up.

    Parameters
    ----------
    scores : array of shape (n,)
        Non-negative uncertainty scores (higher = more uncertain).
    embeddings : array of shape (n, d)
    beta : float
        Weight of density, ``>= 0`` (0 gives back ``scores``).

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    s = np.asarray(scores, dtype=np.float64)
    pool = _as_embeddings(embeddings)
    if s.ndim != 1 or s.shape[0] != pool.shape[0]:
        raise ConfigError(
            f"scores must be 1-D with one value per embedding row ({pool.shape[0]}); "
            f"got shape {s.shape}"
        )
    if not np.isfinite(s).all() or (s < 0).any():
        raise ConfigError("scores must be finite and non-negative (higher = more uncertain)")
    try:
        beta = float(beta)
    except (TypeError, ValueError):
        raise ConfigError(f"beta must be a number >= 0; got {beta!r}") from None
    if not beta >= 0:
        raise ConfigError(f"beta = {beta!r} is out of range: it must be >= 0")
    norms = np.linalg.norm(pool, axis=1, keepdims=True)
    unit = np.divide(pool, norms, out=np.zeros_like(pool), where=norms > 0)
    density = np.clip(unit @ unit.mean(axis=0), 0.0, 1.0)
    return s * density**beta


HYBRID_METHODS: tuple[str, ...] = ("kcenter", "cluster")


def hybrid(
    scores: np.ndarray,
    embeddings: np.ndarray,
    k: int,
    top_m: int,
    method: str = "kcenter",
    *,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Uncertain *and* diverse: the top-``m`` by score, then ``k`` diverse ones among them.

    ``kcenter``: start from the most uncertain row, then farthest-first among
    the top-m (see :func:`k_center_greedy`). ``cluster``: k-means of the top-m
    into ``k`` clusters, then round-robin over the clusters (ordered by their
    best score), each giving its most uncertain remaining row. Either way a
    batch does not spend itself on near-duplicates of one weakness.

    Parameters
    ----------
    scores : array of shape (n,)
        Uncertainty scores, higher = more uncertain.
    embeddings : array of shape (n, d)
    k : int
        Batch size, ``0 <= k <= n``.
    top_m : int
        Size of the uncertain short-list; raised to ``k`` if smaller, capped at ``n``.
    method : {"kcenter", "cluster"}
    rng : numpy.random.Generator
        Seeds k-means; required for ``"cluster"``.

    Returns
    -------
    ndarray of int64, shape (k,)
        Distinct row indices into ``scores``, in pick order.
    """
    pool = _as_embeddings(embeddings)
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] != pool.shape[0]:
        raise ConfigError(
            f"scores must be 1-D with one value per embedding row ({pool.shape[0]}); "
            f"got shape {s.shape}"
        )
    if method not in HYBRID_METHODS:
        raise ConfigError(
            f"unknown hybrid method {method!r}; choose one of: {', '.join(HYBRID_METHODS)}"
        )
    k = _as_count(k, "k")
    top_m = _as_count(top_m, "top_m")
    n = s.shape[0]
    if k < 0 or k > n:
        raise ConfigError(f"k = {k} is out of range: it must be between 0 and n = {n}")
    if top_m < 1:
        raise ConfigError(f"top_m = {top_m} is out of range: it must be >= 1")
    if k == 0:
        return np.empty(0, dtype=np.int64)
    short = top_k(s, min(max(top_m, k), n))  # highest score first
    points = pool[short]
    if method == "kcenter":
        rest = k_center_greedy(points, points[:1], k - 1)
        return short[np.concatenate([[0], rest])].astype(np.int64)
    _, labels = _kmeans(points, k, _check_rng(rng))
    # Round-robin: the r-th best of every cluster comes before any (r+1)-th;
    # within a turn, clusters go by their best row's position in ``short``
    # (which is best-first, so position = rank by score).
    positions = np.arange(short.size)
    grouped = np.lexsort((positions, labels))
    grouped_labels = labels[grouped]
    rank_in_cluster = np.empty(short.size, dtype=np.int64)
    rank_in_cluster[grouped] = positions - np.searchsorted(grouped_labels, grouped_labels)
    best_position = np.full(k, short.size)
    np.minimum.at(best_position, labels, positions)
    order = np.lexsort((best_position[labels], rank_in_cluster))
    return short[order[:k]].astype(np.int64)


SCORERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "least_confidence": least_confidence,
    "margin": margin,
    "ratio": ratio,
    "entropy": entropy,
}
"""Uncertainty scorers by name; each maps ``(n, k)`` probabilities to ``(n,)`` scores."""

MC_SCORERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "bald": bald,
    "variation_ratios": variation_ratios,
}
"""Monte-Carlo dropout scorers by name; each maps ``(T, n, K)`` samples to ``(n,)`` scores."""

BASE_SCORES: tuple[str, ...] = (*SCORERS, *MC_SCORERS)
"""Per-row scores the combined strategies (density-weighted, hybrid) build on."""

#: Strategies that pick by embeddings; hybrid ones short-list by a base score first.
_EMBEDDING_STRATEGIES: tuple[str, ...] = (
    "density_weighted",
    "kcenter",
    "kmeans",
    "hybrid",
    "hybrid_cluster",
)

STRATEGIES: tuple[str, ...] = (*SCORERS, *MC_SCORERS, *_EMBEDDING_STRATEGIES, "random")
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
    if key not in SCORERS:
        raise ConfigError(
            f"strategy {key!r} has no uncertainty score of probabilities alone; "
            f"scored strategies: {', '.join(SCORERS)}"
        )
    return SCORERS[key](probs)


def inputs_needed(strategy: str, base_score: str = "margin") -> frozenset[str]:
    """What :func:`select_batch` needs to pick by ``strategy``.

    Returns
    -------
    frozenset of {"probs", "mc_probs", "embeddings", "labeled_embeddings"}
        Empty for ``"random"``. The combined strategies (``density_weighted``,
        ``hybrid``, ``hybrid_cluster``) add what ``base_score`` needs.
    """
    key = normalize_strategy(strategy)
    if key in SCORERS:
        return frozenset({"probs"})
    if key in MC_SCORERS:
        return frozenset({"mc_probs"})
    if key == "kcenter":
        return frozenset({"embeddings", "labeled_embeddings"})
    if key == "kmeans":
        return frozenset({"embeddings"})
    if key == "random":
        return frozenset()
    return inputs_needed(check_base_score(base_score)) | {"embeddings"}


def check_base_score(name: str) -> str:
    """Canonical name of a per-row base score (:data:`BASE_SCORES`), or :class:`ConfigError`."""
    key = normalize_strategy(name)
    if key not in BASE_SCORES:
        raise ConfigError(
            f"base score {name!r} is not a per-row score; choose one of: {', '.join(BASE_SCORES)}"
        )
    return key


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


#: Default short-list of the hybrid strategies: this many times the uncertainty picks.
HYBRID_TOP_M_FACTOR = 10

_INPUT_WORDS = {
    "probs": "probabilities (probs)",
    "mc_probs": "Monte-Carlo dropout samples (mc_probs, from Classifier.predict_mc)",
    "embeddings": "embeddings (from Classifier.embed)",
}


def _row_scores(key: str, probs: np.ndarray | None, mc_probs: np.ndarray | None) -> np.ndarray:
    """Per-row scores of a base score ``key`` (a name in :data:`BASE_SCORES`), shape (n,)."""
    if key in SCORERS:
        return SCORERS[key](probs)
    return MC_SCORERS[key](mc_probs)


def select_batch(
    probs_or_none: np.ndarray | None,
    batch_size: int,
    *,
    strategy: str,
    fraction: float,
    rng: np.random.Generator,
    candidates: np.ndarray | None = None,
    mc_probs: np.ndarray | None = None,
    embeddings: np.ndarray | None = None,
    labeled_embeddings: np.ndarray | None = None,
    base_score: str = "margin",
    top_m: int | None = None,
    density_beta: float = 1.0,
) -> Selection:
    """Choose a batch: ``n_unc`` rows picked by the strategy plus the rest at random.

    ``n_unc = floor(fraction * batch_size + 0.5)`` rows come from ``strategy``:
    the highest-scoring rows for a scored strategy (ties to the lower row
    index), or the strategy's own batch choice for ``kcenter``, ``kmeans`` and
    the hybrids; the remaining ``batch_size - n_unc`` are drawn uniformly
    without replacement from the rows not already picked. See the module
    docstring for the protocol and what each strategy needs.

    Parameters
    ----------
    probs_or_none : array of shape (n, k), or None
        Predicted class probabilities of the pool. Any input may be None when
        the strategy does not need it, and every input when ``n_unc == 0``
        (e.g. ``fraction=0``: the caller can skip predicting on the pool); then
        ``candidates`` must say which rows exist and ``scores`` is NaN.
    batch_size : int
        Rows to select, ``1 <= batch_size <=`` number of rows available.
    strategy : str
        One of :data:`STRATEGIES` (hyphens or underscores accepted).
    fraction : float
        Uncertainty fraction ``u`` in ``[0, 1]``.
    rng : numpy.random.Generator
        Source of randomness for the random part and for k-means; consumed
        only when needed.
    candidates : array of shape (m,) of int, or bool mask of shape (n,), optional
        Restrict the choice to these rows (e.g. the unlabeled pool). Order does
        not matter (they are sorted). Returned indices are row indices into
        the inputs, i.e. values of ``candidates``.
    mc_probs : array of shape (T, n, k), optional
        Monte-Carlo dropout samples (``bald``, ``variation_ratios``, or a base
        score of those).
    embeddings : array of shape (n, d), optional
        Penultimate-layer features of the pool rows.
    labeled_embeddings : array of shape (m, d), optional
        Features of the labeled set (``kcenter`` measures distance from them).
    base_score : str
        Per-row score that ``density_weighted`` and the hybrids build on, one
        of :data:`BASE_SCORES`.
    top_m : int, optional
        Short-list size of the hybrids; default ``HYBRID_TOP_M_FACTOR * n_unc``.
    density_beta : float
        Exponent of the density in ``density_weighted``.

    Returns
    -------
    Selection
        ``scores`` holds each selected row's score under the strategy (the
        base score for the hybrids, the weighted score for
        ``density_weighted``); NaN for ``random``, ``kcenter`` and ``kmeans``,
        which rank no rows.

    Raises
    ------
    ConfigError
        ``fraction`` outside ``[0, 1]``, ``batch_size < 1`` or larger than the
        rows available, unknown strategy or base score, a needed input missing
        or invalid, inputs with different row counts, bad ``candidates``.
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
    _check_rng(rng)
    base = check_base_score(base_score)
    if top_m is not None and _as_count(top_m, "top_m") < 1:
        raise ConfigError(f"top_m = {top_m} is out of range: it must be >= 1")

    n_unc = 0 if key == "random" else n_uncertain_for(frac, batch_size)

    inputs = {
        "probs": None if probs_or_none is None else _as_probs(probs_or_none),
        "mc_probs": None if mc_probs is None else _as_mc_probs(mc_probs),
        "embeddings": None if embeddings is None else _as_embeddings(embeddings),
    }
    row_counts = {
        name: (arr.shape[1] if name == "mc_probs" else arr.shape[0])
        for name, arr in inputs.items()
        if arr is not None
    }
    if len(set(row_counts.values())) > 1:
        raise ConfigError(
            "the inputs disagree on the number of pool rows: "
            + ", ".join(f"{name} has {n}" for name, n in row_counts.items())
        )
    missing = [
        name
        for name in ("probs", "mc_probs", "embeddings")
        if name in inputs_needed(key, base) and inputs[name] is None
    ]
    if n_unc > 0 and missing:
        raise ConfigError(
            f"strategy {key!r} with fraction {frac} needs "
            + " and ".join(_INPUT_WORDS[name] for name in missing)
            + f"; {missing[0]} is None"
        )
    n_rows = next(iter(row_counts.values()), None)
    if n_rows is None:
        if candidates is None:
            raise ConfigError("no inputs given: pass candidates (the row indices to draw from)")
        rows = _candidates(candidates, None)
    else:
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

    def sub(name: str) -> np.ndarray | None:
        arr = inputs[name]
        if arr is None or candidates is None:
            return arr
        return arr[:, rows] if name == "mc_probs" else arr[rows]

    # Scores of the candidate rows (None when the strategy ranks no rows or
    # its inputs were not given).
    cand_scores = None
    if key != "random" and not missing and key not in ("kcenter", "kmeans"):
        cand_scores = _row_scores(
            key if key in BASE_SCORES else base, sub("probs"), sub("mc_probs")
        )
        if key == "density_weighted":
            cand_scores = density_weighted(cand_scores, sub("embeddings"), density_beta)

    if n_unc == 0:
        local_unc = np.empty(0, np.int64)
    elif key == "kcenter":
        local_unc = k_center_greedy(sub("embeddings"), labeled_embeddings, n_unc)
    elif key == "kmeans":
        local_unc = kmeans_sample(sub("embeddings"), n_unc, rng)
    elif key in ("hybrid", "hybrid_cluster"):
        local_unc = hybrid(
            cand_scores,
            sub("embeddings"),
            n_unc,
            top_m if top_m is not None else HYBRID_TOP_M_FACTOR * n_unc,
            "kcenter" if key == "hybrid" else "cluster",
            rng=rng,
        )
    else:
        local_unc = top_k(cand_scores, n_unc)
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
