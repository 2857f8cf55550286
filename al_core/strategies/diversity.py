"""Strategies over embeddings: core-set (k-center), k-means, density, hybrids."""

from __future__ import annotations

import numpy as np

from al_core.errors import ConfigError
from al_core.strategies._checks import _as_count, _as_embeddings, _check_rng
from al_core.strategies.scores import top_k


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
