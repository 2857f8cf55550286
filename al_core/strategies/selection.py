"""The batch choice: strategy picks plus random picks (the uncertainty-fraction protocol)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from al_core.errors import ConfigError
from al_core.strategies._checks import (
    _as_count,
    _as_embeddings,
    _as_mc_probs,
    _as_probs,
    _check_rng,
)
from al_core.strategies.bayesian import BATCHBALD_CONFIGURATIONS, batchbald
from al_core.strategies.diversity import density_weighted, hybrid, k_center_greedy, kmeans_sample
from al_core.strategies.registry import (
    BASE_SCORES,
    MC_SCORERS,
    SCORERS,
    check_base_score,
    inputs_needed,
    normalize_strategy,
)
from al_core.strategies.scores import top_k
from al_core.strategies.typical import typiclust


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
    batchbald_configurations: int = BATCHBALD_CONFIGURATIONS,
) -> Selection:
    """Choose a batch: ``n_unc`` rows picked by the strategy plus the rest at random.

    ``n_unc = floor(fraction * batch_size + 0.5)`` rows come from ``strategy``:
    the highest-scoring rows for a scored strategy (ties to the lower row
    index), or the strategy's own batch choice for ``kcenter``, ``kmeans``, ``typiclust``,
    ``batchbald`` and the hybrids; the remaining ``batch_size - n_unc`` are drawn uniformly
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
        Monte-Carlo dropout samples (``bald``, ``variation_ratios``,
        ``batchbald``, or a base score of those).
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
    batchbald_configurations : int
        ``batchbald``'s joint-entropy configurations (its ``max_configurations``).

    Returns
    -------
    Selection
        ``scores`` holds each selected row's score under the strategy (the
        base score for the hybrids, the weighted score for
        ``density_weighted``; for ``batchbald`` its picks' joint-information
        gains, in pick order, and the random rows' BALD score); NaN for
        ``random``, ``kcenter``, ``kmeans`` and ``typiclust``, which rank no rows.

    Raises
    ------
    ConfigError
        ``fraction`` outside ``[0, 1]``, ``batch_size < 1`` or larger than the
        rows available, unknown strategy or base score, a needed input missing
        or invalid, inputs with different row counts, bad ``candidates``.
    """
    key = normalize_strategy(strategy)
    if key == "auto":
        raise ConfigError(
            "strategy 'auto' picks by 'typiclust' or by its base score depending on the "
            "labeled set; pass the one that applies (al_core.loop.ActiveLearner.picking_strategy "
            "decides it in the loop)"
        )
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
    if key != "random" and not missing and key not in ("kcenter", "kmeans", "typiclust"):
        # BatchBALD's picks are scored by their joint gain below; every row by BALD.
        per_row = key if key in BASE_SCORES else "bald" if key == "batchbald" else base
        cand_scores = _row_scores(per_row, sub("probs"), sub("mc_probs"))
        if key == "density_weighted":
            cand_scores = density_weighted(cand_scores, sub("embeddings"), density_beta)

    if n_unc == 0:
        local_unc = np.empty(0, np.int64)
    elif key == "kcenter":
        local_unc = k_center_greedy(sub("embeddings"), labeled_embeddings, n_unc)
    elif key == "kmeans":
        local_unc = kmeans_sample(sub("embeddings"), n_unc, rng)
    elif key == "typiclust":
        # Cluster the candidates together with the labeled rows, which count as coverage.
        candidate_features = sub("embeddings")
        known = (
            np.empty((0, candidate_features.shape[1]))
            if labeled_embeddings is None or len(labeled_embeddings) == 0
            else _as_embeddings(labeled_embeddings, "labeled_embeddings")
        )
        features = np.concatenate([candidate_features, known])
        is_labeled = np.arange(len(features)) >= len(candidate_features)
        local_unc = typiclust(features, is_labeled, n_unc, rng)
    elif key in ("hybrid", "hybrid_cluster"):
        local_unc = hybrid(
            cand_scores,
            sub("embeddings"),
            n_unc,
            top_m if top_m is not None else HYBRID_TOP_M_FACTOR * n_unc,
            "kcenter" if key == "hybrid" else "cluster",
            rng=rng,
        )
    elif key == "batchbald":
        local_unc, joint_gains = batchbald(
            sub("mc_probs"), n_unc, rng=rng, max_configurations=batchbald_configurations
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
    if key == "batchbald" and n_unc:
        scores[:n_unc] = joint_gains
    by_unc = np.zeros(batch_size, dtype=bool)
    by_unc[:n_unc] = True
    return Selection(indices=rows[local], scores=scores, by_uncertainty=by_unc)
