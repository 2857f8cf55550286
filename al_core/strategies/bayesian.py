"""Monte-Carlo dropout strategies: BALD, variation ratios, BatchBALD.

Each takes ``mc_probs`` (T, n, K): T stochastic passes, each read as one network
``w_t`` drawn from the dropout posterior. That reading needs *consistent* MC dropout,
one dropout mask per pass shared by every row (:meth:`al_core.models.Classifier.
predict_mc`, :mod:`al_core.mc_dropout`): with a mask per row, BatchBALD's product
``prod_i p(y_i | x_i, w_t)`` would multiply predictions of different networks, and
two copies of one image would look independent.
"""

from __future__ import annotations

import numpy as np

from al_core.errors import ConfigError
from al_core.strategies._checks import _as_count, _as_mc_probs, _check_rng

#: Rows per block when reducing (T, n, K) Monte-Carlo samples: bounds the float64
#: working copy to T x 16384 x K values.
_MC_BLOCK = 16384


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
        Softmax outputs of T stochastic forward passes (dropout on), pass t one
        network for every row (consistent MC dropout): exact copies score the same.

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


# --------------------------------------------------------------------------- BatchBALD

#: Class configurations of the batch's labels that the joint entropy runs over: exact
#: enumeration while ``K ** picks`` stays within it, then this many sampled ones
#: (rounded up to a multiple of the number of MC passes).
BATCHBALD_CONFIGURATIONS = 1000
#: Working memory BatchBALD may use beyond its input (bytes); larger settings are refused.
BATCHBALD_MEMORY_BOUND = 512 * 2**20
#: Candidates' gains are computed in chunks whose buffers stay within this many bytes.
_GAIN_BLOCK_BYTES = 32 * 2**20


def batchbald_configurations(
    mc_samples: int, picks: int, n_classes: int, max_configurations: int = BATCHBALD_CONFIGURATIONS
) -> tuple[int, bool]:
    """``(M, exact)``: configurations the estimate conditions on after ``picks`` picks.

    Exact (every one of the ``K ** picks`` label configurations) while that is at most
    ``max_configurations``; beyond, ``ceil(max_configurations / T) * T`` sampled ones.
    """
    if picks == 0:
        return 1, True
    if n_classes**picks <= max_configurations:
        return n_classes**picks, True
    return -(-max_configurations // mc_samples) * mc_samples, False


def batchbald_memory_bytes(
    mc_samples: int,
    batch_size: int,
    n_classes: int | None = None,
    max_configurations: int = BATCHBALD_CONFIGURATIONS,
) -> int:
    """Peak working memory of :func:`batchbald` in bytes, beyond its input.

    ``16 T M`` for the log-probabilities and weights of ``M`` label configurations under
    each of the ``T`` passes, plus the gain chunk buffers: ``max(32 MiB, 8 K (2 M + T))``.
    ``M`` is the configuration count of the last pick (:func:`batchbald_configurations`
    with ``batch_size - 1`` picks made). With ``n_classes`` unknown, ``M`` is its
    largest value for any class count and the chunk term is 32 MiB. The input itself is
    ``(T, n, K)`` float32 (``4 T n K`` bytes, held by the caller, as for BALD) and a few
    ``(n,)`` float64 score vectors come on top.
    """
    if batch_size <= 1:
        configs = 1
    elif n_classes is None:
        configs = max(max_configurations, batchbald_configurations(mc_samples, 2, 2**20)[0])
    else:
        configs = batchbald_configurations(
            mc_samples, batch_size - 1, n_classes, max_configurations
        )[0]
    chunk = _GAIN_BLOCK_BYTES
    if n_classes is not None:
        chunk = max(chunk, 8 * n_classes * (2 * configs + mc_samples))
    return 16 * mc_samples * configs + chunk


def batchbald_max_mc_samples(
    batch_size: int,
    n_classes: int | None = None,
    bound: int = BATCHBALD_MEMORY_BOUND,
    max_configurations: int = BATCHBALD_CONFIGURATIONS,
) -> int:
    """Largest MC sample count whose :func:`batchbald_memory_bytes` fits ``bound`` (0: none)."""
    low, high = 0, 1
    while batchbald_memory_bytes(high, batch_size, n_classes, max_configurations) <= bound:
        low, high = high, high * 2
        if high > 2**40:
            return low
    while high - low > 1:
        mid = (low + high) // 2
        fits = batchbald_memory_bytes(mid, batch_size, n_classes, max_configurations) <= bound
        low, high = (mid, high) if fits else (low, mid)
    return low


def check_batchbald_memory(
    mc_samples: int,
    batch_size: int,
    n_classes: int | None = None,
    bound: int = BATCHBALD_MEMORY_BOUND,
    max_configurations: int = BATCHBALD_CONFIGURATIONS,
) -> None:
    """Refuse settings whose BatchBALD working memory would exceed ``bound``.

    Raises
    ------
    ConfigError
        Naming the memory needed, the bound and the largest MC sample count that fits.
    """
    need = batchbald_memory_bytes(mc_samples, batch_size, n_classes, max_configurations)
    if need <= bound:
        return
    fits = batchbald_max_mc_samples(batch_size, n_classes, bound, max_configurations)
    fix = (
        f"use at most {fits} MC samples (--mc-samples {min(fits, 20)} is the usual setting)"
        if fits
        else "lower the batch size"
    )
    raise ConfigError(
        f"batchbald with {mc_samples} MC samples and a batch of {batch_size} needs about "
        f"{need / 2**20:,.0f} MiB for its joint-entropy estimate, above its bound of "
        f"{bound / 2**20:,.0f} MiB; {fix}"
    )


def _log(p: np.ndarray) -> np.ndarray:
    """Natural log with ``log 0 = -inf`` and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(p)


def _sample_classes(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class per row of ``probs`` (m, K), drawn by inverse CDF: int64 (m,)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), probs.shape[1] - 1).astype(np.int64)


def _conditional_entropies(weights: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``H(y_i | y_A)`` for each candidate of a chunk.

    ``weights`` (T, M): joint weight of configuration m and pass t, columns summing
    to the configuration's probability (exact) or 1/M (sampled). ``probs`` (T, c, K),
    float32 or float64: the products and logs run in that precision (float32 is
    about 3x faster; its error on a gain is about 1e-5 nats), the sums over
    configurations in float64. Returns (c,) float64:
    ``sum_m [-sum_y R log R + s_m log s_m]`` with ``R[m, y] = sum_t weights[t, m]
    p[t, i, y]`` and ``s_m = sum_y R[m, y]``.
    """
    passes, count, classes = probs.shape
    weights = weights.astype(probs.dtype, copy=False)
    joint = (weights.T @ probs.reshape(passes, count * classes)).reshape(-1, count, classes)
    rows = joint.sum(axis=2)[:, :, None]  # (M, c, 1): each configuration's probability
    return _plogp_sum(rows).sum(axis=0, dtype=np.float64) - _plogp_sum(joint).sum(
        axis=0, dtype=np.float64
    )


def batchbald(
    mc_probs: np.ndarray,
    k: int,
    *,
    rng: np.random.Generator,
    max_configurations: int = BATCHBALD_CONFIGURATIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """BatchBALD (Kirsch, van Amersfoort & Gal, 2019): greedy joint mutual information.

    Picks ``k`` rows one at a time, each maximising the gain in the *joint* mutual
    information between the batch's labels and the model weights,
    ``I(y_A, y_i; w) - I(y_A; w) = H(y_i | y_A) - mean_t H(p_t(y_i))``, where the
    weights' posterior is represented by the T Monte-Carlo dropout passes (labels are
    independent given a pass). A row whose label the batch already predicts (a
    near-copy of a pick) gains little, so the batch spreads out where BALD top-k
    would take the same weakness k times. The first pick is BALD's top row; a batch
    of 1 is BALD.

    Estimator of ``H(y_i | y_A)``: a sum over label configurations ``c`` of the
    picks so far, ``sum_c p(c) H(y_i | c)`` with ``p(c, y_i) = mean_t prod p_t``.
    Exact -- every one of the ``K ** |A|`` configurations -- while that number is
    at most ``max_configurations`` (K = 10: the first 4 picks); beyond, ``M =
    ceil(max_configurations / T) * T`` configurations sampled from ``p(y_A)``,
    ``M / T`` from each pass (stratified; each extended by one class per new pick,
    drawn from its own pass), weighted by their posterior over the passes. The same
    configurations serve every candidate of a step, so candidates are compared on
    common samples. Probabilities are kept as logs, so long batches do not underflow.

    The joint MI is submodular (the paper's Lemma 1), so a candidate's gain can only
    shrink as the batch grows: each step evaluates candidates in chunks in order of
    their last gain (lazy greedy, Minoux 1978) and stops once the best fresh gain is
    at least every stale one. With the exact estimator that gives the same picks as
    evaluating every candidate; with the sampled one, up to the estimate's noise.

    Precision: log-weights in float64; the candidates' joint probabilities and their
    logs in the input's precision (float32 from a Keras model: about 3x faster than
    float64, errors of about 1e-5 nats on a gain).

    Memory bound: beyond the input, ``16 T M + max(32 MiB, 8 K (2 M + T))`` bytes
    (:func:`batchbald_memory_bytes`); settings above :data:`BATCHBALD_MEMORY_BOUND`
    (512 MiB) are refused. Time per step: ``O(M T K)`` per evaluated candidate.

    A copy of a picked row gains ``I(y_copy; w | y_pick)``: its label is a second,
    independent draw from the same T networks, so it gains almost nothing when the
    passes are each confident (they disagree only about which class), and up to
    about half its first gain when they are soft (measured on a 40-label digits
    CNN, ``tests/test_mc_dropout.py``). Either way only consistent MC dropout lets
    the joint score see the copy at all.

    Parameters
    ----------
    mc_probs : array of shape (T, n, K)
        Softmax outputs of T stochastic forward passes (dropout on), pass t one
        network for every row (consistent MC dropout, ``Classifier.predict_mc``).
    k : int
        Rows to pick, ``0 <= k <= n``.
    rng : numpy.random.Generator
        Draws the sampled configurations (consumed only beyond the exact picks).
    max_configurations : int
        The exact / sampled switch and the sample count (default 1,000).

    Returns
    -------
    picks : ndarray of int64, shape (k,)
        Distinct row indices in pick order.
    gains : ndarray of float64, shape (k,)
        Each pick's gain in joint mutual information (nats) when it was picked;
        their sum estimates the batch's joint mutual information. ``gains[0]`` is
        the first pick's BALD score.
    """
    arr = _as_mc_probs(mc_probs)
    passes, n, classes = arr.shape
    k = _as_count(k, "k")
    if k < 0 or k > n:
        raise ConfigError(f"k = {k} is out of range: it must be between 0 and n = {n}")
    max_configurations = _as_count(max_configurations, "max_configurations")
    if max_configurations < 1:
        raise ConfigError(f"max_configurations must be >= 1; got {max_configurations}")
    _check_rng(rng)
    check_batchbald_memory(passes, k, classes, max_configurations=max_configurations)
    picks = np.empty(k, dtype=np.int64)
    gains = np.empty(k, dtype=np.float64)
    if k == 0:
        return picks, gains
    # Expected conditional entropy mean_t H(p_t(y_i)) of every row, and BALD.
    expected_h = np.empty(n, dtype=np.float64)
    for start in range(0, n, _MC_BLOCK):
        block = arr[:, start : start + _MC_BLOCK].astype(np.float64)
        expected_h[start : start + _MC_BLOCK] = -_plogp_sum(block).mean(axis=0)
    bounds = bald(arr)  # the gain given an empty batch; an upper bound from then on
    available = np.ones(n, dtype=bool)

    picks[0] = int(np.argmax(bounds))  # first of the maxima: ties to the lower index
    gains[0] = bounds[picks[0]]
    available[picks[0]] = False
    log_joint = np.zeros((passes, 1))  # (T, M): log prod_a p_t(y_a = c_a) per configuration
    sampled_from: np.ndarray | None = None  # (M,) pass each sampled configuration came from
    for step in range(1, k):
        newest = arr[:, picks[step - 1], :].astype(np.float64)  # (T, K)
        configs, exact = batchbald_configurations(passes, step, classes, max_configurations)
        if exact:
            log_joint = (log_joint[:, :, None] + _log(newest)[:, None, :]).reshape(passes, -1)
            weights = np.exp(log_joint) / passes
        else:
            if sampled_from is None:  # switch: draw every pick's class afresh
                sampled_from = np.repeat(np.arange(passes), configs // passes)
                log_joint = np.zeros((passes, configs))
                for earlier in picks[:step]:
                    p = arr[:, earlier, :].astype(np.float64)
                    drawn = _sample_classes(p[sampled_from], rng)
                    log_joint += _log(p[:, drawn])
            else:
                drawn = _sample_classes(newest[sampled_from], rng)
                log_joint += _log(newest[:, drawn])
            # Posterior of the passes given each configuration, over M samples.
            shifted = np.exp(log_joint - log_joint.max(axis=0, keepdims=True))
            weights = shifted / (shifted.sum(axis=0, keepdims=True) * configs)
        chunk = max(1, _GAIN_BLOCK_BYTES // (8 * classes * (2 * weights.shape[1] + passes)))
        rows = np.flatnonzero(available)
        order = rows[np.lexsort((rows, -bounds[rows]))]  # stale bound descending, index
        stale = bounds[order]
        best_gain, best_row = -np.inf, -1
        for start in range(0, order.size, chunk):
            if best_row >= 0 and best_gain >= stale[start]:
                break  # no stale bound can beat the best fresh gain
            rows_now = order[start : start + chunk]
            fresh = _conditional_entropies(weights, arr[:, rows_now, :]) - expected_h[rows_now]
            bounds[rows_now] = fresh
            top = int(np.argmax(fresh))
            # Ties go to the lower row index.
            candidates = rows_now[fresh == fresh[top]]
            if fresh[top] > best_gain or (fresh[top] == best_gain and candidates.min() < best_row):
                best_gain, best_row = float(fresh[top]), int(candidates.min())
        picks[step], gains[step] = best_row, best_gain
        available[best_row] = False
    return picks, gains
