"""Strategy names, what each needs, and name normalisation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from al_core.errors import ConfigError
from al_core.strategies.bayesian import bald, variation_ratios
from al_core.strategies.scores import entropy, least_confidence, margin, ratio

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

COLD_START_STRATEGIES: tuple[str, ...] = ("typiclust", "auto")
"""Cold-start strategies: ``typiclust`` picks typical images of uncovered clusters
(:mod:`al_core.strategies.typical`); ``auto`` starts with it and hands over to the base
score once the labeled set has ``handover_per_class`` labels per class (the loop decides
which of the two picks a batch: ``al_core.loop.ActiveLearner.picking_strategy``)."""

#: Strategies that pick a whole batch jointly from Monte-Carlo dropout samples.
_MC_BATCH_STRATEGIES: tuple[str, ...] = ("batchbald",)

MC_STRATEGIES: tuple[str, ...] = (*MC_SCORERS, *_MC_BATCH_STRATEGIES)
"""Strategies that need Monte-Carlo dropout samples themselves (``mc_probs``)."""

STRATEGIES: tuple[str, ...] = (
    *SCORERS,
    *MC_SCORERS,
    *_MC_BATCH_STRATEGIES,
    *_EMBEDDING_STRATEGIES,
    *COLD_START_STRATEGIES,
    "random",
)
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
        ``hybrid``, ``hybrid_cluster``) add what ``base_score`` needs; ``auto``
        needs what both of its phases need. For ``typiclust`` the "embeddings" are
        whatever features the caller clusters (pixel features before a model is
        worth asking).
    """
    key = normalize_strategy(strategy)
    if key == "typiclust":
        return frozenset({"embeddings", "labeled_embeddings"})
    if key == "auto":
        return inputs_needed("typiclust") | inputs_needed(check_base_score(base_score))
    if key in SCORERS:
        return frozenset({"probs"})
    if key in MC_STRATEGIES:
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
