"""Tests of al_core.strategies: scores, ranking and the uncertainty-fraction sweep."""

from __future__ import annotations

import math

import numpy as np
import pytest

from al_core.errors import ConfigError
from al_core.strategies import (
    SCORERS,
    STRATEGIES,
    Selection,
    entropy,
    least_confidence,
    margin,
    most_confident,
    n_uncertain_for,
    normalize_strategy,
    ratio,
    select_batch,
    top_k,
    uncertainty_scores,
)

# The three samples of the requirements: least confidence and entropy pick row 1,
# margin (and ratio) pick row 0.
THREE = np.array(
    [
        [0.5, 0.49, 0.01],  # tiny top-2 margin
        [0.4, 0.3, 0.3],  # lowest max probability, highest entropy
        [0.6, 0.2, 0.2],
    ]
)


def _pool(n: int, k: int, seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(n, k))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- scores


def test_least_confidence_exact_values() -> None:
    np.testing.assert_allclose(least_confidence(THREE), [0.5, 0.6, 0.4])


def test_margin_exact_values() -> None:
    np.testing.assert_allclose(margin(THREE), [0.99, 0.9, 0.6])


def test_ratio_exact_values() -> None:
    np.testing.assert_allclose(ratio(THREE), [0.98, 0.75, 1 / 3])


def test_entropy_exact_values_and_zero_log_zero() -> None:
    probs = np.array([[0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    h = entropy(probs)
    np.testing.assert_allclose(h, [math.log(2), 0.0, math.log(4)])
    assert np.all(np.isfinite(h))
    assert not np.signbit(h[1])
    expected_three = -np.sum(THREE * np.log(THREE), axis=1)
    np.testing.assert_allclose(entropy(THREE), expected_three)


def test_criteria_disagree_on_three_samples() -> None:
    assert int(np.argmax(least_confidence(THREE))) == 1
    assert int(np.argmax(entropy(THREE))) == 1
    assert int(np.argmax(margin(THREE))) == 0
    assert int(np.argmax(ratio(THREE))) == 0


def test_scores_dtype_shape_and_columns_order_irrelevant() -> None:
    shuffled = THREE[:, [2, 0, 1]]
    for name, fn in SCORERS.items():
        s = fn(THREE)
        assert s.dtype == np.float64 and s.shape == (3,), name
        np.testing.assert_allclose(fn(shuffled), s, err_msg=name)


def test_ratio_guards_all_zero_row() -> None:
    np.testing.assert_allclose(ratio(np.array([[0.0, 0.0], [0.8, 0.2]])), [1.0, 0.25])


def test_two_class_top2() -> None:
    probs = np.array([[0.7, 0.3], [0.1, 0.9]])
    np.testing.assert_allclose(margin(probs), [0.6, 0.2])
    np.testing.assert_allclose(ratio(probs), [3 / 7, 1 / 9])


@pytest.mark.parametrize(
    "bad",
    [
        np.array([0.5, 0.5]),  # 1-D
        np.ones((2, 2, 2)) / 2,  # 3-D
        np.ones((3, 1)),  # one class
        np.array([[0.5, np.nan], [0.5, 0.5]]),
        np.array([[np.inf, 0.0], [0.5, 0.5]]),
        np.array([[1.2, -0.2]]),
        [["a", "b"]],
    ],
)
def test_bad_probs_raise_config_error(bad: object) -> None:
    for fn in SCORERS.values():
        with pytest.raises(ConfigError):
            fn(bad)  # type: ignore[arg-type]


def test_nan_message_is_clear() -> None:
    with pytest.raises(ConfigError, match="NaN"):
        margin(np.array([[0.5, np.nan]]))


# --------------------------------------------------------------------------- names


def test_strategy_names() -> None:
    assert set(SCORERS) == {"least_confidence", "margin", "ratio", "entropy"}
    assert STRATEGIES[:4] == ("least_confidence", "margin", "ratio", "entropy")
    assert STRATEGIES[-1] == "random"  # the MC / embedding strategies sit in between


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("least-confidence", "least_confidence"),
        ("least_confidence", "least_confidence"),
        (" Margin ", "margin"),
        ("RANDOM", "random"),
    ],
)
def test_normalize_strategy(name: str, canonical: str) -> None:
    assert normalize_strategy(name) == canonical


def test_uncertainty_scores_dispatch() -> None:
    np.testing.assert_allclose(uncertainty_scores(THREE, "least-confidence"), [0.5, 0.6, 0.4])
    np.testing.assert_allclose(uncertainty_scores(THREE, "margin"), margin(THREE))


def test_unknown_strategy_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match="least_confidence, margin, ratio, entropy, bald"):
        uncertainty_scores(THREE, "bold")
    with pytest.raises(ConfigError, match="no uncertainty score"):
        uncertainty_scores(THREE, "random")


# --------------------------------------------------------------------------- top_k


def test_top_k_orders_by_descending_score() -> None:
    scores = np.array([0.1, 0.9, 0.3, 0.7, 0.5])
    idx = top_k(scores, 3)
    assert idx.dtype == np.int64
    assert idx.tolist() == [1, 3, 4]


def test_top_k_ties_go_to_lower_index() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.9, 0.1])
    assert top_k(scores, 2).tolist() == [1, 4]
    assert top_k(scores, 3).tolist() == [1, 4, 0]
    assert top_k(scores, 4).tolist() == [1, 4, 0, 2]
    assert top_k(np.zeros(7), 3).tolist() == [0, 1, 2]


def test_top_k_edges() -> None:
    scores = np.array([0.2, 0.8])
    assert top_k(scores, 0).shape == (0,)
    assert top_k(scores, 0).dtype == np.int64
    assert top_k(scores, 2).tolist() == [1, 0]
    with pytest.raises(ConfigError, match="k = 3"):
        top_k(scores, 3)
    with pytest.raises(ConfigError):
        top_k(scores, -1)
    with pytest.raises(ConfigError):
        top_k(np.array([0.1, np.nan]), 1)


def test_top_k_matches_stable_sort_on_random_ties() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, size=1000).astype(float)
    expected = np.argsort(-scores, kind="stable")[:37]
    assert top_k(scores, 37).tolist() == expected.tolist()


def test_most_confident() -> None:
    probs = np.array([[0.5, 0.5], [0.99, 0.01], [0.2, 0.8], [0.01, 0.99]])
    assert most_confident(probs, 2).tolist() == [1, 3]
    assert most_confident(probs, 3).tolist() == [1, 3, 2]


# --------------------------------------------------------------------------- select_batch


@pytest.mark.parametrize(
    ("fraction", "n_unc"), [(0.0, 0), (0.1, 1), (0.35, 4), (0.5, 5), (1.0, 10)]
)
def test_select_batch_counts(fraction: float, n_unc: int) -> None:
    probs = _pool(200, 10)
    sel = select_batch(
        probs, 10, strategy="margin", fraction=fraction, rng=np.random.default_rng(0)
    )
    assert isinstance(sel, Selection)
    assert sel.indices.shape == (10,) and sel.indices.dtype == np.int64
    assert sel.scores.shape == (10,) and sel.scores.dtype == np.float64
    assert sel.by_uncertainty.shape == (10,) and sel.by_uncertainty.dtype == np.bool_
    assert len(np.unique(sel.indices)) == 10
    assert sel.n_uncertain == n_unc and sel.n_random == 10 - n_unc
    assert sel.by_uncertainty[:n_unc].all() and not sel.by_uncertainty[n_unc:].any()
    scores = margin(probs)
    # the uncertainty part is exactly the top-n_unc by score, highest first
    assert sel.indices[sel.by_uncertainty].tolist() == top_k(scores, n_unc).tolist()
    # the random part avoids them, and every reported score is the row's score
    assert not set(sel.indices[~sel.by_uncertainty]) & set(sel.indices[sel.by_uncertainty])
    np.testing.assert_allclose(sel.scores, scores[sel.indices])


def test_n_uncertain_rounds_half_up() -> None:
    assert n_uncertain_for(0.5, 10) == 5
    assert n_uncertain_for(0.25, 10) == 3
    assert n_uncertain_for(0.05, 10) == 1
    assert n_uncertain_for(0.04, 10) == 0
    assert n_uncertain_for(0.29, 50) == 15  # 0.29 * 50 == 14.499999999999998 in floats


def test_select_batch_deterministic_by_seed() -> None:
    probs = _pool(500, 10)
    kw = {"strategy": "entropy", "fraction": 0.3}
    a = select_batch(probs, 20, rng=np.random.default_rng(7), **kw)
    b = select_batch(probs, 20, rng=np.random.default_rng(7), **kw)
    c = select_batch(probs, 20, rng=np.random.default_rng(8), **kw)
    assert a.indices.tolist() == b.indices.tolist()
    # the uncertainty part does not depend on the seed; the random part does
    assert a.indices[a.by_uncertainty].tolist() == c.indices[c.by_uncertainty].tolist()
    assert a.indices[~a.by_uncertainty].tolist() != c.indices[~c.by_uncertainty].tolist()


def test_select_batch_random_ignores_probs() -> None:
    probs = _pool(100, 4)
    a = select_batch(probs, 10, strategy="random", fraction=1.0, rng=np.random.default_rng(1))
    b = select_batch(
        None,
        10,
        strategy="random",
        fraction=0.5,
        rng=np.random.default_rng(1),
        candidates=np.arange(100),
    )
    c = select_batch(
        probs[::-1].copy(), 10, strategy="random", fraction=0.0, rng=np.random.default_rng(1)
    )
    assert a.indices.tolist() == b.indices.tolist() == c.indices.tolist()
    assert not a.by_uncertainty.any()
    assert np.isnan(a.scores).all()


def test_select_batch_without_probs_when_no_uncertainty_part() -> None:
    sel = select_batch(
        None,
        5,
        strategy="margin",
        fraction=0.0,
        rng=np.random.default_rng(0),
        candidates=np.arange(10, 30),
    )
    assert set(sel.indices.tolist()) <= set(range(10, 30))
    assert np.isnan(sel.scores).all()
    with pytest.raises(ConfigError, match="needs probabilities"):
        select_batch(
            None,
            5,
            strategy="margin",
            fraction=0.5,
            rng=np.random.default_rng(0),
            candidates=np.arange(10),
        )
    with pytest.raises(ConfigError, match="candidates"):
        select_batch(None, 5, strategy="random", fraction=0.0, rng=np.random.default_rng(0))


def test_select_batch_candidates_restrict_rows() -> None:
    probs = _pool(300, 5)
    cands = np.arange(0, 300, 3)[::-1]  # order must not matter
    sel = select_batch(
        probs,
        12,
        strategy="least-confidence",
        fraction=0.5,
        rng=np.random.default_rng(0),
        candidates=cands,
    )
    assert set(sel.indices.tolist()) <= set(cands.tolist())
    scores = least_confidence(probs)
    sorted_cands = np.sort(cands)
    want = sorted_cands[top_k(scores[sorted_cands], 6)]
    assert sel.indices[:6].tolist() == want.tolist()
    mask = np.zeros(300, dtype=bool)
    mask[cands] = True
    by_mask = select_batch(
        probs,
        12,
        strategy="least-confidence",
        fraction=0.5,
        rng=np.random.default_rng(0),
        candidates=mask,
    )
    assert by_mask.indices.tolist() == sel.indices.tolist()


def test_select_batch_whole_pool() -> None:
    probs = _pool(10, 3)
    sel = select_batch(probs, 10, strategy="ratio", fraction=0.35, rng=np.random.default_rng(0))
    assert sorted(sel.indices.tolist()) == list(range(10))


def test_selection_is_read_only() -> None:
    sel = select_batch(
        _pool(20, 3), 4, strategy="margin", fraction=0.5, rng=np.random.default_rng(0)
    )
    with pytest.raises(ValueError):
        sel.indices[0] = 3
    with pytest.raises(AttributeError):
        sel.indices = np.arange(4)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fraction": -0.1}, r"fraction = -0\.1"),
        ({"fraction": 1.1}, r"fraction = 1\.1.*\[0, 1\]"),
        ({"fraction": float("nan")}, "fraction"),
        ({"batch_size": 0}, "batch_size = 0.*at least 1"),
        ({"batch_size": 51}, "batch_size = 51.*50 rows"),
        ({"strategy": "bold"}, "unknown strategy 'bold'"),
        ({"rng": 0}, "Generator"),
        ({"candidates": np.array([1, 1, 2])}, "duplicate"),
        ({"candidates": np.array([0, 50])}, "index 50"),
        ({"candidates": np.ones(49, dtype=bool)}, "mask"),
    ],
)
def test_select_batch_errors(kwargs: dict, match: str) -> None:
    args = {
        "batch_size": 5,
        "strategy": "margin",
        "fraction": 0.5,
        "rng": np.random.default_rng(0),
        "candidates": None,
    }
    args.update(kwargs)
    batch_size = args.pop("batch_size")
    with pytest.raises(ConfigError, match=match):
        select_batch(_pool(50, 3), batch_size, **args)


@pytest.mark.parametrize(
    "bad", [np.ones((4,)) / 4, np.array([[0.5, np.nan], [0.5, 0.5]]), np.ones((5, 1))]
)
def test_select_batch_bad_probs(bad: np.ndarray) -> None:
    with pytest.raises(ConfigError):
        select_batch(bad, 1, strategy="margin", fraction=1.0, rng=np.random.default_rng(0))


def test_select_batch_large_pool() -> None:
    probs = _pool(100_000, 10, seed=1).astype(np.float32)
    for strategy in (*SCORERS, "random"):  # the others: tests/test_strategies_advanced.py
        sel = select_batch(
            probs, 1000, strategy=strategy, fraction=0.3, rng=np.random.default_rng(0)
        )
        assert sel.indices.shape == (1000,) and sel.indices.dtype == np.int64
        assert sel.scores.shape == (1000,) and sel.scores.dtype == np.float64
        assert len(np.unique(sel.indices)) == 1000
        assert sel.indices.min() >= 0 and sel.indices.max() < 100_000
        if strategy != "random":
            assert sel.n_uncertain == 300
            top = uncertainty_scores(probs, strategy)
            assert sel.scores[0] == top.max()
    assert most_confident(probs, 10).shape == (10,)
