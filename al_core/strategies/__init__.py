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
``batchbald``         greedy largest *joint* mutual information       ``mc_probs``
``variation_ratios``  smallest share of MC passes voting the mode     ``mc_probs``
``density_weighted``  base score x (mean cosine similarity)^beta      base score, embeddings
``kcenter``           farthest-first from the labeled set (core-set)  embeddings (+ labeled)
``kmeans``            images nearest the k-means centroids            embeddings
``hybrid``            top-m by base score, then k-center among them   base score, embeddings
``hybrid_cluster``    top-m by base score, then cluster round-robin   base score, embeddings
``typiclust``         most typical image of each uncovered cluster    features (+ labeled)
``auto``              typiclust, then the base score (budget-aware)   both phases' inputs
====================  ==============================================  =====================

The *base score* of the combined strategies is any per-row score
(:data:`BASE_SCORES`, default ``margin``). Embeddings are the penultimate layer
of the classifier, shape ``(n, d)``.

Modules: :mod:`.scores` (probability scores, top-k), :mod:`.bayesian` (MC dropout),
:mod:`.diversity` (embeddings), :mod:`.typical` (cold start), :mod:`.registry` (names,
inputs), :mod:`.selection` (the batch protocol). Every public name is importable from
``al_core.strategies``.
"""

from __future__ import annotations

from al_core.strategies.bayesian import (
    BATCHBALD_CONFIGURATIONS,
    BATCHBALD_MEMORY_BOUND,
    bald,
    batchbald,
    batchbald_memory_bytes,
    check_batchbald_memory,
    variation_ratios,
)
from al_core.strategies.diversity import (
    HYBRID_METHODS,
    density_weighted,
    hybrid,
    k_center_greedy,
    kmeans_sample,
)
from al_core.strategies.registry import (
    BASE_SCORES,
    COLD_START_STRATEGIES,
    MC_SCORERS,
    MC_STRATEGIES,
    SCORERS,
    STRATEGIES,
    check_base_score,
    inputs_needed,
    normalize_strategy,
    uncertainty_scores,
)
from al_core.strategies.scores import (
    entropy,
    least_confidence,
    margin,
    most_confident,
    ratio,
    top_k,
)
from al_core.strategies.selection import (
    HYBRID_TOP_M_FACTOR,
    Selection,
    n_uncertain_for,
    select_batch,
)
from al_core.strategies.typical import (
    MAX_CLUSTERS,
    TYPICALITY_NEIGHBOURS,
    pixel_features,
    typicality,
    typiclust,
)

__all__ = [
    "BASE_SCORES",
    "BATCHBALD_CONFIGURATIONS",
    "BATCHBALD_MEMORY_BOUND",
    "COLD_START_STRATEGIES",
    "HYBRID_METHODS",
    "HYBRID_TOP_M_FACTOR",
    "MAX_CLUSTERS",
    "MC_SCORERS",
    "MC_STRATEGIES",
    "SCORERS",
    "STRATEGIES",
    "TYPICALITY_NEIGHBOURS",
    "Selection",
    "bald",
    "batchbald",
    "batchbald_memory_bytes",
    "check_base_score",
    "check_batchbald_memory",
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
    "pixel_features",
    "ratio",
    "select_batch",
    "top_k",
    "typicality",
    "typiclust",
    "uncertainty_scores",
    "variation_ratios",
]
