"""Tests of al_core.expected: the formula behind the dummy "expected" curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from al_core import results
from al_core.errors import ConfigError
from al_core.expected import (
    DataAnchor,
    ExpectedCurve,
    ExpectedParams,
    anchor_counts,
    anchor_from_data,
    anchored_curves,
    describe_expected,
    expected_accuracy,
    expected_curve,
    expected_curves,
    params_for,
)
from al_core.runner.presets import PRESETS

PARAMS = ExpectedParams(floor=0.2, ceiling=0.8, base_rate=1.0, gain=1.0, scale=1000.0, n0=1000)
LABELED = np.arange(1000, 11000, 1000)
FRACTIONS = [0.0, 0.1, 0.3, 0.5, 1.0]


def test_formula_value() -> None:
    # n - n0 = 1000 = scale, u = 0.5 -> rate 1.5
    got = expected_accuracy([2000], 0.5, PARAMS)[0]
    assert got == pytest.approx(0.8 - 0.6 * math.exp(-1.5))


def test_starts_at_floor() -> None:
    for u in FRACTIONS:
        curve = expected_curve(LABELED, u, PARAMS)
        assert curve.accuracy[0] == pytest.approx(0.2)


def test_monotone_increasing_in_n() -> None:
    for u in FRACTIONS:
        acc = expected_curve(LABELED, u, PARAMS).accuracy
        assert np.all(np.diff(acc) > 0)


def test_higher_fraction_never_lower() -> None:
    curves = expected_curves(LABELED, FRACTIONS, PARAMS)
    for lo, hi in zip(curves, curves[1:], strict=False):
        assert np.all(hi.accuracy[1:] > lo.accuracy[1:])
        assert np.all(hi.accuracy >= lo.accuracy)


def test_zero_gain_makes_fractions_equal() -> None:
    p = ExpectedParams(gain=0.0)
    a = expected_curve(LABELED, 0.0, p).accuracy
    b = expected_curve(LABELED, 1.0, p).accuracy
    np.testing.assert_array_equal(a, b)


def test_bounded_by_floor_and_ceiling() -> None:
    x = np.array([0, 500, 1000, 1e4, 1e6, 1e9])
    for u in FRACTIONS:
        acc = expected_curve(x, u, PARAMS).accuracy
        assert np.all(acc >= 0.2) and np.all(acc <= 0.8)
    # held at the floor before n0, approaching the ceiling far out
    acc = expected_curve(x, 1.0, PARAMS).accuracy
    assert acc[0] == acc[1] == 0.2
    assert acc[-1] == pytest.approx(0.8)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"floor": 0.9, "ceiling": 0.8},
        {"floor": 0.5, "ceiling": 0.5},
        {"floor": -0.1},
        {"ceiling": 1.1},
        {"base_rate": 0.0},
        {"base_rate": -1.0},
        {"scale": 0.0},
        {"gain": -0.5},
        {"n0": -1},
        {"scale": float("nan")},
    ],
)
def test_params_validation(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        ExpectedParams(**kwargs)


def test_fraction_validation() -> None:
    with pytest.raises(ConfigError, match="fraction"):
        expected_curve(LABELED, 1.5, PARAMS)
    with pytest.raises(ConfigError, match="fraction"):
        expected_curve(LABELED, -0.1, PARAMS)


def test_synthetic_cannot_be_false() -> None:
    curve = expected_curve(LABELED, 0.3, PARAMS)
    assert curve.synthetic is True
    with pytest.raises(ConfigError, match="synthetic"):
        ExpectedCurve(
            labeled=curve.labeled,
            accuracy=curve.accuracy,
            fraction=0.3,
            params=PARAMS,
            synthetic=False,
        )
    with pytest.raises(AttributeError):
        curve.synthetic = False  # type: ignore[misc]


def test_label_says_not_measured() -> None:
    curve = expected_curve(LABELED, 0.3, PARAMS)
    assert "not measured" in curve.label
    assert "30 %" in curve.label
    assert "12.5 %" in expected_curve(LABELED, 0.125, PARAMS).label


def test_curve_arrays_are_read_only_copies() -> None:
    x = LABELED.copy()
    curve = expected_curve(x, 0.3, PARAMS)
    x[0] = 0
    assert curve.labeled[0] == 1000
    with pytest.raises(ValueError):
        curve.accuracy[0] = 1.0


def test_params_for_reaches_63_percent_at_end_of_budget() -> None:
    p = params_for(initial=1000, batch=1000, rounds=48, floor=0.1, ceiling=0.6)
    assert p.n0 == 1000 and p.scale == 48_000
    end = 1000 + 1000 * 48
    acc = expected_accuracy([1000, end], 0.0, p)
    assert acc[0] == pytest.approx(0.1)
    assert (acc[1] - 0.1) / (0.6 - 0.1) == pytest.approx(1 - math.exp(-1))
    # with another base rate the u = 0 curve still ends at 63 %
    p2 = params_for(10, 10, 39, base_rate=2.0)
    acc2 = expected_accuracy([10 + 390], 0.0, p2)[0]
    assert (acc2 - p2.floor) / (p2.ceiling - p2.floor) == pytest.approx(1 - math.exp(-1))
    with pytest.raises(ConfigError, match="rounds"):
        params_for(1000, 1000, 0)
    with pytest.raises(ConfigError, match="batch"):
        params_for(1000, 0, 5)


# ------------------------------------------------------------ anchored on data

DEMO_BASE = PRESETS["demo"].base.to_dict()


@pytest.fixture(scope="module")
def demo_frame():
    """The demo plan's expected frame, anchored on digits (random, 40 %, 100 %)."""
    initial, batch, rounds = results.expected_plan(DEMO_BASE)
    assert (initial, batch, rounds) == (20, 10, 8)
    return results.expected_frame(initial, batch, rounds, [0.0, 0.4, 1.0], base=DEMO_BASE)


def _curve(frame, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    rows = frame[frame["fraction"] == fraction].sort_values("labeled")
    return rows["labeled"].to_numpy(), rows["accuracy"].to_numpy()


def test_anchored_random_matches_independent_logistic_regression(demo_frame) -> None:
    # Independently of al_core.expected: logistic regression on 100 random labels of
    # the demo's digits pool (other random subsets), scored on its test split.
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from al_core.datasets import load_dataset

    data = load_dataset("digits", seed=DEMO_BASE["data_seed"])
    x = data.x_pool.reshape(len(data.x_pool), -1)
    x_test = data.x_test.reshape(len(data.x_test), -1)
    scores = []
    with threadpool_limits(limits=1):
        for seed in range(8):
            idx = np.random.default_rng(1000 + seed).choice(len(x), 100, replace=False)
            model = LogisticRegression(max_iter=1000).fit(x[idx], data.y_pool[idx])
            scores.append(model.score(x_test, data.y_test))
    labeled, accuracy = _curve(demo_frame, 0.0)
    assert accuracy[labeled == 100][0] == pytest.approx(np.mean(scores), abs=0.04)


def test_anchored_curves_are_plausible_on_digits(demo_frame) -> None:
    labeled, random = _curve(demo_frame, 0.0)
    assert labeled[0] == 20 and labeled[-1] == 100
    assert random[-1] >= 0.85  # not the generic formula's 64 %
    for fraction in (0.0, 0.4, 1.0):
        _, acc = _curve(demo_frame, fraction)
        assert np.all(np.diff(acc) >= 0)  # never dips
        assert acc[0] == pytest.approx(random[0])  # every fraction starts at the same point
        assert np.all(acc >= random - 1e-12)  # the assumed uplift never hurts
        assert np.all(acc <= 1.0)
    assert demo_frame["synthetic"].all()
    assert demo_frame["label"].str.endswith("not measured").all()
    caption = demo_frame.attrs["caption"]
    assert caption.startswith("expected — not measured")
    assert "logistic-regression curve on the digits pool" in caption
    assert "assumed uplift" in caption


def test_anchor_levels_off_at_the_data_plateau() -> None:
    anchor = anchor_from_data("digits", anchor_counts(20, 10, 8))
    assert anchor is not None
    assert anchor.plateau == anchor.pool_size == 1437
    assert anchor.test_size == 360
    assert anchor.start < 0.8 < 0.9 < anchor.ceiling  # a climb from ~60 % to ~97 %
    far = anchored_curves([20, 100, 10_000], [0.0, 1.0], anchor, initial=20)
    for curve in far:
        assert curve.anchor is anchor and curve.synthetic
        assert curve.accuracy[-1] == pytest.approx(anchor.ceiling)


def test_anchored_curves_follow_the_anchor_with_the_assumed_uplift() -> None:
    anchor = DataAnchor(
        dataset="toy",
        labeled=np.array([10.0, 20.0, 40.0, 1000.0]),
        accuracy=np.array([0.5, 0.6, 0.7, 0.9]),
        seeds=1,
        test_size=10,
        pool_size=1000,
    )
    random, half, full = anchored_curves([10, 20, 40], [0.0, 0.5, 1.0], anchor, gain=1.0)
    np.testing.assert_allclose(random.accuracy, [0.5, 0.6, 0.7])
    # u = 1 counts each label beyond n0 = 10 twice: 20 labels read the curve at 30
    assert full.accuracy[1] == pytest.approx(anchor.accuracy_at([30])[0])
    assert full.accuracy[2] == pytest.approx(anchor.accuracy_at([70])[0])
    assert half.accuracy[0] == full.accuracy[0] == 0.5
    assert np.all(random.accuracy <= half.accuracy) and np.all(half.accuracy <= full.accuracy)
    assert full.params.floor == 0.5 and full.params.ceiling == 0.9
    assert "not measured" in full.label


def test_anchor_counts_cover_the_plan_and_the_uplift() -> None:
    counts = anchor_counts(20, 10, 8, gain=1.0)
    assert set(range(20, 101, 10)) <= set(counts)
    assert max(counts) == 180 and list(counts) == sorted(set(counts))
    assert max(anchor_counts(20, 10, 8, gain=0.0)) == 100
    with pytest.raises(ConfigError, match="batch"):
        anchor_counts(20, 0, 8)


def test_unavailable_data_falls_back_to_the_generic_formula(tmp_path, monkeypatch) -> None:
    from al_core.datasets import builtin

    monkeypatch.setattr(builtin, "_keras_cache_dir", lambda: tmp_path)  # empty cache
    assert anchor_from_data("cifar10", [1000, 2000]) is None  # never downloads
    assert anchor_from_data(f"npz:{tmp_path / 'missing.npz'}", [10, 20]) is None
    assert anchor_from_data("no-such-set", [10, 20]) is None
    base = {**DEMO_BASE, "dataset": "cifar10"}
    frame = results.expected_frame(20, 10, 8, [0.0, 0.5], base=base)
    old = results.expected_frame(20, 10, 8, [0.0, 0.5])
    np.testing.assert_array_equal(frame["accuracy"], old["accuracy"])
    assert frame["synthetic"].all() and frame["label"].str.endswith("not measured").all()
    assert "generic formula, not anchored on data (cifar10" in frame.attrs["caption"]
    assert "generic formula" in old.attrs["caption"]
    assert describe_expected(None).startswith("expected — not measured")
