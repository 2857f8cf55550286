"""Cold start: typical images that cover the pool (TypiClust), and pool features
that need no labels.

With a few dozen labels a model's uncertainty is mostly about its own outliers,
and uncertainty sampling trails random there. The low-budget remedy (Hacohen,
Dekel & Weinshall 2022, "Active learning on a budget") is the opposite: label
*typical* images, one from each region of the pool that holds no label yet.
:func:`typiclust` does that; :func:`pixel_features` gives it features of the pool
before any model is worth asking (PCA of the pixels).
"""

from __future__ import annotations

import numpy as np

from al_core.errors import ConfigError
from al_core.strategies._checks import _as_count, _as_embeddings, _check_rng
from al_core.strategies.diversity import _KMEANS_FIT_ROWS, _kmeans

TYPICALITY_NEIGHBOURS = 20
"""k of the typicality: the inverse mean distance to a point's k nearest neighbours
(the paper's value)."""

MAX_CLUSTERS = 500
"""Clusters are labeled + batch, at most this many (as the paper caps them): past it
the batch is spread over the least-covered of a fixed number of regions."""

MIN_CLUSTER_SIZE = 5
"""Clusters smaller than this are taken only when no larger one is free: a tiny
cluster is an outlier group, not a region worth a label (the paper's rule)."""

PIXEL_COMPONENTS = 50
"""Principal components of :func:`pixel_features` (50 keep ~80 % of MNIST's variance)."""

_NEIGHBOUR_REFERENCE_ROWS = 5_000
"""Typicality inside a cluster is measured against at most this many of its rows (a
random sample), which bounds the cost on pools whose clusters are huge (few labels,
60k images)."""


def pixel_features(
    images: np.ndarray, n_components: int = PIXEL_COMPONENTS, *, seed: int = 0
) -> np.ndarray:
    """Features of a pool that need no labels and no model: PCA of the pixels.

    The components are fitted on at most 10,000 images (a random sample drawn
    from ``seed``); every image is then projected. Deterministic given ``seed``.

    Parameters
    ----------
    images : array of shape (n, ...)
        The pool's images (any shape per image, e.g. (n, H, W, C)); flattened.
    n_components : int
        Components kept; lowered to ``min(n, H*W*C)`` when larger.
    seed : int
        Seeds the fitting sample and the randomized SVD.

    Returns
    -------
    ndarray of float32, shape (n, min(n_components, n, H*W*C))

    Raises
    ------
    ConfigError
        Fewer than 2 images, images with no pixels, or NaN / infinite pixels: the
        message says which, and what to fix.
    """
    from sklearn.decomposition import PCA  # scikit-learn is imported only when needed

    pixels = np.asarray(images)
    if pixels.ndim < 2 or pixels.shape[0] < 2:
        raise ConfigError(
            f"pixel features need at least 2 images of at least 1 pixel; got an array of "
            f"shape {pixels.shape}. Use a larger pool."
        )
    flat = pixels.reshape(pixels.shape[0], -1).astype(np.float32, copy=False)
    if flat.shape[1] == 0:
        raise ConfigError(f"pixel features: the images have no pixels (shape {pixels.shape})")
    if not np.isfinite(flat).all():
        bad = int(np.count_nonzero(~np.isfinite(flat).all(axis=1)))
        raise ConfigError(
            f"pixel features cannot be computed: {bad} image(s) hold NaN or infinite pixel "
            "values; fix or remove those images"
        )
    n_components = _as_count(n_components, "n_components")
    if n_components < 1:
        raise ConfigError(f"n_components = {n_components} is out of range: it must be >= 1")
    rng = np.random.default_rng(seed)
    fit = flat
    if flat.shape[0] > _KMEANS_FIT_ROWS:
        fit = flat[np.sort(rng.choice(flat.shape[0], size=_KMEANS_FIT_ROWS, replace=False))]
    components = min(n_components, fit.shape[0], fit.shape[1])
    pca = PCA(n_components=components, svd_solver="randomized", random_state=seed).fit(fit)
    return pca.transform(flat).astype(np.float32)


def typicality(points: np.ndarray, neighbours: int = TYPICALITY_NEIGHBOURS) -> np.ndarray:
    """Typicality of each point: 1 / (mean Euclidean distance to its k nearest others).

    Dense regions score high, outliers low. ``k = min(neighbours, n - 1)``; a single
    point has typicality 1 by convention. Against at most 5,000 reference rows (an
    evenly spaced subset) when there are more, so the cost stays ``O(n * 5000 * d)``.

    Parameters
    ----------
    points : array of shape (n, d)
    neighbours : int
        k, at least 1.

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    pts = _as_embeddings(points, "points")
    neighbours = _as_count(neighbours, "neighbours")
    if neighbours < 1:
        raise ConfigError(f"neighbours = {neighbours} is out of range: it must be >= 1")
    n = pts.shape[0]
    if n <= 1:
        return np.ones(n)
    reference = np.arange(n)
    if n > _NEIGHBOUR_REFERENCE_ROWS:
        reference = np.linspace(0, n - 1, _NEIGHBOUR_REFERENCE_ROWS).astype(np.int64)
    ref = pts[reference]
    k = min(neighbours, len(reference) - 1)
    sq_ref = np.einsum("ij,ij->i", ref, ref)
    result = np.empty(n)
    for start in range(0, n, 512):
        block = pts[start : start + 512]
        d2 = np.einsum("ij,ij->i", block, block)[:, None] + sq_ref[None, :] - 2 * block @ ref.T
        np.maximum(d2, 0.0, out=d2)
        # A point is not its own neighbour: its column (when it is a reference row) is masked.
        rows = np.arange(start, start + len(block))
        own = np.searchsorted(reference, rows)
        is_ref = (own < len(reference)) & (reference[np.minimum(own, len(reference) - 1)] == rows)
        d2[np.flatnonzero(is_ref), own[is_ref]] = np.inf
        nearest = np.partition(d2, k - 1, axis=1)[:, :k]
        mean_distance = np.sqrt(nearest).mean(axis=1)
        result[start : start + len(block)] = 1.0 / np.maximum(mean_distance, 1e-12)
    return result


def _nearest_centroid(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of each point's nearest centroid, (n,) int64, in blocks of 4,096 points."""
    sq_c = np.einsum("ij,ij->i", centroids, centroids)
    labels = np.empty(points.shape[0], dtype=np.int64)
    for start in range(0, points.shape[0], 4096):
        block = points[start : start + 4096]
        labels[start : start + len(block)] = (sq_c[None, :] - 2 * block @ centroids.T).argmin(
            axis=1
        )
    return labels


def typiclust(
    features: np.ndarray,
    labeled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    max_clusters: int = MAX_CLUSTERS,
    neighbours: int = TYPICALITY_NEIGHBOURS,
) -> np.ndarray:
    """TypiClust: the most typical image of each of the largest regions holding no label.

    Clusters every row (labeled and not) by k-means into ``min(m + k, max_clusters)``
    clusters, ``m`` the labeled rows. Then ``k`` times: among the clusters with an
    unlabeled row, take the one with the fewest labels (picks count as labels),
    then the largest (clusters under :data:`MIN_CLUSTER_SIZE` rows only when no
    other is left), then the lowest index; pick its unlabeled row of highest
    :func:`typicality` within the cluster. So the first picks cover the pool's
    regions, densest point first, and no region gets a second label before every
    region of size >= 5 has one. Deterministic given ``rng`` (it seeds k-means).

    Parameters
    ----------
    features : array of shape (n, d)
        Features of every row: :func:`pixel_features` before a model is worth
        asking, a trained model's embeddings after.
    labeled : bool array of shape (n,), or int array of labeled row indices
        Rows that already hold a label (never picked; they count in coverage).
    k : int
        Rows to pick, ``0 <= k <=`` unlabeled rows.
    rng : numpy.random.Generator
    max_clusters : int
        Upper bound on the cluster count (>= 1).
    neighbours : int
        k of the typicality.

    Returns
    -------
    ndarray of int64, shape (k,)
        Distinct unlabeled row indices, in pick order.

    Raises
    ------
    ConfigError
        ``k`` larger than the unlabeled rows, a cluster count larger than the rows,
        invalid features or labeled rows.
    """
    points = _as_embeddings(features, "features")
    n = points.shape[0]
    k = _as_count(k, "k")
    max_clusters = _as_count(max_clusters, "max_clusters")
    _check_rng(rng)
    if max_clusters < 1:
        raise ConfigError(f"max_clusters = {max_clusters} is out of range: it must be >= 1")
    is_labeled = _labeled_mask(labeled, n)
    free = n - int(is_labeled.sum())
    if k < 0 or k > free:
        raise ConfigError(
            f"k = {k} is out of range: it must be between 0 and the {free} unlabeled rows"
        )
    if k == 0:
        return np.empty(0, dtype=np.int64)
    n_clusters = min(int(is_labeled.sum()) + k, max_clusters)
    if n_clusters > n:  # cannot happen with k <= free, kept for a clear message
        raise ConfigError(f"{n_clusters} clusters asked of {n} rows; lower the batch")
    fit = points
    if n > _KMEANS_FIT_ROWS:
        fit = points[np.sort(rng.choice(n, size=_KMEANS_FIT_ROWS, replace=False))]
    centroids, _ = _kmeans(fit, min(n_clusters, fit.shape[0]), rng)
    cluster = _nearest_centroid(points, centroids)
    count = len(centroids)
    sizes = np.bincount(cluster, minlength=count)
    covered = np.bincount(cluster[is_labeled], minlength=count)
    free_rows = np.bincount(cluster[~is_labeled], minlength=count)
    taken = is_labeled.copy()
    picks = np.empty(k, dtype=np.int64)
    typical: dict[int, np.ndarray] = {}  # cluster -> typicality of its rows, computed once
    for j in range(k):
        open_ = free_rows > 0
        if (open_ & (sizes >= MIN_CLUSTER_SIZE)).any():
            open_ &= sizes >= MIN_CLUSTER_SIZE
        candidates = np.flatnonzero(open_)
        # Fewest labels first, then the largest cluster, then the lowest index.
        order = np.lexsort((candidates, -sizes[candidates], covered[candidates]))
        chosen = int(candidates[order[0]])
        members = np.flatnonzero(cluster == chosen)
        if chosen not in typical:
            typical[chosen] = typicality(points[members], neighbours)
        scores = np.where(taken[members], -np.inf, typical[chosen])
        picks[j] = int(members[int(np.argmax(scores))])
        taken[picks[j]] = True
        covered[chosen] += 1
        free_rows[chosen] -= 1
    return picks


def _labeled_mask(labeled: np.ndarray, n: int) -> np.ndarray:
    """``labeled`` (a bool mask of n rows, or row indices) as a bool mask (n,)."""
    arr = np.asarray(labeled)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ConfigError(f"labeled mask has shape {arr.shape}; expected ({n},)")
        return arr.copy()
    if arr.size == 0:
        return np.zeros(n, dtype=bool)
    if not np.issubdtype(arr.dtype, np.integer) or arr.ndim != 1:
        raise ConfigError("labeled must be a bool mask or a 1-D array of row indices")
    if arr.min() < 0 or arr.max() >= n:
        raise ConfigError(f"labeled row indices must lie in [0, {n}); got {arr.min()}..{arr.max()}")
    mask = np.zeros(n, dtype=bool)
    mask[arr] = True
    return mask
