"""Bayesian, diversity, density and hybrid strategies on hand-made cases (pure NumPy)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from al_core.errors import ConfigError
from al_core.strategies import (
    BASE_SCORES,
    STRATEGIES,
    bald,
    density_weighted,
    hybrid,
    inputs_needed,
    k_center_greedy,
    kmeans_sample,
    margin,
    select_batch,
    top_k,
    variation_ratios,
)

LOG2 = float(np.log(2.0))


def _mc(passes: int, n: int, k: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(k), size=(passes, n))


# --------------------------------------------------------------------------- BALD


def test_bald_is_zero_when_all_passes_agree() -> None:
    one = np.random.default_rng(0).dirichlet(np.ones(4), size=6)  # any confidence
    mc = np.repeat(one[None], 7, axis=0)  # (7, 6, 4): every pass identical
    np.testing.assert_array_equal(bald(mc), np.zeros(6))
    uniform = np.full((5, 3, 4), 0.25)  # maximally unsure, but no disagreement
    np.testing.assert_array_equal(bald(uniform), np.zeros(3))


def test_bald_is_positive_when_passes_disagree() -> None:
    # Two confident passes voting for different classes: the mutual information is log 2.
    mc = np.array([[[1.0, 0.0], [0.9, 0.1]], [[0.0, 1.0], [0.9, 0.1]]])
    scores = bald(mc)
    assert scores[0] == pytest.approx(LOG2)
    assert scores[1] == 0.0
    mild = np.array([[[0.7, 0.3]], [[0.3, 0.7]]])
    assert 0.0 < bald(mild)[0] < LOG2


def test_bald_ranks_disagreement_above_shared_doubt() -> None:
    agree_unsure = np.full((4, 1, 2), 0.5)
    disagree = np.array([[[0.95, 0.05]], [[0.05, 0.95]], [[0.95, 0.05]], [[0.05, 0.95]]])
    mc = np.concatenate([agree_unsure, disagree], axis=1)
    assert top_k(bald(mc), 1).tolist() == [1]


def test_bald_bounds_and_blocks() -> None:
    mc = _mc(5, 40_000, 10).astype(np.float32)  # spans several row blocks
    scores = bald(mc)
    assert scores.shape == (40_000,) and scores.dtype == np.float64
    assert (scores >= 0).all() and (scores <= np.log(10) + 1e-9).all()
    np.testing.assert_allclose(scores[-5:], bald(mc[:, -5:]), rtol=1e-12)


def test_variation_ratios_hand_case() -> None:
    # Votes per pass: row 0 -> 0,0,1,2 (mode 2 of 4); row 1 -> 1,1,1,1 (unanimous).
    mc = np.array(
        [
            [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]],
            [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]],
            [[0.2, 0.7, 0.1], [0.0, 1.0, 0.0]],
            [[0.1, 0.2, 0.7], [0.3, 0.4, 0.3]],
        ]
    )
    np.testing.assert_allclose(variation_ratios(mc), [0.5, 0.0])
    scores = variation_ratios(_mc(3, 1000, 10))
    assert scores.dtype == np.float64 and scores.max() <= 1 - 1 / 3 + 1e-12


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.ones((3, 2)), "3-D"),
        (np.ones((2, 3, 1)), "2 classes"),
        (np.full((2, 3, 2), np.nan), "NaN"),
        (-np.ones((2, 3, 2)), "negative"),
    ],
)
def test_mc_scores_reject_bad_input(bad: np.ndarray, match: str) -> None:
    for fn in (bald, variation_ratios):
        with pytest.raises(ConfigError, match=match):
            fn(bad)


# --------------------------------------------------------------------------- k-center


def test_k_center_picks_the_farthest_point() -> None:
    pool = np.array([[1.0, 0.0], [5.0, 0.0], [3.0, 0.0], [0.0, -4.0]])
    labeled = np.zeros((1, 2))
    assert k_center_greedy(pool, labeled, 1).tolist() == [1]
    # The second pick is far from the labeled point *and* from the first pick.
    assert k_center_greedy(pool, labeled, 2).tolist() == [1, 3]


def test_k_center_without_labels_starts_at_the_middle() -> None:
    pool = np.array([[0.0], [1.0], [2.0], [10.0]])  # mean 3.25: nearest is 2.0
    assert k_center_greedy(pool, None, 2).tolist() == [2, 3]
    assert k_center_greedy(pool, np.empty((0, 1)), 0).shape == (0,)


def test_k_center_errors() -> None:
    with pytest.raises(ConfigError, match="out of range"):
        k_center_greedy(np.zeros((3, 2)), None, 4)
    with pytest.raises(ConfigError, match="features"):
        k_center_greedy(np.zeros((3, 2)), np.zeros((1, 3)), 1)
    with pytest.raises(ConfigError, match="2-D"):
        k_center_greedy(np.zeros(3), None, 1)


# --------------------------------------------------------------------------- k-means


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
    labels = np.repeat(np.arange(3), 50)
    return centers[labels] + rng.normal(scale=0.5, size=(150, 2)), labels


def test_kmeans_sample_takes_one_representative_per_cluster() -> None:
    points, labels = _blobs()
    picks = kmeans_sample(points, 3, np.random.default_rng(0))
    assert sorted(labels[picks].tolist()) == [0, 1, 2]
    for pick in picks:  # each pick is the member nearest its blob's mean
        members = np.flatnonzero(labels == labels[pick])
        mean = points[members].mean(axis=0)
        nearest = members[np.argmin(((points[members] - mean) ** 2).sum(axis=1))]
        assert pick == nearest
    again = kmeans_sample(points, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(picks, again)


def test_kmeans_sample_picks_are_distinct_even_with_duplicates() -> None:
    points = np.zeros((5, 2))  # every centroid shares the same nearest image
    picks = kmeans_sample(points, 5, np.random.default_rng(0))
    assert sorted(picks.tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="Generator"):
        kmeans_sample(points, 2, 0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- density


def test_density_weighting_demotes_outliers() -> None:
    typical = np.tile([1.0, 0.0], (9, 1))
    outlier = np.array([[0.0, 1.0]])
    embeddings = np.vstack([typical, outlier])
    scores = np.full(10, 0.5)
    weighted = density_weighted(scores, embeddings, beta=1.0)
    assert weighted[9] < weighted[0]
    assert weighted[0] == pytest.approx(0.5 * 0.9)  # mean cosine similarity 9/10
    np.testing.assert_allclose(density_weighted(scores, embeddings, beta=0.0), scores)


def test_density_weighting_errors() -> None:
    with pytest.raises(ConfigError, match="non-negative"):
        density_weighted(np.array([-1.0, 1.0]), np.ones((2, 2)))
    with pytest.raises(ConfigError, match="one value per embedding row"):
        density_weighted(np.ones(3), np.ones((2, 2)))
    with pytest.raises(ConfigError, match="beta"):
        density_weighted(np.ones(2), np.ones((2, 2)), beta=-1)


# --------------------------------------------------------------------------- hybrid


def repeated_digits_pool(
    copies: int = 5, originals: int = 20, certain: int = 300
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A "repeated digits" pool: ``originals`` uncertain images, each ``copies`` times
    (with faint pixel noise), plus ``certain`` confidently predicted ones.

    Returns embeddings (n, 64) (the pixels), margin scores (n,) and the original
    each row was copied from (n,), -1 for the certain images.
    """
    rng = np.random.default_rng(0)
    x = load_digits().data.astype(np.float64) / 16.0
    unsure = rng.choice(len(x), size=originals + certain, replace=False)
    base, sure = unsure[:originals], unsure[originals:]
    copies_of = np.repeat(np.arange(originals), copies)
    embeddings = np.vstack(
        [x[base][copies_of] + rng.normal(scale=0.01, size=(originals * copies, 64)), x[sure]]
    )
    # Probabilities: the copies of original i share a near-tie, certain images do not.
    top = np.concatenate(
        [np.linspace(0.50, 0.60, originals)[copies_of] + rng.normal(0, 1e-4, copies_of.size)]
        + [rng.uniform(0.9, 1.0, certain)]
    )
    probs = np.column_stack([top, 1 - top])
    origin = np.concatenate([copies_of, np.full(certain, -1)])
    return embeddings, margin(probs), origin


@pytest.mark.parametrize("method", ["kcenter", "cluster"])
def test_hybrid_covers_more_originals_than_top_k(method: str) -> None:
    embeddings, scores, origin = repeated_digits_pool()
    plain = top_k(scores, 10)
    mixed = hybrid(scores, embeddings, 10, 100, method, rng=np.random.default_rng(0))
    assert len(set(origin[plain].tolist())) <= 2  # top-k spends the batch on copies
    assert (origin[mixed] >= 0).all(), "the hybrid must stay among the uncertain images"
    assert len(set(origin[mixed].tolist())) >= 8
    assert len(np.unique(mixed)) == 10
    assert mixed[0] == plain[0] or method == "cluster"  # k-center starts at the top


def test_hybrid_errors() -> None:
    embeddings, scores, _ = repeated_digits_pool()
    with pytest.raises(ConfigError, match="unknown hybrid method"):
        hybrid(scores, embeddings, 10, 100, "nearest")
    with pytest.raises(ConfigError, match="Generator"):
        hybrid(scores, embeddings, 10, 100, "cluster")
    with pytest.raises(ConfigError, match="top_m"):
        hybrid(scores, embeddings, 10, 0)
    with pytest.raises(ConfigError, match="one value per embedding row"):
        hybrid(scores[:5], embeddings, 2, 10)


# --------------------------------------------------------------------------- select_batch


def test_every_strategy_is_listed_and_knows_its_inputs() -> None:
    assert {"bald", "variation_ratios", "kcenter", "kmeans", "density_weighted"} <= set(STRATEGIES)
    assert {"hybrid", "hybrid_cluster"} <= set(STRATEGIES)
    assert inputs_needed("bald") == {"mc_probs"}
    assert inputs_needed("kcenter") == {"embeddings", "labeled_embeddings"}
    assert inputs_needed("hybrid", "bald") == {"mc_probs", "embeddings"}
    assert inputs_needed("density-weighted") == {"probs", "embeddings"}
    assert inputs_needed("random") == frozenset()
    assert set(BASE_SCORES) == {"least_confidence", "margin", "ratio", "entropy", "bald",
                                "variation_ratios"}  # fmt: skip
    with pytest.raises(ConfigError, match="base score"):
        inputs_needed("hybrid", "kcenter")


def test_select_batch_hybrid_on_repeated_pool_keeps_the_fraction_protocol() -> None:
    embeddings, scores, origin = repeated_digits_pool()
    probs = np.column_stack([1 - scores / 2, scores / 2])  # margin(probs) == scores
    sel = select_batch(
        probs, 10, strategy="hybrid", fraction=0.6, rng=np.random.default_rng(0),
        embeddings=embeddings,
    )  # fmt: skip
    assert sel.n_uncertain == 6 and sel.n_random == 4
    assert len(set(origin[sel.indices[:6]].tolist())) == 6
    np.testing.assert_allclose(sel.scores, margin(probs)[sel.indices])


def test_select_batch_mc_and_embedding_strategies_with_candidates() -> None:
    rng = np.random.default_rng(0)
    mc = _mc(4, 200, 5)
    emb = rng.normal(size=(200, 8))
    cands = np.arange(0, 200, 2)
    sel = select_batch(
        None, 10, strategy="bald", fraction=1.0, rng=rng, candidates=cands, mc_probs=mc
    )
    expected = cands[top_k(bald(mc[:, cands]), 10)]
    np.testing.assert_array_equal(sel.indices, expected)
    sel = select_batch(
        None,
        5,
        strategy="kcenter",
        fraction=1.0,
        rng=rng,
        candidates=cands,
        embeddings=emb,
        labeled_embeddings=emb[1::2][:3],
    )
    np.testing.assert_array_equal(sel.indices, cands[k_center_greedy(emb[cands], emb[1::2][:3], 5)])
    assert np.isnan(sel.scores).all()


def test_select_batch_new_strategy_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="needs Monte-Carlo dropout samples"):
        select_batch(np.full((5, 2), 0.5), 2, strategy="bald", fraction=1.0, rng=rng)
    with pytest.raises(ConfigError, match="needs embeddings"):
        select_batch(np.full((5, 2), 0.5), 2, strategy="hybrid", fraction=1.0, rng=rng)
    with pytest.raises(ConfigError, match="disagree on the number of pool rows"):
        select_batch(
            np.full((5, 2), 0.5), 2, strategy="kmeans", fraction=1.0, rng=rng,
            embeddings=np.zeros((6, 3)),
        )  # fmt: skip
    with pytest.raises(ConfigError, match="base score"):
        select_batch(np.full((5, 2), 0.5), 2, strategy="margin", fraction=1.0, rng=rng,
                     base_score="kmeans")  # fmt: skip
    # fraction 0: nothing needed, the batch is random.
    sel = select_batch(None, 3, strategy="bald", fraction=0.0, rng=rng, candidates=np.arange(9))
    assert sel.n_random == 3


def test_all_strategies_on_a_100k_pool() -> None:
    rng = np.random.default_rng(1)
    n = 100_000
    probs = rng.dirichlet(np.ones(10), size=n).astype(np.float32)
    mc = rng.dirichlet(np.ones(10), size=(4, n)).astype(np.float32)
    emb = rng.normal(size=(n, 16)).astype(np.float32)
    labeled = rng.normal(size=(50, 16)).astype(np.float32)
    # "auto" is the loop's rule, not a batch choice: select_batch refuses it (tested
    # in test_cold_start); every other name picks 100 of 100,000 rows, 30 of them by the
    # strategy. BatchBALD picks 10: each pick scores every row under its 1,000 sampled
    # configurations (7 s a pick here, the logs of 10^9 joint probabilities), which are
    # all in use from the fourth pick on, so 10 picks run the same code as 30 at a
    # third of the time (3.7 minutes of CI with 30).
    for strategy in (s for s in STRATEGIES if s != "auto"):
        fraction = 0.1 if strategy == "batchbald" else 0.3
        sel = select_batch(
            probs,
            100,
            strategy=strategy,
            fraction=fraction,
            rng=np.random.default_rng(0),
            mc_probs=mc,
            embeddings=emb,
            labeled_embeddings=labeled,
        )
        assert sel.indices.shape == (100,) and sel.indices.dtype == np.int64, strategy
        assert sel.scores.shape == (100,) and sel.scores.dtype == np.float64, strategy
        assert len(np.unique(sel.indices)) == 100, strategy
        assert sel.indices.min() >= 0 and sel.indices.max() < n
        assert sel.n_uncertain == (0 if strategy == "random" else round(100 * fraction)), strategy
    for fn in (bald, variation_ratios):
        out = fn(mc)
        assert out.shape == (n,) and out.dtype == np.float64
    assert kmeans_sample(emb, 10, np.random.default_rng(0)).shape == (10,)
    assert density_weighted(margin(probs), emb).shape == (n,)
